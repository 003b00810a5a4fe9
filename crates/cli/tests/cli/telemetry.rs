//! Traces leave the process. With `telemetry.otlp_endpoint` set, a collector receives one trace
//! for a personalize request: the HTTP request, the model call inside it with its GenAI
//! attributes, and, across the event log, the consumer that reacted to the advice it published.
//! The collector is in the test process and reads OTLP/HTTP protobuf as any collector would.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{body::Bytes, extract::State, routing::post, Router};
use miyagi_testing::openai::{completion, Reply, ScriptedLlm};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{any_value, KeyValue},
    trace::v1::Span,
};
use prost::Message;
use serde_json::json;

use super::{common::Miyagi, json_of, profile};

/// A span as received, with the `service.name` of the process that sent it.
#[derive(Clone)]
struct Received {
    service: String,
    span: Span,
}

impl Received {
    fn attribute(&self, key: &str) -> Option<String> {
        text_of(&self.span.attributes, key)
    }
}

fn text_of(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|a| a.key == key)?.value.as_ref()?;
    match value.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// Keeps every span posted to `/v1/traces`.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
}

impl Collector {
    /// Listening on a free port; returns its base address, as `otlp_endpoint` takes it.
    async fn start() -> (Self, String) {
        let collector = Self::default();
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(collector.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (collector, base)
    }

    /// Waits until a span matches `wanted`, then returns every span received so far.
    async fn wait_for(&self, what: &str, wanted: impl Fn(&Received) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let spans = self.spans.lock().unwrap().clone();
            if spans.iter().any(&wanted) {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} among {} spans received: {:?}",
                spans.len(),
                spans.iter().map(|s| &s.span.name).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn receive(State(collector): State<Collector>, body: Bytes) -> &'static str {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
    let mut spans = collector.spans.lock().unwrap();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|r| text_of(&r.attributes, "service.name"))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            spans.extend(scope.spans.into_iter().map(|span| Received {
                service: service.clone(),
                span,
            }));
        }
    }
    ""
}

/// A household advised by `miyagi up` (with `env` besides), its narrative written by a scripted
/// remote model: the process, the model's endpoint, and the data dir to keep while they run.
async fn advised(env: &[(&str, &str)]) -> (Miyagi, ScriptedLlm, tempfile::TempDir) {
    let written = json!({
        // The first words are the engine's moves for this household, which the schema requires.
        "advice": "Buying stocks, selling bonds and buying cash gives your savings more room to grow over the many years you have left. A plan you keep matters more than any forecast.",
        "citations": []
    })
    .to_string();
    // The advisor may ask twice (a retry when the checks for sense refuse the first answer).
    let llm = ScriptedLlm::start(vec![
        Reply::Json(completion(&written)),
        Reply::Json(completion(&written)),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = format!("{}/v1", llm.base);
    let mut settings = vec![
        ("MIYAGI_MODELS__CHAT_ENDPOINT__BASE_URL", base_url.as_str()),
        ("MIYAGI_MODELS__CHAT_ENDPOINT__MODEL", "gpt-test"),
    ];
    settings.extend_from_slice(env);
    let miyagi = Miyagi::up(dir.path(), &settings).await;
    let http = reqwest::Client::new();
    let created = json_of(
        http.post(miyagi.url("/api/v1/userprofile"))
            .json(&profile()),
    )
    .await;
    let advice = json_of(http.post(miyagi.url("/api/v1/personalize")).json(&json!({
        "userInfo": {"userId": created["id"]},
        "portfolio": [{"name": "Stocks", "allocation": 60}, {"name": "Bonds", "allocation": 30},
                      {"name": "Cash", "allocation": 10}]
    })))
    .await;
    assert!(advice["narrative"].is_string(), "{advice}");
    (miyagi, llm, dir)
}

#[tokio::test]
async fn a_collector_receives_one_trace_from_the_request_through_the_model_call_and_across_the_event_log(
) {
    let (collector, otlp) = Collector::start().await;
    let (miyagi, _llm, _dir) = advised(&[
        ("MIYAGI_TELEMETRY__OTLP_ENDPOINT", otlp.as_str()),
        // Batches leave every 200 ms instead of every 5 s.
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ])
    .await;

    let is_consumer_of_the_advice = |s: &Received| {
        s.span.name == "event.consume"
            && s.attribute("event.type").as_deref() == Some("miyagi.advice.generated.v1")
    };
    let spans = collector
        .wait_for(
            "consumer span of the advice event",
            is_consumer_of_the_advice,
        )
        .await;
    let request = spans
        .iter()
        .find(|s| {
            s.span.name == "http.request"
                && s.attribute("url.path").as_deref() == Some("/api/v1/personalize")
        })
        .expect("the personalize request's span");
    let trace = &request.span.trace_id;
    assert_eq!(request.service, "miyagi");

    let model_call = spans
        .iter()
        .find(|s| s.span.name == "chat gpt-test" && &s.span.trace_id == trace)
        .expect("the model call in the request's trace");
    assert_eq!(
        model_call.attribute("gen_ai.request.model").as_deref(),
        Some("gpt-test")
    );
    assert_eq!(
        model_call.attribute("gen_ai.usage.input_tokens").as_deref(),
        Some("12")
    );
    assert_eq!(
        model_call
            .attribute("gen_ai.usage.output_tokens")
            .as_deref(),
        Some("5")
    );

    let consumer = spans
        .iter()
        .find(|s| is_consumer_of_the_advice(s) && &s.span.trace_id == trace)
        .expect("a consumer of the advice event in the request's trace");
    let parent = spans
        .iter()
        .find(|s| s.span.span_id == consumer.span.parent_span_id)
        .expect("the consumer's parent span was exported too");
    assert_ne!(
        parent.span.name, "event.consume",
        "the consumer's parent is on the request's side of the event log"
    );
    assert!(miyagi.stop());
}

#[tokio::test]
async fn metrics_show_the_model_calls_tokens_and_each_consumer_groups_lag() {
    let (miyagi, llm, _dir) = advised(&[]).await;

    let metrics = reqwest::get(miyagi.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let calls = llm.requests().len() as u64;
    let line = |prefix: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in /metrics:\n{metrics}"))
            .to_string()
    };
    assert!(
        line(r#"gen_ai_client_token_usage_total{model="gpt-test",type="input"}"#)
            .ends_with(&format!(" {}", 12 * calls)),
        "every prompt token the endpoint reported is counted"
    );
    // Each group's lag is measured when its loop starts; the profile topic's follower is there.
    line(r#"event_consumer_lag_records{group="advisor-profiles""#);
    assert!(miyagi.stop());
}
