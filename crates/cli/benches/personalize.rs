//! Personalize latency through the real binary: `miyagi up` on embedded defaults with the local
//! models, over HTTP. Cold = a portfolio the advisor has not seen (engine + retrieval + the local
//! model writing the advice); cached = the same request again (answered from stored advice).
//! Streamed = a cold request on `/personalize/stream`: when the first words of the narrative
//! arrive (the engine's opening, sent before the model writes) and when the advice does.
//!
//! `cargo bench -p miyagi --bench personalize` (`MIYAGI_BENCH_COLD` sets the number of cold
//! requests, default 8; cached requests are 50; `MIYAGI_BENCH_LOG=FILE` keeps the server's log).

mod common;

use std::time::{Duration, Instant};

use common::{json_of, report, Miyagi};
use serde_json::{json, Value};

fn body(user_id: &str, stocks: u32) -> Value {
    json!({
        "userInfo": {"userId": user_id},
        "portfolio": [{"name": "Stocks", "allocation": stocks}, {"name": "Bonds", "allocation": 90 - stocks},
                      {"name": "Cash", "allocation": 10}],
        "stocks": [{"symbol": "MSFT", "allocation": 50}, {"symbol": "VTI", "allocation": 50}]
    })
}

#[tokio::main]
async fn main() {
    let cold_runs: u32 = std::env::var("MIYAGI_BENCH_COLD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let miyagi = Miyagi::up().await;
    let (base, http) = (miyagi.base.clone(), miyagi.http.clone());
    let profile: Value = json_of(http.post(format!("{base}/api/v1/userprofile")).json(
        &json!({"name": "Ada", "age": 36, "annualHouseholdIncome": 150000, "assets": 80000,
                      "liabilities": 20000, "riskTolerance": "Moderate", "retirementAge": 65,
                      "favoriteAdvisor": "Jack Bogle"}),
    ))
    .await;
    let user_id = profile["id"].as_str().unwrap().to_string();
    let personalize = |body: Value| {
        let http = http.clone();
        let url = format!("{base}/api/v1/personalize");
        async move {
            let t = Instant::now();
            let response = http.post(url).json(&body).send().await.unwrap();
            assert!(
                response.status().is_success(),
                "{}",
                response.text().await.unwrap()
            );
            let advice: Value = response.json().await.unwrap();
            (t.elapsed().as_secs_f64() * 1000.0, advice)
        }
    };
    // Warm-up (not counted): waits for the profile event and for the library to be indexed,
    // which the first start ingests in the background.
    for attempt in 0.. {
        assert!(attempt < 60, "no advice after {attempt} attempts");
        let response = http
            .post(format!("{base}/api/v1/personalize"))
            .json(&body(&user_id, 1))
            .send()
            .await
            .unwrap();
        if response.status().is_success() {
            let advice: Value = response.json().await.unwrap();
            if !advice["citations"].as_array().unwrap().is_empty() || attempt >= 3 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let (mut cold, mut written_once) = (Vec::new(), 0);
    for i in 0..cold_runs {
        let (ms, advice) = personalize(body(&user_id, 40 + i)).await;
        cold.push(ms);
        // A cold answer the checks refused is written twice, which is most of a slow one.
        written_once += u32::from(advice["writing"]["attempts"] == 1);
    }
    let mut cached = Vec::new();
    for _ in 0..50 {
        let (ms, advice) = personalize(body(&user_id, 40)).await;
        assert_eq!(advice["cached"], true);
        cached.push(ms);
    }
    let (mut first_words, mut streamed) = (Vec::new(), Vec::new());
    for i in 0..cold_runs {
        let url = format!("{base}/api/v1/personalize/stream");
        let (words, done) = stream(&http, url, body(&user_id, 40 + cold_runs + i)).await;
        first_words.push(words);
        streamed.push(done);
    }
    report("personalize cold (local SmolLM2 writes the advice)", cold);
    println!("personalize cold: {written_once} of {cold_runs} written in one attempt");
    report(
        "personalize/stream cold: first narrative words",
        first_words,
    );
    report("personalize/stream cold: the advice", streamed);
    report("personalize cached (same request again)", cached);
}

/// Milliseconds from sending `body` to the first `narrative` event, and to the `advice` event.
async fn stream(http: &reqwest::Client, url: String, body: Value) -> (f64, f64) {
    let t = Instant::now();
    let mut response = http.post(url).json(&body).send().await.unwrap();
    assert!(response.status().is_success());
    let (mut text, mut first_words) = (String::new(), None);
    while let Some(chunk) = response.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if first_words.is_none() && text.contains("event: narrative") {
            first_words = Some(t.elapsed().as_secs_f64() * 1000.0);
        }
        assert!(!text.contains("event: problem"), "{text}");
        if text.contains("event: advice") {
            break;
        }
    }
    let done = t.elapsed().as_secs_f64() * 1000.0;
    (first_words.expect("a narrative before the advice"), done)
}
