//! The advisor service: personalized allocation and advice.
//!
//! - `api`: `POST /api/v1/personalize` (and its halves `/assets` and `/investments`, and the
//!   streamed `/personalize/stream`), and the advice history under `/api/v1/advice`.
//! - `model`: the request and the advice as the API speaks them.
//! - `domain`: the decisions — served from an identical earlier answer or written anew, which
//!   profile and library passages it stands on, recorded with its event.
//! - `engine`: the finance engine's numbers for a request; `writing`: the model's explanation
//!   of them in the voice of the person's favourite advisor, with verified citations, checked
//!   for sense by `sense` and settled by `settle` (retried once, then the engine's own words).
//! - `store`: the advisor's copy of profiles, and every piece of advice given.
//! - `events`: what it publishes, `miyagi.advice.generated.v1`; `handlers`: what it consumes,
//!   `miyagi.user.profile.*` (its own copy of each profile, and advice refreshed on a change)
//!   `miyagi.markets.positions.updated.v1` (the stocks of a request that names none) and
//!   `miyagi.expenses.spending.summarised.v1` (the usual month the reserve and savings are
//!   sized on).
//! - `prompts`: the Semantic Kernel prompt files; `progress`: stages and the narrative as it is
//!   written.

mod api;
mod domain;
mod engine;
mod error;
mod events;
mod handlers;
mod model;
mod progress;
mod prompts;
mod sense;
mod settle;
mod store;
mod writing;

use std::sync::Arc;

use miyagi_domain::events::topics;
use miyagi_kernel::Kernel;
use miyagi_memory::retrieve::Retriever;
use miyagi_platform::{db::Db, events::Consumer, Service, ServiceContext};
use utoipa_axum::router::OpenApiRouter;

use crate::{
    domain::Advisor,
    handlers::{
        PaperAccountFollower, ProfileFollower, SpendingFollower, PAPER_ACCOUNTS, PROFILES, SPENDING,
    },
    store::AdviceStore,
};

pub const NAME: &str = "advisor";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct AdvisorService {
    advisor: Arc<Advisor>,
}

impl AdvisorService {
    /// `kernel` writes the advice (`None`: personalize answers 503); `library` supplies the
    /// passages it cites.
    pub async fn start(
        context: &ServiceContext,
        kernel: Option<Kernel>,
        library: Arc<dyn Retriever>,
    ) -> anyhow::Result<Self> {
        let db = Db::open(&context.config, NAME, &MIGRATOR).await?;
        let prompts = prompts::Prompts::new(context.config.advisor.prompts_dir.clone());
        // Fail at start, not on the first request, if the prompt does not load.
        prompts.personalize()?;
        Ok(Self {
            advisor: Arc::new(Advisor::new(
                AdviceStore::new(db),
                context.cache.clone(),
                kernel,
                library,
                prompts,
            )),
        })
    }
}

impl Service for AdvisorService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn routes(&self) -> OpenApiRouter {
        api::routes(self.advisor.clone())
    }

    fn database(&self) -> Option<&Db> {
        Some(self.advisor.store().db())
    }

    fn consumers(&self) -> Vec<Consumer> {
        vec![
            Consumer::new(
                PROFILES,
                &[topics::USER_PROFILE],
                Arc::new(ProfileFollower(self.advisor.clone())),
            ),
            Consumer::new(
                PAPER_ACCOUNTS,
                &[topics::MARKETS_ACCOUNT],
                Arc::new(PaperAccountFollower(self.advisor.clone())),
            ),
            Consumer::new(
                SPENDING,
                &[topics::EXPENSES],
                Arc::new(SpendingFollower(self.advisor.clone())),
            ),
        ]
    }
}
