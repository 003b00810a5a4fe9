use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite` (one file per service in `data_dir`) or a `postgres://` URL (one schema per service).
    pub url: Secret,
    pub max_connections: u32,
}

impl DatabaseConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let url = self.url.expose();
        if url != "sqlite" && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(ConfigError::expected(
                "database.url",
                "`sqlite` or a postgres:// URL",
            ));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::expected(
                "database.max_connections",
                "a number of at least 1",
            ));
        }
        Ok(())
    }
}
