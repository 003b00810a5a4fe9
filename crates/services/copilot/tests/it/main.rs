//! The copilot service: its store on both database backends, and the whole service over real
//! HTTP with the users, documents and advisor services beside it, the embedded event log carrying
//! profiles and messages to its consumers, the investing library ingested with MiniLM, and
//! answers and memories written by the local SmolLM2 model (loaded once for the binary). The
//! remote-endpoint test stands a scripted OpenAI-protocol server in for the model.

mod chats;
mod conversation;
mod store;
mod tools;

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use miyagi_advisor::AdvisorService;
use miyagi_copilot::{CopilotService, Models};
use miyagi_documents::{Documents, DocumentsService};
use miyagi_kernel::Kernel;
use miyagi_memory::retrieve::Retriever;
use miyagi_platform::Service;
use miyagi_testing::{models, TestApp, TestContext};
use miyagi_users::UsersService;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn server() -> &'static TestApp {
    static SERVER: OnceLock<TestApp> = OnceLock::new();
    SERVER.get_or_init(|| {
        TestApp::shared(|| async {
            let test = TestContext::new(
                &["alice", "bob", "carol", "dave", "erin", "frank", "gina"],
                |config| {
                    // The tests' model calls queue behind each other on one local model.
                    config.http.request_timeout_secs = 900;
                },
            )
            .await;
            let kernel = &models::local().kernel;
            let (app, documents) = spawn_coach(test, kernel, Some(kernel)).await;
            // Answers should cite the library, so wait until every page of it is searchable.
            models::library_indexed(|| async { documents.library_status().await.unwrap().pending })
                .await;
            app
        })
    })
}

/// The users, documents and copilot services on the local embedder, the copilot writing with
/// `copilot`; with `others` the documents service answers and the advisor advises with it too
/// (without, documents only ingest and there is no advisor). The documents the copilot searches.
async fn spawn_coach(
    test: TestContext,
    copilot: &Kernel,
    others: Option<&Kernel>,
) -> (TestApp, Arc<Documents>) {
    let local = models::local();
    let documents = DocumentsService::start(
        &test.context,
        miyagi_documents::Models {
            embedder: local.embedder.clone(),
            tokens: local.tokens.clone(),
            kernel: others.cloned(),
        },
    )
    .await
    .unwrap();
    let library = documents.documents().clone();
    let passages: Arc<dyn Retriever> = library.clone();
    let mut services: Vec<Box<dyn Service>> = vec![
        Box::new(UsersService::start(&test.context).await.unwrap()),
        Box::new(documents),
    ];
    if let Some(kernel) = others {
        services.push(Box::new(
            AdvisorService::start(&test.context, Some(kernel.clone()), passages.clone())
                .await
                .unwrap(),
        ));
    }
    services.push(Box::new(
        CopilotService::start(
            &test.context,
            Models {
                kernel: Some(copilot.clone()),
                embedder: local.embedder.clone(),
                tokens: local.tokens.clone(),
            },
            passages.clone(),
        )
        .await
        .unwrap(),
    ));
    (test.spawn(services).await, library)
}

async fn call(user: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    server().call(user, method, path, body).await
}

/// A new chat of `user`'s; its id.
async fn new_chat(user: &str, body: Value) -> String {
    let (status, chat) = call(user, Method::POST, "/api/v1/chats", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    chat["id"].as_str().unwrap().to_string()
}

/// What a question's event stream said: the streamed words, and the final event.
struct Streamed {
    deltas: Vec<String>,
    last: (String, Value),
}

/// Asks `question` in `chat` and reads the whole event stream.
async fn ask(user: &str, chat: &str, question: &str) -> Streamed {
    ask_on(server(), user, chat, question).await
}

async fn ask_on(app: &TestApp, user: &str, chat: &str, question: &str) -> Streamed {
    let response = app
        .request(
            user,
            Method::POST,
            &format!("/api/v1/chats/{chat}/messages"),
        )
        .json(&json!({ "content": question }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    let mut deltas = Vec::new();
    let mut last = None;
    for block in body.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim_start().to_string()))
        };
        let (Some(event), Some(data)) = (field("event:"), field("data:")) else {
            continue;
        };
        let data: Value = serde_json::from_str(&data).unwrap();
        match event.as_str() {
            "delta" => deltas.push(data["text"].as_str().unwrap().to_string()),
            _ => last = Some((event, data)),
        }
    }
    Streamed {
        deltas,
        last: last.expect("the stream ends with a final event"),
    }
}

/// Waits until `probe` answers `Some`, for at most `seconds`.
async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
