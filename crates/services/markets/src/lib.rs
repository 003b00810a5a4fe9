//! The markets service: a paper-trading account for each person against simulated markets in 20
//! S&P 500 stocks, on the `miyagi-markets` exchange core.
//!
//! - `api`: market data under `/api/v1/markets`; orders, positions and the account.
//! - `domain`: the engine, the one writer of books, accounts and the journal, a request or a
//!   market step at a time; rebuilt from the last snapshot and the journal after a restart.
//! - `store`: the tables (the API's inserts and reads; the engine's loads and writes).
//! - [`events`]: what the service publishes.
//! - `handlers`: people's requests (the engine's input), orders approved in agent runs (placed
//!   like the API's, under the ids the runs gave them) and account deletions.
//!
//! The engine is one per deployment, as an exchange's matching engine is: run `markets` in one
//! process (`miyagi serve markets`); the request topic's consumer group gives it the requests of
//! every API replica in order.

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
use miyagi_markets::history::DailyCloses;
use miyagi_platform::{db::Db, events::Consumer, Service, ServiceContext};
use tokio::sync::{watch, Mutex};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

use domain::{Engine, MarketView, Settings};

pub const NAME: &str = "markets";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct MarketsService {
    db: Db,
    engine: Arc<Mutex<Engine>>,
    api: api::Api,
    step: Option<Duration>,
}

impl MarketsService {
    pub async fn start(context: &ServiceContext) -> anyhow::Result<Self> {
        let db = Db::open(&context.config, NAME, &MIGRATOR).await?;
        let config = &context.config.markets;
        let settings = Settings::from(config);
        let history = Arc::new(DailyCloses::bundled());
        let (view, watch) = watch::channel(Arc::new(MarketView::default()));
        let engine = Engine::load(db.clone(), settings, history.clone(), view).await?;
        Ok(Self {
            api: api::Api {
                store: store::MarketsStore::new(db.clone()),
                view: watch,
                settings,
                history,
            },
            db,
            engine: Arc::new(Mutex::new(engine)),
            step: config
                .simulate
                .then(|| Duration::from_millis(config.tick_millis)),
        })
    }
}

impl Service for MarketsService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn routes(&self) -> OpenApiRouter {
        api::routes(self.api.clone())
    }

    fn database(&self) -> Option<&Db> {
        Some(&self.db)
    }

    fn consumers(&self) -> Vec<Consumer> {
        vec![
            Consumer::new(
                handlers::REQUESTS,
                &[events::REQUEST_TOPIC],
                Arc::new(handlers::Requests {
                    engine: self.engine.clone(),
                }),
            ),
            Consumer::new(
                handlers::AGENT_ORDERS,
                &[topics::AGENTS],
                Arc::new(handlers::AgentOrders {
                    api: self.api.clone(),
                }),
            ),
            Consumer::new(
                handlers::ERASURE,
                &[topics::USER_ACCOUNT],
                Arc::new(handlers::Erasure {
                    engine: self.engine.clone(),
                }),
            ),
        ]
    }

    /// The market clock: one step of the simulated traders every `markets.tick_millis`.
    fn background(&self, shutdown: CancellationToken) -> Vec<BoxFuture<'static, ()>> {
        let Some(every) = self.step else {
            return Vec::new();
        };
        let engine = self.engine.clone();
        vec![Box::pin(async move {
            let mut clock = tokio::time::interval(every);
            clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = clock.tick() => {
                        if let Err(error) = engine.lock().await.step().await {
                            tracing::warn!(%error, "a market step was not written; the next one tries again");
                        }
                    }
                }
            }
        })]
    }
}
