//! The same service on PostgreSQL: every query the API makes (imports with their duplicates, a
//! file's import and its job, corrections that learn, budgets, summaries, questions, erasure) runs there as it does on
//! SQLite.

use miyagi_expenses::{ExpensesService, Models};
use miyagi_testing::{models, TestContext};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn every_query_of_the_api_runs_on_postgresql() {
    let url = miyagi_testing::postgres::fresh_database("expenses").await;
    let test = TestContext::new(&["quinn"], |config| {
        config.database.url = miyagi_platform::config::Secret::new(url.as_str());
    })
    .await;
    let local = models::local();
    // No model: what nothing else recognises stays uncategorised, and nothing waits for it.
    let service = ExpensesService::start(
        &test.context,
        Models {
            embedder: local.embedder.clone(),
            kernel: None,
        },
    )
    .await
    .expect("the expenses service starts on PostgreSQL");
    let app = test.spawn(vec![Box::new(service)]).await;

    let statement = json!({ "transactions": [
        { "date": "2026-10-03", "description": "JOES PLACE 1", "amount": -12.0 },
        { "date": "2026-10-10", "description": "JOES PLACE 2", "amount": -13.0 },
        { "date": "2026-10-17", "description": "JOES PLACE 3", "amount": -14.0 },
        { "date": "2026-10-24", "description": "JOES PLACE 4", "amount": -15.0 },
        { "date": "2026-10-25", "description": "KROGER 9", "amount": -80.0, "mcc": 5411 },
        { "date": "2026-10-01", "description": "PAYROLL DEPOSIT ACME", "amount": 3000.0 },
    ]});
    let (status, first) = app
        .call(
            "quinn",
            Method::POST,
            "/api/v1/expenses/transactions",
            Some(statement.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (_, again) = app
        .call(
            "quinn",
            Method::POST,
            "/api/v1/expenses/transactions",
            Some(statement),
        )
        .await;
    assert_eq!(
        (first["imported"].as_u64(), again["duplicates"].as_u64()),
        (Some(6), Some(6))
    );
    // A statement file: stored, then imported from its event.
    let (_, job) = crate::import_file(
        &app,
        "quinn",
        "?account=card",
        "text/csv",
        "Date,Description,Amount\n2026-09-26,KROGER 9,-80.00\n2026-09-27,SHELL OIL 5,-40.00\n",
    )
    .await;
    assert_eq!(
        (job["status"].as_str(), job["imported"].as_u64()),
        (Some("completed"), Some(2)),
        "{job}"
    );

    let (_, rows) = app
        .call(
            "quinn",
            Method::GET,
            "/api/v1/expenses/transactions?month=2026-10&limit=50",
            None,
        )
        .await;
    let joes: Vec<&Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["payee"] == "JOES PLACE")
        .collect();
    let mut last = Value::Null;
    for t in joes.iter().take(3) {
        let path = format!(
            "/api/v1/expenses/transactions/{}",
            t["id"].as_str().unwrap()
        );
        let (status, answer) = app
            .call(
                "quinn",
                Method::PATCH,
                &path,
                Some(json!({ "category": "FOOD_AND_DRINK_COFFEE" })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        last = answer;
    }
    assert_eq!(last["learnedRule"]["pattern"], "JOES PLACE");
    let (_, coffee) = app
        .call(
            "quinn",
            Method::GET,
            "/api/v1/expenses/transactions?category=FOOD_AND_DRINK_COFFEE",
            None,
        )
        .await;
    assert_eq!(
        coffee.as_array().unwrap().len(),
        4,
        "the fourth is re-filed by the learned rule"
    );

    let (status, budgets) = app
        .call(
            "quinn",
            Method::PUT,
            "/api/v1/expenses/budgets/FOOD_AND_DRINK_GROCERIES",
            Some(json!({ "monthlyLimit": 50.0 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{budgets}");
    let (_, months) = app
        .call(
            "quinn",
            Method::GET,
            "/api/v1/expenses/summary?months=36",
            None,
        )
        .await;
    assert!(
        months
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["month"] == "2026-10" && m["spending"] == 134.0),
        "{months}"
    );
    let (_, answer) = app
        .call(
            "quinn",
            Method::POST,
            "/api/v1/expenses/questions",
            Some(json!({ "question": "How much did I spend on coffee in October 2026?" })),
        )
        .await;
    assert_eq!(
        answer["sentence"],
        "You spent $54.00 on coffee in October 2026."
    );
    let (status, rules) = app
        .call("quinn", Method::GET, "/api/v1/expenses/rules", None)
        .await;
    assert_eq!(
        (status, rules.as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
}
