//! The markets service through its real HTTP stack, on SQLite and the embedded event log: orders
//! go API → outbox → request topic → engine → tables, as in `miyagi up`.

mod agent_orders;
mod erasure;
mod holdings;
mod market;
mod orders;
mod restart;

use std::{sync::Arc, time::Duration};

use miyagi_markets_service::MarketsService;
use miyagi_platform::events::EventBus;
use miyagi_testing::{TestApp, TestContext};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The markets service with alice and bob. `simulate`: whether simulated traders make a market
/// (a step every 20 ms); without them the books hold only what the test puts there.
pub async fn market(simulate: bool) -> TestApp {
    market_in(None, simulate, |_| {}).await
}

pub async fn market_in(
    dir: Option<&std::path::Path>,
    simulate: bool,
    configure: impl FnOnce(&mut miyagi_platform::config::Config),
) -> TestApp {
    market_and_log(dir, simulate, configure).await.0
}

/// [`market_in`], and its event log for a test to read or write.
pub async fn market_and_log(
    dir: Option<&std::path::Path>,
    simulate: bool,
    configure: impl FnOnce(&mut miyagi_platform::config::Config),
) -> (TestApp, Arc<dyn EventBus>) {
    let test = TestContext::new(&["alice", "bob"], |config| {
        if let Some(dir) = dir {
            config.data_dir = dir.to_path_buf();
        }
        config.markets.simulate = simulate;
        config.markets.tick_millis = 20;
        configure(config);
    })
    .await;
    let bus = test.context.bus.clone();
    let service = MarketsService::start(&test.context)
        .await
        .expect("the markets service starts");
    (test.spawn(vec![Box::new(service)]).await, bus)
}

pub async fn call(
    app: &TestApp,
    user: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    app.call(user, method, path, body).await
}

pub async fn get(app: &TestApp, user: &str, path: &str) -> Value {
    let (status, body) = call(app, user, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// A new, empty database on the test PostgreSQL server, for a test that runs the service there.
pub async fn fresh_postgres() -> String {
    miyagi_testing::postgres::fresh_database("markets").await
}

/// Places an order and returns the answer.
pub async fn order(app: &TestApp, user: &str, body: Value) -> (StatusCode, Value) {
    call(app, user, Method::POST, "/api/v1/orders", Some(body)).await
}

pub fn limit(symbol: &str, side: &str, qty: u64, price: f64) -> Value {
    json!({"symbol": symbol, "side": side, "type": "limit", "qty": qty, "price": price})
}

pub fn market_order(symbol: &str, side: &str, qty: u64) -> Value {
    json!({"symbol": symbol, "side": side, "type": "market", "qty": qty})
}

/// Waits until `check` holds of `GET path`, and returns that body.
pub async fn eventually(
    app: &TestApp,
    user: &str,
    path: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let body = get(app, user, path).await;
        if check(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "GET {path} never got there: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A quote once the simulated traders have made a two-sided market in `symbol`.
pub async fn two_sided(app: &TestApp, symbol: &str) -> Value {
    let quotes = eventually(app, "alice", "/api/v1/markets/quotes", |quotes| {
        quotes
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["symbol"] == symbol && q["bid"].is_number() && q["ask"].is_number())
    })
    .await;
    quotes
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["symbol"] == symbol)
        .unwrap()
        .clone()
}
