//! The events this service publishes, all on `miyagi.expenses`, keyed by owner: a person's
//! files received, imports, corrections and budget alerts stay in order. Payloads carry ids, categories and
//! counts; payees and amounts stay in the service (the at-risk alert names a budget's sums, the
//! summary a usual month's).

use miyagi_domain::{
    events::{topics, types},
    expenses::{
        BudgetAtRisk, ImportReceived, SpendingSummarised, TransactionRecategorised,
        TransactionsImported,
    },
};
use miyagi_platform::events::CloudEvent;

pub const SOURCE: &str = "/miyagi/expenses";
pub const TOPIC: &str = topics::EXPENSES;

pub fn import_received(payload: &ImportReceived) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::EXPENSES_IMPORT_RECEIVED,
        &payload.owner,
        payload,
    )
}

pub fn imported(payload: &TransactionsImported) -> CloudEvent {
    CloudEvent::new(SOURCE, types::EXPENSES_IMPORTED, &payload.owner, payload)
}

pub fn recategorised(payload: &TransactionRecategorised) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::EXPENSES_RECATEGORISED,
        &payload.owner,
        payload,
    )
}

pub fn budget_at_risk(payload: &BudgetAtRisk) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::EXPENSES_BUDGET_AT_RISK,
        &payload.owner,
        payload,
    )
}

pub fn spending_summarised(payload: &SpendingSummarised) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::EXPENSES_SPENDING_SUMMARISED,
        &payload.owner,
        payload,
    )
}
