//! The events this service publishes, all on topic `miyagi.document`, keyed by document id, each
//! carrying the [`Document`] as it stands after the change, except the deletion, which carries
//! only the ids.

use miyagi_domain::{
    document::{Document, DocumentDeleted},
    events::{topics, types},
};
use miyagi_platform::events::CloudEvent;

pub const SOURCE: &str = "/miyagi/documents";
pub const TOPIC: &str = topics::DOCUMENT;

fn event(kind: &str, document: &Document) -> CloudEvent {
    CloudEvent::new(SOURCE, kind, document.id.to_string(), document)
}

pub fn uploaded(document: &Document) -> CloudEvent {
    event(types::DOCUMENT_UPLOADED, document)
}

pub fn indexed(document: &Document) -> CloudEvent {
    event(types::DOCUMENT_INDEXED, document)
}

pub fn failed(document: &Document) -> CloudEvent {
    event(types::DOCUMENT_FAILED, document)
}

pub fn deleted(document: &Document) -> CloudEvent {
    let payload = DocumentDeleted {
        id: document.id,
        owner: document.owner.clone(),
    };
    CloudEvent::new(
        SOURCE,
        types::DOCUMENT_DELETED,
        document.id.to_string(),
        &payload,
    )
}
