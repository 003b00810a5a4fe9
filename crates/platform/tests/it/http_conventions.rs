//! The conventions every service's HTTP API gets from the platform.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
    routing::{get, post},
    Json,
};
use http_body_util::BodyExt;
use miyagi_platform::{
    auth::{Authenticator, Principal},
    config::Config,
    events::CloudEvent,
    http::{self, Health, ReadinessCheck, ValidJson},
    telemetry,
};
use serde::Deserialize;
use tower::ServiceExt;
use utoipa_axum::router::OpenApiRouter;

#[derive(Deserialize, validator::Validate)]
struct Echo {
    #[validate(range(min = 1, max = 10))]
    n: u32,
}

fn app_with(health: Health) -> axum::Router {
    let mut config = Config::default();
    config.http.body_limit_bytes = 1024;
    config.http.request_timeout_secs = 1;
    let routes = OpenApiRouter::new()
        .route(
            "/echo",
            post(|ValidJson(e): ValidJson<Echo>| async move { Json(e.n) }),
        )
        .route(
            "/slow",
            get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }),
        )
        .route("/whoami", get(|p: Principal| async move { p.user_id }))
        .route(
            "/emit",
            get(|| async {
                CloudEvent::new("/test", "t.v1", "s", &1)
                    .traceparent
                    .unwrap_or_default()
            }),
        );
    let auth = Arc::new(Authenticator::from_config(&config.auth).unwrap());
    http::app(routes, health, auth, &config.http)
}

fn app() -> axum::Router {
    app_with(Health::default())
}

async fn call(
    app: axum::Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let response = app.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (parts.status, parts.headers, json)
}

fn post_json(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

fn assert_problem(headers: &axum::http::HeaderMap) {
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
}

#[tokio::test]
async fn an_unknown_route_is_a_problem_json_404() {
    let (status, headers, _) =
        call(app(), Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_problem(&headers);
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_problem() {
    let body = format!("{{\"n\": 1, \"pad\": \"{}\"}}", "x".repeat(4096));
    let (status, headers, problem) = call(app(), post_json("/echo", body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_problem(&headers);
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("body_limit_bytes"));
}

#[tokio::test]
async fn an_out_of_range_value_is_a_422_naming_the_field() {
    let (status, _, problem) = call(app(), post_json("/echo", r#"{"n": 99}"#)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "n");
}

#[tokio::test]
async fn a_non_json_body_is_a_415_problem() {
    let request = Request::post("/echo")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("n=1"))
        .unwrap();
    let (status, headers, _) = call(app(), request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_problem(&headers);
}

#[tokio::test]
async fn a_request_running_past_the_timeout_gets_a_408_problem() {
    let (status, headers, _) =
        call(app(), Request::get("/slow").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_problem(&headers);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_given_one_is_kept() {
    let (_, headers, _) = call(app(), Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert!(!headers["x-request-id"].is_empty());
    let request = Request::get("/healthz")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = call(app(), request).await;
    assert_eq!(headers["x-request-id"], "abc-123");
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let preflight = |origin: &str| {
        Request::options("/echo")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(Body::empty())
            .unwrap()
    };
    let (_, allowed, _) = call(app(), preflight("http://localhost:8080")).await;
    assert_eq!(
        allowed[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:8080"
    );
    let (_, refused, _) = call(app(), preflight("https://evil.example")).await;
    assert!(refused.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn readiness_reports_a_failing_dependency_as_503_and_healthy_ones_as_ready() {
    let failing = Health::new(vec![ReadinessCheck::new("database", || async {
        anyhow::bail!("connection refused")
    })]);
    let (status, headers, problem) = call(
        app_with(failing),
        Request::get("/readyz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_problem(&headers);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("database is failing"), "{detail}");
    assert!(
        !detail.contains("connection refused"),
        "internal details stay in the log: {detail}"
    );
    let ok = Health::new(vec![ReadinessCheck::new("database", || async { Ok(()) })]);
    let (status, _, body) = call(
        app_with(ok),
        Request::get("/readyz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["checks"]["database"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
}

#[tokio::test]
async fn readiness_turns_red_while_draining_for_shutdown() {
    let health = Health::default();
    health.start_draining();
    let (status, _, _) = call(
        app_with(health),
        Request::get("/readyz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = app();
    call(app.clone(), post_json("/echo", r#"{"n": 2}"#)).await;
    let (status, _, text) = call(app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap().to_string();
    assert!(
        text.contains("http_requests_total{method=\"POST\",route=\"/echo\",status=\"200\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn the_openapi_document_and_docs_page_are_served() {
    let (status, _, doc) = call(
        app(),
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let (status, _, page) = call(app(), Request::get("/docs/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("<html"));
}

#[tokio::test]
async fn an_incoming_traceparent_is_carried_into_events_the_request_emits() {
    static TRACING: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    TRACING.get_or_init(|| {
        // Kept for the whole test process: spans need a live provider to carry ids.
        std::mem::forget(telemetry::init(&Config::default().telemetry, "miyagi-test").unwrap());
    });
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let request = Request::get("/emit")
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .body(Body::empty())
        .unwrap();
    let (_, _, traceparent) = call(app(), request).await;
    assert_eq!(
        telemetry::trace_id(traceparent.as_str().unwrap()),
        Some(trace_id)
    );
}

#[tokio::test]
async fn handlers_see_the_authenticated_principal() {
    let (status, _, user) = call(app(), Request::get("/whoami").body(Body::empty()).unwrap()).await;
    assert_eq!((status, user.as_str()), (StatusCode::OK, Some("local")));
}

#[tokio::test]
async fn odd_methods_and_paths_share_one_metrics_series_each() {
    let app = app();
    for method in ["BREW", "WHEN", "SPAM"] {
        let request = Request::builder()
            .method(method)
            .uri(format!("/{method}/{}", uuid::Uuid::new_v4()))
            .body(Body::empty())
            .unwrap();
        call(app.clone(), request).await;
    }
    let (_, _, text) = call(app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let text = text.as_str().unwrap();
    assert!(!text.contains("BREW") && !text.contains("SPAM"), "{text}");
    assert!(
        text.contains("http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"}"),
        "{text}"
    );
}

/// A request to the unauthenticated local server (auth mode `none`) as a browser would send it.
fn from_page(method: &str, host: &str, origin: Option<&str>) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri("/echo")
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    request.body(Body::from(r#"{"n": 2}"#)).unwrap()
}

#[tokio::test]
async fn without_credentials_a_request_under_a_rebound_host_name_is_refused() {
    let (status, headers, body) = call(app(), from_page("POST", "evil.example:8080", None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_problem(&headers);
    let (status, _, _) = call(app(), from_page("POST", "127.0.0.1:8080", None)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn without_credentials_a_change_asked_by_another_sites_page_is_refused() {
    let evil = from_page("POST", "127.0.0.1:8080", Some("https://evil.example"));
    let (status, _, body) = call(app(), evil).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("http.cors_origins"),
        "{body}"
    );
    let own = from_page("POST", "127.0.0.1:8080", Some("http://127.0.0.1:8080"));
    assert_eq!(call(app(), own).await.0, StatusCode::OK);
}
