//! The agents service beside the markets service over real HTTP, on SQLite and the embedded
//! event log, as in `miyagi up`: a run moves on by its own events, approved orders go to the
//! markets service as events and come back filled. The model tests use the local SmolLM2 and
//! MiniLM, loaded once for the binary, with the documents service beside the agents.

mod models;
mod restart;
mod runs;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use miyagi_agents::AgentsService;
use miyagi_documents::DocumentsService;
use miyagi_kernel::Kernel;
use miyagi_markets_service::MarketsService;
use miyagi_memory::retrieve::Retriever;
use miyagi_platform::{config::Config, Service};
use miyagi_testing::{TestApp, TestContext};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Markets (simulated traders, a step every 20 ms) and agents for alice, bob and carol, with
/// data in `dir` when given; `kernel` writes reports and plans.
pub async fn app_in(
    dir: Option<&Path>,
    kernel: Option<Kernel>,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    start(dir, kernel, false, configure).await
}

/// [`app_in`] on the local models, with the documents service (MiniLM, no shared library)
/// whose passages the analyst searches.
pub async fn app_with_documents() -> TestApp {
    let kernel = miyagi_testing::models::local().kernel.clone();
    start(None, Some(kernel), true, |config| {
        config.documents.library = false
    })
    .await
}

async fn start(
    dir: Option<&Path>,
    kernel: Option<Kernel>,
    documents: bool,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    let test = TestContext::new(&["alice", "bob", "carol"], |config| {
        if let Some(dir) = dir {
            config.data_dir = dir.to_path_buf();
        }
        config.markets.tick_millis = 20;
        config.http.request_timeout_secs = 600;
        configure(config);
    })
    .await;
    let mut services: Vec<Box<dyn Service>> = vec![Box::new(
        MarketsService::start(&test.context)
            .await
            .expect("the markets service starts"),
    )];
    let mut library = None;
    if documents {
        let models = miyagi_testing::models::local();
        let service = DocumentsService::start(
            &test.context,
            miyagi_documents::Models {
                embedder: models.embedder.clone(),
                tokens: models.tokens.clone(),
                kernel: kernel.clone(),
            },
        )
        .await
        .expect("the documents service starts");
        library = Some(service.documents().clone() as Arc<dyn Retriever>);
        services.push(Box::new(service));
    }
    services.push(Box::new(
        AgentsService::start(&test.context, kernel, library)
            .await
            .expect("the agents service starts"),
    ));
    test.spawn(services).await
}

pub async fn app() -> TestApp {
    app_in(None, None, |_| {}).await
}

pub async fn call(
    app: &TestApp,
    user: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    app.call(user, method, path, body).await
}

pub async fn get(app: &TestApp, user: &str, path: &str) -> Value {
    let (status, body) = call(app, user, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// Waits (up to 60 s) until `check` holds of the run, and returns it.
pub async fn run_until(
    app: &TestApp,
    user: &str,
    id: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let run = get(app, user, &format!("/api/v1/runs/{id}")).await;
        if check(&run) {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run never got there: {run:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn is_final(run: &Value) -> bool {
    matches!(
        run["state"].as_str(),
        Some("completed" | "failed" | "cancelled")
    )
}

/// Buys up to `shares` of each symbol at the market for `user`, trying until some fill.
pub async fn buy(app: &TestApp, user: &str, shares: &[(&str, u64)]) {
    for (symbol, qty) in shares {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, order) = call(
                app,
                user,
                Method::POST,
                "/api/v1/orders",
                Some(json!({"symbol": symbol, "side": "buy", "type": "market", "qty": qty})),
            )
            .await;
            // Until the simulated traders have made a market, a market order finds no seller.
            if status == StatusCode::CREATED && order["filled"].as_u64() > Some(0) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{symbol} never filled: {order}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Starts the rebalancer for `user` and returns the run once it waits for approval. The agents
/// service learns what the account holds from the markets service's events, a moment after the
/// fills; a run started before all of them arrived finds nothing (it fails) or too little to
/// trade (it completes with no order), so this starts another until one has orders to approve.
pub async fn rebalancer_waiting(app: &TestApp, user: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, run) = call(
            app,
            user,
            Method::POST,
            "/api/v1/runs",
            Some(json!({"agent": "rebalancer"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{run}");
        let id = run["id"].as_str().unwrap().to_string();
        let run = run_until(app, user, &id, |r| {
            r["state"] == "waiting_approval" || is_final(r)
        })
        .await;
        if run["state"] == "waiting_approval" {
            return run;
        }
        assert!(tokio::time::Instant::now() < deadline, "{run:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn decide(app: &TestApp, user: &str, run: &Value, body: Value) -> (StatusCode, Value) {
    let id = run["id"].as_str().unwrap();
    call(
        app,
        user,
        Method::POST,
        &format!("/api/v1/runs/{id}/approvals"),
        Some(body),
    )
    .await
}
