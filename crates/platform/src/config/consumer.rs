use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// First retry delay after a transient handler failure; doubles up to `backoff_max_ms`.
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    pub batch_size: usize,
    /// How long one call of a handler may take before it counts as a failed attempt. Handlers
    /// that ask the local model for advice take tens of seconds when requests queue.
    pub handler_timeout_secs: u64,
    /// Attempts for an event whose handler panics or runs out of time before it is
    /// dead-lettered (transient errors are retried for as long as they last).
    pub max_attempts: u32,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            backoff_initial_ms: 100,
            backoff_max_ms: 10_000,
            batch_size: 100,
            handler_timeout_secs: 300,
            max_attempts: 5,
        }
    }
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
        if self.handler_timeout_secs == 0 {
            return Err(ConfigError::expected(
                "consumer.handler_timeout_secs",
                "a number of seconds of at least 1",
            ));
        }
        if self.max_attempts == 0 {
            return Err(ConfigError::expected(
                "consumer.max_attempts",
                "a number of at least 1",
            ));
        }
        Ok(())
    }
}
