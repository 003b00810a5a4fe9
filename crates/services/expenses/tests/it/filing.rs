//! Filing beyond the dictionary: corrections that teach, payees filed by meaning, and the model
//! choosing for what nothing else recognised.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{add, call, find, settled};

#[tokio::test]
async fn the_third_correction_of_a_payee_becomes_a_rule_that_refiles_the_rest() {
    let rows: Vec<_> = (1..=5)
        .map(|d| json!({ "date": format!("2026-10-{:02}", d * 3), "description": "JOES PLACE 0042", "amount": -12.5 - d as f64 }))
        .collect();
    add("gina", json!(rows)).await;
    let listed = settled("gina").await;
    let mut learned = json!(null);
    for row in listed.iter().take(3) {
        let (status, answer) = call(
            "gina",
            Method::PATCH,
            &format!(
                "/api/v1/expenses/transactions/{}",
                row["id"].as_str().unwrap()
            ),
            Some(json!({ "category": "GOVERNMENT_AND_NON_PROFIT_DONATIONS" })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["transaction"]["filed"]["by"], "person");
        learned = answer;
    }
    assert_eq!(learned["learnedRule"]["pattern"], "JOES PLACE");
    assert_eq!(
        learned["refiled"], 2,
        "the two not corrected are re-filed: {learned}"
    );
    let after = settled("gina").await;
    assert!(
        after
            .iter()
            .all(|t| t["category"] == "GOVERNMENT_AND_NON_PROFIT_DONATIONS"),
        "{after:?}"
    );
    add(
        "gina",
        json!([{ "date": "2026-11-20", "description": "JOES PLACE 0077", "amount": -9.0 }]),
    )
    .await;
    let next = settled("gina").await;
    let newest = find(&next, "JOES PLACE 0077");
    assert_eq!(
        (newest["category"].as_str(), newest["filed"]["by"].as_str()),
        (Some("GOVERNMENT_AND_NON_PROFIT_DONATIONS"), Some("learned"))
    );
}

#[tokio::test]
async fn a_payee_the_person_filed_once_files_its_next_visit_by_similarity() {
    add(
        "hal",
        json!([{ "date": "2026-10-01", "description": "TST* HARBOR LIGHTS 11", "amount": -60.0 }]),
    )
    .await;
    let first = settled("hal").await;
    let (status, _) = call(
        "hal",
        Method::PATCH,
        &format!(
            "/api/v1/expenses/transactions/{}",
            find(&first, "TST* HARBOR LIGHTS 11")["id"]
                .as_str()
                .unwrap()
        ),
        Some(json!({ "category": "ENTERTAINMENT_MUSIC_AND_AUDIO" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    add(
        "hal",
        json!([{ "date": "2026-11-01", "description": "TST* HARBOR LIGHTS 12", "amount": -55.0 }]),
    )
    .await;
    let rows = settled("hal").await;
    let next = find(&rows, "TST* HARBOR LIGHTS 12");
    assert_eq!(next["category"], "ENTERTAINMENT_MUSIC_AND_AUDIO", "{next}");
    assert_eq!(next["filed"]["by"], "similar");
    assert_eq!(
        next["filed"]["because"],
        "like HARBOR LIGHTS, which you filed under Music and audio"
    );
}

#[tokio::test]
async fn a_correction_to_a_category_that_does_not_exist_names_the_field() {
    add(
        "mia",
        json!([{ "date": "2026-10-05", "description": "SHELL OIL 5", "amount": -30.0 }]),
    )
    .await;
    let rows = settled("mia").await;
    let shell = find(&rows, "SHELL OIL 5");
    let (status, problem) = call(
        "mia",
        Method::PATCH,
        &format!(
            "/api/v1/expenses/transactions/{}",
            shell["id"].as_str().unwrap()
        ),
        Some(json!({ "category": "SNACKS" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "category");
}

#[tokio::test]
async fn a_payee_like_nothing_known_is_filed_by_the_model_after_the_import_answers() {
    let report = add(
        "mia",
        json!([{ "date": "2026-10-09", "description": "ZQXV KRLM 0091", "amount": -31.0 }]),
    )
    .await;
    assert_eq!(report["filedBy"]["pending"], 1, "{report}");
    let rows = settled("mia").await;
    let filed = find(&rows, "ZQXV KRLM 0091");
    assert_eq!(filed["filed"]["by"], "model", "{filed}");
    assert!(
        filed["filed"]["because"]
            .as_str()
            .unwrap()
            .starts_with("the model chose "),
        "{filed}"
    );
}
