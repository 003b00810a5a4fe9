//! `miyagi serve markets agents` killed with SIGKILL while a rebalancing run waits for approval,
//! and again right after the approval is accepted: the run waits again after the first restart,
//! and after the second it completes, its orders placed exactly once.

use std::time::Duration;

use serde_json::{json, Value};

use super::common::Miyagi;

async fn start(dir: &std::path::Path) -> Miyagi {
    Miyagi::start(
        &["serve", "markets", "agents"],
        dir,
        &[("MIYAGI_MARKETS__TICK_MILLIS", "20")],
    )
    .await
}

async fn send(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Waits (up to 60 s) until `check` holds of `GET path`.
async fn until(
    http: &reqwest::Client,
    miyagi: &Miyagi,
    path: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let body = send(http.get(miyagi.url(path))).await;
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

#[tokio::test]
async fn a_run_killed_while_it_waits_and_after_its_approval_places_its_orders_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let miyagi = start(dir.path()).await;
    for (symbol, qty) in [("KO", 30), ("PG", 3)] {
        until(&http, &miyagi, "/api/v1/markets/quotes", |q| {
            q.as_array()
                .unwrap()
                .iter()
                .any(|q| q["symbol"] == symbol && q["ask"].is_number())
        })
        .await;
        let order = send(
            http.post(miyagi.url("/api/v1/orders"))
                .json(&json!({"symbol": symbol, "side": "buy", "type": "market", "qty": qty})),
        )
        .await;
        assert!(order["filled"].as_u64() > Some(0), "{order}");
    }
    // The agents service hears of the fills a moment later; a run started before then has too
    // little to trade and ends.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let waiting = loop {
        let run = send(
            http.post(miyagi.url("/api/v1/runs"))
                .json(&json!({"agent": "rebalancer"})),
        )
        .await;
        let path = format!("/api/v1/runs/{}", run["id"].as_str().unwrap());
        let run = until(&http, &miyagi, &path, |r| r["state"] != "running").await;
        if run["state"] == "waiting_approval" {
            break run;
        }
        assert!(tokio::time::Instant::now() < deadline, "{run}");
    };
    let path = format!("/api/v1/runs/{}", waiting["id"].as_str().unwrap());
    miyagi.kill();

    let miyagi = start(dir.path()).await;
    let after = send(http.get(miyagi.url(&path))).await;
    assert_eq!(after["state"], "waiting_approval");
    assert_eq!(after["steps"], waiting["steps"]);
    let decided = send(
        http.post(miyagi.url(&format!("{path}/approvals")))
            .json(&json!({"step": 2, "approve": true})),
    )
    .await;
    assert_eq!(decided["state"], "running", "{decided}");
    miyagi.kill();

    let miyagi = start(dir.path()).await;
    let proposed = waiting["steps"][2]["resolved"]["orders"]
        .as_array()
        .unwrap()
        .len();
    let done = until(&http, &miyagi, &path, |r| {
        r["state"] == "completed"
            && r["steps"][2]["orders"]
                .as_array()
                .is_some_and(|o| o.len() == proposed && o.iter().all(|o| o["status"] == "filled"))
    })
    .await;
    let orders = send(http.get(miyagi.url("/api/v1/orders"))).await;
    for placed in done["steps"][2]["orders"].as_array().unwrap() {
        let copies = orders
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["id"] == placed["id"])
            .count();
        assert_eq!(
            copies, 1,
            "order {} is in the account {copies} times",
            placed["id"]
        );
    }
    assert_eq!(done["steps"][2]["decision"]["approved"], true);
}
