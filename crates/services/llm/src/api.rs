//! OpenAI-compatible endpoints. Requests are validated like every Miyagi API (problem+json with
//! the field at fault); responses follow OpenAI's shapes, streamed as server-sent events.

use std::convert::Infallible;

use axum::{
    extract::State,
    response::{sse::Event, IntoResponse, Response, Sse},
    Json,
};
use futures::StreamExt;
use miyagi_kernel::{
    chat::{ChatDelta, ExecutionSettings, FinishReason, ResponseFormat},
    ChatMessage, ChatRequest, KernelError, Role,
};
use miyagi_platform::http::{FieldError, Problem, ValidJson};
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
        json!({"object": "list", "data": [model(models.chat.model_id()), model(models.embeddings.model_id())]}),
    )
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
struct WireMessage {
    role: String,
    #[serde(default)]
    content: Option<String>,
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
    messages: Vec<WireMessage>,
    #[validate(range(min = 1, max = 8192, message = "must be between 1 and 8192"))]
    max_tokens: Option<u32>,
    #[validate(range(min = 1, max = 8192, message = "must be between 1 and 8192"))]
    max_completion_tokens: Option<u32>,
    #[validate(range(min = 0.0, max = 2.0, message = "must be between 0 and 2"))]
    temperature: Option<f32>,
    #[validate(range(min = 0.0, max = 1.0, message = "must be between 0 and 1"))]
    top_p: Option<f32>,
    /// An extension many OpenAI-compatible servers accept (llama.cpp, vLLM).
    #[validate(range(min = 1, message = "must be at least 1"))]
    top_k: Option<u32>,
    #[validate(range(min = -2.0, max = 2.0, message = "must be between -2 and 2"))]
    frequency_penalty: Option<f32>,
    #[validate(range(min = -2.0, max = 2.0, message = "must be between -2 and 2"))]
    presence_penalty: Option<f32>,
    stop: Option<OneOrMany>,
    seed: Option<u64>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    response_format: Option<Value>,
    /// Accepted for compatibility; the number of choices is always 1.
    #[validate(range(min = 1, max = 1, message = "only 1 choice is supported"))]
    n: Option<u32>,
    /// Accepted for compatibility and ignored: end-user ids are not tracked.
    #[allow(dead_code)]
    user: Option<String>,
}

fn known_roles(messages: &[WireMessage]) -> Result<(), ValidationError> {
    if messages
        .iter()
        .any(|m| !["system", "user", "assistant", "tool", "developer"].contains(&m.role.as_str()))
    {
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

impl ChatCompletionRequest {
    fn into_kernel(self, served: &str) -> Result<(ChatRequest, bool, bool), Problem> {
        if let Some(model) = &self.model {
            if model != served {
                return Err(field(
                    "model",
                    &format!("unknown model {model:?}; this server serves {served:?}"),
                ));
            }
        }
        let response_format = match self
            .response_format
            .as_ref()
            .and_then(|f| f["type"].as_str())
        {
            None | Some("text") => None,
            Some("json_object") => Some(ResponseFormat::JsonObject),
            Some("json_schema") => {
                let spec = &self.response_format.as_ref().expect("checked")["json_schema"];
                Some(ResponseFormat::JsonSchema {
                    name: spec["name"].as_str().unwrap_or("response").into(),
                    schema: spec["schema"].clone(),
                    strict: spec["strict"].as_bool().unwrap_or(false),
                })
            }
            Some(other) => {
                return Err(field(
                    "response_format.type",
                    &format!("unknown type {other:?}"),
                ))
            }
        };
        let messages = self
            .messages
            .into_iter()
            .map(|m| {
                let role = match m.role.as_str() {
                    "developer" | "system" => Role::System,
                    "assistant" => Role::Assistant,
                    "tool" => Role::Tool,
                    _ => Role::User,
                };
                ChatMessage::new(role, m.content.unwrap_or_default())
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
                tools: vec![],
            },
            self.stream,
            include_usage,
        ))
    }
}

fn finish(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

fn kernel_problem(e: KernelError) -> Problem {
    match e {
        KernelError::ContextTooLong(m) => field("messages", &m),
        KernelError::Template(m) => field("messages", &m),
        KernelError::Config(m) if m.starts_with("response_format") => field("response_format", &m),
        other => Problem::internal(other),
    }
}

/// Chat completion, streamed as server-sent events when `stream` is true.
#[utoipa::path(post, path = "/v1/chat/completions", tag = TAG, request_body = Value,
    responses((status = 200, body = Value, description = "a chat.completion, or chat.completion.chunk events"),
              (status = 422, body = Problem)))]
async fn chat_completions(
    State(models): State<Models>,
    ValidJson(body): ValidJson<ChatCompletionRequest>,
) -> Result<Response, Problem> {
    let model = models.chat.model_id().to_string();
    let (request, stream, include_usage) = body.into_kernel(&model)?;
    if request.settings.response_format.is_some() && !models.chat.constrains_output() {
        // Returning free text where JSON was promised would be worse than saying no.
        return Err(field(
            "response_format",
            "this model cannot constrain its output to JSON yet; omit response_format",
        ));
    }
    let id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let created = chrono::Utc::now().timestamp();
    if !stream {
        let response = models.chat.chat(&request).await.map_err(kernel_problem)?;
        return Ok(Json(json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": response.message.content},
                         "finish_reason": finish(response.finish_reason)}],
            "usage": usage_json(response.usage),
        }))
        .into_response());
    }
    let deltas = models
        .chat
        .chat_stream(&request)
        .await
        .map_err(kernel_problem)?;
    let chunk = move |delta: Value, finish_reason: Option<&str>| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})
    };
    let first = futures::stream::once({
        let opening = chunk(json!({"role": "assistant", "content": ""}), None);
        async move { vec![opening] }
    });
    let body = deltas.map(move |delta| match delta {
        Ok(ChatDelta::Text(text)) => vec![chunk(json!({"content": text}), None)],
        Ok(ChatDelta::ToolCall(_)) => vec![],
        Ok(ChatDelta::Finished {
            finish_reason,
            usage,
        }) => {
            let mut last = vec![chunk(json!({}), Some(finish(finish_reason)))];
            if include_usage {
                let mut usage_chunk = chunk(json!({}), None);
                usage_chunk["choices"] = json!([]);
                usage_chunk["usage"] = usage_json(usage);
                last.push(usage_chunk);
            }
            last
        }
        Err(e) => {
            tracing::error!(error = %e, "streamed generation failed");
            vec![json!({"error": {"message": e.to_string()}})]
        }
    });
    let events = first
        .chain(body)
        .flat_map(|chunks| {
            futures::stream::iter(
                chunks
                    .into_iter()
                    .map(|c| Ok::<_, Infallible>(Event::default().data(c.to_string()))),
            )
        })
        .chain(futures::stream::once(async {
            Ok(Event::default().data("[DONE]"))
        }));
    Ok(Sse::new(events).into_response())
}

fn usage_json(usage: miyagi_kernel::chat::Usage) -> Value {
    json!({"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens, "total_tokens": usage.total()})
}

#[derive(Debug, Deserialize, ToSchema)]
struct EmbeddingsRequest {
    input: OneOrMany,
    model: Option<String>,
    /// Only `float` is supported.
    encoding_format: Option<String>,
}

#[derive(Serialize)]
struct EmbeddingRow {
    object: &'static str,
    index: usize,
    embedding: Vec<f32>,
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
            .is_some_and(|f| f != "float")
        {
            errors.add(
                "encoding_format",
                ValidationError::new("format").with_message("only \"float\" is supported".into()),
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
    if let Some(model) = &body.model {
        if model != &served {
            return Err(field(
                "model",
                &format!("unknown model {model:?}; this server serves {served:?}"),
            ));
        }
    }
    let texts = body.input.into_vec();
    let approx_tokens: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    let vectors = models
        .embeddings
        .embed(&texts)
        .await
        .map_err(Problem::internal)?;
    let data: Vec<EmbeddingRow> = vectors
        .into_iter()
        .enumerate()
        .map(|(index, embedding)| EmbeddingRow {
            object: "embedding",
            index,
            embedding,
        })
        .collect();
    Ok(Json(
        json!({"object": "list", "data": data, "model": served,
                   "usage": {"prompt_tokens": approx_tokens, "total_tokens": approx_tokens}}),
    ))
}
