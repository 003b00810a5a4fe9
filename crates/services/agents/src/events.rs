//! The events this service publishes, all on `miyagi.agents` and keyed by owner, so a person's
//! runs move on in order: every change of a run, and the orders a person approved, for the
//! markets service to place.

use miyagi_domain::{
    agents::{OrdersApproved, RunChanged},
    events::{topics, types},
};
use miyagi_platform::events::CloudEvent;

pub const SOURCE: &str = "/miyagi/agents";
pub const TOPIC: &str = topics::AGENTS;

pub fn run_changed(payload: &RunChanged) -> CloudEvent {
    CloudEvent::new(SOURCE, types::AGENTS_RUN_CHANGED, &payload.owner, payload)
}

pub fn orders_approved(payload: &OrdersApproved) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::AGENTS_ORDERS_APPROVED,
        &payload.owner,
        payload,
    )
}
