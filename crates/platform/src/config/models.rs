use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

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
    /// An OpenAI-compatible images endpoint (`{base_url}/images/generations`) that draws what
    /// people ask for; without one, images are cards of the person's own figures.
    pub image_endpoint: Option<ChatEndpointConfig>,
    /// Requests the local chat model admits at once, waiting or generating; more get 429 with
    /// `Retry-After` rather than a wait of minutes.
    pub queue_limit: usize,
    /// Model calls one user may make per minute (chat, questions, advice); `0` is no limit.
    pub calls_per_minute: u32,
    /// Tokens (prompt and completion) one user may use per UTC day; `0` is no limit.
    pub tokens_per_day: u64,
}

impl ModelsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.queue_limit == 0 {
            return Err(ConfigError::expected(
                "models.queue_limit",
                "a number of at least 1",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatEndpointConfig {
    /// Base URL up to and including `/v1`, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
}
