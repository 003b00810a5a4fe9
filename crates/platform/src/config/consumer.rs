use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// First retry delay after a transient handler failure; doubles up to `backoff_max_ms`.
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    pub batch_size: usize,
}

impl ConsumerConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.backoff_initial_ms == 0 || self.backoff_max_ms < self.backoff_initial_ms {
            return Err(ConfigError::expected(
                "consumer.backoff_max_ms",
                "at least consumer.backoff_initial_ms, which must be at least 1",
            ));
        }
        if self.batch_size == 0 {
            return Err(ConfigError::expected(
                "consumer.batch_size",
                "a number of at least 1",
            ));
        }
        Ok(())
    }
}
