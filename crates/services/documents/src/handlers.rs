//! What the documents service consumes:
//! - its own `miyagi.document.*`: an upload it ingests, a deletion it answers by erasing the
//!   document's earlier events (their payloads hold its name and title); the rest pass by;
//! - `miyagi.user.account.deleted.v1`, which it answers by deleting every document of that
//!   person, with its passages, vectors and files.

use std::sync::Arc;

use async_trait::async_trait;
use miyagi_domain::{document::Document, events::types};
use miyagi_platform::events::{erasure, CloudEvent, EventBus, EventHandler, HandlerError};

use crate::{
    domain::{Documents, DocumentsError},
    events::TOPIC,
    store::StoreError,
};

/// The consumer group that deletes the documents of deleted accounts.
pub const ACCOUNT_ERASURE: &str = "documents-erasure";

/// Ingests each uploaded document and erases each deleted one's events.
pub struct Ingestion {
    pub documents: Arc<Documents>,
    pub bus: Arc<dyn EventBus>,
}

#[async_trait]
impl EventHandler for Ingestion {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        match event.event_type.as_str() {
            types::DOCUMENT_UPLOADED => {
                let document: Document = event.data_as()?;
                self.documents
                    .ingest(&event.id, &document)
                    .await
                    .map(|_| ())
            }
            types::DOCUMENT_DELETED => self.erase(event).await,
            _ => Ok(()),
        }
    }

    async fn gave_up(&self, event: &CloudEvent, reason: &str) -> Result<(), HandlerError> {
        if event.event_type != types::DOCUMENT_UPLOADED {
            return Ok(());
        }
        self.documents.gave_up(&event.data_as()?, reason).await
    }
}

impl Ingestion {
    /// Done once the deletion has come through the log, so every earlier event of the document
    /// has been relayed and none can reappear behind the erasure.
    async fn erase(&self, deletion: &CloudEvent) -> Result<(), HandlerError> {
        let transient = |e: &dyn std::fmt::Display| HandlerError::Transient(anyhow::anyhow!("{e}"));
        let in_log = self
            .bus
            .erase(TOPIC, &deletion.subject, &deletion.id)
            .await
            .map_err(|e| transient(&e))?;
        let kept = erasure::erase_kept_copies(
            self.documents.store().db(),
            TOPIC,
            &deletion.subject,
            &deletion.id,
        )
        .await?;
        tracing::info!(document = %deletion.subject, in_log, kept, "a deleted document's events are tombstones now");
        Ok(())
    }
}

/// Deletes every document of a deleted account.
pub struct AccountErasure(pub Arc<Documents>);

#[async_trait]
impl EventHandler for AccountErasure {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::USER_ACCOUNT_DELETED {
            return Ok(());
        }
        // Miyagi's own documents (the shared library) are no person's to erase.
        let user = erasure::deleted_account(event, "documents")?;
        let deleted = self.0.delete_all(&user).await.map_err(|e| match e {
            DocumentsError::Store(StoreError::Database(e)) => HandlerError::from(e),
            other => HandlerError::Transient(other.into()),
        })?;
        tracing::info!(
            documents = deleted,
            "deleted the documents of a deleted account"
        );
        Ok(())
    }
}
