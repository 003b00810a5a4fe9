//! The OpenAI-compatible connector over real HTTP: both protocols, streaming, and every failure.

use std::time::{Duration, Instant};

use futures::StreamExt;
use miyagi_kernel::{
    chat::{
        collect_stream, ChatDelta, ChatRequest, EmbeddingModel, ExecutionSettings, FinishReason,
        ToolCall,
    },
    connectors::openai::{AzureAuth, OpenAiClient, OpenAiConfig},
    ChatMessage, ChatModel, KernelError,
};
use serde_json::json;

use crate::mock::{completion, streamed, Client, MockLlm, Reply};

fn ask(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::system("Be brief."), ChatMessage::user(text)],
        settings: ExecutionSettings {
            max_tokens: Some(50),
            temperature: Some(0.2),
            stop: vec!["\n\n".into()],
            seed: Some(7),
            ..Default::default()
        },
        tools: vec![],
    }
}

#[tokio::test]
async fn a_chat_call_sends_the_openai_wire_format_and_parses_the_answer() {
    let llm = MockLlm::start(vec![Reply::Json(completion("Diversify."))]).await;
    let response = llm.client().chat(&ask("Advice?")).await.unwrap();
    assert_eq!(response.message.content, "Diversify.");
    assert_eq!(
        (
            response.usage.prompt_tokens,
            response.usage.completion_tokens
        ),
        (12, 5)
    );
    assert_eq!(response.finish_reason, FinishReason::Stop);
    let sent = &llm.requests()[0];
    assert_eq!(sent.uri, "/v1/chat/completions");
    assert_eq!(sent.headers["authorization"], "Bearer sk-test");
    assert_eq!(sent.body["model"], "gpt-test");
    assert_eq!(
        sent.body["messages"][1],
        json!({"role": "user", "content": "Advice?"})
    );
    assert_eq!(
        (sent.body["max_tokens"].clone(), sent.body["seed"].clone()),
        (json!(50), json!(7))
    );
    assert_eq!(sent.body["stop"], json!(["\n\n"]));
}

#[tokio::test]
async fn azure_uses_the_deployment_url_api_version_and_api_key_header() {
    let llm = MockLlm::start(vec![
        Reply::Json(completion("ok")),
        Reply::Json(completion("ok")),
    ])
    .await;
    let config = OpenAiConfig::azure(
        &llm.base,
        "gpt4o-prod",
        "2024-10-21",
        AzureAuth::ApiKey("azure-key".into()),
    );
    OpenAiClient::new(config)
        .unwrap()
        .chat(&ask("hi"))
        .await
        .unwrap();
    let sent = &llm.requests()[0];
    assert_eq!(
        sent.uri,
        "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(sent.headers["api-key"], "azure-key");
    assert!(sent.headers.get("authorization").is_none());

    let config = OpenAiConfig::azure(
        &llm.base,
        "gpt4o-prod",
        "2024-10-21",
        AzureAuth::Bearer("entra-token".into()),
    );
    OpenAiClient::new(config)
        .unwrap()
        .chat(&ask("hi"))
        .await
        .unwrap();
    assert_eq!(
        llm.requests()[1].headers["authorization"],
        "Bearer entra-token"
    );
}

#[tokio::test]
async fn a_streamed_answer_yields_the_same_text_and_usage_as_a_plain_one() {
    let llm = MockLlm::start(vec![
        streamed(&["Buy ", "low, ", "sell ", "high."]),
        Reply::Json(completion("Buy low, sell high.")),
    ])
    .await;
    let client = llm.client();
    let mut stream = client.chat_stream(&ask("Advice?")).await.unwrap();
    let mut pieces = Vec::new();
    let mut finished = None;
    while let Some(delta) = stream.next().await {
        match delta.unwrap() {
            ChatDelta::Text(t) => pieces.push(t),
            ChatDelta::Finished { usage, .. } => finished = Some(usage),
            ChatDelta::ToolCall(_) => panic!("no tools here"),
        }
    }
    let plain = client.chat(&ask("Advice?")).await.unwrap();
    assert_eq!(pieces.len(), 4, "text arrives in pieces");
    assert_eq!(pieces.concat(), plain.message.content);
    assert_eq!(finished.unwrap(), plain.usage);
    let sent = &llm.requests()[0].body;
    assert_eq!(
        (
            sent["stream"].clone(),
            sent["stream_options"]["include_usage"].clone()
        ),
        (json!(true), json!(true))
    );
}

#[tokio::test]
async fn tool_calls_split_across_stream_chunks_are_assembled() {
    let chunk = |delta: serde_json::Value, finish: Option<&str>| {
        json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}).to_string()
    };
    let llm = MockLlm::start(vec![Reply::Sse(vec![
        chunk(json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "finance-drift", "arguments": ""}}]}), None),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"tar"}}]}), None),
        chunk(json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "market-quote", "arguments": "{\"symbol\":"}}]}), None),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "get\":60}"}}]}), None),
        chunk(json!({"tool_calls": [{"index": 1, "function": {"arguments": "\"MSFT\"}"}}]}), Some("tool_calls")),
    ])])
    .await;
    let client = llm.client();
    let response = collect_stream(
        "gpt-test",
        client.chat_stream(&ask("rebalance")).await.unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        response.message.tool_calls,
        vec![
            ToolCall {
                id: "call_a".into(),
                name: "finance-drift".into(),
                arguments: "{\"target\":60}".into()
            },
            ToolCall {
                id: "call_b".into(),
                name: "market-quote".into(),
                arguments: "{\"symbol\":\"MSFT\"}".into()
            },
        ]
    );
}

#[tokio::test]
async fn a_429_is_retried_after_the_servers_retry_after() {
    let llm = MockLlm::start(vec![
        Reply::Status(
            429,
            vec![("retry-after", "1")],
            r#"{"error":{"message":"slow down"}}"#.into(),
        ),
        Reply::Json(completion("done")),
    ])
    .await;
    let started = Instant::now();
    let response = llm.client().chat(&ask("hi")).await.unwrap();
    assert_eq!(response.message.content, "done");
    assert_eq!(llm.requests().len(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}, the server asked for 1s",
        started.elapsed()
    );
}

#[tokio::test]
async fn persistent_rate_limiting_ends_in_a_rate_limited_error() {
    let limited = || Reply::Status(429, vec![("retry-after-ms", "10")], "{}".into());
    let llm = MockLlm::start(vec![limited(), limited(), limited()]).await;
    let err = llm.client().chat(&ask("hi")).await.unwrap_err();
    assert!(
        matches!(err, KernelError::RateLimited { retry_after: Some(d) } if d == Duration::from_millis(10)),
        "{err:?}"
    );
    assert_eq!(llm.requests().len(), 3, "one try and two retries");
}

#[tokio::test]
async fn a_server_error_is_retried_and_a_client_error_is_not() {
    let llm = MockLlm::start(vec![
        Reply::Status(503, vec![], "busy".into()),
        Reply::Json(completion("ok")),
    ])
    .await;
    assert_eq!(
        llm.client().chat(&ask("hi")).await.unwrap().message.content,
        "ok"
    );
    let llm = MockLlm::start(vec![Reply::Status(
        400,
        vec![],
        r#"{"error":{"message":"bad field"}}"#.into(),
    )])
    .await;
    let err = llm.client().chat(&ask("hi")).await.unwrap_err();
    assert!(
        matches!(err, KernelError::Http { status: 400, ref message } if message == "bad field"),
        "{err:?}"
    );
    assert_eq!(llm.requests().len(), 1);
}

#[tokio::test]
async fn odd_or_malformed_json_is_a_bad_response_never_a_panic() {
    for body in [
        r#"{"choices": [{"message": {"content": "unterminated"#,
        r#"{"choices": "nope"}"#,
        r#"{"choices": []}"#,
        "null",
    ] {
        let llm = MockLlm::start(vec![Reply::Raw(body)]).await;
        let err = llm.client().chat(&ask("hi")).await.unwrap_err();
        assert!(
            matches!(err, KernelError::BadResponse(_)),
            "{body}: {err:?}"
        );
    }
    let llm = MockLlm::start(vec![Reply::Sse(vec!["{not json".into()])]).await;
    let err = collect_stream("m", llm.client().chat_stream(&ask("hi")).await.unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, KernelError::BadResponse(_)), "{err:?}");
}

#[tokio::test]
async fn a_slow_endpoint_times_out_with_a_timeout_error() {
    let llm = MockLlm::start(vec![Reply::Slow(
        Duration::from_secs(3),
        completion("late"),
    )])
    .await;
    let mut config = llm.config();
    config.timeout = Duration::from_millis(300);
    config.max_retries = 0;
    let err = OpenAiClient::new(config)
        .unwrap()
        .chat(&ask("hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, KernelError::Timeout(_)), "{err:?}");
}

#[tokio::test]
async fn auth_context_length_and_content_filter_errors_are_told_apart() {
    let cases = [
        (401, r#"{"error":{"message":"Incorrect API key"}}"#, "auth"),
        (
            400,
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#,
            "context",
        ),
        (
            400,
            r#"{"error":{"message":"filtered","code":"content_filter"}}"#,
            "filter",
        ),
    ];
    for (status, body, kind) in cases {
        let llm = MockLlm::start(vec![Reply::Status(status, vec![], body.into())]).await;
        let err = llm.client().chat(&ask("hi")).await.unwrap_err();
        let matched = match kind {
            "auth" => matches!(err, KernelError::Auth(_)),
            "context" => matches!(err, KernelError::ContextTooLong(_)),
            _ => matches!(err, KernelError::ContentFilter(_)),
        };
        assert!(matched, "{kind}: {err:?}");
    }
}

#[tokio::test]
async fn embeddings_come_back_in_input_order() {
    let llm = MockLlm::start(vec![Reply::Json(json!({
        "data": [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}],
        "usage": {"prompt_tokens": 4}
    }))])
    .await;
    let vectors = llm
        .client()
        .embed(&["first".into(), "second".into()])
        .await
        .unwrap();
    assert_eq!(vectors, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
    assert_eq!(llm.requests()[0].uri, "/v1/embeddings");
}

#[tokio::test]
async fn the_token_limiter_holds_back_a_call_that_would_exceed_tokens_per_minute() {
    let llm = MockLlm::start(vec![
        Reply::Json(completion("one")),
        Reply::Json(completion("two")),
    ])
    .await;
    let mut config = llm.config();
    config.tokens_per_minute = Some(6000); // refills 100 tokens a second
    let client = OpenAiClient::new(config).unwrap();
    let mut big = ask("hi");
    big.settings.max_tokens = Some(5900);
    let mut small = ask("hi");
    small.settings.max_tokens = Some(200);

    let started = Instant::now();
    client.chat(&big).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "the first call fits the budget"
    );
    client.chat(&small).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "waited {waited:?}"
    );
}
