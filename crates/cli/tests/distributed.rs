//! Distributed mode as it is deployed: services in separate `miyagi serve` processes that share
//! nothing but a Kafka-protocol broker, PostgreSQL and Redis (`scripts/kafka.sh start`,
//! `TEST_KAFKA_BROKERS`, `TEST_DATABASE_URL`, `TEST_REDIS_URL`).

mod common;

use std::time::{Duration, Instant};

use common::Miyagi;
use miyagi_platform::db::testing::postgres_url;
use serde_json::{json, Value};
use sqlx::{Connection, Executor};

fn brokers() -> String {
    std::env::var("TEST_KAFKA_BROKERS").unwrap_or_else(|_| "localhost:9092".into())
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A new database on the test server, so this run's service schemas start empty.
async fn fresh_database() -> String {
    let server = postgres_url();
    let name = format!("miyagi_e2e_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&name);
    url.to_string()
}

fn profile(age: u32) -> Value {
    json!({"name": "Ada", "age": age, "annualHouseholdIncome": 150000, "assets": 200000,
           "liabilities": 20000, "riskTolerance": "Moderate", "retirementAge": 65,
           "favoriteAdvisor": "Warren Buffett"})
}

/// The advice keys Redis holds for one profile (the cache's tag set).
async fn cached_for_profile(id: &str) -> Vec<String> {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("SMEMBERS")
        .arg(format!("miyagi:t:advisor:profile:local:{id}"))
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// A person updates their profile through the users process; the advisor process, which never
/// talks to it, hears of it on Kafka and writes new advice for the new profile, citing the
/// library a third process, documents, serves it over HTTP.
#[tokio::test]
async fn a_profile_update_in_the_users_process_produces_advice_in_the_advisor_process() {
    let database = fresh_database().await;
    let prefix = format!("e2e-{}.", uuid::Uuid::new_v4().simple());
    let brokers = brokers();
    let redis = redis_url();
    let shared = [
        ("MIYAGI_DATABASE__URL", database.as_str()),
        ("MIYAGI_BUS__KIND", "kafka"),
        ("MIYAGI_BUS__KAFKA__BROKERS", brokers.as_str()),
        ("MIYAGI_BUS__KAFKA__PREFIX", prefix.as_str()),
        ("MIYAGI_CACHE__URL", redis.as_str()),
    ];
    let dirs = [(); 3].map(|_| tempfile::tempdir().unwrap());
    let users = Miyagi::start(&["serve", "users"], dirs[0].path(), &shared).await;
    let with_models: Vec<(&str, &str)> = shared
        .iter()
        .copied()
        .chain([
            ("MIYAGI_MODELS__LOCAL", "true"),
            ("MIYAGI_DOCUMENTS__LIBRARY", "true"),
        ])
        .collect();
    let documents = Miyagi::start(&["serve", "documents"], dirs[1].path(), &with_models).await;
    // The advisor reads the library the documents process ingests, over HTTP.
    let library_url = documents.url("");
    let advisor_env: Vec<(&str, &str)> = with_models
        .iter()
        .copied()
        .chain([("MIYAGI_ADVISOR__LIBRARY_URL", library_url.as_str())])
        .collect();
    let advisor = Miyagi::start(&["serve", "advisor"], dirs[2].path(), &advisor_env).await;
    let http = reqwest::Client::new();

    // Each process answers only for its own services.
    let created: Value = http
        .post(users.url("/api/v1/userprofile"))
        .json(&profile(40))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let ask = || {
        http.post(advisor.url("/api/v1/personalize")).json(&json!({
            "userInfo": {"userId": id},
            "portfolio": [{"name": "Stocks", "allocation": 70}, {"name": "Bonds", "allocation": 20},
                          {"name": "Cash", "allocation": 10}],
            "stocks": [{"symbol": "MSFT", "allocation": 100}]
        }))
    };
    // The advisor knows the profile only from its `created` event on Kafka, which reaches it
    // once its consumer group has formed: until then it cannot tell whose profile this is.
    let deadline = Instant::now() + Duration::from_secs(60);
    let first: Value = loop {
        let response = ask().send().await.unwrap();
        if response.status() == 200 {
            break response.json().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "personalize still answers {} after 60 s: {}\n{}",
            response.status(),
            response.text().await.unwrap(),
            advisor.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(first["engine"]["household"]["age"], 40);
    let cached_first = cached_for_profile(&id).await;
    assert_eq!(
        cached_first.len(),
        1,
        "the advice is cached in Redis under its profile"
    );
    let again: Value = ask().send().await.unwrap().json().await.unwrap();
    assert_eq!(again["cached"], true);

    let updated = http
        .put(users.url(&format!("/api/v1/userprofile/{id}")))
        .json(&profile(52))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);

    let deadline = Instant::now() + Duration::from_secs(180);
    let refreshed = loop {
        let history: Vec<Value> = http
            .get(advisor.url(&format!("/api/v1/advice?userId={id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(advice) = history.iter().find(|a| a["trigger"] == "profile-updated") {
            break advice.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no advice for the updated profile within 180 s:\n{}",
            advisor.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(refreshed["engine"]["household"]["age"], 52);
    assert!(!refreshed["narrative"].as_str().unwrap().trim().is_empty());
    // The update's event dropped the old profile's cached advice; only the refresh is cached
    // (it is cached a moment after it is stored).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cached_now = cached_for_profile(&id).await;
        if cached_now.len() == 1 && cached_now != cached_first {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cached for the profile: {cached_now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !advisor.log().contains("library retrieval failed"),
        "the advisor reached the library over HTTP:\n{}",
        advisor.log_tail()
    );
    assert!(users.stop(), "users stops cleanly on SIGTERM");
    assert!(documents.stop(), "documents stops cleanly on SIGTERM");
    assert!(advisor.stop(), "advisor stops cleanly on SIGTERM");
}

/// A statement file sent to an expenses process on Kafka and PostgreSQL: answered once stored,
/// then imported by the process's own consumer from the `received` event that went through the
/// broker, every row filed.
#[tokio::test]
async fn a_statement_file_is_imported_from_its_event_on_kafka() {
    let database = fresh_database().await;
    let prefix = format!("e2e-{}.", uuid::Uuid::new_v4().simple());
    let brokers = brokers();
    let dir = tempfile::tempdir().unwrap();
    let expenses = Miyagi::start(
        &["serve", "expenses"],
        dir.path(),
        &[
            ("MIYAGI_DATABASE__URL", database.as_str()),
            ("MIYAGI_BUS__KIND", "kafka"),
            ("MIYAGI_BUS__KAFKA__BROKERS", brokers.as_str()),
            ("MIYAGI_BUS__KAFKA__PREFIX", prefix.as_str()),
            ("MIYAGI_MODELS__LOCAL", "true"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let accepted = http
        .post(expenses.url("/api/v1/expenses/imports"))
        .header("content-type", "text/csv")
        .body("Date,Description,Amount\n2026-11-02,POS PURCHASE KROGER #1234,-54.21\n2026-11-03,STARBUCKS STORE 42,-4.50\n")
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let location = accepted.headers()["location"].to_str().unwrap().to_string();
    // The consumer group forms on the broker first, so the first import can take a while.
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        let job: Value = http
            .get(expenses.url(&location))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if job["status"] != "received" {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "the import is still received after 120 s:\n{}",
            expenses.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        (job["status"].as_str(), job["imported"].as_u64()),
        (Some("completed"), Some(2)),
        "{job}"
    );
    assert!(expenses.stop(), "expenses stops cleanly on SIGTERM");
}
