//! The events this service publishes, all through its outbox: a chat's on topic `miyagi.chat`
//! keyed by chat id (so a chat's messages stay in order), a memory's on `miyagi.memory` keyed
//! by memory id. Their payloads hold ids only (see `miyagi_domain::chat`).

use miyagi_domain::{
    chat::{Author, ChatChanged, ChatMessageCreated, MemoryChanged, MemoryKind},
    events::{topics, types},
};
use miyagi_platform::events::CloudEvent;
use uuid::Uuid;

pub const SOURCE: &str = "/miyagi/copilot";
pub const CHAT_TOPIC: &str = topics::CHAT;
pub const MEMORY_TOPIC: &str = topics::MEMORY;

pub fn chat(event_type: &str, owner: &str, chat_id: Uuid) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        event_type,
        chat_id.to_string(),
        &ChatChanged {
            chat_id,
            owner: owner.into(),
        },
    )
}

pub fn message_created(owner: &str, chat_id: Uuid, message_id: Uuid, author: Author) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::CHAT_MESSAGE_CREATED,
        chat_id.to_string(),
        &ChatMessageCreated {
            chat_id,
            message_id,
            owner: owner.into(),
            author,
        },
    )
}

pub fn memory(
    event_type: &str,
    owner: &str,
    memory_id: Uuid,
    kind: MemoryKind,
    chat_id: Option<Uuid>,
) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        event_type,
        memory_id.to_string(),
        &MemoryChanged {
            memory_id,
            owner: owner.into(),
            kind,
            chat_id,
        },
    )
}
