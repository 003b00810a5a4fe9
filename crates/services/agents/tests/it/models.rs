//! What the local model writes and plans, read for sense.

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::*;

/// One app on the local models, with the documents service, for the model tests.
fn with_model() -> &'static TestApp {
    static APP: OnceLock<TestApp> = OnceLock::new();
    APP.get_or_init(|| TestApp::shared(app_with_documents))
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

const NOTES: &str = "# Notes on Microsoft\n\n\
Microsoft sells cloud computing through Azure, which grew faster than any other part of the business last year. \
Its Office subscriptions bring steady income from companies that rarely switch. \
The stock trades at a higher price to earnings than the market, so a slowdown in cloud growth could hurt it.\n\n\
# Groceries\n\nI spend too much at the farmers market on Saturdays.";

#[tokio::test]
async fn the_equity_analyst_writes_from_the_market_and_cites_the_persons_own_notes() {
    let app = with_model();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(NOTES.as_bytes().to_vec())
            .file_name("msft-notes.md")
            .mime_str("text/markdown")
            .unwrap(),
    );
    let (status, uploaded) = app
        .send(
            app.request("carol", Method::POST, "/api/v1/documents")
                .multipart(form),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{uploaded}");
    let document = uploaded[0]["id"].as_str().unwrap().to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while get(app, "carol", &format!("/api/v1/documents/{document}")).await["status"] == "pending" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the notes were never indexed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (status, run) = call(
        app,
        "carol",
        Method::POST,
        "/api/v1/runs",
        Some(json!({"agent": "equity-analyst", "inputs": {"symbol": "msft", "company": "Microsoft"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let done = run_until(app, "carol", run["id"].as_str().unwrap(), is_final).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    let analysis = &done["steps"][2]["output"];
    eprintln!("the analysis: {analysis:#}");
    let text = analysis["text"].as_str().unwrap();
    assert!(text.starts_with("MSFT closed at $"), "{text}");
    assert!(text.contains("From your documents: "), "{text}");
    let citations = analysis["citations"].as_array().unwrap();
    assert!(!citations.is_empty(), "{analysis}");
    for citation in citations {
        assert_eq!(citation["documentId"], json!(document));
        assert!(
            NOTES.contains(citation["snippet"].as_str().unwrap()),
            "{citation}"
        );
    }
}
