//! What the service consumes: people's requests (the engine's input, in order per symbol),
//! orders people approved in agent runs, and account deletions, on which the engine deletes
//! everything it holds of the person.

use std::sync::Arc;

use async_trait::async_trait;
use miyagi_domain::{agents::OrdersApproved, events::types, user::AccountDeleted};
use miyagi_platform::events::{CloudEvent, EventHandler, HandlerError};
use tokio::sync::Mutex;

use crate::domain::Engine;
use crate::model::Request;

/// The engine's consumer group, the one reader of the request topic.
pub const REQUESTS: &str = crate::domain::CONSUMER;
pub const ERASURE: &str = "markets-erasure";
pub const AGENT_ORDERS: &str = "markets-agent-orders";

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

/// Orders approved in agent runs become orders here, checked like the API's.
pub struct AgentOrders {
    pub api: crate::api::Api,
}

#[async_trait]
impl EventHandler for AgentOrders {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::AGENTS_ORDERS_APPROVED {
            return Ok(());
        }
        let approved: OrdersApproved = event.data_as()?;
        Ok(crate::api::place_approved(&self.api, &approved).await?)
    }
}
