//! The order path end to end through the real binary: `miyagi serve markets` on embedded
//! defaults (SQLite, the embedded event log, the simulated market stepping every second).
//!
//! `POST /api/v1/orders` answers once the engine has taken the order, so each latency is the
//! whole path: validation → the order row and its request event in one transaction → the outbox
//! relay → the event log → the engine's consumer → risk checks and the book → one transaction of
//! journal, order, account and events → the API sees the order's new revision. Orders are
//! one-share limit buys 5% under the market, so they rest and the book grows.
//!
//! Baseline, same server and run: `GET /api/v1/markets/quotes`, a read of the engine's
//! published view that touches neither the database nor the event log.
//!
//! `cargo bench -p miyagi --bench orders` (`MIYAGI_BENCH_ORDERS`, default 1000;
//! `MIYAGI_BENCH_CLIENTS`, default 16).

mod common;

use std::time::{Duration, Instant};

use common::{json_of, percentile, Miyagi};
use serde_json::json;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `total` requests from `clients` concurrent clients; answers (requests/s, sorted latencies ms).
async fn load<F, Fut>(clients: usize, total: usize, request: F) -> (f64, Vec<f64>)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut workers = Vec::new();
    for client in 0..clients {
        let request = request.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for n in (client..total).step_by(clients) {
                let sent = Instant::now();
                request(n).await;
                latencies.push(sent.elapsed().as_secs_f64() * 1e3);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    (rate, latencies)
}

fn row(label: &str, rate: f64, ms: &[f64]) {
    println!(
        "| {label} | {} | {rate:.0} | {:.1} ms | {:.1} ms | {:.1} ms |",
        ms.len(),
        percentile(ms, 0.5),
        percentile(ms, 0.99),
        ms.last().unwrap()
    );
}

#[tokio::main]
async fn main() {
    let (orders, clients) = (
        setting("MIYAGI_BENCH_ORDERS", 1000),
        setting("MIYAGI_BENCH_CLIENTS", 16),
    );
    let miyagi = Miyagi::start(&["serve", "markets"]).await;
    let quotes = json_of(
        miyagi
            .http
            .get(format!("{}/api/v1/markets/quotes", miyagi.base)),
    )
    .await;
    // Quotes come with the first market step; the price band is measured from the last close.
    let ko = quotes
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["symbol"] == "KO")
        .unwrap();
    let price = (ko["previousClose"].as_f64().unwrap() * 0.95 * 100.0).round() / 100.0;

    let (http, base) = (miyagi.http.clone(), miyagi.base.clone());
    let place = move |_| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let response = http
                .post(format!("{base}/api/v1/orders"))
                .json(&json!({"symbol": "KO", "side": "buy", "type": "limit", "qty": 1, "price": price}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status().as_u16(),
                201,
                "{}",
                response.text().await.unwrap()
            );
        }
    };
    let (http, base) = (miyagi.http.clone(), miyagi.base.clone());
    let read = move |_| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let response = http
                .get(format!("{base}/api/v1/markets/quotes"))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            response.bytes().await.unwrap();
        }
    };
    // Warm-up: connections, the SQLite page cache.
    load(clients, 50, read.clone()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    println!("| request | n | requests/s | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    let (rate, ms) = load(clients, orders, place).await;
    row("POST /api/v1/orders (answered by the engine)", rate, &ms);
    let (base_rate, base_ms) = load(clients, orders, read).await;
    row("GET /api/v1/markets/quotes (baseline)", base_rate, &base_ms);
    println!("\norders/s ÷ baseline requests/s: {:.3}", rate / base_rate);
}
