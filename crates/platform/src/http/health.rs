//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: its dependencies answer).

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{extract::State, http::StatusCode, response::IntoResponse, Json};
use futures::{future::BoxFuture, FutureExt};
use serde_json::json;

use super::problem::Problem;

/// One dependency to probe: a database, the event bus, the blob store.
#[derive(Clone)]
pub struct ReadinessCheck {
    pub name: String,
    probe: Arc<dyn Fn() -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>,
}

impl ReadinessCheck {
    pub fn new<F, Fut>(name: impl Into<String>, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Self {
            name: name.into(),
            probe: Arc::new(move || probe().boxed()),
        }
    }
}

#[derive(Clone, Default)]
pub struct Health {
    checks: Vec<ReadinessCheck>,
    draining: Arc<AtomicBool>,
}

impl Health {
    pub fn new(checks: Vec<ReadinessCheck>) -> Self {
        Self {
            checks,
            draining: Arc::default(),
        }
    }

    /// Called at shutdown: readiness turns red first so load balancers stop sending traffic
    /// while in-flight requests drain.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}

pub(super) async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub(super) async fn readyz(State(health): State<Health>) -> axum::response::Response {
    if health.draining.load(Ordering::SeqCst) {
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let results = futures::future::join_all(health.checks.iter().map(|check| async move {
        let outcome = tokio::time::timeout(Duration::from_secs(2), (check.probe)()).await;
        let status = match outcome {
            Ok(Ok(())) => "ok".to_string(),
            Ok(Err(e)) => format!("failing: {e:#}"),
            Err(_) => "failing: no answer within 2s".to_string(),
        };
        (check.name.clone(), status)
    }))
    .await;
    // Failure details (hosts, buckets, drivers' messages) go to the log, not to anonymous callers.
    let failing: Vec<String> = results
        .iter()
        .filter(|(_, s)| s != "ok")
        .map(|(name, status)| {
            tracing::warn!(check = %name, %status, "readiness check failing");
            format!("{name} is failing")
        })
        .collect();
    let checks: BTreeMap<String, String> = results
        .into_iter()
        .map(|(n, s)| (n, if s == "ok" { s } else { "failing".into() }))
        .collect();
    if failing.is_empty() {
        Json(json!({ "status": "ready", "checks": checks })).into_response()
    } else {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, failing.join("; ")).into_response()
    }
}
