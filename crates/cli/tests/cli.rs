//! The `miyagi` binary as a person runs it: real process, real port, real files.

#[path = "cli/agents_crash.rs"]
mod agents_crash;
mod common;
#[path = "cli/deploy.rs"]
mod deploy;
#[path = "cli/eval.rs"]
mod eval;
#[path = "cli/markets_crash.rs"]
mod markets_crash;
#[path = "cli/openapi_agrees.rs"]
mod openapi_agrees;
#[path = "cli/openapi_fuzz.rs"]
mod openapi_fuzz;
#[path = "cli/telemetry.rs"]
mod telemetry;

use std::time::Duration;

use common::{miyagi, Miyagi};

use miyagi_platform::events::{embedded::EmbeddedLog, CloudEvent, EventBus};
use miyagi_testing::openai::{streamed, ScriptedLlm};
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

/// The profile events on the durable log in `data_dir`, oldest first (Miyagi stopped).
async fn profile_events(data_dir: &std::path::Path) -> Vec<CloudEvent> {
    let log = EmbeddedLog::open(&data_dir.join("events"), 4)
        .await
        .unwrap();
    let mut sub = log
        .subscribe("inspector", &["miyagi.user.profile"])
        .await
        .unwrap();
    let records = sub.poll(10, Duration::from_secs(1)).await.unwrap();
    records
        .iter()
        .map(|r| CloudEvent::from_bytes(&r.payload).unwrap())
        .collect()
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
    let event = &profile_events(dir.path()).await[0];
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
    let _turn = common::heavy_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let miyagi = Miyagi::up_with_models(dir.path()).await;
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

#[tokio::test]
async fn with_a_chat_endpoint_the_copilot_answers_with_the_remote_model() {
    let llm = ScriptedLlm::start(vec![streamed(&[
        "Index funds cost little: ",
        "their fees are often under a tenth of a percent a year.",
    ])])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = format!("{}/v1", llm.base);
    let miyagi = Miyagi::up(
        dir.path(),
        &[
            ("MIYAGI_MODELS__CHAT_ENDPOINT__BASE_URL", &base_url),
            ("MIYAGI_MODELS__CHAT_ENDPOINT__MODEL", "gpt-test"),
            ("MIYAGI_MODELS__CHAT_ENDPOINT__API_KEY", "sk-remote-secret"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let chat = json_of(http.post(miyagi.url("/api/v1/chats")).json(&json!({}))).await;

    let stream = http
        .post(miyagi.url(&format!(
            "/api/v1/chats/{}/messages",
            chat["id"].as_str().unwrap()
        )))
        .json(&json!({"content": "What do index funds cost?"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(
        stream.contains("Index funds cost little") && stream.contains("event: message"),
        "{stream}"
    );
    assert!(
        stream.contains(r#""writtenBy":"model""#),
        "the remote model's words are the answer: {stream}"
    );
    let requests = llm.requests();
    assert_eq!(requests.len(), 1, "one answer, no other model call");
    assert_eq!(requests[0].body["model"], "gpt-test");
    assert_eq!(
        requests[0].headers["authorization"],
        "Bearer sk-remote-secret"
    );
    assert!(
        requests[0].offered_tools().contains(&"finance-projection"),
        "a model that calls tools is offered the coach's"
    );
    assert!(
        !miyagi.log().contains("sk-remote-secret"),
        "the key is never logged"
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

#[tokio::test]
async fn a_second_miyagi_on_the_same_data_dir_refuses_to_start_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let first = Miyagi::up(dir.path(), &[]).await;

    let second = miyagi()
        .arg("up")
        .env("MIYAGI_HTTP__BIND", "127.0.0.1:0")
        .env("MIYAGI_DATA_DIR", dir.path())
        .env("MIYAGI_MODELS__LOCAL", "false")
        .env("MIYAGI_DOCUMENTS__LIBRARY", "false")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success(),
        "the second process must not run: {said}"
    );
    assert!(
        said.contains("is in use by another Miyagi process"),
        "the refusal names the cause: {said}"
    );

    // The first one is untouched and still serves.
    let ready = json_of(reqwest::Client::new().get(first.url("/readyz"))).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(first.stop());
}

#[tokio::test]
async fn events_dlq_lists_the_dead_letters_of_a_running_miyagi() {
    let dir = tempfile::tempdir().unwrap();
    let running = Miyagi::up(dir.path(), &[]).await;
    let listed = miyagi()
        .args(["events", "dlq", "list", "--url", &running.url("")])
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        "no dead letters"
    );

    let missing = miyagi()
        .args([
            "events",
            "dlq",
            "show",
            "no-such-id",
            "--url",
            &running.url(""),
        ])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("404"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    assert!(running.stop());
}

#[tokio::test]
async fn a_backup_taken_while_running_restores_the_profiles_and_their_events_into_a_new_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let running = Miyagi::up(dir.path(), &[]).await;
    let http = reqwest::Client::new();
    let created = http
        .post(running.url("/api/v1/userprofile"))
        .json(&profile())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let backup = miyagi()
        .args(["backup", "--url", &running.url("")])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&backup.stdout).to_string();
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    let path = said.trim().rsplit(" into ").next().unwrap().to_string();
    assert!(
        said.contains("users.db") && said.contains("the event log"),
        "{said}"
    );

    let too_soon = miyagi()
        .args(["restore", &path, "--replace"])
        .env("MIYAGI_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        !too_soon.status.success(),
        "a restore under a running Miyagi is refused"
    );
    assert!(
        String::from_utf8_lossy(&too_soon.stderr).contains("in use by another Miyagi process"),
        "{}",
        String::from_utf8_lossy(&too_soon.stderr)
    );
    assert!(running.stop());

    let elsewhere = tempfile::tempdir().unwrap();
    let restored = miyagi()
        .args(["restore", &path])
        .env("MIYAGI_DATA_DIR", elsewhere.path())
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let again = Miyagi::up(elsewhere.path(), &[]).await;
    let listed = json_of(http.get(again.url("/api/v1/userprofile"))).await;
    assert_eq!(listed[0]["name"], "Grace", "{listed}");
    assert!(again.stop());

    let types: Vec<String> = profile_events(elsewhere.path())
        .await
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert!(
        types.contains(&"miyagi.user.profile.created.v1".to_string()),
        "{types:?}"
    );
}
