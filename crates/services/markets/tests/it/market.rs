//! Market data: the simulated market as a person watches it.

use miyagi_markets_service::{events, MarketsService};
use miyagi_testing::{log, TestContext};
use reqwest::StatusCode;
use serde_json::Value;

use super::*;

#[tokio::test]
async fn the_simulated_traders_make_a_two_sided_market_in_every_symbol() {
    let app = market(true).await;
    let quotes = eventually(&app, "alice", "/api/v1/markets/quotes", |quotes| {
        quotes
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["bid"].is_number() && q["ask"].is_number())
    })
    .await;
    assert_eq!(quotes.as_array().unwrap().len(), 20);
    for quote in quotes.as_array().unwrap() {
        assert!(quote["bid"].as_f64() < quote["ask"].as_f64(), "{quote}");
    }
    let book = get(&app, "alice", "/api/v1/markets/book/MSFT?levels=3").await;
    assert_eq!(
        (
            book["bids"].as_array().unwrap().len(),
            book["asks"].as_array().unwrap().len()
        ),
        (3, 3)
    );
    // Liquidity takers trade about every other second of market time.
    eventually(&app, "alice", "/api/v1/markets/quotes", |quotes| {
        quotes
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["volume"].as_u64() > Some(0))
    })
    .await;
}

#[tokio::test]
async fn trades_make_minute_bars_and_the_history_gives_daily_closes() {
    let app = market(true).await;
    let bars = eventually(&app, "alice", "/api/v1/markets/candles/JPM", |bars| {
        !bars.as_array().unwrap().is_empty()
    })
    .await;
    let bar = &bars[0];
    assert!(
        bar["low"].as_f64() <= bar["close"].as_f64()
            && bar["close"].as_f64() <= bar["high"].as_f64(),
        "{bar}"
    );
    let daily = get(
        &app,
        "alice",
        "/api/v1/markets/candles/AAPL?interval=1d&limit=5",
    )
    .await;
    assert_eq!(daily.as_array().unwrap().len(), 5);
    assert_eq!(daily[4]["time"], "2022-12-28");
    assert_eq!(daily[4]["close"], 125.674);
    assert_eq!(daily[4]["open"], Value::Null);
}

#[tokio::test]
async fn asking_about_what_is_not_there_gets_a_clear_answer() {
    let app = market(false).await;
    let cases = [
        ("/api/v1/markets/book/NOPE", StatusCode::NOT_FOUND),
        (
            "/api/v1/markets/book/AAPL?levels=0",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/markets/candles/AAPL?interval=1w",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/markets/candles/AAPL?limit=5000",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/api/v1/markets/stream?symbol=NOPE", StatusCode::NOT_FOUND),
    ];
    for (path, expected) in cases {
        let (status, problem) = call(&app, "alice", Method::GET, path, None).await;
        assert_eq!(status, expected, "{path}: {problem}");
        assert!(problem["detail"].is_string(), "{path}: {problem}");
    }
}

#[tokio::test]
async fn the_live_stream_carries_every_quote_and_the_chosen_book() {
    let app = market(true).await;
    let mut response = app
        .request("alice", Method::GET, "/api/v1/markets/stream?symbol=KO")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut text = String::new();
    while !text.contains("\n\n") {
        text.push_str(&String::from_utf8_lossy(
            &response.chunk().await.unwrap().unwrap(),
        ));
    }
    let data = text
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap();
    let update: Value = serde_json::from_str(data).unwrap();
    assert!(text.starts_with("event: market"), "{text}");
    assert_eq!(update["quotes"].as_array().unwrap().len(), 20);
    assert_eq!(update["book"]["symbol"], "KO");
}

#[tokio::test]
async fn the_market_is_recorded_on_the_event_log() {
    let test = TestContext::new(&["alice"], |config| config.markets.tick_millis = 20).await;
    let bus = test.context.bus.clone();
    let service = MarketsService::start(&test.context).await.unwrap();
    let _app = test.spawn(vec![Box::new(service)]).await;
    let events = log::events_once(&*bus, events::QUOTES_TOPIC, "market", |events| {
        !events.is_empty()
    })
    .await;
    let quotes = events[0].data["quotes"].as_array().unwrap();
    assert_eq!(quotes.len(), 20);
    assert!(
        quotes
            .iter()
            .all(|q| q["symbol"].is_string() && q.get("bid").is_some()),
        "{quotes:?}"
    );
}
