//! A local OpenAI-compatible endpoint that answers every request with one fixed chat completion
//! at once: the shared far end when Miyagi's kernel and Python Semantic Kernel are timed side by
//! side (`bench/sk-python.sh`), so both pay the same round trip and differ only in themselves.
//!
//! `cargo run -p miyagi-kernel --example mock_openai -- 127.0.0.1:18090`

use serde_json::json;

#[tokio::main]
async fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18090".into());
    let completion = json!({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "Hold 60% stocks and 40% bonds."}}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}
    });
    // The request is read whole before the answer: a body left unread makes the server close the
    // connection, and a client reusing it sees it gone.
    let app = axum::Router::new().fallback(move |_request: axum::body::Bytes| {
        let completion = completion.clone();
        async move { axum::Json(completion) }
    });
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {address}: {e}"));
    println!("mock OpenAI endpoint on http://{address}/v1");
    axum::serve(listener, app).await.expect("the server runs");
}
