//! Logging, W3C trace context, and the export of spans.
//!
//! Spans are bridged to OpenTelemetry so every span has a trace id; the id travels in the
//! `traceparent` HTTP header and in each event's envelope, so one trace spans
//! HTTP request → outbox → event log → consumer → model call. With `telemetry.otlp_endpoint`
//! set, the spans also leave the process for a collector (Jaeger, Tempo, Azure Monitor's
//! collector), batched on the exporter's own thread so a slow collector never slows a request.

use std::collections::HashMap;

use anyhow::Context as _;
use opentelemetry::{propagation::TextMapPropagator, trace::TracerProvider as _};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider, Resource};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

use crate::config::{LogFormat, OtlpProtocol, TelemetryConfig};

/// Installs the global subscriber: logs to stderr in the configured format, spans to OpenTelemetry
/// under `service` (the `service.name` a trace viewer groups them by). Returns the tracer
/// provider, which the caller keeps alive and shuts down at exit so the last batch is sent.
pub fn init(config: &TelemetryConfig, service: &str) -> anyhow::Result<SdkTracerProvider> {
    let mut provider = SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(service.to_string())
            .build(),
    );
    if let Some(endpoint) = &config.otlp_endpoint {
        provider = provider.with_batch_exporter(otlp_exporter(endpoint, config.otlp_protocol)?);
    }
    let provider = provider.build();
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

/// The OTLP/HTTP span exporter for a collector at `endpoint` (its base address: the signal's
/// path, `/v1/traces`, is added as the OTLP specification does for the base variable).
fn otlp_exporter(endpoint: &str, protocol: OtlpProtocol) -> anyhow::Result<SpanExporter> {
    SpanExporter::builder()
        .with_http()
        .with_protocol(match protocol {
            OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
            OtlpProtocol::HttpJson => Protocol::HttpJson,
        })
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .context("key `telemetry.otlp_endpoint`: cannot build the OTLP exporter")
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
