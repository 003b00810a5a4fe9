//! What the service consumes: its own received files, which it imports; its own imports, whose
//! payees nothing cheaper recognised are then filed by the model off the request path; and
//! account deletions, on which it deletes all it holds of the person, turns their expense events
//! into tombstones and publishes that their usual month is no longer known.

use std::sync::Arc;

use async_trait::async_trait;
use miyagi_domain::{
    events::types,
    expenses::{ImportReceived, TransactionsImported},
    user::AccountDeleted,
};
use miyagi_platform::events::{erasure, CloudEvent, EventBus, EventHandler, HandlerError};

use crate::domain::{Expenses, ExpensesError};
use crate::events::TOPIC;

pub const IMPORTER: &str = "expenses-importer";
pub const CATEGORISER: &str = "expenses-categoriser";

pub struct Importer {
    pub expenses: Expenses,
}

#[async_trait]
impl EventHandler for Importer {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::EXPENSES_IMPORT_RECEIVED {
            return Ok(());
        }
        let received: ImportReceived = event.data_as()?;
        self.expenses
            .import_received(&received.owner, received.import_id)
            .await
            .map_err(transient)
    }

    async fn gave_up(&self, event: &CloudEvent, reason: &str) -> Result<(), HandlerError> {
        if event.event_type != types::EXPENSES_IMPORT_RECEIVED {
            return Ok(());
        }
        let received: ImportReceived = event.data_as()?;
        self.expenses
            .give_up(&received.owner, received.import_id, reason)
            .await
            .map_err(transient)
    }
}
pub const ERASURE: &str = "expenses-erasure";

pub struct Categoriser {
    pub expenses: Expenses,
}

#[async_trait]
impl EventHandler for Categoriser {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::EXPENSES_IMPORTED {
            return Ok(());
        }
        let import: TransactionsImported = event.data_as()?;
        if import.pending == 0 {
            return Ok(());
        }
        // Filing is idempotent (only rows still pending change), so a redelivery is harmless.
        let filed = self
            .expenses
            .file_pending(&import.owner, import.import_id)
            .await
            .map_err(transient)?;
        tracing::info!(import = %import.import_id, filed, "the model filed an import's unrecognised payees");
        Ok(())
    }
}

pub struct Erasure {
    pub expenses: Expenses,
    pub bus: Arc<dyn EventBus>,
}

#[async_trait]
impl EventHandler for Erasure {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::USER_ACCOUNT_DELETED {
            return Ok(());
        }
        let deleted: AccountDeleted = event.data_as()?;
        self.expenses
            .erase_files(&deleted.user)
            .await
            .map_err(transient)?;
        self.expenses
            .store
            .erase(&deleted.user)
            .await
            .map_err(|e| transient(e.into()))?;
        let erased = erasure::erase_person(
            self.bus.as_ref(),
            self.expenses.store.db(),
            TOPIC,
            &deleted.user,
            &event.id,
        )
        .await?;
        // After the erasure, or it would be erased too: copies of the person's usual month
        // (the advisor's) are told there is none.
        self.expenses
            .publish_forgotten(&deleted.user)
            .await
            .map_err(transient)?;
        tracing::info!(erased, "a deleted account's spending is gone");
        Ok(())
    }
}

fn transient(error: ExpensesError) -> HandlerError {
    HandlerError::Transient(error.into())
}
