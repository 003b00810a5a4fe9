//! The model seams: chat completion (with tools and streaming) and embeddings.

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::KernelError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    const ALL: [Role; 4] = [Self::System, Self::User, Self::Assistant, Self::Tool];

    /// The role's name in prompts and on the wire, spelled out so that renaming a variant
    /// cannot change either.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| KernelError::Template(format!("unknown message role {s:?}")))
    }
}

/// A tool call the model asked for; `arguments` is the JSON text the model wrote.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// Tool calls requested by an assistant message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: vec![],
            tool_call_id: None,
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
    pub fn tool_result(call_id: &str, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }
}

/// How the model should shape its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    #[default]
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        schema: serde_json::Value,
        strict: bool,
    },
    /// Text matching a regular expression (local models only; not part of OpenAI's protocol).
    Regex {
        pattern: String,
    },
    /// Exactly one of the given strings (local models only).
    Choice {
        options: Vec<String>,
    },
}

/// Sampling and output settings; `None` leaves the provider's default.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecutionSettings {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    /// Sample only among the k most likely tokens. Not in OpenAI's API; llama.cpp, vLLM and
    /// Ollama accept it, and the local model honours it.
    pub top_k: Option<u32>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    #[serde(alias = "stop_sequences")]
    pub stop: Vec<String>,
    pub seed: Option<u64>,
    pub response_format: Option<ResponseFormat>,
}

/// A tool offered to the model: a function's name, description and JSON-schema parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub settings: ExecutionSettings,
    pub tools: Vec<ToolSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

impl Usage {
    pub fn total(&self) -> u32 {
        self.prompt_tokens + self.completion_tokens
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

impl FinishReason {
    /// OpenAI's name for the reason, used in API responses and telemetry.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    pub message: ChatMessage,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    /// The model that actually answered (providers may resolve aliases).
    pub model: String,
}

/// One piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatDelta {
    Text(String),
    /// A complete tool call, emitted once all of its streamed fragments have arrived.
    ToolCall(ToolCall),
    Finished {
        finish_reason: FinishReason,
        usage: Usage,
    },
}

pub type ChatStream = BoxStream<'static, Result<ChatDelta, KernelError>>;

#[async_trait]
pub trait ChatModel: Send + Sync {
    /// Identifies the model in usage records, cache keys and spans.
    fn model_id(&self) -> &str;

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, KernelError>;

    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, KernelError>;

    /// True when the model constrains decoding to `response_format`'s schema itself, so its
    /// structured output needs no validate-and-repair loop.
    fn constrains_output(&self) -> bool {
        false
    }

    /// True when the model calls the tools a request offers; one that does not ignores them,
    /// and its caller has to decide what to look up itself.
    fn calls_tools(&self) -> bool {
        false
    }
}

#[async_trait]
pub trait EmbeddingModel: Send + Sync {
    fn model_id(&self) -> &str;
    fn dimensions(&self) -> usize;
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, KernelError>;
}

/// A [`ChatStream`] over the receiving end of a channel: providers that produce deltas on another
/// task (an HTTP reader, a blocking generation thread) send them here.
pub fn channel_stream(
    rx: tokio::sync::mpsc::Receiver<Result<ChatDelta, KernelError>>,
) -> ChatStream {
    use futures::StreamExt;
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|d| (d, rx)) }).boxed()
}

/// Collects a stream into the response a non-streamed call would have returned.
pub async fn collect_stream(
    model: &str,
    mut stream: ChatStream,
) -> Result<ChatResponse, KernelError> {
    use futures::StreamExt;
    let mut message = ChatMessage::assistant("");
    let mut finished = None;
    while let Some(delta) = stream.next().await {
        match delta? {
            ChatDelta::Text(t) => message.content.push_str(&t),
            ChatDelta::ToolCall(call) => message.tool_calls.push(call),
            ChatDelta::Finished {
                finish_reason,
                usage,
            } => finished = Some((finish_reason, usage)),
        }
    }
    let (finish_reason, usage) = finished
        .ok_or_else(|| KernelError::BadResponse("stream ended without a finish reason".into()))?;
    Ok(ChatResponse {
        message,
        finish_reason,
        usage,
        model: model.to_string(),
    })
}
