use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// A tracing `EnvFilter` directive, e.g. `info,miyagi=debug`.
    pub log_filter: String,
    pub log_format: LogFormat,
    /// An OpenTelemetry collector's OTLP/HTTP address, e.g. `http://localhost:4318`: spans are
    /// sent in batches to `<address>/v1/traces`. Unset, spans stay in the process (trace ids
    /// still travel in headers and events, and the logs carry them).
    pub otlp_endpoint: Option<String>,
    pub otlp_protocol: OtlpProtocol,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The OTLP/HTTP encodings every collector accepts on its HTTP port.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OtlpProtocol {
    HttpProtobuf,
    HttpJson,
}

impl TelemetryConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        match &self.otlp_endpoint {
            Some(endpoint) => super::http_address(
                "telemetry.otlp_endpoint",
                endpoint,
                "a collector's OTLP/HTTP address, such as http://localhost:4318",
            ),
            None => Ok(()),
        }
    }
}
