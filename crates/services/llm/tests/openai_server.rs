//! The OpenAI-compatible API over real HTTP, backed by the real local models, exercised with an
//! OpenAI client (the kernel's own connector) exactly as any other client library would, and
//! with the official OpenAI Python client from PyPI, unchanged.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use miyagi_kernel::{
    chat::{collect_stream, ExecutionSettings},
    connectors::openai::{OpenAiClient, OpenAiConfig},
    limits::UsageLimits,
    ChatMessage, ChatModel, ChatRequest, EmbeddingModel, Kernel,
};
use std::sync::Arc;

use miyagi_llm::{LlmService, Models};
use miyagi_platform::config::AuthMode;
use miyagi_testing::{models::local, TestApp, TestContext};
use serde_json::{json, Value};

fn models() -> Models {
    limited(UsageLimits::default())
}

fn limited(limits: UsageLimits) -> Models {
    Models {
        chat: Kernel::builder()
            .chat_model(local().chat.clone())
            .limits(Arc::new(limits))
            .build(),
        embeddings: local().embedder.clone(),
    }
}

/// Serves the model API on a free loopback port, open like `miyagi up` on loopback.
async fn serve() -> TestApp {
    serve_with(models()).await
}

async fn serve_with(models: Models) -> TestApp {
    let test = TestContext::new(&[], |config| config.auth.mode = AuthMode::None).await;
    test.spawn(vec![Box::new(LlmService::new(models))]).await
}

fn client(base: &str) -> OpenAiClient {
    let model = local().chat.model_id().to_string();
    OpenAiClient::new(OpenAiConfig::openai(&format!("{base}/v1"), &model, None)).unwrap()
}

fn question() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::user("What is the capital of France?")],
        settings: ExecutionSettings {
            max_tokens: Some(30),
            temperature: Some(0.0),
            ..Default::default()
        },
        tools: vec![],
    }
}

#[tokio::test]
async fn an_openai_client_chats_with_the_local_model_plain_and_streamed() {
    let app = serve().await;
    let base = app.base.as_str();
    let client = client(base);
    let plain = client.chat(&question()).await.unwrap();
    assert!(
        plain.message.content.to_lowercase().contains("paris"),
        "{}",
        plain.message.content
    );
    assert!(plain.usage.completion_tokens > 0);

    let streamed = collect_stream("local", client.chat_stream(&question()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        streamed.message.content, plain.message.content,
        "streaming yields the same text"
    );
    assert_eq!(
        streamed.usage, plain.usage,
        "usage arrives in the stream's final chunk"
    );
}

#[tokio::test]
async fn the_stream_is_openai_server_sent_events_ending_in_done() {
    let app = serve().await;
    let base = app.base.as_str();
    let body = json!({"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0, "stream": true});
    let text = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(*events.last().unwrap(), "[DONE]");
    let first: Value = serde_json::from_str(events[0]).unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let finish: Value = serde_json::from_str(events[events.len() - 2]).unwrap();
    assert!(
        finish["choices"][0]["finish_reason"].is_string(),
        "{finish}"
    );
}

#[tokio::test]
async fn an_openai_client_embeds_with_the_local_model() {
    let app = serve().await;
    let base = app.base.as_str();
    let model = models().embeddings.model_id().to_string();
    let client =
        OpenAiClient::new(OpenAiConfig::openai(&format!("{base}/v1"), &model, None)).unwrap();
    let vectors = client
        .embed(&[
            "Diversify your portfolio.".into(),
            "Spread your investments.".into(),
        ])
        .await
        .unwrap();
    assert_eq!((vectors.len(), vectors[0].len()), (2, 384));
    let cosine: f32 = vectors[0].iter().zip(&vectors[1]).map(|(a, b)| a * b).sum();
    assert!(cosine > 0.5, "{cosine}");
}

#[tokio::test]
async fn base64_embeddings_as_the_official_clients_ask_decode_to_the_float_ones() {
    let app = serve().await;
    let http = reqwest::Client::new();
    let embed = |format: &'static str| {
        http.post(format!("{}/v1/embeddings", app.base))
            .json(&json!({"input": "Index funds keep fees low.", "encoding_format": format}))
            .send()
    };
    let float: Value = embed("float").await.unwrap().json().await.unwrap();
    let base64: Value = embed("base64").await.unwrap().json().await.unwrap();

    let bytes = BASE64
        .decode(base64["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let floats: Vec<f32> = serde_json::from_value(float["data"][0]["embedding"].clone()).unwrap();
    assert_eq!(decoded, floats);
}

#[tokio::test]
async fn a_model_named_without_its_quantisation_is_the_one_served() {
    let app = serve().await;
    let served = local().chat.model_id().to_string();
    let family = served.rsplit_once('-').unwrap().0;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", app.base))
        .json(&json!({"model": family, "max_tokens": 5,
                      "messages": [{"role": "user", "content": "Say hi."}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let completion: Value = response.json().await.unwrap();
    assert_eq!(completion["model"], served.as_str());
}

#[tokio::test]
async fn the_models_list_names_both_local_models() {
    let app = serve().await;
    let base = app.base.as_str();
    let list: Value = reqwest::get(format!("{base}/v1/models"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [local().chat.model_id(), models().embeddings.model_id()]
    );
}

#[tokio::test]
async fn bad_requests_are_problems_naming_the_field() {
    let app = serve().await;
    let base = app.base.as_str();
    let http = reqwest::Client::new();
    let chat = "/v1/chat/completions";
    let embeddings = "/v1/embeddings";
    let cases = [
        (chat, json!({"messages": []}), "messages"),
        (
            chat,
            json!({"messages": [{"role": "wizard", "content": "hi"}]}),
            "messages",
        ),
        (
            chat,
            json!({"messages": [{"role": "user", "content": "hi"}], "temperature": 7}),
            "temperature",
        ),
        (
            chat,
            json!({"messages": [{"role": "user", "content": "hi"}], "model": "gpt-9"}),
            "model",
        ),
        (
            chat,
            json!({"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "xml"}}),
            "response_format.type",
        ),
        (
            chat,
            json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100000}),
            "max_tokens",
        ),
        (
            chat,
            json!({"messages": [{"role": "user", "content": "hi"}], "tool_choice": "required",
                   "tools": [{"type": "function", "function": {"name": "quote"}}]}),
            "tool_choice",
        ),
        (
            chat,
            json!({"messages": [{"role": "user", "content": "hi"}],
                   "tools": [{"type": "retrieval", "function": {"name": "quote"}}]}),
            "tools",
        ),
        (embeddings, json!({"input": []}), "input"),
        (
            embeddings,
            json!({"input": "hi", "encoding_format": "int8"}),
            "encoding_format",
        ),
    ];
    for (path, body, field) in cases {
        let response = http
            .post(format!("{base}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{body}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
}

#[tokio::test]
async fn a_json_schema_response_format_yields_json_matching_the_schema() {
    let app = serve().await;
    let base = app.base.as_str();
    let body = json!({
        "messages": [{"role": "user", "content": "Rate the idea of buying an index fund."}],
        "max_tokens": 60, "temperature": 0,
        "response_format": {"type": "json_schema", "json_schema": {"name": "rating", "schema": {
            "type": "object",
            "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 10}, "verdict": {"enum": ["good", "bad"]}},
            "required": ["score", "verdict"]}}}
    });
    let reply: Value = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let content = reply["choices"][0]["message"]["content"].as_str().unwrap();
    let parsed: Value = serde_json::from_str(content).unwrap_or_else(|e| panic!("{content}: {e}"));
    assert!(
        parsed["score"].as_u64().is_some_and(|s| s <= 10),
        "{parsed}"
    );
    assert!(
        ["good", "bad"].contains(&parsed["verdict"].as_str().unwrap()),
        "{parsed}"
    );
}

#[tokio::test]
async fn a_caller_past_the_daily_token_quota_gets_429_with_when_to_come_back() {
    let app = serve_with(limited(UsageLimits::new(0, 1))).await;
    let body = json!({"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 3});
    let call = || {
        reqwest::Client::new()
            .post(app.url("/v1/chat/completions"))
            .json(&body)
            .send()
    };
    let first = call().await.unwrap();
    assert_eq!(first.status(), 200, "the first call is within the quota");
    let refused = call().await.unwrap();
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=86_400).contains(&wait),
        "retry after {wait}s: by midnight UTC"
    );
    let problem: Value = refused.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("quota of 1 tokens"),
        "{problem}"
    );
}

/// The official OpenAI Python client, pinned.
const OPENAI_PYTHON: &str = "openai==3.60.0";

async fn openai_python() -> std::path::PathBuf {
    miyagi_testing::python::venv_with(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        OPENAI_PYTHON,
    )
    .await
}

#[tokio::test]
async fn the_official_openai_python_client_works_unchanged() {
    let app = serve().await;
    let python = openai_python().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/openai_python.py"
    );
    let output = tokio::process::Command::new(python)
        .arg(script)
        .arg(format!("{}/v1", app.base))
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "the client refused a response:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    println!("the Python client saw: {seen}");
    assert_eq!(
        seen["models"],
        json!([local().chat.model_id(), models().embeddings.model_id()])
    );
    for answer in ["plain", "streamed", "withTools"] {
        assert!(
            !seen[answer].as_str().unwrap().trim().is_empty(),
            "{answer}: {seen}"
        );
    }
    assert!(seen["rating"]["score"].is_u64(), "{seen}");
    assert_eq!(
        seen["dimensions"],
        json!([384, 384]),
        "base64 vectors decoded"
    );
    // The local model answers in words; a tool-calling model's calls would be here.
    assert_eq!(seen["toolCalls"], Value::Null);
    assert!(
        !seen["afterTool"].as_str().unwrap().trim().is_empty(),
        "a tool's result sent back is answered: {seen}"
    );
}
