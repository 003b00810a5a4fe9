//! What the service consumes: people's requests (the engine's input, in order per symbol), and
//! account deletions, on which the engine deletes everything it holds of the person.

use std::sync::Arc;

use async_trait::async_trait;
use miyagi_domain::{events::types, user::AccountDeleted};
use miyagi_platform::events::{CloudEvent, EventHandler, HandlerError};
use tokio::sync::Mutex;

use crate::domain::Engine;
use crate::model::Request;

/// The engine's consumer group, the one reader of the request topic.
pub const REQUESTS: &str = crate::domain::CONSUMER;
pub const ERASURE: &str = "markets-erasure";

pub struct Requests {
    pub engine: Arc<Mutex<Engine>>,
}

#[async_trait]
impl EventHandler for Requests {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        let request: Request = event.data_as()?;
        Ok(self.engine.lock().await.request(&event.id, request).await?)
    }
}

pub struct Erasure {
    pub engine: Arc<Mutex<Engine>>,
}

#[async_trait]
impl EventHandler for Erasure {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::USER_ACCOUNT_DELETED {
            return Ok(());
        }
        let deleted: AccountDeleted = event.data_as()?;
        Ok(self
            .engine
            .lock()
            .await
            .erase(&event.id, &deleted.user)
            .await?)
    }
}
