//! Durable agent runs through the real binary: `miyagi serve agents` on embedded defaults
//! (SQLite, the embedded event log).
//!
//! Each run is a custom plan of three `propose-rebalance` steps over positions given inline: a
//! pure computation of microseconds, so what a run costs is the durable runtime's own work per
//! step (the attempt counted, the output recorded with the run's next event in one transaction,
//! the relay, the event log, the runner's consumer loading the run again).
//!
//! Reported: runs/s for `MIYAGI_BENCH_RUNS` runs (default 200) started by
//! `MIYAGI_BENCH_CLIENTS` clients (default 8) and waited for; and, from the runs' timelines,
//! each step's time in the tool (attempt counted to output recorded) against the hand-off from
//! one step's record to the next step's start, the runtime's overhead per step: under that load
//! (queued behind other runs' steps) and for 20 runs one at a time (the hand-off alone).
//!
//! `cargo bench -p miyagi --bench agents`

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{percentile, Miyagi};
use serde_json::{json, Value};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn plan() -> Value {
    let positions = json!([
        {"symbol": "AAPL", "shares": 60, "price": 150.0},
        {"symbol": "MSFT", "shares": 5, "price": 300.0},
        {"symbol": "KO", "shares": 40, "price": 60.0}
    ]);
    let step = json!({"tool": "propose-rebalance", "purpose": "bench", "arguments": {"positions": positions}});
    json!({"agent": "custom", "plan": [step, step, step]})
}

#[tokio::main]
async fn main() {
    let (runs, clients) = (
        setting("MIYAGI_BENCH_RUNS", 200),
        setting("MIYAGI_BENCH_CLIENTS", 8),
    );
    let miyagi = Miyagi::start(&["serve", "agents"]).await;
    let started = Instant::now();
    let mut workers = Vec::new();
    for client in 0..clients {
        let (http, base) = (miyagi.http.clone(), miyagi.base.clone());
        workers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in (client..runs).step_by(clients) {
                ids.push(start(&http, &base).await);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for worker in workers {
        ids.extend(worker.await.unwrap());
    }
    let finished = completed(&miyagi, &ids).await;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{runs} runs of 3 steps from {clients} clients: {:.1} runs/s ({elapsed:.1} s)",
        runs as f64 / elapsed
    );
    report("under load", &finished);

    let mut alone = Vec::new();
    for _ in 0..20 {
        let id = start(&miyagi.http, &miyagi.base).await;
        alone.extend(completed(&miyagi, &[id]).await);
    }
    report("one run at a time", &alone);
}

async fn start(http: &reqwest::Client, base: &str) -> String {
    let run: Value = http
        .post(format!("{base}/api/v1/runs"))
        .json(&plan())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    run["id"].as_str().unwrap().to_string()
}

/// The runs once each has completed.
async fn completed(miyagi: &Miyagi, ids: &[String]) -> Vec<Value> {
    let mut finished = Vec::new();
    for id in ids {
        loop {
            let run: Value = miyagi
                .http
                .get(format!("{}/api/v1/runs/{id}", miyagi.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if run["state"] == "completed" {
                finished.push(run);
                break;
            }
            assert!(run["state"] != "failed", "{run}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    finished
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

fn report(label: &str, finished: &[Value]) {
    let ms = |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_microseconds().unwrap() as f64 / 1e3;
    let (mut tool, mut handoff) = (Vec::new(), Vec::new());
    for run in finished {
        let steps = run["steps"].as_array().unwrap();
        for (i, step) in steps.iter().enumerate() {
            tool.push(ms(time(&step["startedAt"]), time(&step["finishedAt"])));
            if i > 0 {
                handoff.push(ms(
                    time(&steps[i - 1]["finishedAt"]),
                    time(&step["startedAt"]),
                ));
            }
        }
    }
    tool.sort_by(f64::total_cmp);
    handoff.sort_by(f64::total_cmp);
    println!("{label}:");
    println!("| | p50 | p99 |");
    println!("|---|---|---|");
    for (what, ms) in [
        (
            "step in the tool (attempt counted → output recorded)",
            &tool,
        ),
        ("hand-off (record → next step started)", &handoff),
    ] {
        println!(
            "| {what} | {:.2} ms | {:.2} ms |",
            percentile(ms, 0.5),
            percentile(ms, 0.99)
        );
    }
}
