//! Chats with the copilot and the memories it keeps of a person, as events name them.
//!
//! The payloads carry ids, never what was said: a message's words and a memory's text stay in
//! the copilot's own tables, where deleting them deletes them. The log, which on Kafka cannot be
//! rewritten, then holds nothing a person could ask to have forgotten.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who wrote a message in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Author {
    User,
    Assistant,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::User, Self::Assistant]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// What a memory is about. `Context` is working memory: it holds for the chat it came from
/// only; the other kinds are long-term and inform every chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MemoryKind {
    /// Something true of the person ("I have two children").
    Fact,
    /// How they like things ("I prefer index funds").
    Preference,
    /// What they are aiming for ("I plan to retire at 55").
    Goal,
    /// What this conversation is about ("I am comparing two pension offers").
    Context,
}

impl MemoryKind {
    pub const ALL: [Self; 4] = [Self::Fact, Self::Preference, Self::Goal, Self::Context];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fact => "fact",
            Self::Preference => "preference",
            Self::Goal => "goal",
            Self::Context => "context",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Long-term memories inform every chat of their owner; working memory only its own.
    pub fn is_long_term(self) -> bool {
        self != Self::Context
    }
}

/// Payload of `miyagi.chat.created.v1`, `miyagi.chat.updated.v1` and `miyagi.chat.deleted.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatChanged {
    pub chat_id: Uuid,
    pub owner: String,
}

/// Payload of `miyagi.chat.message.created.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessageCreated {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub owner: String,
    pub author: Author,
    /// Cards of the figures an answer looked up, for the images service to draw beside it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cards: Vec<crate::image::Card>,
}

/// Payload of `miyagi.memory.extracted.v1`, `miyagi.memory.updated.v1` and
/// `miyagi.memory.deleted.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryChanged {
    pub memory_id: Uuid,
    pub owner: String,
    pub kind: MemoryKind,
    /// The chat it was said in; `None` once that chat is deleted.
    pub chat_id: Option<Uuid>,
}
