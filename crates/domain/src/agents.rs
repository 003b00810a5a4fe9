//! Agent runs as the rest of Miyagi sees them: the payloads of `miyagi.agents`. Every change of
//! a run (a step recorded, an approval asked for or given, the run finished) is a
//! `run.changed` event, so a run's history is in the log; an approved batch of paper orders is
//! an `orders.approved` event, which the markets service turns into orders.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a run is. `Planned` runs wait for the person to start them; `WaitingApproval` ones for
/// a decision on a step that changes something; the last three are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Planned,
    Running,
    WaitingApproval,
    Completed,
    Failed,
    Cancelled,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Planned => "planned",
            RunState::Running => "running",
            RunState::WaitingApproval => "waiting_approval",
            RunState::Completed => "completed",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            RunState::Planned,
            RunState::Running,
            RunState::WaitingApproval,
            RunState::Completed,
            RunState::Failed,
            RunState::Cancelled,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunState::Completed | RunState::Failed | RunState::Cancelled
        )
    }
}

/// `miyagi.agents.run.changed.v1`: a run moved on. `step` is the step the change is about
/// (from 0), absent for changes of the run as a whole; `what` says what happened in a few words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunChanged {
    pub run_id: Uuid,
    pub owner: String,
    pub agent: String,
    pub state: RunState,
    pub step: Option<usize>,
    pub what: String,
}

/// `miyagi.agents.orders.approved.v1`: paper orders a person approved in a run. Each carries
/// the id the order will have, so that a redelivered event places nothing twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrdersApproved {
    pub owner: String,
    pub run_id: Uuid,
    pub step: usize,
    pub orders: Vec<ApprovedOrder>,
}

/// A market order for whole shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovedOrder {
    pub id: Uuid,
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    pub qty: u64,
}
