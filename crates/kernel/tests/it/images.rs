//! The OpenAI images connector over real HTTP: the request it sends, the pictures it reads back,
//! and the answers it refuses to store as images.

use base64::Engine;
use miyagi_kernel::{
    connectors::openai::{AzureAuth, OpenAiClient, OpenAiConfig},
    ImageModel, ImageRequest, ImageSize, KernelError,
};
use serde_json::json;

use crate::mock::{Client, MockLlm, Reply};

/// The smallest valid PNG: one transparent pixel.
const PIXEL: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn ask(n: u8) -> ImageRequest {
    ImageRequest {
        prompt: "a lighthouse in a calm sea".into(),
        n,
        size: ImageSize::parse("1024x1024").unwrap(),
        user: "user-7".into(),
    }
}

fn answer(images: &[&[u8]]) -> Reply {
    Reply::Json(json!({
        "created": 1,
        "data": images.iter().map(|i| json!({"b64_json": b64(i), "revised_prompt": "A lighthouse at dusk."})).collect::<Vec<_>>(),
    }))
}

#[tokio::test]
async fn an_image_request_sends_the_openai_images_body_and_reads_the_pictures_back() {
    let llm = MockLlm::start(vec![answer(&[PIXEL, PIXEL])]).await;
    let images = llm.client().generate(&ask(2)).await.unwrap();

    assert_eq!(images.len(), 2);
    assert_eq!(images[0].bytes, PIXEL);
    assert_eq!(images[0].media_type, "image/png");
    assert_eq!(
        images[0].revised_prompt.as_deref(),
        Some("A lighthouse at dusk.")
    );
    let sent = &llm.requests()[0];
    assert_eq!(sent.uri, "/v1/images/generations");
    assert_eq!(sent.headers["authorization"], "Bearer sk-test");
    assert_eq!(
        sent.body,
        json!({
            "model": "gpt-test",
            "prompt": "a lighthouse in a calm sea",
            "n": 2,
            "size": "1024x1024",
            "response_format": "b64_json",
            "user": "user-7",
        })
    );
}

#[tokio::test]
async fn azure_images_go_to_the_deployment_with_its_api_version() {
    let llm = MockLlm::start(vec![answer(&[PIXEL])]).await;
    let config = OpenAiConfig::azure(
        &llm.base,
        "dalle3",
        "2024-10-21",
        AzureAuth::ApiKey("azure-key".into()),
    );
    OpenAiClient::new(config)
        .unwrap()
        .generate(&ask(1))
        .await
        .unwrap();
    let sent = &llm.requests()[0];
    assert_eq!(
        sent.uri,
        "/openai/deployments/dalle3/images/generations?api-version=2024-10-21"
    );
    assert_eq!(sent.headers["api-key"], "azure-key");
}

#[tokio::test]
async fn a_busy_endpoint_is_retried_until_it_draws() {
    let llm = MockLlm::start(vec![
        Reply::Status(429, vec![("retry-after", "0")], "{}".into()),
        answer(&[PIXEL]),
    ])
    .await;
    let images = llm.client().generate(&ask(1)).await.unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(llm.requests().len(), 2);
}

#[tokio::test]
async fn an_answer_that_is_not_an_image_is_refused_not_stored() {
    let llm = MockLlm::start(vec![answer(&[b"<html>quota page</html>"])]).await;
    let error = llm.client().generate(&ask(1)).await.unwrap_err();
    assert!(
        matches!(&error, KernelError::BadResponse(m) if m.contains("neither PNG")),
        "{error:?}"
    );
}

#[tokio::test]
async fn fewer_images_than_asked_for_is_an_error() {
    let llm = MockLlm::start(vec![answer(&[PIXEL])]).await;
    let error = llm.client().generate(&ask(2)).await.unwrap_err();
    assert!(
        matches!(&error, KernelError::BadResponse(m) if m.contains("asked for 2")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_refused_prompt_comes_back_as_the_endpoints_own_words() {
    let llm = MockLlm::start(vec![Reply::Status(
        400,
        vec![],
        json!({"error": {"message": "Your request was rejected by the safety system.", "code": "content_policy_violation"}}).to_string(),
    )])
    .await;
    let error = llm.client().generate(&ask(1)).await.unwrap_err();
    assert!(error.to_string().contains("safety system"), "{error}");
}
