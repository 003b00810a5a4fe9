//! The users service: people's financial profiles.
//!
//! - `api`: HTTP routes under `/api/v1/userprofile` and `/api/v1/account`.
//! - `domain`: what the service decides (synthetic profile generation).
//! - `store`: the `user_profiles` table, written together with outbox events.
//! - [`events`]: the events the service publishes (other services and tests name its topic).
//! - `handlers`: the one it consumes, its own profile deletions, to erase their events.

mod api;
mod domain;
pub mod events;
mod handlers;
mod store;

use std::sync::Arc;

use miyagi_platform::{
    db::Db,
    events::{Consumer, EventBus},
    Service, ServiceContext,
};
use utoipa_axum::router::OpenApiRouter;

pub use store::{StoreError, UserStore};

pub const NAME: &str = "users";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct UsersService {
    store: UserStore,
    bus: Arc<dyn EventBus>,
}

impl UsersService {
    pub async fn start(context: &ServiceContext) -> anyhow::Result<Self> {
        let db = Db::open(&context.config, NAME, &MIGRATOR).await?;
        Ok(Self {
            store: UserStore::new(db),
            bus: context.bus.clone(),
        })
    }

    pub fn store(&self) -> &UserStore {
        &self.store
    }
}

impl Service for UsersService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn routes(&self) -> OpenApiRouter {
        api::routes(self.store.clone())
    }

    fn database(&self) -> Option<&Db> {
        Some(self.store.db())
    }

    fn consumers(&self) -> Vec<Consumer> {
        vec![Consumer::new(
            handlers::ERASURE,
            &[events::TOPIC],
            Arc::new(handlers::Erasure {
                bus: self.bus.clone(),
                db: self.store.db().clone(),
            }),
        )]
    }
}
