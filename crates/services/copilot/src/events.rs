//! The events this service publishes, all through its outbox: a chat's on topic `miyagi.chat`
//! keyed by its owner, a memory's on `miyagi.memory` keyed by memory id. Their payloads hold ids
//! only (see `miyagi_domain::chat`).
//!
//! Keyed by owner, all of a person's messages, in every chat, land in one partition and reach
//! memory extraction one at a time, so two chats cannot both store the same new memory before
//! either sees the other's (the duplicate check reads what is already stored).

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
        owner,
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
        owner,
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
