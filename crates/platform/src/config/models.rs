use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Secret;

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
