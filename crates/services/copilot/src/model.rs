//! Chats, messages and memories as the API speaks them, with the limits every input is held to.

use chrono::{DateTime, Utc};
use miyagi_domain::{
    chat::{Author, MemoryKind},
    text::{not_blank, printable},
};
use miyagi_kernel::ToolOutcome;
use miyagi_memory::cite::Citation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

pub use crate::writing::WrittenBy;

/// Longest question a person can send: about a page of text, which the prompt budget can hold
/// beside the persona, their figures and a few passages.
pub const MAX_QUESTION_CHARS: u64 = 4_000;
/// Longest persona: the system prompt must leave room for everything else in the context.
pub const MAX_PERSONA_CHARS: u64 = 2_000;
pub const MAX_TITLE_CHARS: u64 = 120;
pub const MAX_MEMORY_CHARS: u64 = 300;
/// Most messages an imported chat may hold; each user message is read for memories.
pub const MAX_IMPORTED_MESSAGES: u64 = 200;
/// Longest message an import may carry (answers included, which run longer than questions).
pub const MAX_IMPORTED_CHARS: u64 = 8_000;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    pub id: Uuid,
    pub title: String,
    /// The system prompt the coach speaks with; the person can edit it.
    pub persona: String,
    /// 0..1: how much of the prompt's flexible budget goes to long-term memories rather than
    /// to this chat's recent turns.
    pub memory_balance: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A chat's settings: what a new chat starts with (defaults for those left out), or a change
/// to one (the fields given are replaced, the others kept).
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatSettings {
    /// A new chat's defaults to "New chat", renamed after its first question.
    #[validate(length(min = 1, max = MAX_TITLE_CHARS, message = "must be 1 to 120 characters"), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 120,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub title: Option<String>,
    /// A new chat's defaults to a coach in the voice of the favourite advisor on your profile.
    #[validate(length(min = 1, max = MAX_PERSONA_CHARS, message = "must be 1 to 2000 characters"), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub persona: Option<String>,
    /// 0..1; a new chat's defaults to 0.5.
    #[validate(range(min = 0.0, max = 1.0, message = "must be between 0 and 1"))]
    #[schema(minimum = 0, maximum = 1)]
    pub memory_balance: Option<f64>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewMessage {
    /// Your question or remark, 1 to 4000 characters.
    #[validate(length(min = 1, max = MAX_QUESTION_CHARS, message = "must be 1 to 4000 characters"), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub content: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: Uuid,
    pub chat_id: Uuid,
    /// Position in the chat, from 1; the history's cursor.
    pub seq: i64,
    pub author: Author,
    pub content: String,
    /// The verified citations of an answer; empty for questions.
    pub citations: Vec<Citation>,
    /// How an answer was made; absent for questions.
    pub details: Option<AnswerDetails>,
    pub created_at: DateTime<Utc>,
}

/// What went into an answer, for the person who wants to check it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnswerDetails {
    /// The model, or a quote of the best source when the model's words did not pass the checks.
    pub written_by: WrittenBy,
    /// The standalone search query the question became.
    pub query: String,
    /// The memories the prompt held.
    pub memories: Vec<MemoryRef>,
    /// How many passages the prompt held.
    pub passages: usize,
    /// What was looked up for the answer, in order: every figure it states comes from here.
    #[serde(default)]
    pub tool_calls: Vec<ToolCallRecord>,
    /// Tokens as the chat model counted them.
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Time from the question to the stored answer.
    pub elapsed_ms: u64,
}

/// One of the coach's tools, called for an answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolCallRecord {
    /// `plugin-function`, e.g. `finance-projection`.
    pub name: String,
    #[schema(value_type = Object)]
    pub arguments: serde_json::Value,
    /// What the tool answered, or why it could not.
    pub result: String,
    pub ok: bool,
    pub called_by: CalledBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CalledBy {
    /// The chat model asked for it (a model that calls tools).
    Model,
    /// The copilot called it for the question before the model wrote (the profile always;
    /// a projection or a rebalancing check when the question asks for one).
    Copilot,
}

impl ToolCallRecord {
    pub fn new(outcome: &ToolOutcome, called_by: CalledBy) -> Self {
        Self {
            name: outcome.call.name.clone(),
            arguments: serde_json::from_str(&outcome.call.arguments)
                .unwrap_or_else(|_| serde_json::Value::String(outcome.call.arguments.clone())),
            result: outcome.shown(),
            ok: outcome.result.is_ok(),
            called_by,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryRef {
    pub id: Uuid,
    pub kind: MemoryKind,
    pub text: String,
}

/// A page of a chat's history, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// Pass as `before` for the page of older messages; absent on the first message's page.
    pub next_cursor: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub id: Uuid,
    pub kind: MemoryKind,
    pub text: String,
    /// The chat it was said in (absent once that chat is deleted).
    pub chat_id: Option<Uuid>,
    /// Long-term memories inform every chat; working memory (`context`) only its own.
    pub long_term: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A correction to a memory: the fields given are replaced.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryChange {
    #[validate(length(min = 1, max = MAX_MEMORY_CHARS, message = "must be 1 to 300 characters"), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 300,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub text: Option<String>,
    pub kind: Option<MemoryKind>,
}

/// A chat as exported, and as an import must look.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatExport {
    #[validate(length(min = 1, max = MAX_TITLE_CHARS, message = "must be 1 to 120 characters"), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 120,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub title: String,
    #[validate(length(min = 1, max = MAX_PERSONA_CHARS, message = "must be 1 to 2000 characters"), custom(function = "not_blank"))]
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub persona: String,
    #[validate(range(min = 0.0, max = 1.0, message = "must be between 0 and 1"))]
    #[schema(minimum = 0, maximum = 1)]
    pub memory_balance: f64,
    #[validate(length(max = MAX_IMPORTED_MESSAGES, message = "at most 200 messages"), nested)]
    #[schema(max_items = 200)]
    pub messages: Vec<ExportedMessage>,
}

#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportedMessage {
    pub author: Author,
    #[validate(length(min = 1, max = MAX_IMPORTED_CHARS, message = "must be 1 to 8000 characters"), custom(function = "printable"))]
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub content: String,
    /// Kept as exported; an imported citation is not verified again.
    #[serde(default)]
    pub citations: Vec<Citation>,
    pub created_at: DateTime<Utc>,
}

/// One part of the prompt and its share of the budget.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptPart {
    /// `instructions`, `persona`, `figures`, `memories`, `passages`, `history` or `question`.
    pub name: String,
    pub tokens: usize,
    /// Most tokens the part could take; absent for the parts that are always whole.
    pub budget: Option<usize>,
    /// Items (memories, passages, turns) kept, and left out for want of room.
    pub kept: usize,
    pub dropped: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptMessage {
    pub role: String,
    pub content: String,
}

/// The prompt the model would be given for a question: its parts with their token counts, and
/// the messages as rendered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptView {
    pub query: String,
    /// What the copilot looked up for the question (its figures part).
    pub looked_up: Vec<ToolCallRecord>,
    pub parts: Vec<PromptPart>,
    pub messages: Vec<PromptMessage>,
    pub total_tokens: usize,
    pub limit_tokens: usize,
    /// Which tokenizer counted: the embedding model's, a close estimate of the chat model's
    /// own count (which each answer reports in its details).
    pub counted_with: String,
}
