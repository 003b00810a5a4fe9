//! What the local model writes and plans, read for sense.

use std::sync::OnceLock;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::*;

/// One app on the local SmolLM2 for the model tests.
fn with_model() -> &'static TestApp {
    static APP: OnceLock<TestApp> = OnceLock::new();
    APP.get_or_init(|| {
        TestApp::shared(|| async {
            let kernel = miyagi_testing::models::local().kernel.clone();
            app_in(None, Some(kernel), |_| {}).await
        })
    })
}

#[tokio::test]
async fn the_retirement_planner_reports_what_saving_more_and_retiring_later_would_change() {
    let app = with_model();
    let (status, run) = call(
        app,
        "alice",
        Method::POST,
        "/api/v1/runs",
        Some(json!({"agent": "retirement-planner",
                    "inputs": {"age": 45, "retirementAge": 65, "savings": 80000, "annualSavings": 9000}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let done = run_until(app, "alice", run["id"].as_str().unwrap(), is_final).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    let scenarios = done["steps"][0]["output"]["scenarios"].as_array().unwrap();
    let median = |i: usize| scenarios[i]["p50"].as_f64().unwrap();
    assert!(
        median(1) > median(0) && median(2) > median(0),
        "{scenarios:?}"
    );
    let report = &done["steps"][1]["output"];
    let text = report["text"].as_str().unwrap();
    eprintln!(
        "the report ({}, {}): {text}",
        report["author"], report["dropped"]
    );
    assert!(
        text.contains("Retiring at 65 after saving $9,000 a year"),
        "{text}"
    );
    assert!(
        text.contains("Saving a fifth more ($10,800 a year)"),
        "{text}"
    );
    if report["author"] == "model" {
        assert!(
            text.len()
                > done["steps"][0]["output"]["summary"]
                    .as_str()
                    .unwrap()
                    .len()
                    + 40
        );
    } else {
        assert!(
            report["dropped"].is_string(),
            "a template report says why: {report}"
        );
    }
}

/// SmolLM2 (360M) plans this goal wrongly (it proposes the retirement report, measured): what
/// must hold with any model is that its plan is checked, and what is wrong is named, before
/// anything runs.
#[tokio::test]
async fn a_plan_from_the_local_model_is_checked_and_runs_only_as_the_check_allows() {
    let app = with_model();
    let (status, proposal) = call(
        app,
        "bob",
        Method::POST,
        "/api/v1/agents/plans",
        Some(json!({"goal": "Rebalance my paper portfolio back to equal weights"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{proposal}");
    eprintln!("the local model's plan: {proposal:#}");
    let tools: Vec<Value> = get(app, "bob", "/api/v1/agents/tools")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    let steps = proposal["steps"].as_array().unwrap();
    assert!(
        !steps.is_empty() && steps.iter().all(|s| tools.contains(&s["tool"])),
        "{proposal:#}"
    );

    let (status, answer) = call(
        app,
        "bob",
        Method::POST,
        "/api/v1/runs",
        Some(json!({"agent": "custom", "goal": proposal["goal"], "plan": steps, "start": false})),
    )
    .await;
    let problems: Vec<&str> = proposal["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    if problems.is_empty() {
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    } else {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        let refused: Vec<String> = answer["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e["field"].as_str().unwrap(),
                    e["message"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            refused, problems,
            "the run is refused for what the proposal named"
        );
        assert_eq!(get(app, "bob", "/api/v1/runs").await, json!([]));
    }
}
