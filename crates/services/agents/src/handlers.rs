//! What the service consumes: its own run events (the runner: each one moves its run on by a
//! step), the markets service's positions and order updates (copies for the tools and the
//! timeline), and account deletions.

use std::sync::Arc;

use async_trait::async_trait;
use miyagi_domain::{
    agents::{RunChanged, RunState},
    events::types,
    markets::PositionsUpdated,
    user::AccountDeleted,
};
use miyagi_platform::events::{erasure, CloudEvent, EventBus, EventHandler, HandlerError};
use serde::Deserialize;

use crate::domain::{Agents, AgentsError};
use crate::events::TOPIC;
use crate::model::PlacedOrder;

pub const RUNNER: &str = "agents-runner";
pub const MARKETS: &str = "agents-markets";
pub const ERASURE: &str = "agents-erasure";

pub struct Runner {
    pub agents: Agents,
}

#[async_trait]
impl EventHandler for Runner {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::AGENTS_RUN_CHANGED {
            return Ok(());
        }
        let changed: RunChanged = event.data_as()?;
        if changed.state != RunState::Running {
            return Ok(());
        }
        // A redelivered event finds its step recorded and moves on from the next one.
        self.agents.advance(changed.run_id).await.map_err(transient)
    }
}

/// The markets service's view of the person's account and of the orders runs placed.
pub struct Markets {
    pub agents: Agents,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderUpdated {
    owner: String,
    id: uuid::Uuid,
    symbol: String,
    side: String,
    qty: u64,
    filled: u64,
    average_price: Option<f64>,
    status: String,
    reason: Option<String>,
}

#[async_trait]
impl EventHandler for Markets {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        let store = &self.agents.store;
        match event.event_type.as_str() {
            types::MARKETS_POSITIONS_UPDATED => {
                let update: PositionsUpdated = event.data_as()?;
                let positions = serde_json::to_value(&update.positions)
                    .map_err(|e| HandlerError::Transient(e.into()))?;
                store
                    .keep_positions(&update.owner, &positions, update.as_of)
                    .await
                    .map_err(|e| transient(e.into()))
            }
            types::MARKETS_ORDER_UPDATED => {
                let update: OrderUpdated = event.data_as()?;
                let order = PlacedOrder {
                    id: update.id,
                    symbol: update.symbol,
                    side: update.side,
                    qty: update.qty,
                    status: update.status,
                    filled: update.filled,
                    average_price: update.average_price,
                    reason: update.reason,
                };
                store
                    .order_changed(&update.owner, &order)
                    .await
                    .map_err(|e| transient(e.into()))
            }
            _ => Ok(()),
        }
    }
}

pub struct Erasure {
    pub agents: Agents,
    pub bus: Arc<dyn EventBus>,
}

#[async_trait]
impl EventHandler for Erasure {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::USER_ACCOUNT_DELETED {
            return Ok(());
        }
        let deleted: AccountDeleted = event.data_as()?;
        self.agents
            .store
            .erase(&deleted.user)
            .await
            .map_err(|e| transient(e.into()))?;
        let erased = erasure::erase_person(
            self.bus.as_ref(),
            self.agents.store.db(),
            TOPIC,
            &deleted.user,
            &event.id,
        )
        .await?;
        tracing::info!(erased, "a deleted account's runs are gone");
        Ok(())
    }
}

fn transient(error: AgentsError) -> HandlerError {
    HandlerError::Transient(error.into())
}
