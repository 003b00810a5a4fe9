use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// `memory` (in this process) or a `redis://` URL (shared by every replica).
    pub url: Secret,
    /// How long an entry lives unless an event invalidates it first.
    pub ttl_secs: u64,
    /// Entries kept by the in-process cache.
    pub capacity: usize,
}

impl CacheConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let url = self.url.expose();
        if url != "memory" && !url.starts_with("redis://") && !url.starts_with("rediss://") {
            return Err(ConfigError::expected(
                "cache.url",
                "`memory` or a redis:// (rediss://) URL",
            ));
        }
        if self.ttl_secs == 0 || self.capacity == 0 {
            return Err(ConfigError::expected(
                "cache.ttl_secs",
                "a number of seconds of at least 1 (and cache.capacity at least 1)",
            ));
        }
        Ok(())
    }
}
