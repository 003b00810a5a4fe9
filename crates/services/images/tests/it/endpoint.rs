//! An images endpoint configured instead of the cards: the same jobs, events and storage, the
//! picture drawn by the remote model (a scripted OpenAI-protocol server here).

use std::time::Duration as StdDuration;

use base64::Engine;
use miyagi_kernel::{
    connectors::openai::{OpenAiClient, OpenAiConfig},
    ImageModel,
};
use miyagi_testing::openai::{Reply, ScriptedLlm};

use super::*;

/// A 2×1 PNG, as an images API would send back.
const PICTURE: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0xF4, 0x22, 0x7F,
    0x8A, 0x00, 0x00, 0x00, 0x0B, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x60, 0x00, 0x02, 0x00,
    0x00, 0x05, 0x00, 0x01, 0xE9, 0xFA, 0xDC, 0xD8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44,
    0xAE, 0x42, 0x60, 0x82,
];

async fn with_endpoint(replies: Vec<Reply>) -> (TestApp, ScriptedLlm) {
    let llm = ScriptedLlm::start(replies).await;
    let mut config =
        OpenAiConfig::openai(&format!("{}/v1", llm.base), "dall-e-3", Some("sk-images"));
    config.max_retries = 1;
    config.timeout = StdDuration::from_secs(5);
    let endpoint: Arc<dyn ImageModel> = Arc::new(OpenAiClient::new(config).unwrap());
    let test = TestContext::new(&["alice"], |_| {}).await;
    let service = ImagesService::start(
        &test.context,
        Models {
            endpoint: Some(endpoint),
            embedder: None,
        },
    )
    .await
    .unwrap();
    (test.spawn(vec![Box::new(service)]).await, llm)
}

fn drawn(revised: &str) -> Reply {
    Reply::Json(json!({
        "created": 1,
        "data": [{"b64_json": base64::engine::general_purpose::STANDARD.encode(PICTURE), "revised_prompt": revised}],
    }))
}

#[tokio::test]
async fn a_remote_model_draws_the_job_and_its_picture_is_kept() {
    let (app, llm) = with_endpoint(vec![drawn("A lighthouse at dusk, watercolour.")]).await;
    let (_, model) = app
        .call("alice", Method::GET, "/api/v1/images/model", None)
        .await;
    assert_eq!(
        model,
        json!({"model": "dall-e-3", "cardsOnly": false, "suggestions": ["A calm lighthouse at dusk, in watercolour"]})
    );

    let image = draw_on(&app, "alice", "a lighthouse", Some("1024x1792")).await;
    assert_eq!(image["status"], "ready", "{image}");
    assert_eq!(image["model"], "dall-e-3");
    assert_eq!(image["revisedPrompt"], "A lighthouse at dusk, watercolour.");
    let (media, bytes) = picture(&app, "alice", &image).await;
    assert_eq!((media.as_str(), bytes.as_slice()), ("image/png", PICTURE));
    let sent = &llm.requests()[0];
    assert_eq!(sent.uri, "/v1/images/generations");
    assert_eq!(sent.body["prompt"], "a lighthouse");
    assert_eq!(sent.body["size"], "1024x1792");
    assert_eq!(sent.body["user"], "alice");
}

#[tokio::test]
async fn a_prompt_the_endpoint_refuses_fails_the_image_with_its_reason() {
    let (app, _llm) = with_endpoint(vec![Reply::Status(
        400,
        vec![],
        json!({"error": {"message": "Your request was rejected by the safety system.", "code": "content_policy_violation"}}).to_string(),
    )])
    .await;
    let image = draw_on(&app, "alice", "something not allowed", None).await;
    assert_eq!(image["status"], "failed");
    assert!(
        image["failure"].as_str().unwrap().contains("safety system"),
        "{image}"
    );
}

#[tokio::test]
async fn an_endpoint_that_is_down_is_retried_until_it_draws() {
    let (app, llm) = with_endpoint(vec![
        Reply::Status(503, vec![], "{}".into()),
        Reply::Status(503, vec![], "{}".into()),
        Reply::Status(503, vec![], "{}".into()),
        drawn("A lighthouse."),
    ])
    .await;
    let image = draw_on(&app, "alice", "a lighthouse", None).await;
    assert_eq!(image["status"], "ready", "{image}");
    assert_eq!(llm.requests().len(), 4);
}
