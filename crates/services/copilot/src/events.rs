//! The events this service publishes, all through its outbox: a chat's on topic `miyagi.chat`
//! keyed by its owner, a memory's on `miyagi.memory` keyed by memory id. Their payloads hold ids
//! (see `miyagi_domain::chat`), and no words of the person's.
//!
//! Keyed by owner, all of a person's messages, in every chat, land in one partition and reach
//! memory extraction one at a time, so two chats cannot both store the same new memory before
//! either sees the other's (the duplicate check reads what is already stored). An answer's
//! event also names the cards of the figures it looked up, which the images service draws.

use miyagi_domain::{
    chat::{ChatChanged, ChatMessageCreated, MemoryChanged, MemoryKind},
    events::{topics, types},
    image::Card,
};
use miyagi_platform::events::CloudEvent;
use uuid::Uuid;

use crate::{
    model::{AnswerDetails, Message},
    tools,
};

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

pub fn message_created(owner: &str, message: &Message) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::CHAT_MESSAGE_CREATED,
        owner,
        &ChatMessageCreated {
            chat_id: message.chat_id,
            message_id: message.id,
            owner: owner.into(),
            author: message.author,
            cards: message.details.as_ref().map(cards).unwrap_or_default(),
        },
    )
}

/// The cards of what an answer looked up and stated: a projection as it was asked for, the
/// usual month. A lookup that failed or found nothing states no figures, so it gets no card.
fn cards(details: &AnswerDetails) -> Vec<Card> {
    details
        .tool_calls
        .iter()
        .filter(|call| call.ok)
        .filter_map(|call| match call.name.as_str() {
            tools::PROJECTION => Some(Card::Projection {
                years: call.arguments["years"].as_u64().map(|y| y as u32),
                annual_savings: call.arguments["annualSavings"].as_f64(),
            }),
            tools::SPENDING if call.result != tools::NO_SPENDING => Some(Card::UsualMonth),
            _ => None,
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{CalledBy, ToolCallRecord, WrittenBy};

    fn call(name: &str, arguments: serde_json::Value, result: &str, ok: bool) -> ToolCallRecord {
        ToolCallRecord {
            name: name.into(),
            arguments,
            result: result.into(),
            ok,
            called_by: CalledBy::Copilot,
        }
    }

    fn details(tool_calls: Vec<ToolCallRecord>) -> AnswerDetails {
        AnswerDetails {
            written_by: WrittenBy::Model,
            query: String::new(),
            memories: vec![],
            passages: 0,
            tool_calls,
            prompt_tokens: 0,
            completion_tokens: 0,
            elapsed_ms: 0,
        }
    }

    #[test]
    fn an_answer_names_the_cards_of_the_figures_it_looked_up_as_asked() {
        let cards = cards(&details(vec![
            call(tools::PROFILE, json!({}), "Ada, 40.", true),
            call(
                tools::PROJECTION,
                json!({"years": 20, "annualSavings": 9000.0}),
                "In 20 years…",
                true,
            ),
            call(
                tools::SPENDING,
                json!({}),
                "They spend $3,100 a month.",
                true,
            ),
        ]));
        assert_eq!(
            cards,
            vec![
                Card::Projection {
                    years: Some(20),
                    annual_savings: Some(9000.0)
                },
                Card::UsualMonth
            ]
        );
    }

    #[test]
    fn a_lookup_that_failed_or_found_nothing_gets_no_card() {
        let cards = cards(&details(vec![
            call(tools::PROJECTION, json!({}), "no profile", false),
            call(tools::SPENDING, json!({}), tools::NO_SPENDING, true),
        ]));
        assert!(cards.is_empty(), "{cards:?}");
    }
}
