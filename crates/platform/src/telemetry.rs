//! Logging and W3C trace context.
//!
//! Spans are bridged to OpenTelemetry so every span has a trace id; the id travels in the
//! `traceparent` HTTP header and in each event's envelope, so one trace spans
//! HTTP request → outbox → event log → consumer.

use std::collections::HashMap;

use opentelemetry::{propagation::TextMapPropagator, trace::TracerProvider as _};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryConfig};

/// Installs the global subscriber: logs to stderr in the configured format, spans to OpenTelemetry.
/// Returns the tracer provider, which the caller keeps alive and shuts down at exit.
pub fn init(config: &TelemetryConfig) -> anyhow::Result<SdkTracerProvider> {
    let provider = SdkTracerProvider::builder().build();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("miyagi"));
    let filter = EnvFilter::try_new(&config.log_filter)
        .map_err(|e| anyhow::anyhow!("key `telemetry.log_filter`: {e}"))?;
    let fmt = match config.log_format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()?;
    Ok(provider)
}

/// The current span's trace context as a `traceparent` value, if it belongs to a trace.
pub(crate) fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` a child of the remote trace in `traceparent` (from a header or an event).
pub(crate) fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(value) = traceparent {
        let carrier = HashMap::from([("traceparent".to_string(), value.to_string())]);
        span.set_parent(TraceContextPropagator::new().extract(&carrier));
    }
}

/// The trace id part of a `traceparent` value (`00-<trace id>-<span id>-<flags>`).
pub fn trace_id(traceparent: &str) -> Option<&str> {
    traceparent.split('-').nth(1)
}
