//! The `miyagi` binary as a person runs it: real process, real port, real files.

mod common;

use std::time::Duration;

use common::{miyagi, Miyagi};

use miyagi_platform::events::{embedded::EmbeddedLog, CloudEvent, EventBus};
use serde_json::{json, Value};

async fn status_of(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

fn profile() -> Value {
    json!({"name": "Grace", "age": 45, "annualHouseholdIncome": 210000, "assets": 350000,
           "riskTolerance": "Aggressive", "retirementAge": 62, "favoriteAdvisor": "Peter Lynch"})
}

#[tokio::test]
async fn up_serves_health_readiness_and_the_profile_api_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let miyagi = Miyagi::up(dir.path(), &[]).await;
    let http = reqwest::Client::new();

    let ready = json_of(http.get(miyagi.url("/readyz"))).await;
    assert_eq!(ready["status"], "ready", "{ready}");

    let created = http
        .post(miyagi.url("/api/v1/userprofile"))
        .json(&profile())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let read = json_of(http.get(miyagi.url(&format!(
        "/api/v1/userprofile/{}",
        created["id"].as_str().unwrap()
    ))))
    .await;
    assert_eq!(read["name"], "Grace");
    assert!(miyagi.stop(), "exit status after SIGTERM is success");

    // The profile's event is on the durable log, and the data survives a restart.
    let log = EmbeddedLog::open(&dir.path().join("events.db"), 4)
        .await
        .unwrap();
    let mut sub = log
        .subscribe("inspector", &["miyagi.user.profile"])
        .await
        .unwrap();
    let records = sub.poll(10, Duration::from_secs(1)).await.unwrap();
    let event = CloudEvent::from_bytes(&records[0].payload).unwrap();
    assert_eq!(
        (event.event_type.as_str(), &event.data["id"]),
        ("miyagi.user.profile.created.v1", &created["id"])
    );

    let again = Miyagi::up(dir.path(), &[]).await;
    let listed = json_of(http.get(again.url("/api/v1/userprofile"))).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn with_jwt_auth_one_users_token_cannot_touch_another_users_profile() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let secret = "an-end-to-end-test-secret";
    let token = |sub: &str| {
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600;
        encode(
            &Header::default(),
            &json!({"sub": sub, "exp": exp}),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let miyagi = Miyagi::up(
        dir.path(),
        &[
            ("MIYAGI_AUTH__MODE", "jwt"),
            ("MIYAGI_AUTH__JWT__HS256_SECRET", secret),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let (alice, bob) = (token("alice"), token("bob"));

    let created = json_of(
        http.post(miyagi.url("/api/v1/userprofile"))
            .bearer_auth(&alice)
            .json(&profile()),
    )
    .await;
    let uri = miyagi.url(&format!(
        "/api/v1/userprofile/{}",
        created["id"].as_str().unwrap()
    ));

    assert_eq!(status_of(http.get(&uri).bearer_auth(&bob)).await, 404);
    assert_eq!(
        status_of(http.put(&uri).bearer_auth(&bob).json(&profile())).await,
        404
    );
    assert_eq!(status_of(http.delete(&uri).bearer_auth(&bob)).await, 404);
    let bobs = json_of(
        http.get(miyagi.url("/api/v1/userprofile"))
            .bearer_auth(&bob),
    )
    .await;
    assert_eq!(bobs, json!([]));
    assert_eq!(status_of(http.get(&uri)).await, 401, "no token, no data");
    assert_eq!(status_of(http.get(&uri).bearer_auth(&alice)).await, 200);
}

/// The quick start's promise: `miyagi up` with its local models, one profile, one request, and
/// advice comes back with the engine's numbers and a narrative the local model wrote.
#[tokio::test]
async fn up_gives_personalized_advice_written_by_the_local_model() {
    let dir = tempfile::tempdir().unwrap();
    let miyagi = Miyagi::up(
        dir.path(),
        &[
            ("MIYAGI_MODELS__LOCAL", "true"),
            ("MIYAGI_DOCUMENTS__LIBRARY", "true"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let created = json_of(
        http.post(miyagi.url("/api/v1/userprofile"))
            .json(&profile()),
    )
    .await;
    let response = http
        .post(miyagi.url("/api/v1/personalize"))
        .json(&json!({
            "userInfo": {"userId": created["id"]},
            "portfolio": [{"name": "Stocks", "allocation": 60}, {"name": "Bonds", "allocation": 30},
                          {"name": "Cash", "allocation": 10}],
            "stocks": [{"symbol": "MSFT", "allocation": 100}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let advice: Value = response.json().await.unwrap();
    assert_eq!(advice["engine"]["household"]["age"], 45);
    assert_eq!(advice["assets"]["portfolio"].as_array().unwrap().len(), 4);
    assert!(!advice["narrative"].as_str().unwrap().trim().is_empty());
    assert!(
        advice["model"].as_str().unwrap().contains("smollm2"),
        "{}",
        advice["model"]
    );
    assert!(miyagi.stop());
}

#[test]
fn config_check_prints_the_effective_values_with_secrets_masked() {
    let output = miyagi()
        .args(["config", "check"])
        .env(
            "MIYAGI_DATABASE__URL",
            "postgres://miyagi:s3cr3t-pw@db.internal:5432/miyagi",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("postgres://miyagi:********@db.internal:5432/miyagi"),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cr3t-pw"));
}

#[test]
fn a_wrong_config_value_fails_at_start_naming_the_key() {
    let output = miyagi()
        .arg("up")
        .env("MIYAGI_HTTP__BODY_LIMIT_BYTES", "lots")
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("http.body_limit_bytes"), "{stderr}");
}

#[test]
fn a_missing_config_file_fails_with_the_fix() {
    let output = miyagi()
        .args(["--config", "/no/such/miyagi.toml", "up"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("does not exist"), "{stderr}");
}
