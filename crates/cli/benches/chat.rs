//! The copilot through the real binary: `miyagi up` on embedded defaults with the local models.
//!
//! - A 3-turn chat: time to the first streamed word and to the stored answer, per turn.
//! - Baseline, in the same run: the same prompt (read from the prompt view) sent straight to the
//!   local model through `/v1/chat/completions` with streaming, so the ratio is what the copilot
//!   adds (retrieval, memory recall, the JSON answer with constrained citations, storing).
//! - Memory extraction: a chat of 12 first-person statements imported at once; memories kept
//!   per second until none has been added for 20 s.
//!
//! `cargo bench -p miyagi --bench chat` (`MIYAGI_BENCH_CHATS` sets how many 3-turn chats,
//! default 3).

mod common;

use std::time::{Duration, Instant};

use common::{json_of, report, Miyagi};
use serde_json::{json, Value};

const TURNS: [&str; 3] = [
    "What do index fund fees cost me over thirty years?",
    "And how often should I rebalance?",
    "Should I pay off my credit card before investing?",
];

/// Reads an SSE response: ms to the first `delta` (or first token chunk), ms to the end.
async fn timed_stream(
    mut response: reqwest::Response,
    started: Instant,
    first_marker: &str,
) -> (f64, f64) {
    assert!(response.status().is_success(), "{}", response.status());
    let mut seen = String::new();
    let mut first = None;
    while let Some(chunk) = response.chunk().await.unwrap() {
        seen.push_str(&String::from_utf8_lossy(&chunk));
        // The first marker followed by a word: an OpenAI stream opens with an empty content.
        let worded = seen
            .match_indices(first_marker)
            .any(|(at, m)| seen[at + m.len()..].starts_with(|c: char| c.is_alphanumeric()));
        if first.is_none() && worded {
            first = Some(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    assert!(!seen.contains("event: problem"), "{seen}");
    let total = started.elapsed().as_secs_f64() * 1000.0;
    (first.unwrap_or(total), total)
}

#[tokio::main]
async fn main() {
    let chats: usize = std::env::var("MIYAGI_BENCH_CHATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let miyagi = Miyagi::up().await;
    let (base, http) = (miyagi.base.clone(), miyagi.http.clone());
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();

    // Warm-up (not counted): the library is ingested in the background on a first start.
    let warm: Value = post("/api/v1/chats", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let warm = warm["id"].as_str().unwrap().to_string();
    for attempt in 0.. {
        assert!(attempt < 120, "the library was never searchable");
        let view: Value = json_of(http.get(format!(
            "{base}/api/v1/chats/{warm}/prompt?question=index%20fund%20fees"
        )))
        .await;
        if view["messages"][0]["content"]
            .as_str()
            .unwrap_or("")
            .contains("Sources:")
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let response = post(
        &format!("/api/v1/chats/{warm}/messages"),
        json!({"content": "Hello!"}),
    )
    .await
    .unwrap();
    timed_stream(response, Instant::now(), "data: ").await;

    let (mut first, mut full, mut base_first, mut base_full) = (vec![], vec![], vec![], vec![]);
    for _ in 0..chats {
        let chat: Value = post("/api/v1/chats", json!({}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let chat = chat["id"].as_str().unwrap().to_string();
        for question in TURNS {
            // The baseline first, so the copilot's own turn cannot warm the model's cache for it.
            let view: Value = json_of(
                http.get(format!("{base}/api/v1/chats/{chat}/prompt"))
                    .query(&[("question", question)]),
            )
            .await;
            let started = Instant::now();
            let response = post(
                "/v1/chat/completions",
                json!({"messages": view["messages"], "max_tokens": 400, "temperature": 0.2, "stream": true}),
            )
            .await
            .unwrap();
            let (f, t) = timed_stream(response, started, "\"content\":\"").await;
            base_first.push(f);
            base_full.push(t);

            let started = Instant::now();
            let response = post(
                &format!("/api/v1/chats/{chat}/messages"),
                json!({"content": question}),
            )
            .await
            .unwrap();
            let (f, t) = timed_stream(response, started, "data: {\"text\":\"").await;
            first.push(f);
            full.push(t);
        }
    }
    report("copilot: first streamed word", first);
    report("copilot: stored answer", full);
    report(
        "baseline /v1/chat/completions, same prompt: first token",
        base_first,
    );
    report(
        "baseline /v1/chat/completions, same prompt: last token",
        base_full,
    );

    let statements: Vec<Value> = (0..12)
        .map(|i| {
            let text = [
                "I plan to retire at 58.", "My wife and I have three children.", "I prefer index funds to single stocks.",
                "I work as a nurse in Leeds.", "We want to buy a house in 2028.", "I have 12000 dollars of student debt.",
                "I hate checking the markets every day.", "My pension is with my employer.", "I want to pay for my kids' college.",
                "I rent a flat for 1400 a month.", "I keep six months of expenses in cash.", "My father left me a small inheritance.",
            ][i];
            json!({"author": "user", "content": text, "createdAt": format!("2026-11-01T10:00:{i:02}Z")})
        })
        .collect();
    let started = Instant::now();
    let imported = post(
        "/api/v1/chats/import",
        json!({"title": "facts", "persona": "You are a coach.", "memoryBalance": 0.5, "messages": statements}),
    )
    .await
    .unwrap();
    assert!(imported.status().is_success());
    let (mut count, mut last_change) = (0, Instant::now());
    let mut finished_at = started.elapsed();
    while last_change.elapsed() < Duration::from_secs(20) && count < 12 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let memories: Value = json_of(http.get(format!("{base}/api/v1/memories"))).await;
        let now = memories
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["chatId"] != Value::Null)
            .count();
        if now != count {
            count = now;
            last_change = Instant::now();
            finished_at = started.elapsed();
        }
    }
    println!(
        "memory extraction: {count} of 12 statements kept in {:.1} s ({:.2} messages/s)",
        finished_at.as_secs_f64(),
        12.0 / finished_at.as_secs_f64()
    );
}
