//! The OpenAI-compatible chat and embeddings connector: OpenAI, Azure OpenAI (deployments and
//! api-version, `api-key` header or Entra bearer token), Ollama, vLLM and llama.cpp's server.
//!
//! Robust by construction: every response is parsed into `Option`al fields and turned into a
//! [`KernelError`] rather than a panic; 429 and 5xx are retried with exponential backoff and
//! jitter honouring `Retry-After`; a token-aware limiter keeps requests/min and tokens/min under
//! the deployment's quota before the server has to refuse.

mod config;
mod images;
mod stream;
mod transport;
pub mod wire;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use governor::DefaultDirectRateLimiter;
use serde_json::json;
use tracing::Instrument;

pub use config::{AzureAuth, Endpoint, OpenAiConfig};

use crate::{
    chat::{
        ChatMessage, ChatModel, ChatRequest, ChatResponse, ChatStream, EmbeddingModel,
        ResponseFormat, ToolCall, Usage,
    },
    telemetry, KernelError,
};

#[derive(Clone)]
pub struct OpenAiClient {
    config: OpenAiConfig,
    http: reqwest::Client,
    requests: Option<Arc<DefaultDirectRateLimiter>>,
    tokens: Option<Arc<DefaultDirectRateLimiter>>,
}

impl OpenAiClient {
    pub fn new(config: OpenAiConfig) -> Result<Self, KernelError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| KernelError::Config(e.to_string()))?;
        Ok(Self {
            requests: transport::per_minute(config.requests_per_minute),
            tokens: transport::per_minute(config.tokens_per_minute),
            config,
            http,
        })
    }

    fn span(&self, operation: &str) -> tracing::Span {
        telemetry::model_span(operation, self.config.system(), &self.config.model)
    }

    /// Sends a chat request, streamed or not (its format checked by `unsupported_format`).
    async fn post_chat(
        &self,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<reqwest::Response, KernelError> {
        let body = wire::chat_body(&self.config.model, request, stream);
        self.post("chat/completions", &body, estimate_tokens(request))
            .await
    }
}

/// Rough token count for the rate limiter: ~4 characters a token plus the answer budget.
fn estimate_tokens(request: &ChatRequest) -> u32 {
    let chars: usize = request.messages.iter().map(|m| m.content.len()).sum();
    (chars / 4) as u32 + request.settings.max_tokens.unwrap_or(256)
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

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, KernelError> {
    serde_json::from_str(text).map_err(|e| {
        KernelError::BadResponse(format!(
            "{e}: {}",
            text.chars().take(200).collect::<String>()
        ))
    })
}

async fn read_body(response: reqwest::Response) -> Result<String, KernelError> {
    response
        .text()
        .await
        .map_err(|e| KernelError::Network(e.to_string()))
}

#[async_trait]
impl ChatModel for OpenAiClient {
    fn model_id(&self) -> &str {
        &self.config.model
    }

    fn calls_tools(&self) -> bool {
        true
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, KernelError> {
        unsupported_format(request)?;
        let span = self.span("chat");
        async {
            let response = self.post_chat(request, false).await?;
            let completion: wire::ChatCompletion = parse(&read_body(response).await?)?;
            let choice =
                completion.choices.into_iter().next().ok_or_else(|| {
                    KernelError::BadResponse("no choices in the completion".into())
                })?;
            let message = choice.message.unwrap_or_default();
            let tool_calls = message
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
            let finish =
                wire::finish_reason(choice.finish_reason.as_deref(), !tool_calls.is_empty());
            let usage = completion.usage.map(Usage::from).unwrap_or_default();
            telemetry::record_usage(&tracing::Span::current(), &self.config.model, usage, finish);
            Ok(ChatResponse {
                message: ChatMessage {
                    tool_calls,
                    ..ChatMessage::assistant(message.content.unwrap_or_default())
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
            .post_chat(request, true)
            .instrument(span.clone())
            .await?;
        Ok(stream::read(
            response,
            self.config.timeout,
            span,
            self.config.model.clone(),
        ))
    }
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
        let mut parsed: wire::EmbeddingList = parse(&read_body(response).await?)?;
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
