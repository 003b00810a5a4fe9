//! Kernel overhead per call: render + dispatch + parse, against a local mock endpoint.
//!
//! `cargo bench -p miyagi-kernel --bench kernel_overhead` (with `MOCK_OPENAI_URL`, against that
//! endpoint instead of one in this process: `bench/sk-python.sh` compares Python SK that way)
//!
//! - `raw_http`: the baseline — a bare reqwest POST of an equivalent pre-built body, JSON parsed.
//! - `kernel_invoke`: a prompt function through the kernel (SK template render, filters, the
//!   OpenAI connector's request building, HTTP, response parsing, ledger).
//! - `render`: the template render alone.
//!
//! The kernel's overhead is `kernel_invoke - raw_http`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use miyagi_kernel::{
    chat::ExecutionSettings,
    connectors::openai::{OpenAiClient, OpenAiConfig},
    function::{Arguments, PromptFunction},
    template::{PromptTemplate, TemplateFormat},
    ChatModel, Kernel, Plugin,
};
use serde_json::{json, Value};

const TEMPLATE: &str =
    "You are {{$advisor}}. The client is {{$age}} years old with a {{$risk}} risk tolerance. \
                        In one sentence, how should they split stocks and bonds?";

fn completion() -> Value {
    json!({"model": "bench", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hold 60% stocks and 40% bonds."}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 40, "completion_tokens": 9}})
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Side by side with Python Semantic Kernel (`bench/sk-python.sh`), both call one endpoint
    // outside either process; alone, the endpoint runs in this process.
    let base = std::env::var("MOCK_OPENAI_URL").unwrap_or_else(|_| {
        runtime.block_on(async {
            let app = axum::Router::new().fallback(|| async { axum::Json(completion()) });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}/v1", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            base
        })
    });
    let client = OpenAiClient::new(OpenAiConfig::openai(&base, "bench", Some("key"))).unwrap();
    let template = PromptTemplate::new(TemplateFormat::SemanticKernel, TEMPLATE).unwrap();
    let function = PromptFunction::new(
        "advisor",
        "split",
        "",
        template.clone(),
        vec![],
        ExecutionSettings::default(),
    );
    let kernel = Kernel::builder()
        .chat_model(Arc::new(client) as Arc<dyn ChatModel>)
        .plugin(Plugin::new("advisor", vec![Arc::new(function)]))
        .build();
    let args: Arguments = [
        ("advisor", json!("Jack Bogle")),
        ("age", json!(40)),
        ("risk", json!("Moderate")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    let http = reqwest::Client::new();
    let url = format!("{base}/chat/completions");
    let body = json!({"model": "bench", "messages": [{"role": "user", "content": "You are Jack Bogle. The client is 40 years old with a Moderate risk tolerance. In one sentence, how should they split stocks and bonds?"}]});
    c.bench_function("raw_http", |b| {
        b.to_async(&runtime).iter(|| async {
            let v: Value = http
                .post(&url)
                .bearer_auth("key")
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(v["choices"][0]["message"]["content"].is_string());
        })
    });
    c.bench_function("kernel_invoke", |b| {
        b.to_async(&runtime).iter(|| async {
            let out = kernel
                .invoke("advisor", "split", args.clone())
                .await
                .unwrap();
            assert!(out.is_string());
        })
    });
    c.bench_function("render", |b| {
        b.to_async(&runtime)
            .iter(|| async { template.render(&kernel, &args).await.unwrap() })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
