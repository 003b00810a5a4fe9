//! The agents service: durable multi-step runs over tools, on the event log. Each step's output
//! is recorded with the run's next event in one transaction, so a run survives a crash at any
//! point, resumes where it was, and never repeats what it did; a step that changes something
//! (placing orders) waits for the person's approval.
//!
//! - `api`: HTTP routes under `/api/v1/agents` and `/api/v1/runs`.
//! - `domain`: plans and their checks, the runner, the tools and what they compute.
//! - `store`: the tables (runs, steps, decisions, and copies of paper positions and orders).
//! - [`events`]: what the service publishes.
//! - `handlers`: the runner (the service's own run events), the markets service's positions and
//!   order updates, and account deletions.

mod api;
mod domain;
pub mod events;
mod handlers;
mod model;
mod store;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use miyagi_domain::events::topics;
use miyagi_kernel::Kernel;
use miyagi_markets::history::DailyCloses;
use miyagi_memory::retrieve::Retriever;
use miyagi_platform::{db::Db, events::Consumer, Service, ServiceContext};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "agents";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How often approvals past their deadline are looked for.
const DEADLINE_SWEEP: Duration = Duration::from_secs(1);

pub struct AgentsService {
    agents: domain::Agents,
    bus: Arc<dyn miyagi_platform::events::EventBus>,
}

impl AgentsService {
    /// `kernel` writes reports and analyses and proposes plans; without one, reports are the
    /// computed comparison alone and the planner is unavailable. `library` searches the
    /// person's documents (the documents service in this process); without it the analyst's
    /// search fails and says why.
    pub async fn start(
        context: &ServiceContext,
        kernel: Option<Kernel>,
        library: Option<Arc<dyn Retriever>>,
    ) -> anyhow::Result<Self> {
        let db = Db::open(&context.config, NAME, &MIGRATOR).await?;
        let sources = domain::Sources {
            kernel,
            library,
            history: Arc::new(DailyCloses::bundled()),
        };
        Ok(Self {
            agents: domain::Agents::new(
                store::AgentsStore::new(db),
                sources,
                context.config.agents.clone(),
            ),
            bus: context.bus.clone(),
        })
    }
}

impl Service for AgentsService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn routes(&self) -> OpenApiRouter {
        api::routes(self.agents.clone())
    }

    fn database(&self) -> Option<&Db> {
        Some(self.agents.store.db())
    }

    fn consumers(&self) -> Vec<Consumer> {
        vec![
            Consumer::new(
                handlers::RUNNER,
                &[events::TOPIC],
                Arc::new(handlers::Runner {
                    agents: self.agents.clone(),
                }),
            ),
            Consumer::new(
                handlers::MARKETS,
                &[topics::MARKETS_ACCOUNT, topics::MARKETS_ORDER],
                Arc::new(handlers::Markets {
                    agents: self.agents.clone(),
                }),
            ),
            Consumer::new(
                handlers::ERASURE,
                &[topics::USER_ACCOUNT],
                Arc::new(handlers::Erasure {
                    agents: self.agents.clone(),
                    bus: self.bus.clone(),
                }),
            ),
        ]
    }

    /// Rejects approvals nobody answered in time: the deadline is a decision too.
    fn background(&self, shutdown: CancellationToken) -> Vec<BoxFuture<'static, ()>> {
        let agents = self.agents.clone();
        vec![Box::pin(async move {
            let mut tick = tokio::time::interval(DEADLINE_SWEEP);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                match agents.reject_overdue().await {
                    Ok(0) => {}
                    Ok(rejected) => {
                        tracing::info!(rejected, "approvals past their deadline were rejected")
                    }
                    Err(error) => tracing::warn!(%error, "could not look for overdue approvals"),
                }
            }
        })]
    }
}
