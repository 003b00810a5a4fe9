//! The model API: OpenAI's wire protocol over the kernel's model traits, so any OpenAI client
//! library can use Miyagi's local models (or whatever models the kernel was given).
//!
//! - `api`: `/v1/models`, `/v1/chat/completions` (plain and streamed), `/v1/embeddings`.

mod api;

use std::sync::Arc;

use miyagi_kernel::{EmbeddingModel, Kernel};
use miyagi_platform::{db::Db, Service};
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "llm";

/// The models this service serves.
#[derive(Clone)]
pub struct Models {
    /// The chat model, through a kernel so calls are counted against each caller's limits.
    pub chat: Kernel,
    pub embeddings: Arc<dyn EmbeddingModel>,
}

pub struct LlmService {
    models: Models,
}

impl LlmService {
    pub fn new(models: Models) -> Self {
        Self { models }
    }
}

impl Service for LlmService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn routes(&self) -> OpenApiRouter {
        api::routes(self.models.clone())
    }

    fn database(&self) -> Option<&Db> {
        None
    }
}
