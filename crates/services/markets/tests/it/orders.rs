//! A person's orders: what rests, what fills, what is refused and why, and whose they are.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::*;

/// A market with simulated quotes that do not move: one market step at start, then none for a
/// minute, so a test knows the prices it trades against.
async fn frozen() -> (miyagi_testing::TestApp, Value) {
    let app = market_in(None, true, |config| config.markets.tick_millis = 60_000).await;
    let quote = two_sided(&app, "AAPL").await;
    (app, quote)
}

fn price(value: &Value) -> f64 {
    value.as_f64().expect("a price")
}

#[tokio::test]
async fn a_limit_order_rests_in_the_book_and_holds_back_its_cost() {
    let app = market(false).await;
    let (status, placed) = order(&app, "alice", limit("AAPL", "buy", 10, 120.0)).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(
        (placed["status"].as_str(), placed["filled"].as_u64()),
        (Some("open"), Some(0))
    );
    let book = get(&app, "alice", "/api/v1/markets/book/AAPL").await;
    assert_eq!(
        book["bids"],
        json!([{"price": 120.0, "qty": 10, "orders": 1}])
    );
    let account = get(&app, "alice", "/api/v1/account").await;
    assert_eq!(account["cash"], json!(100_000.0));
    // $1,200.00 for the shares and 5¢ of fees, held back until the order fills or goes.
    assert_eq!(account["buyingPower"], json!(98_799.95));
    assert_eq!(account["openOrders"], json!(1));
}

#[tokio::test]
async fn a_market_buy_fills_at_the_offer_and_the_position_shows_it() {
    let (app, quote) = frozen().await;
    let ask = price(&quote["ask"]);
    let (status, placed) = order(&app, "alice", market_order("AAPL", "buy", 10)).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(placed["status"], "filled", "{placed}");
    assert_eq!(price(&placed["averagePrice"]), ask);
    let positions = get(&app, "alice", "/api/v1/positions").await;
    assert_eq!(positions[0]["symbol"], "AAPL");
    assert_eq!(positions[0]["shares"], 10);
    let account = get(&app, "alice", "/api/v1/account").await;
    let paid = (ask * 10.0 * 100.0).round() / 100.0 + 0.05;
    assert!(
        (price(&account["cash"]) - (100_000.0 - paid)).abs() < 0.005,
        "{account}"
    );
}

#[tokio::test]
async fn two_people_trade_at_the_resting_orders_price() {
    let (app, quote) = frozen().await;
    let (bid, ask) = (price(&quote["bid"]), price(&quote["ask"]));
    order(&app, "alice", market_order("AAPL", "buy", 10)).await;
    // Alice offers inside the spread, so she is the best offer; Bob pays her price.
    let offer = ((ask - 0.01) * 100.0).round() / 100.0;
    assert!(offer > bid);
    let (_, alices) = order(&app, "alice", limit("AAPL", "sell", 10, offer)).await;
    assert_eq!(alices["status"], "open", "{alices}");
    let (status, bobs) = order(&app, "bob", limit("AAPL", "buy", 10, offer)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (bobs["status"].as_str(), price(&bobs["averagePrice"])),
        (Some("filled"), offer)
    );
    let alices = get(
        &app,
        "alice",
        &format!("/api/v1/orders/{}", alices["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(alices["status"], "filled");
    let position = &get(&app, "alice", "/api/v1/positions").await[0];
    assert_eq!(position["shares"], 0);
    // She bought at the ask and sold a cent below it: 10 cents lost, plus 10 cents of fees.
    assert!(
        (price(&position["realised"]) - (-0.20)).abs() < 0.011,
        "{position}"
    );
}

#[tokio::test]
async fn an_order_the_account_cannot_carry_is_rejected_with_the_reason() {
    let app = market(false).await;
    let cases = [
        (limit("AAPL", "buy", 1_000, 125.0), "needs"),
        (limit("AAPL", "buy", 1, 200.0), "outside the band"),
        (limit("AAPL", "sell", 1, 125.0), "held"),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": 1, "price": 125.0, "timeInForce": "fok"}),
            "could not be filled in full",
        ),
    ];
    for (body, words) in cases {
        let (status, problem) = order(&app, "alice", body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {problem}"
        );
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(words), "{body}: {detail}");
    }
    let orders = get(&app, "alice", "/api/v1/orders?status=rejected").await;
    assert_eq!(orders.as_array().unwrap().len(), 4);
    assert_eq!(
        get(&app, "alice", "/api/v1/account").await["buyingPower"],
        json!(100_000.0)
    );
}

#[tokio::test]
async fn a_malformed_order_gets_a_field_error_and_nothing_is_recorded() {
    let app = market(false).await;
    let cases = [
        (
            json!({"symbol": "NOPE", "side": "buy", "type": "limit", "qty": 1, "price": 10.0}),
            "symbol",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": 0, "price": 10.0}),
            "qty",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": 100_001, "price": 10.0}),
            "qty",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": 1, "price": 10.005}),
            "price",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": 1, "price": -1.0}),
            "price",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": 1}),
            "price",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "market", "qty": 1, "price": 10.0}),
            "price",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "type": "market", "qty": 1, "timeInForce": "gtc"}),
            "timeInForce",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = order(&app, "alice", body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {problem}"
        );
        assert_eq!(problem["errors"][0]["field"], field, "{body} → {problem}");
    }
    let (status, problem) = order(
        &app,
        "alice",
        json!({"symbol": "AAPL", "side": "up", "type": "limit", "qty": 1}),
    )
    .await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("side")),
        "{problem}"
    );
    let (status, _) = order(&app, "alice", json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": 1, "price": 1.0, "note": "x"})).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused"
    );
    assert_eq!(get(&app, "alice", "/api/v1/orders").await, json!([]));
}

#[tokio::test]
async fn a_market_order_with_nothing_to_trade_against_is_cancelled_unfilled() {
    let app = market(false).await;
    let (status, placed) = order(&app, "alice", market_order("MSFT", "buy", 10)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (placed["status"].as_str(), placed["filled"].as_u64()),
        (Some("cancelled"), Some(0))
    );
    assert!(placed["reason"]
        .as_str()
        .unwrap()
        .contains("nothing more to trade"));
    assert_eq!(
        get(&app, "alice", "/api/v1/account").await["buyingPower"],
        json!(100_000.0)
    );
}

#[tokio::test]
async fn a_cancel_takes_the_order_out_and_frees_what_it_held() {
    let app = market(false).await;
    let (_, placed) = order(&app, "alice", limit("KO", "buy", 100, 60.0)).await;
    let path = format!("/api/v1/orders/{}", placed["id"].as_str().unwrap());
    let (status, cancelled) = call(&app, "alice", Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        get(&app, "alice", "/api/v1/markets/book/KO").await["bids"],
        json!([])
    );
    assert_eq!(
        get(&app, "alice", "/api/v1/account").await["buyingPower"],
        json!(100_000.0)
    );
    let (status, problem) = call(&app, "alice", Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["detail"], "the order is already cancelled");
}

#[tokio::test]
async fn moving_a_bid_through_the_offer_fills_it() {
    let (app, quote) = frozen().await;
    let (bid, ask) = (price(&quote["bid"]), price(&quote["ask"]));
    let below = ((bid - 1.0) * 100.0).round() / 100.0;
    let (_, placed) = order(&app, "alice", limit("AAPL", "buy", 10, below)).await;
    assert_eq!(placed["status"], "open");
    let path = format!("/api/v1/orders/{}", placed["id"].as_str().unwrap());
    let (status, moved) = call(
        &app,
        "alice",
        Method::PATCH,
        &path,
        Some(json!({"price": ask, "qty": 10})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(
        (moved["status"].as_str(), price(&moved["averagePrice"])),
        (Some("filled"), ask)
    );
}

#[tokio::test]
async fn a_change_the_account_cannot_carry_is_refused_and_the_order_stays() {
    let app = market(false).await;
    let (_, placed) = order(&app, "alice", limit("AAPL", "buy", 10, 120.0)).await;
    let path = format!("/api/v1/orders/{}", placed["id"].as_str().unwrap());
    let (status, problem) = call(
        &app,
        "alice",
        Method::PATCH,
        &path,
        Some(json!({"price": 120.0, "qty": 5000})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("needs"),
        "{problem}"
    );
    let book = get(&app, "alice", "/api/v1/markets/book/AAPL").await;
    assert_eq!(
        book["bids"],
        json!([{"price": 120.0, "qty": 10, "orders": 1}])
    );
}

#[tokio::test]
async fn nobody_sees_or_touches_another_persons_orders_or_account() {
    let app = market(false).await;
    let (_, placed) = order(&app, "alice", limit("AAPL", "buy", 10, 120.0)).await;
    let path = format!("/api/v1/orders/{}", placed["id"].as_str().unwrap());
    for (method, body) in [
        (Method::GET, None),
        (Method::DELETE, None),
        (Method::PATCH, Some(json!({"price": 121.0, "qty": 10}))),
    ] {
        let (status, _) = call(&app, "bob", method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} as bob");
    }
    assert_eq!(get(&app, "bob", "/api/v1/orders").await, json!([]));
    assert_eq!(
        get(&app, "bob", "/api/v1/account").await["opened"],
        json!(false)
    );
    assert_eq!(get(&app, "alice", &path).await["status"], "open");
}
