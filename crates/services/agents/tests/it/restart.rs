//! A run survives its service stopping: waiting for approval before, waiting after, and an
//! approval after the restart carries it on, placing its orders once.

use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_run_waiting_for_approval_waits_again_after_a_restart_and_an_approval_then_completes_it()
{
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(Some(dir.path()), None, |_| {}).await;
    buy(&app, "alice", &[("PEP", 40), ("WMT", 4)]).await;
    let run = rebalancer_waiting(&app, "alice").await;
    let id = run["id"].as_str().unwrap().to_string();
    app.stop().await;

    let app = app_in(Some(dir.path()), None, |_| {}).await;
    let after = get(&app, "alice", &format!("/api/v1/runs/{id}")).await;
    assert_eq!(after["state"], "waiting_approval");
    assert_eq!(after["steps"], run["steps"], "the timeline is as it was");

    let (status, _) = decide(&app, "alice", &run, json!({"step": 2, "approve": true})).await;
    assert_eq!(status, StatusCode::OK);
    let proposed = run["steps"][2]["resolved"]["orders"]
        .as_array()
        .unwrap()
        .len();
    let done = run_until(&app, "alice", &id, |r| {
        r["state"] == "completed"
            && r["steps"][2]["orders"]
                .as_array()
                .is_some_and(|o| o.iter().all(|o| o["status"] == "filled"))
    })
    .await;
    let placed: Vec<String> = done["steps"][2]["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(placed.len(), proposed);
    // Each approved order is an order in the account exactly once.
    let orders = get(&app, "alice", "/api/v1/orders").await;
    for id in &placed {
        let copies = orders
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["id"] == json!(id))
            .count();
        assert_eq!(copies, 1, "order {id}");
    }
}
