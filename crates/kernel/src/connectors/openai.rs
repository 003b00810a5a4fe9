//! The OpenAI-compatible chat and embeddings connector: OpenAI, Azure OpenAI (deployments and
//! api-version, `api-key` header or Entra bearer token), Ollama, vLLM and llama.cpp's server.
//!
//! Robust by construction: every response is parsed into `Option`al fields and turned into a
//! [`KernelError`] rather than a panic; 429 and 5xx are retried with exponential backoff and
//! jitter honouring `Retry-After`; a token-aware limiter keeps requests/min and tokens/min under
//! the deployment's quota before the server has to refuse.

use std::{collections::BTreeMap, num::NonZeroU32, sync::Arc, time::Duration};

use async_trait::async_trait;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::{header::HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::Instrument;

use crate::{
    chat::{
        ChatDelta, ChatMessage, ChatModel, ChatRequest, ChatResponse, ChatStream, EmbeddingModel,
        FinishReason, ResponseFormat, Role, ToolCall, Usage,
    },
    KernelError,
};

/// How to reach and authenticate to the endpoint.
#[derive(Clone)]
pub enum Endpoint {
    /// OpenAI, Ollama, vLLM, llama.cpp: `{base_url}/chat/completions`, optional bearer key.
    OpenAi {
        base_url: String,
        api_key: Option<String>,
    },
    /// Azure OpenAI: `{endpoint}/openai/deployments/{deployment}/…?api-version=…`.
    Azure {
        endpoint: String,
        deployment: String,
        api_version: String,
        auth: AzureAuth,
    },
}

#[derive(Clone)]
pub enum AzureAuth {
    /// The resource key, sent as the `api-key` header.
    ApiKey(String),
    /// An Entra ID access token, sent as `Authorization: Bearer`.
    Bearer(String),
}

#[derive(Clone)]
pub struct OpenAiConfig {
    pub endpoint: Endpoint,
    /// Model name sent in the body (for Azure the deployment decides; this names it in records).
    pub model: String,
    pub timeout: Duration,
    pub max_retries: u32,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u32>,
    /// Embedding size, for [`EmbeddingModel::dimensions`].
    pub dimensions: usize,
}

impl OpenAiConfig {
    pub fn openai(base_url: &str, model: &str, api_key: Option<&str>) -> Self {
        Self {
            endpoint: Endpoint::OpenAi {
                base_url: base_url.trim_end_matches('/').into(),
                api_key: api_key.map(Into::into),
            },
            model: model.into(),
            timeout: Duration::from_secs(60),
            max_retries: 3,
            requests_per_minute: None,
            tokens_per_minute: None,
            dimensions: 1536,
        }
    }

    pub fn azure(endpoint: &str, deployment: &str, api_version: &str, auth: AzureAuth) -> Self {
        Self {
            endpoint: Endpoint::Azure {
                endpoint: endpoint.trim_end_matches('/').into(),
                deployment: deployment.into(),
                api_version: api_version.into(),
                auth,
            },
            ..Self::openai("", deployment, None)
        }
    }
}

#[derive(Clone)]
pub struct OpenAiClient {
    config: OpenAiConfig,
    http: reqwest::Client,
    requests: Option<Arc<DefaultDirectRateLimiter>>,
    tokens: Option<Arc<DefaultDirectRateLimiter>>,
}

fn per_minute(n: Option<u32>) -> Option<Arc<DefaultDirectRateLimiter>> {
    n.and_then(NonZeroU32::new)
        .map(|n| Arc::new(RateLimiter::direct(Quota::per_minute(n))))
}

impl OpenAiClient {
    pub fn new(config: OpenAiConfig) -> Result<Self, KernelError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| KernelError::Config(e.to_string()))?;
        Ok(Self {
            requests: per_minute(config.requests_per_minute),
            tokens: per_minute(config.tokens_per_minute),
            config,
            http,
        })
    }

    fn url(&self, operation: &str) -> String {
        match &self.config.endpoint {
            Endpoint::OpenAi { base_url, .. } => format!("{base_url}/{operation}"),
            Endpoint::Azure {
                endpoint,
                deployment,
                api_version,
                ..
            } => {
                format!("{endpoint}/openai/deployments/{deployment}/{operation}?api-version={api_version}")
            }
        }
    }

    fn system(&self) -> &'static str {
        match self.config.endpoint {
            Endpoint::OpenAi { .. } => "openai",
            Endpoint::Azure { .. } => "az.ai.openai",
        }
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.config.endpoint {
            Endpoint::OpenAi {
                api_key: Some(key), ..
            } => request.bearer_auth(key),
            Endpoint::OpenAi { api_key: None, .. } => request,
            Endpoint::Azure {
                auth: AzureAuth::ApiKey(key),
                ..
            } => request.header("api-key", key),
            Endpoint::Azure {
                auth: AzureAuth::Bearer(token),
                ..
            } => request.bearer_auth(token),
        }
    }

    /// Waits for the rate limiters: one request, and the tokens this call may use.
    async fn admit(&self, estimated_tokens: u32) {
        if let Some(limiter) = &self.requests {
            limiter.until_ready().await;
        }
        if let Some(limiter) = &self.tokens {
            // A call larger than the whole per-minute budget waits for a full budget, not forever.
            let budget = self.config.tokens_per_minute.unwrap_or(1).max(1);
            let n =
                NonZeroU32::new(estimated_tokens.clamp(1, budget)).expect("clamped to at least 1");
            let _ = limiter.until_n_ready(n).await;
        }
    }

    /// POSTs `body`, retrying transient failures; returns the successful response.
    async fn post(
        &self,
        operation: &str,
        body: &Value,
        estimated_tokens: u32,
    ) -> Result<reqwest::Response, KernelError> {
        let url = self.url(operation);
        let mut attempt = 0;
        loop {
            self.admit(estimated_tokens).await;
            let sent = self
                .authorize(self.http.post(&url))
                .timeout(self.config.timeout)
                .json(body)
                .send()
                .await;
            let error = match sent {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers());
                    let text = response.text().await.unwrap_or_default();
                    classify(status, &text, retry_after)
                }
                Err(e) if e.is_timeout() => KernelError::Timeout(self.config.timeout),
                Err(e) => KernelError::Network(e.to_string()),
            };
            if !error.is_transient() || attempt >= self.config.max_retries {
                return Err(error);
            }
            attempt += 1;
            let delay = match &error {
                KernelError::RateLimited {
                    retry_after: Some(hint),
                } => *hint,
                _ => backoff(attempt),
            };
            tracing::warn!(%error, attempt, ?delay, "model call failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    fn chat_body(&self, request: &ChatRequest, stream: bool) -> Value {
        let s = &request.settings;
        let mut body = json!({
            "model": self.config.model,
            "messages": request.messages.iter().map(wire_message).collect::<Vec<_>>(),
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
                s.response_format.as_ref().and_then(wire_response_format),
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

    fn span(&self, operation: &str) -> tracing::Span {
        tracing::info_span!(
            "gen_ai",
            otel.name = %format!("{operation} {}", self.config.model),
            gen_ai.operation.name = operation,
            gen_ai.system = self.system(),
            gen_ai.request.model = %self.config.model,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            gen_ai.response.finish_reasons = tracing::field::Empty,
        )
    }
}

/// Rough token count for the rate limiter: ~4 characters a token plus the answer budget.
fn estimate_tokens(request: &ChatRequest) -> u32 {
    let chars: usize = request.messages.iter().map(|m| m.content.len()).sum();
    (chars / 4) as u32 + request.settings.max_tokens.unwrap_or(256)
}

fn backoff(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1 << attempt.min(6));
    let capped = base.min(30_000);
    Duration::from_millis(rand::rng().random_range(capped / 2..=capped))
}

/// `Retry-After` (seconds) or Azure's `retry-after-ms`.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    get("retry-after-ms")
        .map(|ms| Duration::from_millis(ms as u64))
        .or_else(|| get("retry-after").map(Duration::from_secs_f64))
        .map(|d| d.min(Duration::from_secs(60)))
}

#[derive(Deserialize, Default)]
struct WireError {
    #[serde(default)]
    error: WireErrorBody,
}

#[derive(Deserialize, Default)]
struct WireErrorBody {
    message: Option<String>,
    code: Option<Value>,
}

fn classify(status: StatusCode, body: &str, retry_after: Option<Duration>) -> KernelError {
    let parsed: WireError = serde_json::from_str(body).unwrap_or_default();
    let message = parsed
        .error
        .message
        .unwrap_or_else(|| body.chars().take(300).collect());
    let code = parsed
        .error
        .code
        .map(|c| {
            c.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| c.to_string())
        })
        .unwrap_or_default();
    match status.as_u16() {
        401 | 403 => KernelError::Auth(message),
        429 => KernelError::RateLimited { retry_after },
        _ if code == "context_length_exceeded" || message.contains("maximum context length") => {
            KernelError::ContextTooLong(message)
        }
        _ if code == "content_filter" || code == "content_policy_violation" => {
            KernelError::ContentFilter(message)
        }
        s => KernelError::Http { status: s, message },
    }
}

fn wire_message(m: &ChatMessage) -> Value {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut out = json!({"role": role, "content": m.content});
    if !m.tool_calls.is_empty() {
        if m.content.is_empty() {
            out["content"] = Value::Null;
        }
        out["tool_calls"] = m
            .tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
    }
    if let Some(id) = &m.tool_call_id {
        out["tool_call_id"] = json!(id);
    }
    out
}

fn wire_response_format(format: &ResponseFormat) -> Option<Value> {
    match format {
        // Regex and choice are refused before sending (see `unsupported_format`).
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

/// Regex and choice constraints have no OpenAI equivalent: refuse rather than answer unconstrained.
fn unsupported_format(request: &ChatRequest) -> Result<(), KernelError> {
    match request.settings.response_format {
        Some(ResponseFormat::Regex { .. } | ResponseFormat::Choice { .. }) => Err(KernelError::Config(
            "regex and choice response formats need a local model; OpenAI-compatible endpoints accept json_schema".into(),
        )),
        _ => Ok(()),
    }
}

fn finish_reason(reason: Option<&str>, has_tool_calls: bool) -> FinishReason {
    match reason {
        Some("length") => FinishReason::Length,
        Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        _ if has_tool_calls => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

#[derive(Deserialize)]
struct WireCompletion {
    model: Option<String>,
    #[serde(default)]
    choices: Vec<WireChoice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: Option<WireMessage>,
    delta: Option<WireMessage>,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireMessage {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

#[derive(Deserialize)]
struct WireToolCall {
    index: Option<usize>,
    id: Option<String>,
    function: Option<WireFunction>,
}

#[derive(Deserialize)]
struct WireFunction {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, KernelError> {
    serde_json::from_str(text).map_err(|e| {
        KernelError::BadResponse(format!(
            "{e}: {}",
            text.chars().take(200).collect::<String>()
        ))
    })
}

#[async_trait]
impl ChatModel for OpenAiClient {
    fn model_id(&self) -> &str {
        &self.config.model
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, KernelError> {
        unsupported_format(request)?;
        let span = self.span("chat");
        async {
            let response = self
                .post(
                    "chat/completions",
                    &self.chat_body(request, false),
                    estimate_tokens(request),
                )
                .await?;
            let text = response
                .text()
                .await
                .map_err(|e| KernelError::Network(e.to_string()))?;
            let completion: WireCompletion = parse(&text)?;
            let choice =
                completion.choices.into_iter().next().ok_or_else(|| {
                    KernelError::BadResponse("no choices in the completion".into())
                })?;
            let wire = choice.message.unwrap_or_default();
            let tool_calls = wire
                .tool_calls
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    let f = c.function.ok_or_else(|| {
                        KernelError::BadResponse("tool call without a function".into())
                    })?;
                    Ok(ToolCall {
                        id: c.id.unwrap_or_else(|| format!("call_{i}")),
                        name: f.name.ok_or_else(|| {
                            KernelError::BadResponse("tool call without a name".into())
                        })?,
                        arguments: f.arguments.unwrap_or_else(|| "{}".into()),
                    })
                })
                .collect::<Result<Vec<_>, KernelError>>()?;
            let finish = finish_reason(choice.finish_reason.as_deref(), !tool_calls.is_empty());
            let usage = completion.usage.map(Usage::from).unwrap_or_default();
            record_usage(&tracing::Span::current(), usage, finish);
            Ok(ChatResponse {
                message: ChatMessage {
                    tool_calls,
                    ..ChatMessage::assistant(wire.content.unwrap_or_default())
                },
                finish_reason: finish,
                usage,
                model: completion
                    .model
                    .unwrap_or_else(|| self.config.model.clone()),
            })
        }
        .instrument(span)
        .await
    }

    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, KernelError> {
        unsupported_format(request)?;
        let span = self.span("chat");
        let response = self
            .post(
                "chat/completions",
                &self.chat_body(request, true),
                estimate_tokens(request),
            )
            .instrument(span.clone())
            .await?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let timeout = self.config.timeout;
        tokio::spawn(
            async move {
                let mut events = response.bytes_stream().eventsource();
                let mut assembler = StreamAssembler::default();
                loop {
                    // The timeout applies between chunks: a stalled stream fails instead of hanging.
                    let next = match tokio::time::timeout(timeout, events.next()).await {
                        Ok(next) => next,
                        Err(_) => {
                            let _ = tx.send(Err(KernelError::Timeout(timeout))).await;
                            return;
                        }
                    };
                    let outcome = match next {
                        None => assembler.finish(),
                        Some(Err(e)) => Err(KernelError::BadResponse(format!(
                            "broken event stream: {e}"
                        ))),
                        Some(Ok(event)) if event.data.trim() == "[DONE]" => assembler.finish(),
                        Some(Ok(event)) => match assembler.push(&event.data) {
                            Ok(deltas) => {
                                for delta in deltas {
                                    if tx.send(Ok(delta)).await.is_err() {
                                        return;
                                    }
                                }
                                continue;
                            }
                            Err(e) => Err(e),
                        },
                    };
                    match outcome {
                        Ok(deltas) => {
                            if let Some(ChatDelta::Finished {
                                finish_reason,
                                usage,
                            }) = deltas.last()
                            {
                                record_usage(&tracing::Span::current(), *usage, *finish_reason);
                            }
                            for delta in deltas {
                                let _ = tx.send(Ok(delta)).await;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                        }
                    }
                    return;
                }
            }
            .instrument(span),
        );
        Ok(crate::chat::channel_stream(rx))
    }
}

fn record_usage(span: &tracing::Span, usage: Usage, finish: FinishReason) {
    span.record("gen_ai.usage.input_tokens", usage.prompt_tokens);
    span.record("gen_ai.usage.output_tokens", usage.completion_tokens);
    span.record(
        "gen_ai.response.finish_reasons",
        format!("{finish:?}").to_lowercase().as_str(),
    );
}

/// Turns streamed chunks into deltas. Tool calls arrive in fragments keyed by `index` — the id
/// and name first, the JSON arguments split across many chunks — and are emitted whole at the end.
#[derive(Default)]
struct StreamAssembler {
    tool_calls: BTreeMap<usize, (Option<String>, String, String)>,
    finish: Option<String>,
    usage: Option<Usage>,
    text_chars: usize,
}

impl StreamAssembler {
    fn push(&mut self, data: &str) -> Result<Vec<ChatDelta>, KernelError> {
        let chunk: WireCompletion = parse(data)?;
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        let mut deltas = Vec::new();
        for choice in chunk.choices {
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(reason);
            }
            let Some(delta) = choice.delta else { continue };
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                self.text_chars += text.len();
                deltas.push(ChatDelta::Text(text));
            }
            for (position, fragment) in delta.tool_calls.into_iter().enumerate() {
                let entry = self
                    .tool_calls
                    .entry(fragment.index.unwrap_or(position))
                    .or_default();
                if let Some(id) = fragment.id {
                    entry.0 = Some(id);
                }
                if let Some(function) = fragment.function {
                    entry.1.push_str(&function.name.unwrap_or_default());
                    entry.2.push_str(&function.arguments.unwrap_or_default());
                }
            }
        }
        Ok(deltas)
    }

    fn finish(&mut self) -> Result<Vec<ChatDelta>, KernelError> {
        let mut deltas = Vec::new();
        for (index, (id, name, arguments)) in std::mem::take(&mut self.tool_calls) {
            if name.is_empty() {
                return Err(KernelError::BadResponse(format!(
                    "streamed tool call {index} has no name"
                )));
            }
            let arguments = if arguments.trim().is_empty() {
                "{}".to_string()
            } else {
                arguments
            };
            deltas.push(ChatDelta::ToolCall(ToolCall {
                id: id.unwrap_or_else(|| format!("call_{index}")),
                name,
                arguments,
            }));
        }
        let has_tools = !deltas.is_empty();
        // Servers that ignore `stream_options.include_usage` get an estimate rather than zero.
        let usage = self.usage.unwrap_or(Usage {
            prompt_tokens: 0,
            completion_tokens: (self.text_chars / 4) as u32,
        });
        deltas.push(ChatDelta::Finished {
            finish_reason: finish_reason(self.finish.as_deref(), has_tools),
            usage,
        });
        Ok(deltas)
    }
}

#[derive(Deserialize)]
struct WireEmbeddings {
    data: Vec<WireEmbedding>,
}

#[derive(Deserialize)]
struct WireEmbedding {
    index: usize,
    embedding: Vec<f32>,
}

#[async_trait]
impl EmbeddingModel for OpenAiClient {
    fn model_id(&self) -> &str {
        &self.config.model
    }

    fn dimensions(&self) -> usize {
        self.config.dimensions
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, KernelError> {
        let estimated = texts.iter().map(|t| t.len() / 4).sum::<usize>() as u32;
        let body = json!({"model": self.config.model, "input": texts});
        let response = self
            .post("embeddings", &body, estimated)
            .instrument(self.span("embeddings"))
            .await?;
        let text = response
            .text()
            .await
            .map_err(|e| KernelError::Network(e.to_string()))?;
        let mut parsed: WireEmbeddings = parse(&text)?;
        if parsed.data.len() != texts.len() {
            return Err(KernelError::BadResponse(format!(
                "{} embeddings for {} inputs",
                parsed.data.len(),
                texts.len()
            )));
        }
        parsed.data.sort_by_key(|e| e.index);
        Ok(parsed.data.into_iter().map(|e| e.embedding).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_call_fragments_are_assembled_by_index() {
        let mut a = StreamAssembler::default();
        let chunks = [
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"math-add","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"c2","function":{"name":"clock-now","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"finish_reason":"tool_calls"}]}"#,
        ];
        for c in chunks {
            assert!(a.push(c).unwrap().is_empty());
        }
        let done = a.finish().unwrap();
        assert_eq!(
            done[0],
            ChatDelta::ToolCall(ToolCall {
                id: "c1".into(),
                name: "math-add".into(),
                arguments: r#"{"a":1}"#.into()
            })
        );
        assert!(
            matches!(done[1], ChatDelta::ToolCall(ToolCall { ref name, .. }) if name == "clock-now")
        );
        assert!(matches!(
            done[2],
            ChatDelta::Finished {
                finish_reason: FinishReason::ToolCalls,
                ..
            }
        ));
    }

    #[test]
    fn errors_are_classified_by_status_and_code() {
        let ctx = r#"{"error":{"message":"too long","code":"context_length_exceeded"}}"#;
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, ctx, None),
            KernelError::ContextTooLong(_)
        ));
        let filter = r#"{"error":{"message":"filtered","code":"content_filter"}}"#;
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, filter, None),
            KernelError::ContentFilter(_)
        ));
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, "nope", None),
            KernelError::Auth(_)
        ));
        assert!(classify(StatusCode::BAD_GATEWAY, "<html>", None).is_transient());
    }

    #[test]
    fn retry_after_prefers_milliseconds_and_is_capped() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        h.remove("retry-after-ms");
        h.insert("retry-after", "86400".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(60)));
    }
}
