//! The HTTP conventions every Miyagi service shares, assembled in one place so that a service
//! only writes its handlers: request ids, tracing spans, timeouts, body limits, CORS, metrics,
//! problem+json for every error (including the framework's own), health, readiness and OpenAPI.

mod authenticate;
mod document;
mod extract;
mod health;
mod local_only;
mod metrics;
mod problem;

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{DefaultBodyLimit, Request},
    http::{header, HeaderName, HeaderValue, Method, StatusCode},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use authenticate::Admin;
pub use extract::ValidJson;
pub use health::{Health, ReadinessCheck};
pub use problem::{FieldError, Problem};

use crate::{auth::Authenticator, config::HttpConfig};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(title = "Miyagi API", description = "Personal financial coach: every service's HTTP API."),
    components(schemas(Problem, FieldError)),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("api_key" = []))
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
    }
}

/// Builds the complete application: the services' API routes behind authentication, the public
/// operational endpoints, and the shared middleware around all of it.
pub fn app(
    api: OpenApiRouter,
    health: Health,
    auth: Arc<Authenticator>,
    config: &HttpConfig,
) -> Router {
    app_with_public(api, Router::new(), health, auth, config)
}

/// [`app`] plus `public` routes that need no credentials (the web UI's static files), served
/// behind the same request id, tracing, metrics and CORS layers.
pub(crate) fn app_with_public(
    api: OpenApiRouter,
    public: Router,
    health: Health,
    auth: Arc<Authenticator>,
    config: &HttpConfig,
) -> Router {
    metrics::handle();
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api)
        .split_for_parts();
    let openapi = document::as_served(openapi);
    let gate = Arc::new(authenticate::Gate {
        auth,
        cors_origins: config.cors_origins.clone(),
    });
    let api = api.layer(middleware::from_fn_with_state(
        gate,
        authenticate::authenticate,
    ));

    let operational = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .with_state(health)
        .merge(SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", openapi))
        .merge(public);

    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(
            config
                .cors_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        ))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            HeaderName::from_static("x-api-key"),
        ])
        .expose_headers([header::ETAG, header::LOCATION, REQUEST_ID]);

    api.merge(operational)
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no such route") })
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(middleware::from_fn(metrics::record))
                .layer(CatchPanicLayer::custom(|_| {
                    Problem::internal("handler panicked").into_response()
                }))
                .layer(middleware::map_response(errors_as_problems))
                .layer(cors)
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(config.request_timeout_secs),
                ))
                .layer(DefaultBodyLimit::max(config.body_limit_bytes)),
        )
}

fn request_span(req: &Request<Body>) -> tracing::Span {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "http.request",
        http.method = %req.method(),
        url.path = %req.uri().path(),
        request_id = %request_id,
        user = tracing::field::Empty,
        otel.kind = "server",
    );
    crate::telemetry::continue_trace(
        &span,
        req.headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok()),
    );
    span
}

/// The framework answers some errors itself (405, 408, a bad path parameter) as empty or plain
/// text; clients are promised problem+json for every error, so convert those here.
async fn errors_as_problems(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let problem = Problem::new(status, detail).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(problem.headers().clone());
    Response::from_parts(parts, problem.into_body())
}

/// Serves `app` until `shutdown` fires, then stops accepting and drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
