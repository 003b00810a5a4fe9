//! The expenses service over real HTTP, on SQLite and the embedded event log, filing with the
//! local MiniLM embedder and SmolLM2 (loaded once for the binary), as in `miyagi up`. One app
//! serves every test; each test acts as a person of its own.

mod filing;
mod imports;
mod insights;
mod postgres;
mod questions;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use miyagi_expenses::{ExpensesService, Models};
use miyagi_platform::events::EventBus;
use miyagi_testing::{models, TestApp, TestContext};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Server {
    app: TestApp,
    bus: Arc<dyn EventBus>,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let (bus_in, bus_out) = std::sync::mpsc::channel();
        let app = TestApp::shared(move || async move {
            let test = TestContext::new(
                &[
                    "alice", "bob", "carol", "dave", "erin", "frank", "gina", "hal", "ivan",
                    "judy", "ken", "lena", "mia", "nora", "omar", "pia", "rosa", "sam", "tess",
                ],
                |config| {
                    config.http.request_timeout_secs = 600;
                },
            )
            .await;
            bus_in
                .send(test.context.bus.clone())
                .expect("the test waits for the bus");
            let local = models::local();
            let service = ExpensesService::start(
                &test.context,
                Models {
                    embedder: local.embedder.clone(),
                    kernel: Some(local.kernel.clone()),
                },
            )
            .await
            .expect("the expenses service starts");
            test.spawn(vec![Box::new(service)]).await
        });
        Server {
            app,
            bus: bus_out.recv().expect("the bus"),
        }
    })
}

fn app() -> &'static TestApp {
    &server().app
}

async fn call(user: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    app().call(user, method, path, body).await
}

async fn get(user: &str, path: &str) -> Value {
    let (status, body) = call(user, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// Sends `csv` as a file to import; the status and the answer: a refusal, or the import once
/// its event has done it.
async fn import_csv(user: &str, query: &str, csv: impl Into<reqwest::Body>) -> (StatusCode, Value) {
    import_file(app(), user, query, "text/csv", csv).await
}

/// Sends a statement file to `app`; a refusal as it came, or, once accepted, the import when it
/// is no longer `received` (up to 5 minutes: the model may file a payee first).
async fn import_file(
    app: &TestApp,
    user: &str,
    query: &str,
    content_type: &str,
    file: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let request = app
        .request(
            user,
            Method::POST,
            &format!("/api/v1/expenses/imports{query}"),
        )
        .header("content-type", content_type)
        .body(file);
    let (status, job) = app.send(request).await;
    if status != StatusCode::ACCEPTED {
        return (status, job);
    }
    let path = format!(
        "/api/v1/expenses/imports/{}",
        job["id"].as_str().expect("an id")
    );
    let started = Instant::now();
    loop {
        let (_, job) = app.call(user, Method::GET, &path, None).await;
        if job["status"] != "received" {
            return (status, job);
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the import is still received: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn add(user: &str, transactions: Value) -> Value {
    let (status, body) = call(
        user,
        Method::POST,
        "/api/v1/expenses/transactions",
        Some(json!({ "transactions": transactions })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// The person's transactions once none waits for the model (up to 5 minutes: the model files
/// after the import answers).
async fn settled(user: &str) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let listed = get(user, "/api/v1/expenses/transactions?limit=1000").await;
        let rows = listed.as_array().expect("a list").clone();
        if rows.iter().all(|t| t["filed"]["pending"] == false) {
            return rows;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "transactions still pending: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn find<'a>(rows: &'a [Value], description: &str) -> &'a Value {
    rows.iter()
        .find(|t| t["description"] == description)
        .unwrap_or_else(|| panic!("no transaction {description} in {rows:?}"))
}
