//! The copilot service: chats with a financial coach that remembers what a person tells it.
//!
//! - `api`: HTTP routes under `/api/v1/chats` and `/api/v1/memories`.
//! - `model`: chats, messages, memories and the prompt view as the API speaks them.
//! - `domain`: the decisions — the persona, what goes into a prompt, how an answer is written
//!   and checked, what of a message is remembered.
//! - `tools`: what the coach may look up (the profile, the latest advice, a projection, a
//!   rebalancing check, a search), offered to a model that calls tools and planned by the
//!   copilot for one that does not, stating the person's numbers as `miyagi_finance::figures`
//!   words them.
//! - `prompt`: the prompt assembled under its token budget; `writing`: who wrote the answer (the
//!   model, its words checked by `miyagi_domain::prose`, or a quoted source); `memory`: which
//!   sentences become memories.
//! - `store`: chats, messages, memories and the copies of profiles and advice, each change with
//!   its event.
//! - `events`: what it publishes (`miyagi.chat.*`, `miyagi.memory.*`); `handlers`: what it
//!   consumes (its own messages, to extract memories; profiles; advice; account deletions).

mod api;
mod domain;
mod error;
mod events;
mod handlers;
mod memory;
mod model;
mod prompt;
mod store;
mod tools;
mod writing;

use std::sync::Arc;

use miyagi_domain::events::topics;
use miyagi_kernel::{EmbeddingModel, Kernel};
use miyagi_memory::{chunk::TokenCounter, retrieve::Retriever};
use miyagi_platform::{db::Db, events::Consumer, Service, ServiceContext};
use utoipa_axum::router::OpenApiRouter;

use crate::domain::Copilot;

pub use store::{CopilotStore, NewMemory, NewMessage, StoreError};

pub const NAME: &str = "copilot";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The models the copilot works with.
pub struct Models {
    /// Writes answers and extracts memories; `None`: questions answer 503.
    pub kernel: Option<Kernel>,
    /// Embeds memories and questions, to recall by similarity.
    pub embedder: Arc<dyn EmbeddingModel>,
    /// Counts the prompt's tokens for its budget.
    pub tokens: TokenCounter,
}

pub struct CopilotService {
    copilot: Arc<Copilot>,
}

impl CopilotService {
    /// `passages` retrieves from the person's documents and the investing library.
    pub async fn start(
        context: &ServiceContext,
        models: Models,
        passages: Arc<dyn Retriever>,
    ) -> anyhow::Result<Self> {
        let db = Db::open(&context.config, NAME, &MIGRATOR).await?;
        Ok(Self {
            copilot: Arc::new(Copilot::new(
                CopilotStore::new(db),
                models.kernel,
                models.embedder,
                models.tokens,
                passages,
            )),
        })
    }
}

impl Service for CopilotService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn routes(&self) -> OpenApiRouter {
        api::routes(self.copilot.clone())
    }

    fn database(&self) -> Option<&Db> {
        Some(self.copilot.store().db())
    }

    fn consumers(&self) -> Vec<Consumer> {
        vec![
            Consumer::new(
                handlers::MEMORY,
                &[topics::CHAT],
                Arc::new(handlers::MemoryExtraction(self.copilot.clone())),
            ),
            Consumer::new(
                handlers::PEOPLE,
                &[
                    topics::USER_PROFILE,
                    topics::ADVICE,
                    topics::USER_ACCOUNT,
                    topics::EXPENSES,
                ],
                Arc::new(handlers::PeopleFollower(self.copilot.clone())),
            ),
        ]
    }
}
