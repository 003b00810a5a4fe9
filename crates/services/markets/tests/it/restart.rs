//! A restart rebuilds the books from the last snapshot and the journal after it, and the
//! accounts from their tables: nothing accepted is lost, nothing is done twice.

use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn on_sqlite_a_restart_rebuilds_the_books_and_accounts_as_they_were() {
    restart_rebuilds(None).await;
}

#[tokio::test]
async fn on_postgres_a_restart_rebuilds_the_books_and_accounts_as_they_were() {
    restart_rebuilds(Some(fresh_postgres().await)).await;
}

async fn restart_rebuilds(postgres: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    // A snapshot every three journal entries: the five orders below are part snapshot, part
    // journal when the service stops.
    let start = || {
        market_in(Some(dir.path()), false, |config| {
            config.markets.snapshot_every = 3;
            if let Some(url) = &postgres {
                config.database.url = miyagi_platform::config::Secret::new(url.as_str());
            }
        })
    };
    let app = start().await;
    for (i, price) in [120.0, 120.5, 121.0, 119.0, 118.0].into_iter().enumerate() {
        let (status, placed) = order(
            &app,
            if i % 2 == 0 { "alice" } else { "bob" },
            limit("AAPL", "buy", 10, price),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{placed}");
    }
    let book = get(&app, "alice", "/api/v1/markets/book/AAPL").await;
    let alice = get(&app, "alice", "/api/v1/account").await;
    let orders = get(&app, "bob", "/api/v1/orders").await;
    app.stop().await;

    let app = start().await;
    assert_eq!(get(&app, "alice", "/api/v1/markets/book/AAPL").await, book);
    assert_eq!(get(&app, "alice", "/api/v1/account").await, alice);
    assert_eq!(get(&app, "bob", "/api/v1/orders").await, orders);
    // The engine numbers on from where it stopped: a new order neither collides with an old
    // one nor trades with a ghost.
    let (status, placed) = order(&app, "bob", limit("AAPL", "buy", 1, 121.0)).await;
    assert_eq!(
        (status, placed["status"].as_str()),
        (StatusCode::CREATED, Some("open"))
    );
    let book = get(&app, "alice", "/api/v1/markets/book/AAPL").await;
    assert_eq!(
        book["bids"][0],
        json!({"price": 121.0, "qty": 11, "orders": 2})
    );
}

#[tokio::test]
async fn after_a_restart_a_persons_resting_order_keeps_its_place_among_fresh_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        market_in(Some(dir.path()), true, |config| {
            config.markets.snapshot_every = 50
        })
    };
    let app = start().await;
    let quote = two_sided(&app, "PG").await;
    let low = ((quote["bid"].as_f64().unwrap() * 0.95) * 100.0).round() / 100.0;
    let (_, placed) = order(&app, "alice", limit("PG", "buy", 7, low)).await;
    assert_eq!(placed["status"], "open", "{placed}");
    app.stop().await;

    let app = start().await;
    two_sided(&app, "PG").await;
    let path = format!("/api/v1/orders/{}", placed["id"].as_str().unwrap());
    assert_eq!(get(&app, "alice", &path).await["status"], "open");
    let book = get(&app, "alice", "/api/v1/markets/book/PG").await;
    let mine = book["bids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|level| level["price"] == json!(low));
    // The old market maker's quotes were retired; Alice's seven shares rest alone at her price.
    assert_eq!(
        mine.map(|level| (level["qty"].clone(), level["orders"].clone())),
        Some((json!(7), json!(1)))
    );
}
