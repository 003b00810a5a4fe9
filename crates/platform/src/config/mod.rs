//! Configuration: embedded defaults, then a TOML file, then `MIYAGI_*` environment variables.
//!
//! Nested keys use a double underscore in the environment: `MIYAGI_HTTP__BIND=0.0.0.0:8080` sets
//! `http.bind`. Unknown keys are errors, not silently ignored, so a typo cannot turn a setting off.
//!
//! Each section lives in its own file with the checks of its keys; a check that needs another
//! section's value (auth mode `none` needs a loopback `http.bind`) is handed that value. This
//! module is the bottom of the platform's own layers: `auth`, `http` and the rest read their
//! sections from here, and nothing here reads them.

mod advisor;
mod agents;
mod auth;
mod blob;
mod bus;
mod cache;
mod consumer;
mod database;
mod documents;
mod http;
mod markets;
mod models;
mod telemetry;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};

pub use self::{
    advisor::AdvisorConfig,
    agents::AgentsConfig,
    auth::{ApiKeyConfig, AuthConfig, AuthMode, JwtConfig},
    blob::BlobConfig,
    bus::{BusConfig, BusKind, KafkaConfig},
    cache::CacheConfig,
    consumer::ConsumerConfig,
    database::DatabaseConfig,
    documents::{DocumentsConfig, VectorIndexKind},
    http::HttpConfig,
    markets::MarketsConfig,
    models::{ChatEndpointConfig, ModelsConfig},
    telemetry::{LogFormat, OtlpProtocol, TelemetryConfig},
};
pub use crate::secret::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where embedded mode keeps its SQLite files, event log and blobs.
    pub data_dir: PathBuf,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub bus: BusConfig,
    pub blob: BlobConfig,
    pub cache: CacheConfig,
    pub auth: AuthConfig,
    pub consumer: ConsumerConfig,
    pub telemetry: TelemetryConfig,
    pub models: ModelsConfig,
    pub documents: DocumentsConfig,
    pub advisor: AdvisorConfig,
    pub markets: MarketsConfig,
    pub agents: AgentsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            http: HttpConfig {
                bind: "127.0.0.1:8080".parse().expect("valid default address"),
                body_limit_bytes: 1024 * 1024,
                // Routes backed by a local model (advice, answers) take tens of seconds on a
                // laptop CPU, longer when requests queue for the model.
                request_timeout_secs: 120,
                cors_origins: vec![
                    "http://127.0.0.1:8080".into(),
                    "http://localhost:8080".into(),
                ],
                shutdown_grace_secs: 10,
            },
            database: DatabaseConfig {
                url: Secret::new("sqlite"),
                max_connections: 8,
            },
            bus: BusConfig {
                kind: BusKind::Embedded,
                partitions: 4,
                retention_hours: 7 * 24,
                kafka: KafkaConfig::default(),
            },
            cache: CacheConfig {
                url: Secret::new("memory"),
                ttl_secs: 3600,
                capacity: 10_000,
            },
            blob: BlobConfig {
                url: "file".into(),
                options: Default::default(),
            },
            auth: AuthConfig {
                mode: AuthMode::None,
                local_user: "local".into(),
                keys: vec![],
                jwt: JwtConfig::default(),
                admins: vec![],
            },
            consumer: ConsumerConfig::default(),
            telemetry: TelemetryConfig {
                log_filter: "info".into(),
                log_format: LogFormat::Pretty,
                otlp_endpoint: None,
                otlp_protocol: OtlpProtocol::HttpProtobuf,
            },
            models: ModelsConfig {
                local: true,
                dir: None,
                chat_gguf: None,
                embeddings_dir: None,
                chat_endpoint: None,
                image_endpoint: None,
                queue_limit: 16,
                calls_per_minute: 30,
                tokens_per_day: 0,
            },
            documents: DocumentsConfig {
                index: VectorIndexKind::Hnsw,
                pgvector_url: None,
                chunk_tokens: 200,
                chunk_overlap: 30,
                max_upload_bytes: 10 * 1024 * 1024,
                max_files_per_upload: 10,
                library: true,
            },
            advisor: AdvisorConfig {
                prompts_dir: PathBuf::from("prompts"),
                library_url: None,
                library_api_key: None,
            },
            markets: MarketsConfig::default(),
            agents: AgentsConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config: {0}")]
    Invalid(String),
}

impl ConfigError {
    /// `key` holds something else than `expected`, which says what would be accepted.
    fn expected(key: &str, expected: &str) -> Self {
        Self::Invalid(format!("key `{key}`: expected {expected}"))
    }
}

/// Checks that `value` of `key` is an http:// or https:// address with a host; the error says
/// what is expected (`expected`, with an example).
fn http_address(key: &str, value: &str, expected: &str) -> Result<(), ConfigError> {
    let ok = url::Url::parse(value)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::expected(key, expected))
    }
}

impl Config {
    /// Loads defaults ← `file` (if given; it must exist) ← `MIYAGI_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        // Defaults hold no secret values: secrets serialize masked, so they could not round-trip.
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist; create it or drop --config to use the defaults",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        let config: Config = figment
            .merge(Env::prefixed("MIYAGI_").split("__"))
            .extract()
            .map_err(|e| {
                ConfigError::Invalid(
                    e.into_iter()
                        .map(|e| describe(&e))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
        config.validate()?;
        Ok(config)
    }

    /// The first invalid key, section by section.
    fn validate(&self) -> Result<(), ConfigError> {
        self.database.validate()?;
        self.http.validate()?;
        self.bus.validate()?;
        self.cache.validate()?;
        self.consumer.validate()?;
        self.telemetry.validate()?;
        self.models.validate()?;
        self.auth.validate(self.http.bind)?;
        self.documents.validate()?;
        self.advisor.validate()?;
        self.markets.validate()?;
        self.agents.validate()
    }

    /// The effective configuration as TOML, with every secret masked.
    pub fn to_masked_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render config: {e}"))
    }
}

fn describe(e: &figment::Error) -> String {
    let key = if e.path.is_empty() {
        "(top level)".to_string()
    } else {
        e.path.join(".")
    };
    let origin = e
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    format!("key `{key}`{origin}: {}", e.kind)
}
