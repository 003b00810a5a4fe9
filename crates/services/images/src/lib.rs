//! The images service: pictures asked for in words, drawn off the request path from an event,
//! kept in blob storage and announced with `miyagi.image.generated.v1`.
//!
//! - `api`: HTTP routes under `/api/v1/images`, and OpenAI's `/v1/images/generations`.
//! - `domain`: the decisions: asking, drawing, storing, deleting; `domain::cards`, the image
//!   model that draws a person's own figures as cards when no images endpoint is configured.
//! - `store`: the images table, each change with its outbox event, and the copies cards are
//!   drawn from.
//! - [`events`]: what the service publishes.
//! - `handlers`: its own requests (drawn here), the cards answers name, the copies' events,
//!   account deletions.

mod api;
mod domain;
pub mod events;
mod handlers;
mod model;
mod store;

use std::sync::Arc;

use miyagi_domain::events::topics;
use miyagi_kernel::{EmbeddingModel, ImageModel};
use miyagi_platform::{db::Db, events::Consumer, Service, ServiceContext};
use utoipa_axum::router::OpenApiRouter;

pub use domain::cards::MODEL as CARDS_MODEL;

pub const NAME: &str = "images";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What draws: an images endpoint, or (`None`) the card renderer, which reads prompts that do
/// not name a card plainly by their meaning, with `embedder`.
pub struct Models {
    pub endpoint: Option<Arc<dyn ImageModel>>,
    pub embedder: Option<Arc<dyn EmbeddingModel>>,
}

pub struct ImagesService {
    images: domain::Images,
}

impl ImagesService {
    pub async fn start(context: &ServiceContext, models: Models) -> anyhow::Result<Self> {
        let db = Db::open(&context.config, NAME, &MIGRATOR).await?;
        let store = store::ImagesStore::new(db);
        let cards = Arc::new(domain::cards::CardRenderer::new(
            store.clone(),
            models.embedder,
        ));
        Ok(Self {
            images: domain::Images::new(store, context.blob.clone(), models.endpoint, cards),
        })
    }
}

impl Service for ImagesService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn routes(&self) -> OpenApiRouter {
        api::routes(self.images.clone())
    }

    fn database(&self) -> Option<&Db> {
        Some(self.images.store().db())
    }

    fn consumers(&self) -> Vec<Consumer> {
        vec![
            Consumer::new(
                handlers::GENERATOR,
                &[events::TOPIC],
                Arc::new(handlers::Generator(self.images.clone())),
            ),
            Consumer::new(
                handlers::ATTACHER,
                &[topics::CHAT, topics::ADVICE, topics::USER_PROFILE],
                Arc::new(handlers::Attacher(self.images.clone())),
            ),
            Consumer::new(
                handlers::PEOPLE,
                &[
                    topics::USER_PROFILE,
                    topics::MARKETS_ACCOUNT,
                    topics::EXPENSES,
                    topics::USER_ACCOUNT,
                ],
                Arc::new(handlers::PeopleFollower(self.images.clone())),
            ),
        ]
    }
}
