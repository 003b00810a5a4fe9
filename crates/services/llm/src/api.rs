//! OpenAI-compatible endpoints. Requests are validated like every Miyagi API (problem+json with
//! the field at fault); responses follow OpenAI's shapes, streamed as server-sent events.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    response::{sse::Event, IntoResponse, Response, Sse},
    Json,
};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use futures::StreamExt;
use miyagi_kernel::{
    chat::{ChatDelta, ExecutionSettings, FinishReason, ToolCall, ToolSpec},
    connectors::openai::wire::{self, ChatCompletion, Choice, Embedding, ErrorBody, Message},
    ChatMessage, ChatRequest, KernelError, Role,
};
use miyagi_platform::{
    auth::Principal,
    http::{FieldError, Problem, ValidJson},
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::{Validate, ValidationError};

use crate::Models;

const TAG: &str = "models";

pub fn routes(models: Models) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_models))
        .routes(routes!(chat_completions))
        .routes(routes!(embeddings))
        .with_state(models)
}

/// List the models this server answers with.
#[utoipa::path(get, path = "/v1/models", tag = TAG, responses((status = 200, body = Value)))]
async fn list_models(State(models): State<Models>) -> Json<Value> {
    let model = |id: &str| json!({"id": id, "object": "model", "created": 0, "owned_by": "miyagi"});
    Json(
        json!({"object": "list", "data": [model(&chat_model_id(&models)), model(models.embeddings.model_id())]}),
    )
}

fn chat_model_id(models: &Models) -> String {
    models
        .chat
        .chat_model()
        .map(|c| c.model_id().to_string())
        .unwrap_or_default()
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
struct WireMessage {
    role: String,
    #[serde(default)]
    content: Option<String>,
    /// An assistant message's calls, sent back with the tools' results.
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
    /// A tool message's call.
    tool_call_id: Option<String>,
    /// Accepted for compatibility and ignored.
    #[allow(dead_code)]
    name: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
struct WireToolCall {
    id: String,
    /// Always `function`.
    #[serde(rename = "type")]
    #[allow(dead_code)]
    kind: Option<String>,
    function: WireFunctionCall,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
struct WireFunctionCall {
    name: String,
    arguments: String,
}

/// A tool the caller offers the model.
#[derive(Debug, Deserialize, ToSchema)]
struct WireTool {
    /// Only `function`.
    #[serde(rename = "type")]
    kind: String,
    function: WireFunction,
}

#[derive(Debug, Deserialize, ToSchema)]
struct WireFunction {
    name: String,
    #[serde(default)]
    description: String,
    #[schema(value_type = Object)]
    parameters: Option<Value>,
    /// Accepted for compatibility; arguments are never checked against the schema here.
    #[allow(dead_code)]
    strict: Option<bool>,
}

/// `stop` and `input` may be one string or a list, as in OpenAI's API.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
struct ChatCompletionRequest {
    model: Option<String>,
    #[validate(
        length(min = 1, max = 256, message = "must hold 1 to 256 messages"),
        custom(function = "known_roles")
    )]
    #[schema(min_items = 1, max_items = 256)]
    messages: Vec<WireMessage>,
    #[validate(range(min = 1, max = 8192, message = "must be between 1 and 8192"))]
    #[schema(minimum = 1, maximum = 8192)]
    max_tokens: Option<u32>,
    #[validate(range(min = 1, max = 8192, message = "must be between 1 and 8192"))]
    #[schema(minimum = 1, maximum = 8192)]
    max_completion_tokens: Option<u32>,
    #[validate(range(min = 0.0, max = 2.0, message = "must be between 0 and 2"))]
    #[schema(minimum = 0, maximum = 2)]
    temperature: Option<f32>,
    #[validate(range(min = 0.0, max = 1.0, message = "must be between 0 and 1"))]
    #[schema(minimum = 0, maximum = 1)]
    top_p: Option<f32>,
    /// An extension many OpenAI-compatible servers accept (llama.cpp, vLLM).
    #[validate(range(min = 1, message = "must be at least 1"))]
    #[schema(minimum = 1)]
    top_k: Option<u32>,
    #[validate(range(min = -2.0, max = 2.0, message = "must be between -2 and 2"))]
    #[schema(minimum = -2, maximum = 2)]
    frequency_penalty: Option<f32>,
    #[validate(range(min = -2.0, max = 2.0, message = "must be between -2 and 2"))]
    #[schema(minimum = -2, maximum = 2)]
    presence_penalty: Option<f32>,
    stop: Option<OneOrMany>,
    seed: Option<u64>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    response_format: Option<Value>,
    /// Offered to the model; a model that does not call tools (the local ones) answers in words.
    #[serde(default)]
    tools: Vec<WireTool>,
    /// `auto` or `none`; `required` or a named function only for a model that calls tools.
    #[schema(value_type = Object)]
    tool_choice: Option<Value>,
    /// Accepted for compatibility.
    #[allow(dead_code)]
    parallel_tool_calls: Option<bool>,
    /// Accepted for compatibility; the number of choices is always 1.
    #[validate(range(min = 1, max = 1, message = "only 1 choice is supported"))]
    #[schema(minimum = 1, maximum = 1)]
    n: Option<u32>,
    /// Accepted for compatibility and ignored: end-user ids are not tracked.
    #[allow(dead_code)]
    user: Option<String>,
}

fn known_roles(messages: &[WireMessage]) -> Result<(), ValidationError> {
    if messages.iter().any(|m| wire::role(&m.role).is_none()) {
        return Err(ValidationError::new("role")
            .with_message("roles must be system, developer, user, assistant or tool".into()));
    }
    Ok(())
}

fn field(field: &str, message: &str) -> Problem {
    Problem::invalid_fields(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

/// A model id without its quantisation suffix (`smollm2-135m-instruct-q4_1` →
/// `smollm2-135m-instruct`). Clients name a model by what it is; the quantisation is how this
/// server happens to run it, so either name is accepted.
fn alias(id: &str) -> Option<&str> {
    let (base, last) = id.rsplit_once('-')?;
    let last = last.to_ascii_lowercase();
    let quantised = last
        .strip_prefix('q')
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        || matches!(last.as_str(), "f16" | "bf16" | "fp16" | "f32");
    quantised.then_some(base)
}

/// Refuses a request naming a model this server does not serve (by id or by [`alias`]).
fn check_model(requested: Option<&str>, served: &str) -> Result<(), Problem> {
    match requested {
        Some(model) if model != served && alias(served) != Some(model) => {
            let also = alias(served)
                .map(|a| format!(" (or {a:?})"))
                .unwrap_or_default();
            Err(field(
                "model",
                &format!("unknown model {model:?}; this server serves {served:?}{also}"),
            ))
        }
        _ => Ok(()),
    }
}

/// The tools to offer, or why the request's `tool_choice` cannot be met by this model.
fn offered_tools(
    tools: Vec<WireTool>,
    choice: Option<&Value>,
    calls_tools: bool,
) -> Result<Vec<ToolSpec>, Problem> {
    if tools.iter().any(|t| t.kind != "function") {
        return Err(field("tools", "each tool's type must be \"function\""));
    }
    match choice {
        None => {}
        Some(Value::String(c)) if c == "auto" => {}
        Some(Value::String(c)) if c == "none" => return Ok(vec![]),
        Some(_) if !calls_tools => {
            return Err(field(
                "tool_choice",
                "this model does not call tools, so it cannot be made to; use \"auto\" or \"none\"",
            ))
        }
        Some(Value::String(c)) if c == "required" => {}
        Some(Value::Object(_)) => {}
        Some(other) => {
            return Err(field(
                "tool_choice",
                &format!(
                "unknown tool_choice {other}; use \"auto\", \"none\", \"required\" or a function"
            ),
            ))
        }
    }
    Ok(tools
        .into_iter()
        .map(|t| ToolSpec {
            name: t.function.name,
            description: t.function.description,
            parameters: t
                .function
                .parameters
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        })
        .collect())
}

impl ChatCompletionRequest {
    fn into_kernel(
        self,
        served: &str,
        calls_tools: bool,
    ) -> Result<(ChatRequest, bool, bool), Problem> {
        check_model(self.model.as_deref(), served)?;
        let tools = offered_tools(self.tools, self.tool_choice.as_ref(), calls_tools)?;
        let response_format = wire::read_response_format(self.response_format.as_ref())
            .map_err(|other| field("response_format.type", &format!("unknown type {other:?}")))?;
        let messages = self
            .messages
            .into_iter()
            .map(|m| {
                let role = wire::role(&m.role).unwrap_or(Role::User);
                ChatMessage {
                    tool_calls: m
                        .tool_calls
                        .into_iter()
                        .map(|c| ToolCall {
                            id: c.id,
                            name: c.function.name,
                            arguments: c.function.arguments,
                        })
                        .collect(),
                    tool_call_id: m.tool_call_id,
                    ..ChatMessage::new(role, m.content.unwrap_or_default())
                }
            })
            .collect();
        let settings = ExecutionSettings {
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            presence_penalty: self.presence_penalty,
            frequency_penalty: self.frequency_penalty,
            stop: self.stop.map(OneOrMany::into_vec).unwrap_or_default(),
            seed: self.seed,
            response_format,
        };
        let include_usage = self.stream_options.is_some_and(|o| o.include_usage);
        Ok((
            ChatRequest {
                messages,
                settings,
                tools,
            },
            self.stream,
            include_usage,
        ))
    }
}

fn kernel_problem(e: KernelError) -> Problem {
    match e {
        KernelError::ContextTooLong(m) => field("messages", &m),
        KernelError::Template(m) => field("messages", &m),
        KernelError::Config(m) if m.starts_with("response_format") => field("response_format", &m),
        KernelError::RateLimited { retry_after } => Problem::too_many_requests(
            "the model is busy with other requests; retry shortly",
            retry_after.unwrap_or(Duration::from_secs(10)),
        ),
        KernelError::UsageLimit {
            detail,
            retry_after,
        } => Problem::too_many_requests(detail, retry_after),
        other => Problem::internal(other),
    }
}

/// Chat completion, streamed as server-sent events when `stream` is true.
#[utoipa::path(post, path = "/v1/chat/completions", tag = TAG, request_body = Value,
    responses((status = 200, body = Value, description = "a chat.completion, or chat.completion.chunk events"),
              (status = 422, body = Problem)))]
async fn chat_completions(
    State(models): State<Models>,
    principal: Principal,
    ValidJson(body): ValidJson<ChatCompletionRequest>,
) -> Result<Response, Problem> {
    let chat = models.chat.chat_model().map_err(kernel_problem)?;
    let model = chat.model_id().to_string();
    let (request, stream, include_usage) = body.into_kernel(&model, chat.calls_tools())?;
    if request.settings.response_format.is_some() && !chat.constrains_output() {
        // Returning free text where JSON was promised would be worse than saying no.
        return Err(field(
            "response_format",
            "this model cannot constrain its output to JSON yet; omit response_format",
        ));
    }
    let id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let created = chrono::Utc::now().timestamp();
    let envelope = move |object, choices, usage| ChatCompletion {
        id: id.clone(),
        object,
        created,
        model: Some(model.clone()),
        choices,
        usage,
    };
    let kernel = models.chat.for_user(&principal.user_id);
    if !stream {
        let response = kernel.chat(request).await.map_err(kernel_problem)?;
        let choice = Choice {
            message: Some(assistant(response.message.content)),
            finish_reason: Some(response.finish_reason.as_str().into()),
            ..Default::default()
        };
        let completion = envelope("chat.completion", vec![choice], Some(response.usage.into()));
        return Ok(Json(completion).into_response());
    }
    let deltas = kernel.chat_stream(request).await.map_err(kernel_problem)?;
    let chunk = move |delta: Message, finish_reason: Option<FinishReason>| {
        let choice = Choice {
            delta: Some(delta),
            finish_reason: finish_reason.map(|f| f.as_str().into()),
            ..Default::default()
        };
        envelope("chat.completion.chunk", vec![choice], None)
    };
    let first = futures::stream::once({
        let opening = event(&chunk(assistant(String::new()), None));
        async move { vec![opening] }
    });
    let body = deltas.map(move |delta| match delta {
        Ok(ChatDelta::Text(text)) => vec![event(&chunk(
            Message {
                content: Some(text),
                ..Default::default()
            },
            None,
        ))],
        Ok(ChatDelta::ToolCall(_)) => vec![],
        Ok(ChatDelta::Finished {
            finish_reason,
            usage,
        }) => {
            let mut last = vec![event(&chunk(Message::default(), Some(finish_reason)))];
            if include_usage {
                last.push(event(&ChatCompletion {
                    choices: vec![],
                    usage: Some(usage.into()),
                    ..chunk(Message::default(), None)
                }));
            }
            last
        }
        Err(e) => {
            tracing::error!(error = %e, "streamed generation failed");
            vec![event(&ErrorBody::new(e.to_string()))]
        }
    });
    let events = first
        .chain(body)
        .flat_map(|events| futures::stream::iter(events.into_iter().map(Ok::<_, Infallible>)))
        .chain(futures::stream::once(async {
            Ok(Event::default().data("[DONE]"))
        }));
    Ok(Sse::new(events).into_response())
}

fn assistant(content: String) -> Message {
    Message {
        role: Some(Role::Assistant.as_str()),
        content: Some(content),
        ..Default::default()
    }
}

/// One server-sent event holding a JSON document.
fn event(data: &impl Serialize) -> Event {
    Event::default().data(serde_json::to_string(data).expect("wire types serialize"))
}

#[derive(Debug, Deserialize, ToSchema)]
struct EmbeddingsRequest {
    input: OneOrMany,
    model: Option<String>,
    /// `float` (the default) or `base64`: each vector's little-endian f32 bytes, base64-encoded,
    /// which the official OpenAI clients ask for by default and decode themselves.
    encoding_format: Option<String>,
}

const ENCODING_FORMATS: [&str; 2] = ["float", "base64"];

/// One embedding in the requested encoding.
fn encoded(index: usize, vector: Vec<f32>, base64: bool) -> Value {
    if !base64 {
        return json!(Embedding::new(index, vector));
    }
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    json!({"object": "embedding", "index": index, "embedding": BASE64.encode(bytes)})
}

impl Validate for EmbeddingsRequest {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        let mut errors = validator::ValidationErrors::new();
        let count = match &self.input {
            OneOrMany::One(_) => 1,
            OneOrMany::Many(v) => v.len(),
        };
        let too_long = match &self.input {
            OneOrMany::One(s) => s.len() > 32_768,
            OneOrMany::Many(v) => v.iter().any(|s| s.len() > 32_768),
        };
        if count == 0 || count > 256 {
            errors.add(
                "input",
                ValidationError::new("count").with_message("must hold 1 to 256 texts".into()),
            );
        } else if too_long {
            errors.add(
                "input",
                ValidationError::new("length")
                    .with_message("each text must be at most 32768 bytes".into()),
            );
        }
        if self
            .encoding_format
            .as_deref()
            .is_some_and(|f| !ENCODING_FORMATS.contains(&f))
        {
            errors.add(
                "encoding_format",
                ValidationError::new("format")
                    .with_message("must be \"float\" or \"base64\"".into()),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Embed one text or a batch.
#[utoipa::path(post, path = "/v1/embeddings", tag = TAG, request_body = Value,
    responses((status = 200, body = Value), (status = 422, body = Problem)))]
async fn embeddings(
    State(models): State<Models>,
    ValidJson(body): ValidJson<EmbeddingsRequest>,
) -> Result<Json<Value>, Problem> {
    let served = models.embeddings.model_id().to_string();
    check_model(body.model.as_deref(), &served)?;
    let base64 = body.encoding_format.as_deref() == Some("base64");
    let texts = body.input.into_vec();
    let approx_tokens: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    let vectors = models
        .embeddings
        .embed(&texts)
        .await
        .map_err(Problem::internal)?;
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| encoded(index, vector, base64))
        .collect();
    Ok(Json(
        json!({"object": "list", "data": data, "model": served,
                   "usage": {"prompt_tokens": approx_tokens, "total_tokens": approx_tokens}}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantised_model_answers_to_its_name_without_the_quantisation() {
        assert_eq!(
            alias("smollm2-135m-instruct-q4_1"),
            Some("smollm2-135m-instruct")
        );
        assert_eq!(alias("gemma-3-270m-it-Q4_K_M"), Some("gemma-3-270m-it"));
        assert_eq!(alias("phi-3-mini-f16"), Some("phi-3-mini"));
        assert_eq!(
            alias("all-minilm-l6-v2"),
            None,
            "v2 is a version, not a quantisation"
        );
        assert!(check_model(Some("smollm2-135m-instruct"), "smollm2-135m-instruct-q4_1").is_ok());
        assert!(check_model(Some("smollm2"), "smollm2-135m-instruct-q4_1").is_err());
    }
}
