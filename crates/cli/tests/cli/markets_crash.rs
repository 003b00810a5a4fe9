//! `miyagi serve markets` killed with SIGKILL again and again while people trade and the
//! simulated market runs: every order the API acknowledged is still there and ends taken by the
//! engine, no fill is applied twice, and the books hold exactly the open orders.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Notify;

use super::common::Miyagi;

const ROUNDS: usize = 6;
const ORDERS_A_ROUND: usize = 24;

async fn start(dir: &std::path::Path) -> Miyagi {
    Miyagi::start(
        &["serve", "markets"],
        dir,
        &[
            ("MIYAGI_MARKETS__TICK_MILLIS", "20"),
            // Snapshots as well as journal replay on every restart.
            ("MIYAGI_MARKETS__SNAPSHOT_EVERY", "300"),
        ],
    )
    .await
}

/// One of a few kinds of order, chosen by `n`: market buys, limit buys under the market, sells
/// of what was bought, and limit buys that will be cancelled.
fn order_for(n: usize, quotes: &BTreeMap<String, (f64, f64)>) -> Value {
    let symbols = ["AAPL", "KO", "MSFT", "JPM"];
    let symbol = symbols[n % symbols.len()];
    let (bid, _) = quotes[symbol];
    match n % 4 {
        0 | 1 => json!({"symbol": symbol, "side": "buy", "type": "market", "qty": 3}),
        2 => json!({"symbol": symbol, "side": "buy", "type": "limit", "qty": 2,
                    "price": ((bid * 0.97) * 100.0).round() / 100.0}),
        _ => json!({"symbol": symbol, "side": "sell", "type": "market", "qty": 1}),
    }
}

async fn get(http: &reqwest::Client, miyagi: &Miyagi, path: &str) -> Value {
    http.get(miyagi.url(path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn quotes(http: &reqwest::Client, miyagi: &Miyagi) -> BTreeMap<String, (f64, f64)> {
    loop {
        let quotes: Value = get(http, miyagi, "/api/v1/markets/quotes").await;
        let two_sided: BTreeMap<String, (f64, f64)> = quotes
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|q| {
                Some((
                    q["symbol"].as_str()?.to_string(),
                    (q["bid"].as_f64()?, q["ask"].as_f64()?),
                ))
            })
            .collect();
        if two_sided.len() == 20 {
            return two_sided;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn markets_killed_at_any_moment_lose_no_acknowledged_order_and_apply_no_fill_twice() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let mut acknowledged: Vec<String> = Vec::new();
    let mut refused = 0;
    for round in 0..ROUNDS {
        let miyagi = start(dir.path()).await;
        let quotes = quotes(&http, &miyagi).await;
        // Orders go out every 10 ms from their own tasks; the process is killed partway through,
        // a little later each round after the first answer, while some are in flight. Timed
        // from that answer rather than from the start, the kill lands mid-stream however busy
        // the machine is (the binary's other tests run beside this one).
        let answered = Arc::new(Notify::new());
        let sender = {
            let (http, url) = (http.clone(), miyagi.url("/api/v1/orders"));
            let answered = answered.clone();
            tokio::spawn(async move {
                let mut sent = Vec::new();
                for n in 0..ORDERS_A_ROUND {
                    let (http, url, body) =
                        (http.clone(), url.clone(), order_for(round * 7 + n, &quotes));
                    let answered = answered.clone();
                    sent.push(tokio::spawn(async move {
                        let response = http.post(url).json(&body).send().await;
                        if response
                            .as_ref()
                            .is_ok_and(|r| matches!(r.status().as_u16(), 201 | 202))
                        {
                            answered.notify_one();
                        }
                        response
                    }));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                sent
            })
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), answered.notified()).await;
        tokio::time::sleep(Duration::from_millis(10 + 20 * round as u64)).await;
        miyagi.kill();
        let sent = sender.await.unwrap();
        for answer in sent {
            // Acknowledged: the service answered, accepting (201/202) or rejecting (422) it.
            let Ok(Ok(response)) = answer.await else {
                continue;
            };
            let status = response.status().as_u16();
            let Ok(body) = response.json::<Value>().await else {
                continue;
            };
            match status {
                201 | 202 => acknowledged.push(body["id"].as_str().unwrap().to_string()),
                422 => refused += 1,
                other => panic!("an order answered {other}: {body}"),
            }
        }
    }

    let miyagi = start(dir.path()).await;
    // Whatever was journaled before a kill is taken once the engine runs again.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let orders = loop {
        let orders: Value = get(&http, &miyagi, "/api/v1/orders?limit=500").await;
        let received = orders
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["status"] == "received")
            .count();
        if received == 0 {
            break orders;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{received} orders were never taken:\n{}",
            miyagi.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let orders = orders.as_array().unwrap();
    let by_id: BTreeMap<&str, &Value> = orders
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o))
        .collect();
    // Some got through before the kills (at least the answer each kill waited for), some did
    // not: both sides of the moment are tested.
    assert!(
        acknowledged.len() >= ROUNDS && acknowledged.len() + refused < ROUNDS * ORDERS_A_ROUND,
        "{} acknowledged and {refused} refused of {} sent",
        acknowledged.len(),
        ROUNDS * ORDERS_A_ROUND
    );
    for id in &acknowledged {
        assert!(
            by_id.contains_key(id.as_str()),
            "acknowledged order {id} is lost"
        );
    }

    // The account is exactly what the orders' fills add up to: a fill applied twice to either
    // would show here.
    let (mut cash, mut fees) = (100_000.0_f64, 0.0_f64);
    let mut shares: BTreeMap<String, i64> = BTreeMap::new();
    for order in orders {
        let filled = order["filled"].as_i64().unwrap();
        assert!(
            filled <= order["qty"].as_i64().unwrap(),
            "overfilled: {order}"
        );
        if filled == 0 {
            continue;
        }
        let notional = order["averagePrice"].as_f64().unwrap() * filled as f64;
        let sign = if order["side"] == "buy" { 1 } else { -1 };
        cash -= sign as f64 * notional;
        fees += order["fees"].as_f64().unwrap();
        *shares
            .entry(order["symbol"].as_str().unwrap().to_string())
            .or_default() += sign * filled;
    }
    let account: Value = get(&http, &miyagi, "/api/v1/account").await;
    assert!(
        (account["feesPaid"].as_f64().unwrap() - fees).abs() < 0.005,
        "{account} vs fees {fees}"
    );
    assert!(
        (account["cash"].as_f64().unwrap() - (cash - fees)).abs() < 0.01,
        "{account} vs cash {}",
        cash - fees
    );
    let positions: Value = get(&http, &miyagi, "/api/v1/positions").await;
    for position in positions.as_array().unwrap() {
        let symbol = position["symbol"].as_str().unwrap();
        assert_eq!(
            position["shares"].as_i64(),
            shares.get(symbol).copied(),
            "{symbol}: {position}"
        );
    }

    // Every open order rests in its book, at its price, with what is left of it.
    for order in orders.iter().filter(|o| o["status"] == "open") {
        let symbol = order["symbol"].as_str().unwrap();
        let book: Value = get(
            &http,
            &miyagi,
            &format!("/api/v1/markets/book/{symbol}?levels=50"),
        )
        .await;
        let side = if order["side"] == "buy" {
            "bids"
        } else {
            "asks"
        };
        let open = order["qty"].as_u64().unwrap() - order["filled"].as_u64().unwrap();
        let level = book[side]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["price"] == order["price"]);
        assert!(
            level.is_some_and(|l| l["qty"].as_u64().unwrap() >= open),
            "open order {order} is not in the {symbol} book: {book}"
        );
    }
    assert!(miyagi.stop());
}
