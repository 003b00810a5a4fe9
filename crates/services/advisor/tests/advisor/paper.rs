//! What other services know of a person fills in what a request leaves out: the paper trading
//! positions the markets service publishes are the stocks of a request that names none, and the
//! usual month the expenses service publishes sizes the emergency reserve and the savings.

use std::time::{Duration, Instant};

use miyagi_domain::{
    events::{topics, types},
    expenses::SpendingSummarised,
    markets::{PositionValue, PositionsUpdated},
};
use miyagi_platform::events::{CloudEvent, Record};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{call, create_profile, personalize_body, server, BUS};

/// Publishes what `owner`'s paper account holds, as the markets service does after each change,
/// and waits until the advisor's copy (kept by its consumer in the background) shows it.
async fn paper_account_holds(owner: &str, positions: Vec<PositionValue>) {
    let count = positions.len() as i64;
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
    publish_and_wait(
        Record::event(topics::MARKETS_ACCOUNT, &event),
        "SELECT positions FROM advisor_paper_positions WHERE owner = $1",
        owner,
        |copy| {
            copy.map_or(0, |json| {
                serde_json::from_str::<Vec<Value>>(&json).unwrap().len() as i64
            }) == count
        },
    )
    .await;
}

/// Publishes `owner`'s usual month, as the expenses service does after each import, and waits
/// until the advisor's copy holds it.
async fn transactions_say(owner: &str, monthly_income: f64, monthly_spending: f64) {
    let month = SpendingSummarised {
        owner: owner.into(),
        monthly_income,
        monthly_spending,
        months: 3,
        as_of: chrono::Utc::now(),
    };
    let event = CloudEvent::new(
        "/miyagi/expenses",
        types::EXPENSES_SPENDING_SUMMARISED,
        owner,
        &month,
    );
    publish_and_wait(
        Record::event(topics::EXPENSES, &event),
        "SELECT CAST(monthly_spending AS TEXT) FROM advisor_spending WHERE owner = $1",
        owner,
        |copy| copy.is_some(),
    )
    .await;
}

/// Publishes `record` and waits (up to 20 s) until `query` of the advisor's database, bound to
/// `owner`, satisfies `done`.
async fn publish_and_wait(
    record: Record,
    query: &str,
    owner: &str,
    done: impl Fn(Option<String>) -> bool,
) {
    BUS.get().unwrap().publish(vec![record]).await.unwrap();
    let db = miyagi_platform::db::Db::sqlite(&server().data_dir().join("advisor.db"), 1)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let copy: Option<String> = sqlx::query_scalar(query)
            .bind(owner)
            .fetch_optional(db.pool())
            .await
            .unwrap();
        if done(copy) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the advisor never copied what was published about {owner}"
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
async fn what_other_services_know_of_a_person_fills_in_what_the_request_leaves_out() {
    let user_id = create_profile("dave", 35).await;
    let mut body = personalize_body(&user_id);
    body["stocks"] = json!([]);
    paper_account_holds(
        "dave",
        vec![position("AAPL", 10, 1500.0), position("KO", 8, 500.0)],
    )
    .await;
    transactions_say("dave", 6000.0, 4000.0).await;

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

    let household = &advice["engine"]["household"];
    assert_eq!(household["cashFlow"]["monthlySpending"], 4000.0);
    assert_eq!(
        (
            household["cashReserve"].as_f64(),
            household["annualSavings"].as_f64()
        ),
        (Some(24_000.0), Some(24_000.0)),
        "six months of spending held as cash; income less spending saved: {household}"
    );

    // Selling everything (or closing the account) leaves the advisor no copy to advise on.
    paper_account_holds("dave", vec![]).await;
}
