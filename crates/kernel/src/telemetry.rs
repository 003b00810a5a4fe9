//! What every model call reports, whoever serves it: a span with OpenTelemetry's GenAI
//! attributes (model, tokens, finish reason) and Prometheus counters of tokens. The remote
//! connector and the local model both report through here, so a trace viewer and a dashboard
//! compare them on the same names.

use tracing::Span;

use crate::chat::{FinishReason, Usage};

/// The span of one model call: `operation` is `chat` or `embeddings`, `system` the provider
/// (`openai`, `az.ai.openai`, `miyagi.local`).
pub fn model_span(operation: &str, system: &str, model: &str) -> Span {
    tracing::info_span!(
        "gen_ai",
        otel.name = %format!("{operation} {model}"),
        otel.kind = "client",
        gen_ai.operation.name = operation,
        gen_ai.system = system,
        gen_ai.request.model = %model,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        gen_ai.response.finish_reasons = tracing::field::Empty,
    )
}

/// Records a finished call on its span and in the token counters
/// (`gen_ai_client_token_usage_total{model, type}`; tokens/s is its rate).
pub fn record_usage(span: &Span, model: &str, usage: Usage, finish: FinishReason) {
    span.record("gen_ai.usage.input_tokens", usage.prompt_tokens);
    span.record("gen_ai.usage.output_tokens", usage.completion_tokens);
    span.record("gen_ai.response.finish_reasons", finish.as_str());
    for (kind, tokens) in [
        ("input", usage.prompt_tokens),
        ("output", usage.completion_tokens),
    ] {
        metrics::counter!("gen_ai_client_token_usage_total", "model" => model.to_string(), "type" => kind)
            .increment(u64::from(tokens));
    }
}
