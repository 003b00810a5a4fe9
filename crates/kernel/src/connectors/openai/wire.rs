//! OpenAI's chat and embeddings wire format, written once for both ends of it: the connector
//! sends requests and reads answers with it, and the `llm` service (Miyagi's own
//! OpenAI-compatible server) writes its answers with the same types, so the two cannot drift.
//!
//! The connector reads answers from servers it does not control, so it reads only the fields it
//! uses: the rest are write-only (`skip_deserializing`) and a server's odd value there cannot
//! fail the parse; fields a server may leave out are `Option`al.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::chat::{self, ChatMessage, ChatRequest, FinishReason, ResponseFormat, Role};

/// A request role: the kernel's four, plus `developer`, OpenAI's newer name for `system`.
pub fn role(name: &str) -> Option<Role> {
    match name {
        "developer" => Some(Role::System),
        other => other.parse().ok(),
    }
}

/// Why the server stopped. Servers that leave the reason out (or name the legacy
/// `function_call`) still get `tool_calls` when the answer holds tool calls.
pub(super) fn finish_reason(reason: Option<&str>, has_tool_calls: bool) -> FinishReason {
    match reason {
        Some("length") => FinishReason::Length,
        Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        _ if has_tool_calls => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

/// `response_format` as OpenAI spells it; `None` for plain text. Regex and choice have no
/// OpenAI equivalent and are refused before sending (see `unsupported_format`).
fn write_response_format(format: &ResponseFormat) -> Option<Value> {
    match format {
        ResponseFormat::Text | ResponseFormat::Regex { .. } | ResponseFormat::Choice { .. } => None,
        ResponseFormat::JsonObject => Some(json!({"type": "json_object"})),
        ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } => Some(
            json!({"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}),
        ),
    }
}

/// Reads a request's `response_format` (absent, or a `type` of `text`, means plain text);
/// `Err` carries an unknown `type`.
pub fn read_response_format(format: Option<&Value>) -> Result<Option<ResponseFormat>, String> {
    let Some(format) = format else {
        return Ok(None);
    };
    match format["type"].as_str() {
        None | Some("text") => Ok(None),
        Some("json_object") => Ok(Some(ResponseFormat::JsonObject)),
        Some("json_schema") => {
            let spec = &format["json_schema"];
            Ok(Some(ResponseFormat::JsonSchema {
                name: spec["name"].as_str().unwrap_or("response").into(),
                schema: spec["schema"].clone(),
                strict: spec["strict"].as_bool().unwrap_or(false),
            }))
        }
        Some(other) => Err(other.to_string()),
    }
}

/// The body of a `chat/completions` request.
pub(super) fn chat_body(model: &str, request: &ChatRequest, stream: bool) -> Value {
    let s = &request.settings;
    let mut body = json!({
        "model": model,
        "messages": request.messages.iter().map(write_message).collect::<Vec<_>>(),
    });
    let fields = [
        ("max_tokens", s.max_tokens.map(Value::from)),
        ("temperature", s.temperature.map(Value::from)),
        ("top_p", s.top_p.map(Value::from)),
        ("top_k", s.top_k.map(Value::from)),
        ("presence_penalty", s.presence_penalty.map(Value::from)),
        ("frequency_penalty", s.frequency_penalty.map(Value::from)),
        ("seed", s.seed.map(Value::from)),
        ("stop", (!s.stop.is_empty()).then(|| json!(s.stop))),
        (
            "response_format",
            s.response_format.as_ref().and_then(write_response_format),
        ),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            body[key] = value;
        }
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
    }
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

fn write_message(m: &ChatMessage) -> Value {
    let mut out = json!({"role": m.role.as_str(), "content": m.content});
    if !m.tool_calls.is_empty() {
        if m.content.is_empty() {
            out["content"] = Value::Null;
        }
        out["tool_calls"] = json!(m.tool_calls.iter().map(ToolCall::from).collect::<Vec<_>>());
    }
    if let Some(id) = &m.tool_call_id {
        out["tool_call_id"] = json!(id);
    }
    out
}

/// A chat completion, or one chunk of a streamed one (whose choices carry `delta`s).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ChatCompletion {
    #[serde(skip_deserializing)]
    pub id: String,
    /// `chat.completion` or `chat.completion.chunk`.
    #[serde(skip_deserializing)]
    pub object: &'static str,
    /// Unix seconds.
    #[serde(skip_deserializing)]
    pub created: i64,
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Choice {
    #[serde(skip_deserializing)]
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<Message>,
    /// Written as `null` on every chunk but the last, as OpenAI does.
    pub finish_reason: Option<String>,
}

/// An answer's message, or a streamed piece of one.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Message {
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
}

/// A tool call, whole in a request or an answer, or a fragment of one in a stream (keyed by
/// `index`: the id and name first, the arguments split across chunks).
#[derive(Debug, Serialize, Deserialize)]
pub struct ToolCall {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Always `function`.
    #[serde(rename = "type", skip_deserializing)]
    pub kind: &'static str,
    pub function: Option<FunctionCall>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: Option<String>,
    pub arguments: Option<String>,
}

impl From<&chat::ToolCall> for ToolCall {
    fn from(c: &chat::ToolCall) -> Self {
        ToolCall {
            index: None,
            id: Some(c.id.clone()),
            kind: "function",
            function: Some(FunctionCall {
                name: Some(c.name.clone()),
                arguments: Some(c.arguments.clone()),
            }),
        }
    }
}

#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u32,
    #[serde(default)]
    pub completion_tokens: u32,
    #[serde(skip_deserializing)]
    pub total_tokens: u32,
}

impl From<chat::Usage> for Usage {
    fn from(u: chat::Usage) -> Self {
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total(),
        }
    }
}

impl From<Usage> for chat::Usage {
    fn from(u: Usage) -> Self {
        chat::Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }
    }
}

/// The `data` of an embeddings answer.
#[derive(Deserialize)]
pub(super) struct EmbeddingList {
    pub data: Vec<Embedding>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Embedding {
    #[serde(skip_deserializing)]
    object: &'static str,
    pub index: usize,
    pub embedding: Vec<f32>,
}

impl Embedding {
    pub fn new(index: usize, embedding: Vec<f32>) -> Self {
        Self {
            object: "embedding",
            index,
            embedding,
        }
    }
}

/// An error answer: `{"error": {"message", "code"}}`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: ErrorDetail,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: Option<String>,
    /// A string or a number, depending on the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Value>,
}

impl ErrorBody {
    pub fn new(message: String) -> Self {
        Self {
            error: ErrorDetail {
                message: Some(message),
                code: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(delta: Message, finish_reason: Option<&str>) -> ChatCompletion {
        ChatCompletion {
            id: "c1".into(),
            object: "chat.completion.chunk",
            created: 7,
            model: Some("m".into()),
            choices: vec![Choice {
                delta: Some(delta),
                finish_reason: finish_reason.map(Into::into),
                ..Default::default()
            }],
            usage: None,
        }
    }

    #[test]
    fn written_answers_have_openai_shapes() {
        let opening = Message {
            role: Some("assistant"),
            content: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(
            json!(chunk(opening, None)),
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "m",
                   "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]})
        );
        let usage = ChatCompletion {
            choices: vec![],
            usage: Some(
                chat::Usage {
                    prompt_tokens: 3,
                    completion_tokens: 2,
                }
                .into(),
            ),
            ..chunk(Message::default(), Some("stop"))
        };
        assert_eq!(
            json!(usage)["usage"],
            json!({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5})
        );
        assert_eq!(
            json!(Embedding::new(1, vec![0.5])),
            json!({"object": "embedding", "index": 1, "embedding": [0.5]})
        );
        assert_eq!(
            json!(ErrorBody::new("no".into())),
            json!({"error": {"message": "no"}})
        );
    }

    #[test]
    fn a_written_tool_call_reads_back() {
        let call = chat::ToolCall {
            id: "c".into(),
            name: "math-add".into(),
            arguments: "{}".into(),
        };
        let written = json!(ToolCall::from(&call));
        assert_eq!(
            written,
            json!({"id": "c", "type": "function", "function": {"name": "math-add", "arguments": "{}"}})
        );
        let read: ToolCall = serde_json::from_value(written).unwrap();
        assert_eq!(
            read.function.and_then(|f| f.name).as_deref(),
            Some("math-add")
        );
    }
}
