//! What the documents service consumes: its own `miyagi.document.uploaded.v1`, which it
//! answers by ingesting the file; its other events pass by.

use std::sync::Arc;

use async_trait::async_trait;
use miyagi_domain::{document::Document, events::types};
use miyagi_platform::events::{CloudEvent, EventHandler, HandlerError};

use crate::domain::Documents;

/// Ingests each uploaded document; the service's other events pass by.
pub struct Ingestion(pub Arc<Documents>);

#[async_trait]
impl EventHandler for Ingestion {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::DOCUMENT_UPLOADED {
            return Ok(());
        }
        let document: Document = event.data_as()?;
        self.0.ingest(&event.id, &document).await.map(|_| ())
    }

    async fn gave_up(&self, event: &CloudEvent, reason: &str) -> Result<(), HandlerError> {
        if event.event_type != types::DOCUMENT_UPLOADED {
            return Ok(());
        }
        self.0.gave_up(&event.data_as()?, reason).await
    }
}
