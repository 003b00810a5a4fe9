//! What transactions add up to, how well a household's are filed, and what goes when a person
//! leaves.

use std::collections::BTreeMap;

use chrono::{Datelike, Utc};
use miyagi_domain::events::{topics, types};
use miyagi_expenses::synthetic;
use miyagi_testing::log;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{add, call, get, server, settled};

/// Imports a household for `user` and compares where each row was filed with its truth: the
/// share right, (right, of) per stage, and the rows filed wrong with their truth.
async fn filed_against_truth(
    user: &str,
    household: &[synthetic::Labelled],
) -> (
    f64,
    BTreeMap<String, (usize, usize)>,
    Vec<(String, &'static str)>,
) {
    let rows: Vec<_> = household
        .iter()
        .map(|l| serde_json::to_value(&l.transaction).unwrap())
        .collect();
    let report = add(user, json!(rows)).await;
    let filed = settled(user).await;
    let mut by_stage: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut wrong = Vec::new();
    for labelled in household {
        let t = &labelled.transaction;
        let row = filed
            .iter()
            .find(|r| {
                r["description"] == t.description
                    && r["date"] == t.date.to_string()
                    && r["amount"] == json!(t.amount)
            })
            .expect("every row stored");
        let stage = by_stage
            .entry(row["filed"]["by"].as_str().unwrap().to_string())
            .or_default();
        stage.1 += 1;
        if row["category"] == labelled.truth {
            stage.0 += 1;
        } else {
            println!(
                "  {} → {} (truth {}; {})",
                t.description, row["category"], labelled.truth, row["filed"]["because"]
            );
            wrong.push((row["id"].as_str().unwrap().to_string(), labelled.truth));
        }
    }
    let right: usize = by_stage.values().map(|s| s.0).sum();
    let accuracy = right as f64 / household.len() as f64;
    println!(
        "accuracy {accuracy:.3} over {} rows ({report}); by stage (right, of): {by_stage:?}",
        household.len()
    );
    (accuracy, by_stage, wrong)
}

#[tokio::test]
async fn a_synthetic_household_is_filed_as_its_truth_labels_say_and_better_after_ten_corrections() {
    let november = "2026-11-01".parse().unwrap();
    let (before, _, wrong) =
        filed_against_truth("ivan", &synthetic::household(11, 6, november)).await;
    // Measured 0.905 (BENCHMARKS.md): the misses are payees whose names say nothing of what they
    // sell ("LUCKY STAR"), which only the person can tell; this guards against falling back.
    assert!(before >= 0.88, "accuracy {before:.3}");
    let mut corrected = 0;
    for (id, truth) in wrong.iter().take(10) {
        let (status, _) = call(
            "ivan",
            Method::PATCH,
            &format!("/api/v1/expenses/transactions/{id}"),
            Some(json!({ "category": truth })),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        corrected += 1;
    }
    // The next half-year of the same household: the same local shops, new visits.
    let may = "2027-05-01".parse().unwrap();
    let (after, _, _) = filed_against_truth("ivan", &synthetic::household(11, 6, may)).await;
    println!("after {corrected} corrections: {before:.3} → {after:.3}");
    assert!(after >= before, "{before:.3} → {after:.3}");
}

#[tokio::test]
async fn months_add_up_and_a_subscription_is_found_recurring() {
    let today = Utc::now().date_naive();
    let rows: Vec<_> = synthetic::household(5, 4, today)
        .iter()
        .map(|l| serde_json::to_value(&l.transaction).unwrap())
        .collect();
    add("judy", json!(rows)).await;
    settled("judy").await;
    let months = get("judy", "/api/v1/expenses/summary?months=4").await;
    let months = months.as_array().unwrap();
    assert_eq!(months.len(), 4);
    for month in months {
        let by_category: f64 = month["byCategory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["spent"].as_f64().unwrap())
            .sum();
        assert!(
            (by_category - month["spending"].as_f64().unwrap()).abs() < 0.05,
            "{month}"
        );
        assert!(month["income"].as_f64().unwrap() > month["spending"].as_f64().unwrap() * 0.5);
    }
    let insights = get("judy", "/api/v1/expenses/insights").await;
    let netflix = insights["recurring"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["payee"] == "NETFLIX")
        .expect("Netflix recurs");
    assert_eq!(
        (netflix["every"].as_str(), netflix["amount"].as_f64()),
        (Some("monthly"), Some(-15.49))
    );
}

#[tokio::test]
async fn a_budget_overspent_this_month_is_announced_once() {
    let today = Utc::now().date_naive().to_string();
    add(
        "ken",
        json!([{ "date": today, "description": "OLIVE GARDEN 1234", "amount": -150.0 }]),
    )
    .await;
    let (status, budgets) = call(
        "ken",
        Method::PUT,
        "/api/v1/expenses/budgets/FOOD_AND_DRINK_RESTAURANT",
        Some(json!({ "monthlyLimit": 100.0 })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{budgets}");
    assert_eq!(
        (budgets[0]["status"].as_str(), budgets[0]["spent"].as_f64()),
        (Some("over"), Some(150.0))
    );
    add(
        "ken",
        json!([{ "date": today, "description": "OLIVE GARDEN 1234", "amount": -20.0 }]),
    )
    .await;
    let events = log::events_once(server().bus.as_ref(), topics::EXPENSES, "ken", |events| {
        events
            .iter()
            .filter(|e| e.event_type == types::EXPENSES_IMPORTED)
            .count()
            == 2
    })
    .await;
    let alerts: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == types::EXPENSES_BUDGET_AT_RISK)
        .collect();
    assert_eq!(alerts.len(), 1, "{events:?}");
    assert_eq!(alerts[0].data["limit"], 100.0);
}

#[tokio::test]
async fn a_deleted_account_leaves_no_transactions_behind() {
    add(
        "lena",
        json!([{ "date": "2026-11-02", "description": "KROGER 12", "amount": -20.0 }]),
    )
    .await;
    log::announce_account_deletion(server().bus.as_ref(), "lena").await;
    let started = std::time::Instant::now();
    while get("lena", "/api/v1/expenses/transactions").await != json!([]) {
        assert!(
            started.elapsed().as_secs() < 30,
            "lena's transactions are still there"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_question_in_plain_words_is_answered_with_the_summed_figures() {
    let this_month = Utc::now().date_naive();
    let last_month = this_month - chrono::Months::new(1);
    add(
        "nora",
        json!([
            { "date": this_month.to_string(), "description": "OLIVE GARDEN 1", "amount": -60.0 },
            { "date": this_month.to_string(), "description": "OLIVE GARDEN 2", "amount": -40.0 },
            { "date": last_month.to_string(), "description": "OLIVE GARDEN 3", "amount": -80.0 },
            { "date": this_month.to_string(), "description": "KROGER 7", "amount": -55.0 },
        ]),
    )
    .await;
    let (status, answer) = call(
        "nora",
        Method::POST,
        "/api/v1/expenses/questions",
        Some(json!({ "question": "How much did I spend on restaurants this month compared to last month?" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let sentence = answer["sentence"].as_str().unwrap();
    assert!(
        sentence.starts_with("You spent $100.00 on restaurants this month, $20.00 more than in "),
        "{sentence}"
    );
    assert!(sentence.ends_with("($80.00), up 25%."), "{sentence}");
    let (_, unknown) = call(
        "nora",
        Method::POST,
        "/api/v1/expenses/questions",
        Some(json!({ "question": "Will it rain tomorrow?" })),
    )
    .await;
    assert_eq!(unknown["query"], json!(null));
    assert!(unknown["sentence"]
        .as_str()
        .unwrap()
        .starts_with("I can answer how much you spent"));
}

#[tokio::test]
async fn the_usual_month_is_published_after_an_import_and_forgotten_with_the_account() {
    let this_month = Utc::now().date_naive().with_day(1).unwrap();
    let rows: Vec<_> = (1..=3)
        .flat_map(|back| {
            let day = (this_month - chrono::Months::new(back)).to_string();
            [
                json!({ "date": day, "description": "PAYROLL DEPOSIT ACME", "amount": 3000.0 }),
                json!({ "date": day, "description": format!("KROGER {back}"), "amount": -1000.0 - f64::from(back) }),
            ]
        })
        .collect();
    add("pia", json!(rows)).await;
    let events = log::events_once(server().bus.as_ref(), topics::EXPENSES, "pia", |events| {
        events
            .iter()
            .any(|e| e.event_type == types::EXPENSES_SPENDING_SUMMARISED)
    })
    .await;
    let month = &events
        .iter()
        .find(|e| e.event_type == types::EXPENSES_SPENDING_SUMMARISED)
        .unwrap()
        .data;
    assert_eq!(
        (
            month["monthlyIncome"].as_f64(),
            month["monthlySpending"].as_f64(),
            month["months"].as_u64()
        ),
        (Some(3000.0), Some(1002.0), Some(3))
    );
    log::announce_account_deletion(server().bus.as_ref(), "pia").await;
    log::events_once(server().bus.as_ref(), topics::EXPENSES, "pia", |events| {
        events
            .iter()
            .any(|e| e.event_type == types::EXPENSES_SPENDING_SUMMARISED && e.data["months"] == 0)
    })
    .await;
}
