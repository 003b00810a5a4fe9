//! One error type for everything the kernel does, with the cases callers act on kept apart.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The endpoint refused the credentials (401/403).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// Still rate-limited after the retries, or a local model's queue is full; `retry_after` is
    /// when to try again.
    #[error("rate limited{}", retry_after.map(|d| format!(" (retry after {d:?})")).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    /// A per-user limit of this deployment ([`crate::limits`]): not retried; `retry_after` is
    /// when the user may call again.
    #[error("{detail}")]
    UsageLimit {
        detail: String,
        retry_after: Duration,
    },
    /// The provider's content filter blocked the prompt or the answer.
    #[error("blocked by the content filter: {0}")]
    ContentFilter(String),
    /// The prompt plus `max_tokens` exceeds the model's context window.
    #[error("context too long: {0}")]
    ContextTooLong(String),
    #[error("the model endpoint did not answer within {0:?}")]
    Timeout(Duration),
    /// The endpoint answered something that is not the protocol (odd JSON, a broken stream).
    #[error("bad response from the model endpoint: {0}")]
    BadResponse(String),
    /// Any other HTTP error status.
    #[error("model endpoint returned {status}: {message}")]
    Http { status: u16, message: String },
    #[error("network error talking to the model endpoint: {0}")]
    Network(String),
    #[error("template error: {0}")]
    Template(String),
    #[error("function {name}: {message}")]
    Function { name: String, message: String },
    #[error("no function named {0}")]
    FunctionNotFound(String),
    /// A filter refused the operation (for instance an approval gate).
    #[error("denied: {0}")]
    Denied(String),
    /// Structured output still did not match its schema after the repair attempts.
    #[error("output does not match the schema after {attempts} attempts: {errors}")]
    Schema { attempts: u32, errors: String },
    #[error("configuration: {0}")]
    Config(String),
    /// The model cannot do what was asked (a card renderer asked for a landscape); the message
    /// says what it can do, in words for the person who asked.
    #[error("{0}")]
    Unsupported(String),
}

impl KernelError {
    /// Whether retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Timeout(_) | Self::Network(_) => true,
            Self::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }
}
