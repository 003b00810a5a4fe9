//! Event type names and topics: the public contract of Miyagi's event log.
//!
//! Types are schema-versioned (`….v1`); a breaking change to a payload gets a new type name so
//! old and new consumers can run side by side during a rollout.

/// Topics group the events of one aggregate type; records are keyed by aggregate id so every
/// event of one aggregate lands on one partition, in order.
pub mod topics {
    pub const USER_PROFILE: &str = "miyagi.user.profile";
    /// A person's account as a whole: keyed by their user id.
    pub const USER_ACCOUNT: &str = "miyagi.user.account";
    pub const DOCUMENT: &str = "miyagi.document";
    pub const ADVICE: &str = "miyagi.advice";
    /// Chats with the copilot and their messages: keyed by chat id.
    pub const CHAT: &str = "miyagi.chat";
    /// What the copilot remembers of a person: keyed by memory id.
    pub const MEMORY: &str = "miyagi.memory";
    /// What people ask of their paper orders (place, cancel, replace), keyed by symbol: the
    /// markets engine takes them in order, one book at a time.
    pub const MARKETS_REQUEST: &str = "miyagi.markets.request";
    /// What became of a person's order, keyed by order id.
    pub const MARKETS_ORDER: &str = "miyagi.markets.order";
    /// Market data: every symbol's best prices, last trade and volume, once a market step.
    pub const MARKETS_QUOTES: &str = "miyagi.markets.quotes";
    /// A person's paper account as a whole (what it holds), keyed by its owner.
    pub const MARKETS_ACCOUNT: &str = "miyagi.markets.account";
    /// A person's spending: imports, corrections and budget alerts, keyed by owner so a
    /// person's changes stay in order.
    pub const EXPENSES: &str = "miyagi.expenses";
    /// Agent runs and what they ask other services to do, keyed by owner so a person's runs
    /// move on in order.
    pub const AGENTS: &str = "miyagi.agents";
    /// Generated images, keyed by image id.
    pub const IMAGE: &str = "miyagi.image";
}

pub mod types {
    pub const USER_PROFILE_CREATED: &str = "miyagi.user.profile.created.v1";
    pub const USER_PROFILE_UPDATED: &str = "miyagi.user.profile.updated.v1";
    pub const USER_PROFILE_DELETED: &str = "miyagi.user.profile.deleted.v1";
    /// A person asked for all their data to go: every service deletes what it holds of them.
    pub const USER_ACCOUNT_DELETED: &str = "miyagi.user.account.deleted.v1";
    pub const DOCUMENT_UPLOADED: &str = "miyagi.document.uploaded.v1";
    pub const DOCUMENT_INDEXED: &str = "miyagi.document.indexed.v1";
    pub const DOCUMENT_FAILED: &str = "miyagi.document.failed.v1";
    /// v2: carries only the ids (`document::DocumentDeleted`), so that once a document's
    /// earlier events are erased, nothing of what it was (its name, its title) stays in the log.
    pub const DOCUMENT_DELETED: &str = "miyagi.document.deleted.v2";
    pub const ADVICE_GENERATED: &str = "miyagi.advice.generated.v1";
    pub const CHAT_CREATED: &str = "miyagi.chat.created.v1";
    pub const CHAT_UPDATED: &str = "miyagi.chat.updated.v1";
    pub const CHAT_DELETED: &str = "miyagi.chat.deleted.v1";
    /// A question or an answer was added to a chat; the copilot extracts memories from questions.
    pub const CHAT_MESSAGE_CREATED: &str = "miyagi.chat.message.created.v1";
    pub const MEMORY_EXTRACTED: &str = "miyagi.memory.extracted.v1";
    pub const MEMORY_UPDATED: &str = "miyagi.memory.updated.v1";
    pub const MEMORY_DELETED: &str = "miyagi.memory.deleted.v1";
    pub const MARKETS_ORDER_REQUESTED: &str = "miyagi.markets.order.requested.v1";
    pub const MARKETS_CANCEL_REQUESTED: &str = "miyagi.markets.order.cancel_requested.v1";
    pub const MARKETS_REPLACE_REQUESTED: &str = "miyagi.markets.order.replace_requested.v1";
    /// An order changed: taken (open), filled in part or whole, cancelled or rejected.
    pub const MARKETS_ORDER_UPDATED: &str = "miyagi.markets.order.updated.v1";
    pub const MARKETS_QUOTES: &str = "miyagi.markets.quotes.v1";
    /// What a person's paper account holds now, valued (`markets::PositionsUpdated`).
    pub const MARKETS_POSITIONS_UPDATED: &str = "miyagi.markets.positions.updated.v1";
    /// A statement file arrived and waits in blob storage to be imported
    /// (`expenses::ImportReceived`).
    pub const EXPENSES_IMPORT_RECEIVED: &str = "miyagi.expenses.import.received.v1";
    pub const EXPENSES_IMPORTED: &str = "miyagi.expenses.transactions.imported.v1";
    pub const EXPENSES_RECATEGORISED: &str = "miyagi.expenses.transaction.recategorised.v1";
    /// At this month's pace a budget will be overspent (`expenses::BudgetAtRisk`).
    pub const EXPENSES_BUDGET_AT_RISK: &str = "miyagi.expenses.budget.at_risk.v1";
    /// A person's usual month of income and spending (`expenses::SpendingSummarised`).
    pub const EXPENSES_SPENDING_SUMMARISED: &str = "miyagi.expenses.spending.summarised.v1";
    /// A run moved on: a step recorded, an approval asked for or given (`agents::RunChanged`).
    pub const AGENTS_RUN_CHANGED: &str = "miyagi.agents.run.changed.v1";
    /// Paper orders a person approved in a run, for the markets service to place
    /// (`agents::OrdersApproved`).
    pub const AGENTS_ORDERS_APPROVED: &str = "miyagi.agents.orders.approved.v1";
    /// A person asked for an image; the images service's consumer generates it
    /// (`image::ImageRequested`).
    pub const IMAGE_REQUESTED: &str = "miyagi.image.requested.v1";
    /// An image is in blob storage, ready to show (`image::ImageGenerated`).
    pub const IMAGE_GENERATED: &str = "miyagi.image.generated.v1";
    /// An image could not be generated, and why (`image::ImageFailed`).
    pub const IMAGE_FAILED: &str = "miyagi.image.failed.v1";
    /// A person deleted an image (`image::ImageDeleted`).
    pub const IMAGE_DELETED: &str = "miyagi.image.deleted.v1";
}
