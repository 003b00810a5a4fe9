//! A person's paper trading positions, as the markets service publishes them, are the stocks of
//! a request that names none.

use std::time::{Duration, Instant};

use miyagi_domain::{
    events::{topics, types},
    markets::{PositionValue, PositionsUpdated},
};
use miyagi_platform::events::{CloudEvent, Record};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{call, create_profile, personalize_body, server, BUS};

/// Publishes what `owner`'s paper account holds, as the markets service does after each change,
/// and waits until the advisor's copy (kept by its consumer in the background) shows it.
async fn paper_account_holds(owner: &str, positions: Vec<PositionValue>) {
    let count = positions.len();
    let held = PositionsUpdated {
        owner: owner.into(),
        positions,
        as_of: chrono::Utc::now(),
    };
    let event = CloudEvent::new(
        "/miyagi/markets",
        types::MARKETS_POSITIONS_UPDATED,
        owner,
        &held,
    );
    BUS.get()
        .unwrap()
        .publish(vec![Record::event(topics::MARKETS_ACCOUNT, &event)])
        .await
        .unwrap();
    let db = miyagi_platform::db::Db::sqlite(&server().data_dir().join("advisor.db"), 1)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let copy: Option<String> =
            sqlx::query_scalar("SELECT positions FROM advisor_paper_positions WHERE owner = $1")
                .bind(owner)
                .fetch_optional(db.pool())
                .await
                .unwrap();
        let copied = copy.map_or(0, |json| {
            serde_json::from_str::<Vec<Value>>(&json).unwrap().len()
        });
        if copied == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the advisor never copied {owner}'s positions"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn position(symbol: &str, shares: u64, market_value: f64) -> PositionValue {
    PositionValue {
        symbol: symbol.into(),
        shares,
        average_cost: market_value / shares as f64,
        market_value,
        closes: vec![100.0, 104.0, 99.0, 103.0, 101.0],
    }
}

#[tokio::test]
async fn a_request_naming_no_stocks_is_advised_on_the_paper_accounts_positions() {
    let user_id = create_profile("dave", 35).await;
    let mut body = personalize_body(&user_id);
    body["stocks"] = json!([]);
    paper_account_holds(
        "dave",
        vec![position("AAPL", 10, 1500.0), position("KO", 8, 500.0)],
    )
    .await;

    let (status, advice) = call("dave", Method::POST, "/api/v1/personalize", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{advice}");
    assert_eq!(advice["investments"]["stocksFrom"], "paper-account");
    let holdings = advice["engine"]["stocks"]["holdings"].as_array().unwrap();
    let weights: Vec<(&str, f64)> = holdings
        .iter()
        .map(|h| (h["symbol"].as_str().unwrap(), h["weight"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        weights,
        [("AAPL", 0.75), ("KO", 0.25)],
        "weighted by market value"
    );
    assert!(
        holdings.iter().all(|h| h["volatility"].as_f64().is_some()),
        "the account's recent closes give each stock its volatility: {holdings:?}"
    );

    // Selling everything (or closing the account) leaves the advisor no copy to advise on.
    paper_account_holds("dave", vec![]).await;
}
