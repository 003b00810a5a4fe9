use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub bind: SocketAddr,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    /// Browser origins allowed to call the API; never a wildcard.
    pub cors_origins: Vec<String>,
    /// How long shutdown waits for in-flight requests and consumers before giving up.
    pub shutdown_grace_secs: u64,
}

impl HttpConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.body_limit_bytes == 0 {
            return Err(ConfigError::expected(
                "http.body_limit_bytes",
                "a number of bytes of at least 1",
            ));
        }
        if self.request_timeout_secs == 0 {
            return Err(ConfigError::expected(
                "http.request_timeout_secs",
                "a number of seconds of at least 1",
            ));
        }
        for origin in &self.cors_origins {
            if origin == "*" || !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(ConfigError::expected(
                    "http.cors_origins",
                    "explicit http(s) origins such as \"https://app.example.com\" (no wildcard)",
                ));
            }
        }
        Ok(())
    }
}
