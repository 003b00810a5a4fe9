//! A scripted OpenAI-protocol server on 127.0.0.1, standing in for a remote LLM endpoint: it
//! answers each POST with the next scripted reply and records what it was sent.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::{json, Value};

#[derive(Clone)]
pub enum Reply {
    Json(Value),
    /// Server-sent events: each string is one `data:` payload; `[DONE]` is appended.
    Sse(Vec<String>),
    Status(u16, Vec<(&'static str, &'static str)>, String),
    Raw(&'static str),
    Slow(Duration, Value),
}

#[derive(Debug, Clone)]
pub struct Captured {
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Captured {
    /// The names of the tools the request offered the model.
    pub fn offered_tools(&self) -> Vec<&str> {
        self.body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["function"]["name"].as_str())
            .collect()
    }
}

#[derive(Clone, Default)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    captured: Arc<Mutex<Vec<Captured>>>,
}

pub struct ScriptedLlm {
    pub base: String,
    script: Script,
}

impl ScriptedLlm {
    pub async fn start(replies: Vec<Reply>) -> Self {
        let script = Script {
            replies: Arc::new(Mutex::new(replies.into())),
            ..Default::default()
        };
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, script }
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.script.captured.lock().unwrap().clone()
    }
}

async fn answer(
    State(script): State<Script>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    script.captured.lock().unwrap().push(Captured {
        uri: uri.to_string(),
        headers,
        body,
    });
    let reply = script.replies.lock().unwrap().pop_front();
    match reply {
        None => (StatusCode::INTERNAL_SERVER_ERROR, "script exhausted").into_response(),
        Some(Reply::Json(v)) => axum::Json(v).into_response(),
        Some(Reply::Raw(text)) => ([("content-type", "application/json")], text).into_response(),
        Some(Reply::Status(code, headers, body)) => {
            let mut response = (StatusCode::from_u16(code).unwrap(), body).into_response();
            for (k, v) in headers {
                response.headers_mut().insert(k, v.parse().unwrap());
            }
            response
        }
        Some(Reply::Slow(delay, v)) => {
            tokio::time::sleep(delay).await;
            axum::Json(v).into_response()
        }
        Some(Reply::Sse(events)) => {
            let text: String = events
                .iter()
                .chain(std::iter::once(&"[DONE]".to_string()))
                .map(|e| format!("data: {e}\n\n"))
                .collect();
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from(text))
                .unwrap()
        }
    }
}

pub fn completion(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-test-0613",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    })
}

pub fn tool_calls(calls: &[(&str, &str, &str)]) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .map(|(id, name, args)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}}))
        .collect();
    json!({
        "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": calls}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 10}
    })
}

/// A streamed answer of `pieces`, with usage in a final chunk as `stream_options.include_usage` asks.
pub fn streamed(pieces: &[&str]) -> Reply {
    let mut events: Vec<String> = pieces
        .iter()
        .map(|p| {
            json!({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]})
                .to_string()
        })
        .collect();
    events
        .push(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string());
    events.push(
        json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 5}}).to_string(),
    );
    Reply::Sse(events)
}

/// Streamed tool calls (`(id, name, arguments)`), each in two fragments as providers send them.
pub fn streamed_tool_calls(calls: &[(&str, &str, &str)]) -> Reply {
    let mut events = Vec::new();
    for (index, (id, name, args)) in calls.iter().enumerate() {
        let (head, tail) = args.split_at(args.len() / 2);
        events.push(
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": head}}
            ]}, "finish_reason": null}]})
            .to_string(),
        );
        events.push(
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": index, "function": {"arguments": tail}}
            ]}, "finish_reason": null}]})
            .to_string(),
        );
    }
    events.push(
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}).to_string(),
    );
    events.push(
        json!({"choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 10}}).to_string(),
    );
    Reply::Sse(events)
}
