//! The expenses service: a person's bank transactions, filed into categories by a pipeline that
//! says why and learns from corrections, and what they add up to (months, budgets, anomalies,
//! recurring payments), computed rather than written by a model.
//!
//! - `api`: HTTP routes under `/api/v1/expenses`.
//! - `domain`: the decisions: CSV reading (`csv_file`), payee keys (`payee`), the categoriser's
//!   stages (`categorise`, `merchants`, `catalogue`), the numbers (`insights`) and synthetic
//!   households (`synthetic`).
//! - `store`: the tables, each change written with its outbox event.
//! - [`events`]: what the service publishes.
//! - `handlers`: its own received files (imported from blob storage), its own imports (the model
//!   files what nothing cheaper recognised) and account deletions.

mod api;
mod domain;
pub mod events;
mod handlers;
mod model;
mod store;

use std::sync::Arc;

use miyagi_domain::events::topics;
use miyagi_kernel::{EmbeddingModel, Kernel};
use miyagi_platform::{db::Db, events::Consumer, Service, ServiceContext};
use utoipa_axum::router::OpenApiRouter;

pub use domain::synthetic;

pub const NAME: &str = "expenses";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The models the service files with.
pub struct Models {
    /// Embeds payees for the similar-payee stage.
    pub embedder: Arc<dyn EmbeddingModel>,
    /// Chooses a category for payees nothing else recognised; without one they stay uncategorised.
    pub kernel: Option<Kernel>,
}

pub struct ExpensesService {
    expenses: domain::Expenses,
    bus: Arc<dyn miyagi_platform::events::EventBus>,
}

impl ExpensesService {
    pub async fn start(context: &ServiceContext, models: Models) -> anyhow::Result<Self> {
        let db = Db::open(&context.config, NAME, &MIGRATOR).await?;
        Ok(Self {
            expenses: domain::Expenses::new(
                store::ExpensesStore::new(db),
                context.blob.clone(),
                models.embedder,
                models.kernel,
            ),
            bus: context.bus.clone(),
        })
    }
}

impl Service for ExpensesService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn routes(&self) -> OpenApiRouter {
        api::routes(self.expenses.clone())
    }

    fn database(&self) -> Option<&Db> {
        Some(self.expenses.store.db())
    }

    fn consumers(&self) -> Vec<Consumer> {
        vec![
            Consumer::new(
                handlers::IMPORTER,
                &[events::TOPIC],
                Arc::new(handlers::Importer {
                    expenses: self.expenses.clone(),
                }),
            ),
            Consumer::new(
                handlers::CATEGORISER,
                &[events::TOPIC],
                Arc::new(handlers::Categoriser {
                    expenses: self.expenses.clone(),
                }),
            ),
            Consumer::new(
                handlers::ERASURE,
                &[topics::USER_ACCOUNT],
                Arc::new(handlers::Erasure {
                    expenses: self.expenses.clone(),
                    bus: self.bus.clone(),
                }),
            ),
        ]
    }
}
