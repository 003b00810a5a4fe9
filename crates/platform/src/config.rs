//! Configuration: embedded defaults, then a TOML file, then `MIYAGI_*` environment variables.
//!
//! Nested keys use a double underscore in the environment: `MIYAGI_HTTP__BIND=0.0.0.0:8080` sets
//! `http.bind`. Unknown keys are errors, not silently ignored, so a typo cannot turn a setting off.

use std::{fmt, net::SocketAddr, path::PathBuf};

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};

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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisorConfig {
    /// Folder of Semantic Kernel prompt directories (`advisor/Personalize/skprompt.txt` …),
    /// read on every request so an edited prompt takes effect without a rebuild or restart.
    /// When the folder does not exist, the prompts built into the binary are used.
    pub prompts_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentsConfig {
    /// Where chunk vectors are searched: `hnsw` (in-process, snapshots in the data dir),
    /// `exact` (brute force) or `pgvector` (needs `documents.pgvector_url`).
    pub index: VectorIndexKind,
    /// A PostgreSQL database with the pgvector extension, for `index = "pgvector"`.
    pub pgvector_url: Option<Secret>,
    /// Chunk size and overlap, in the embedding model's tokens.
    pub chunk_tokens: usize,
    pub chunk_overlap: usize,
    /// Largest file accepted by an upload.
    pub max_upload_bytes: usize,
    pub max_files_per_upload: usize,
    /// Ingest the bundled investing library (what the advisor cites) at start; files already
    /// ingested are skipped.
    pub library: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VectorIndexKind {
    Hnsw,
    Exact,
    Pgvector,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    /// Serve the local models (`/v1/...`); `false` skips loading them.
    pub local: bool,
    /// Model cache; empty means `$MIYAGI_MODELS_DIR` or `~/.cache/miyagi/models`.
    pub dir: Option<PathBuf>,
    /// Any Llama-architecture GGUF to chat with instead of SmolLM2.
    pub chat_gguf: Option<PathBuf>,
    /// Any sentence-transformers BERT folder to embed with instead of all-MiniLM-L6-v2.
    pub embeddings_dir: Option<PathBuf>,
    /// An OpenAI-compatible endpoint that writes advice and answers instead of the local chat
    /// model (which `/v1` keeps serving while `local` is on).
    pub chat_endpoint: Option<ChatEndpointConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatEndpointConfig {
    /// Base URL up to and including `/v1`, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite` (one file per service in `data_dir`) or a `postgres://` URL (one schema per service).
    pub url: Secret,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    pub kind: BusKind,
    /// Partitions per topic; records with one key always land on one partition.
    pub partitions: u32,
    /// Settings of `kind = "kafka"`.
    #[serde(default)]
    pub kafka: KafkaConfig,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BusKind {
    /// The durable event log inside this process, stored in `data_dir/events.db`.
    Embedded,
    /// An Apache Kafka cluster or anything that speaks its protocol (Azure Event Hubs).
    Kafka,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port]`; implied by `event_hubs_connection_string`.
    pub brokers: Option<String>,
    /// An Azure Event Hubs namespace connection string (`Endpoint=sb://….servicebus.windows.net/;
    /// SharedAccessKeyName=…;SharedAccessKey=…`): sets brokers, SASL_SSL and PLAIN for you.
    pub event_hubs_connection_string: Option<Secret>,
    /// Prepended to every topic and consumer group, so several deployments (or test runs) can
    /// share one cluster.
    #[serde(default)]
    pub prefix: String,
    /// Create missing topics with `bus.partitions` partitions (needs the admin right; off for
    /// Event Hubs tiers that create event hubs only through Azure).
    #[serde(default = "default_true")]
    pub create_topics: bool,
    /// Replication factor of created topics.
    #[serde(default = "default_replication")]
    pub replication_factor: i32,
    /// Static group membership: a name for this process that survives its restarts (the pod
    /// name). A restarted consumer then takes back its own partitions at once instead of
    /// waiting out the dead member's session and a rebalance. Must differ between processes
    /// running the same service; unset, every start is a new member.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Any other librdkafka property (`security.protocol`, `ssl.ca.location`, …); values are
    /// treated as secrets.
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, Secret>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: None,
            event_hubs_connection_string: None,
            prefix: String::new(),
            create_topics: default_true(),
            replication_factor: default_replication(),
            instance_id: None,
            options: Default::default(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_replication() -> i32 {
    1
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobConfig {
    /// `file` (a folder in `data_dir`), `file:///abs/path`, `s3://bucket/prefix` or `az://container/prefix`.
    pub url: String,
    /// Extra object_store options (credentials, region, endpoint); values are treated as secrets.
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, Secret>,
}

/// Flat rather than an enum per mode so that defaults, file and environment merge key by key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// The single user of `mode = "none"`.
    pub local_user: String,
    /// API keys of `mode = "api_key"`.
    #[serde(default)]
    pub keys: Vec<ApiKeyConfig>,
    /// Token verification of `mode = "jwt"`.
    #[serde(default)]
    pub jwt: JwtConfig,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Single local user: for `miyagi up` on a laptop.
    None,
    /// `X-API-Key` or `Authorization: Bearer <key>`; keys are stored as SHA-256 hex digests.
    ApiKey,
    /// OIDC-style JWT bearer tokens, verified with an HS256 secret or a JWKS endpoint (RS256).
    Jwt,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    pub user: String,
    pub sha256: Secret,
}

impl ApiKeyConfig {
    /// The entry for `user` holding `key`, stored as its digest (as a config file would).
    pub fn for_key(user: &str, key: &str) -> Self {
        use sha2::{Digest, Sha256};
        Self {
            user: user.to_string(),
            sha256: Secret::new(hex::encode(Sha256::digest(key.as_bytes()))),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub hs256_secret: Option<Secret>,
    pub jwks_url: Option<String>,
    /// Claim holding the user id: `sub` when unset, `oid` for Entra ID.
    pub user_claim: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// First retry delay after a transient handler failure; doubles up to `backoff_max_ms`.
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    pub batch_size: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// A tracing `EnvFilter` directive, e.g. `info,miyagi=debug`.
    pub log_filter: String,
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A string that never shows itself: `Debug` and `Serialize` print `********`, so a config dump
/// or a log line cannot leak it. Read it with [`Secret::expose`].
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&masked(&self.0))
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&masked(&self.0))
    }
}

/// Masks a secret for display. A URL keeps its scheme, user, host and path (useful when checking
/// config) but loses its password and query (SAS tokens, `?password=`); anything else is hidden.
fn masked(value: &str) -> String {
    if value == "sqlite" || value == "memory" || value.is_empty() {
        return value.to_string();
    }
    match url::Url::parse(value) {
        Ok(mut url) if url.has_host() => {
            if url.password().is_some() {
                let _ = url.set_password(Some("********"));
            }
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        _ => "********".into(),
    }
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
            },
            consumer: ConsumerConfig {
                backoff_initial_ms: 100,
                backoff_max_ms: 10_000,
                batch_size: 100,
            },
            telemetry: TelemetryConfig {
                log_filter: "info".into(),
                log_format: LogFormat::Pretty,
            },
            models: ModelsConfig {
                local: true,
                dir: None,
                chat_gguf: None,
                embeddings_dir: None,
                chat_endpoint: None,
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
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults ← `file` (if given; it must exist) ← `MIYAGI_*` environment variables.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
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

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, expected: &str| {
            Err(ConfigError::Invalid(format!(
                "key `{key}`: expected {expected}"
            )))
        };
        let url = self.database.url.expose();
        if url != "sqlite" && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return bad("database.url", "`sqlite` or a postgres:// URL");
        }
        if self.database.max_connections == 0 {
            return bad("database.max_connections", "a number of at least 1");
        }
        if self.http.body_limit_bytes == 0 {
            return bad("http.body_limit_bytes", "a number of bytes of at least 1");
        }
        if self.http.request_timeout_secs == 0 {
            return bad(
                "http.request_timeout_secs",
                "a number of seconds of at least 1",
            );
        }
        for origin in &self.http.cors_origins {
            if origin == "*" || !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return bad(
                    "http.cors_origins",
                    "explicit http(s) origins such as \"https://app.example.com\" (no wildcard)",
                );
            }
        }
        if self.bus.partitions == 0 || self.bus.partitions > 1024 {
            return bad("bus.partitions", "a number between 1 and 1024");
        }
        let kafka = &self.bus.kafka;
        if self.bus.kind == BusKind::Kafka
            && kafka.brokers.is_none()
            && kafka.event_hubs_connection_string.is_none()
        {
            return bad(
                "bus.kafka.brokers",
                "`host:port` of a Kafka broker (or bus.kafka.event_hubs_connection_string) when bus.kind = \"kafka\"",
            );
        }
        if kafka
            .instance_id
            .as_deref()
            .is_some_and(|id| id.trim().is_empty())
        {
            return bad(
                "bus.kafka.instance_id",
                "a name unique to this process, such as the pod name, or no value at all",
            );
        }
        if kafka.replication_factor < 1 {
            return bad("bus.kafka.replication_factor", "a number of at least 1");
        }
        let cache = self.cache.url.expose();
        if cache != "memory" && !cache.starts_with("redis://") && !cache.starts_with("rediss://") {
            return bad("cache.url", "`memory` or a redis:// (rediss://) URL");
        }
        if self.cache.ttl_secs == 0 || self.cache.capacity == 0 {
            return bad(
                "cache.ttl_secs",
                "a number of seconds of at least 1 (and cache.capacity at least 1)",
            );
        }
        if self.consumer.backoff_initial_ms == 0
            || self.consumer.backoff_max_ms < self.consumer.backoff_initial_ms
        {
            return bad(
                "consumer.backoff_max_ms",
                "at least consumer.backoff_initial_ms, which must be at least 1",
            );
        }
        if self
            .auth
            .local_user
            .starts_with(crate::auth::RESERVED_PREFIX)
            || self
                .auth
                .keys
                .iter()
                .any(|k| k.user.starts_with(crate::auth::RESERVED_PREFIX))
        {
            return bad(
                "auth.local_user",
                "user names that do not start with `miyagi:` (reserved for the system), in auth.keys too",
            );
        }
        let documents = &self.documents;
        if !(16..=512).contains(&documents.chunk_tokens) {
            return bad(
                "documents.chunk_tokens",
                "a number of tokens between 16 and 512",
            );
        }
        if documents.chunk_overlap >= documents.chunk_tokens {
            return bad(
                "documents.chunk_overlap",
                "fewer tokens than documents.chunk_tokens",
            );
        }
        if documents.max_upload_bytes == 0 || documents.max_files_per_upload == 0 {
            return bad(
                "documents.max_upload_bytes",
                "limits of at least 1 (and documents.max_files_per_upload too)",
            );
        }
        if documents.index == VectorIndexKind::Pgvector && documents.pgvector_url.is_none() {
            return bad(
                "documents.pgvector_url",
                "a postgres:// URL of a database with pgvector when documents.index = \"pgvector\"",
            );
        }
        if self.consumer.batch_size == 0 {
            return bad("consumer.batch_size", "a number of at least 1");
        }
        match self.auth.mode {
            AuthMode::None if self.auth.local_user.trim().is_empty() => {
                return bad("auth.local_user", "a non-empty user id");
            }
            // Mode `none` makes every caller the local user: only safe when only this machine can call.
            AuthMode::None if !self.http.bind.ip().is_loopback() => {
                return bad("auth.mode", "`api_key` or `jwt` when http.bind is not a loopback address (mode `none` would give every network client full access)");
            }
            AuthMode::ApiKey => {
                if self.auth.keys.is_empty() {
                    return bad(
                        "auth.keys",
                        "at least one [[auth.keys]] entry with `user` and `sha256`",
                    );
                }
                for key in &self.auth.keys {
                    let digest = key.sha256.expose();
                    if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
                        return bad("auth.keys.sha256", "the 64-character hex SHA-256 of the key (e.g. `printf %s KEY | sha256sum`)");
                    }
                }
            }
            AuthMode::Jwt
                if self.auth.jwt.hs256_secret.is_none() && self.auth.jwt.jwks_url.is_none() =>
            {
                return bad(
                    "auth.jwt.hs256_secret",
                    "an HS256 secret or `auth.jwt.jwks_url`, at least one",
                );
            }
            // A provider's signing keys sign tokens for every app and tenant it serves: without
            // issuer and audience checks, someone else's token would be accepted here.
            AuthMode::Jwt if self.auth.jwt.jwks_url.is_some() && self.auth.jwt.issuer.is_none() => {
                return bad(
                    "auth.jwt.issuer",
                    "the expected `iss` of tokens when auth.jwt.jwks_url is set",
                );
            }
            AuthMode::Jwt
                if self.auth.jwt.jwks_url.is_some() && self.auth.jwt.audience.is_none() =>
            {
                return bad(
                    "auth.jwt.audience",
                    "the expected `aud` (this API's client id) when auth.jwt.jwks_url is set",
                );
            }
            _ => {}
        }
        Ok(())
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

#[cfg(test)]
// figment's `Jail` closures return its large error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    fn load_err(jail: &mut Jail, file: Option<&str>) -> String {
        if let Some(contents) = file {
            jail.create_file("miyagi.toml", contents).unwrap();
        }
        Config::load(file.map(|_| std::path::Path::new("miyagi.toml")))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_run_embedded_on_localhost_8080() {
        Jail::expect_with(|_| {
            let c = Config::load(None).unwrap();
            assert_eq!(c.http.bind.to_string(), "127.0.0.1:8080");
            assert_eq!(c.database.url.expose(), "sqlite");
            assert_eq!(c.auth.mode, AuthMode::None);
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_file_and_nested_keys_use_double_underscore() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "miyagi.toml",
                "[http]\nbind = \"127.0.0.1:9000\"\nbody_limit_bytes = 10",
            )?;
            jail.set_env("MIYAGI_HTTP__BIND", "127.0.0.1:9100");
            let c = Config::load(Some(std::path::Path::new("miyagi.toml"))).unwrap();
            assert_eq!(c.http.bind.to_string(), "127.0.0.1:9100");
            assert_eq!(c.http.body_limit_bytes, 10);
            Ok(())
        });
    }

    #[test]
    fn a_wrongly_typed_value_names_its_key() {
        Jail::expect_with(|jail| {
            jail.set_env("MIYAGI_HTTP__BIND", "not-an-address");
            let err = load_err(jail, None);
            assert!(err.contains("http.bind"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it() {
        Jail::expect_with(|jail| {
            let err = load_err(jail, Some("[http]\nbnd = \"127.0.0.1:9000\""));
            assert!(err.contains("bnd"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_says_how_to_fix_it() {
        let err = Config::load(Some(std::path::Path::new("/nope/miyagi.toml"))).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn kafka_without_brokers_names_the_missing_key() {
        Jail::expect_with(|jail| {
            jail.set_env("MIYAGI_BUS__KIND", "kafka");
            let err = load_err(jail, None);
            assert!(err.contains("bus.kafka.brokers"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_blank_kafka_instance_id_names_the_key() {
        Jail::expect_with(|jail| {
            jail.set_env("MIYAGI_BUS__KAFKA__INSTANCE_ID", " ");
            let err = load_err(jail, None);
            assert!(err.contains("bus.kafka.instance_id"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn kafka_settings_and_a_redis_cache_load_from_the_environment() {
        Jail::expect_with(|jail| {
            jail.set_env("MIYAGI_BUS__KIND", "kafka");
            jail.set_env("MIYAGI_BUS__KAFKA__BROKERS", "localhost:9092");
            jail.set_env("MIYAGI_BUS__KAFKA__PREFIX", "staging.");
            jail.set_env("MIYAGI_CACHE__URL", "redis://cache:6379/");
            let c = Config::load(None).unwrap();
            assert_eq!(c.bus.kind, BusKind::Kafka);
            assert_eq!(c.bus.kafka.brokers.as_deref(), Some("localhost:9092"));
            assert_eq!(c.bus.kafka.prefix, "staging.");
            assert!(c.bus.kafka.create_topics);
            assert_eq!(c.cache.url.expose(), "redis://cache:6379/");
            Ok(())
        });
    }

    #[test]
    fn a_cache_url_that_is_not_redis_names_the_key() {
        Jail::expect_with(|jail| {
            jail.set_env("MIYAGI_CACHE__URL", "memcached://x");
            let err = load_err(jail, None);
            assert!(err.contains("cache.url"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn jwt_mode_without_a_key_source_names_the_missing_key() {
        Jail::expect_with(|jail| {
            jail.set_env("MIYAGI_AUTH__MODE", "jwt");
            let err = load_err(jail, None);
            assert!(err.contains("auth.jwt.hs256_secret"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_printed_config_masks_passwords_and_secrets() {
        Jail::expect_with(|jail| {
            jail.set_env(
                "MIYAGI_DATABASE__URL",
                "postgres://app:hunter2@db:5432/miyagi",
            );
            jail.set_env("MIYAGI_AUTH__MODE", "jwt");
            jail.set_env("MIYAGI_AUTH__JWT__HS256_SECRET", "topsecretvalue");
            let c = Config::load(None).unwrap();
            let shown = c.to_masked_toml();
            assert!(
                !shown.contains("hunter2") && !shown.contains("topsecretvalue"),
                "{shown}"
            );
            assert!(
                shown.contains("postgres://app:********@db:5432/miyagi"),
                "{shown}"
            );
            assert!(!format!("{c:?}").contains("hunter2"));
            Ok(())
        });
    }

    #[test]
    fn secrets_in_url_queries_and_plain_values_are_masked_too() {
        assert_eq!(
            masked("postgres://db/miyagi?password=hunter2"),
            "postgres://db/miyagi"
        );
        assert_eq!(
            masked("https://acct.blob.core.windows.net/c?sv=2024&sig=abc"),
            "https://acct.blob.core.windows.net/c"
        );
        assert_eq!(masked("plain-access-key"), "********");
    }

    #[test]
    fn auth_mode_none_on_a_network_address_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("MIYAGI_HTTP__BIND", "0.0.0.0:8080");
            let err = load_err(jail, None);
            assert!(err.contains("auth.mode"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn jwks_without_issuer_and_audience_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("MIYAGI_AUTH__MODE", "jwt");
            jail.set_env("MIYAGI_AUTH__JWT__JWKS_URL", "https://login.example/keys");
            let err = load_err(jail, None);
            assert!(err.contains("auth.jwt.issuer"), "{err}");
            jail.set_env("MIYAGI_AUTH__JWT__ISSUER", "https://login.example/");
            let err = load_err(jail, None);
            assert!(err.contains("auth.jwt.audience"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_wildcard_cors_origin_is_refused() {
        Jail::expect_with(|jail| {
            let err = load_err(jail, Some("[http]\ncors_origins = [\"*\"]"));
            assert!(err.contains("http.cors_origins"), "{err}");
            Ok(())
        });
    }
}
