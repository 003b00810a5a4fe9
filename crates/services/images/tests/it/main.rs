//! The images service over real HTTP, with the users service beside it and the embedded event
//! log carrying profiles, positions and usual months to its copies; prompts that name no card
//! plainly are read by the local SmolLM2 model (loaded once for the binary). The remote-endpoint
//! tests stand a scripted OpenAI-protocol server in for an images API.

mod attached;
mod cards;
mod endpoint;

use std::{
    future::Future,
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use miyagi_images::{ImagesService, Models};
use miyagi_platform::{events::EventBus, Service};
use miyagi_testing::{models, TestApp, TestContext};
use miyagi_users::UsersService;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Shared {
    app: TestApp,
    bus: Arc<dyn EventBus>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (bus_tx, bus_rx) = std::sync::mpsc::channel();
        let app = TestApp::shared(move || async move {
            let test = TestContext::new(
                &[
                    "alice", "bob", "carol", "dave", "erin", "frank", "gwen", "hana", "ivan",
                    "june",
                ],
                |_| {},
            )
            .await;
            bus_tx.send(test.context.bus.clone()).unwrap();
            let models = Models {
                endpoint: None,
                embedder: Some(models::local().embedder.clone()),
            };
            let services: Vec<Box<dyn Service>> = vec![
                Box::new(UsersService::start(&test.context).await.unwrap()),
                Box::new(ImagesService::start(&test.context, models).await.unwrap()),
            ];
            test.spawn(services).await
        });
        Shared {
            app,
            bus: bus_rx.recv().unwrap(),
        }
    })
}

fn server() -> &'static TestApp {
    &shared().app
}

async fn call(user: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    server().call(user, method, path, body).await
}

/// Polls `check` every 100 ms for up to `secs` seconds until it returns `Some`.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asks `app` for an image as `user` and waits until it is drawn or has failed.
async fn draw_on(app: &TestApp, user: &str, prompt: &str, size: Option<&str>) -> Value {
    let mut body = json!({ "prompt": prompt });
    if let Some(size) = size {
        body["size"] = json!(size);
    }
    let reply = app
        .exchange(
            app.request(user, Method::POST, "/api/v1/images")
                .json(&body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["status"], "pending");
    let location = reply.headers["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!("/api/v1/images/{}", reply.body["id"].as_str().unwrap())
    );
    // The local model may be reading a prompt for another test first.
    eventually(300, "the image to be drawn", || async {
        let (status, image) = app.call(user, Method::GET, &location, None).await;
        assert_eq!(status, StatusCode::OK, "{image}");
        (image["status"] != "pending").then_some(image)
    })
    .await
}

async fn draw(user: &str, prompt: &str) -> Value {
    draw_on(server(), user, prompt, None).await
}

/// The picture's bytes and media type.
async fn picture(app: &TestApp, user: &str, image: &Value) -> (String, Vec<u8>) {
    let url = image["contentUrl"]
        .as_str()
        .expect("a ready image has a content URL");
    let response = app.request(user, Method::GET, url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let media = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (media, response.bytes().await.unwrap().to_vec())
}

/// Width and height from a PNG's header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let read = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (read(16), read(20))
}
