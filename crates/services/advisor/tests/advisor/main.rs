//! The advisor as a client sees it, running for real: users, documents and advisor services in
//! one runtime over HTTP, the embedded event log carrying profile events to the advisor, the
//! bundled library ingested with MiniLM, and advice written by the local SmolLM2 model.
//!
//! One server is shared by every test (it runs on its own thread and runtime): the library is
//! ingested once and the model loaded once.

mod eval;
mod paper;

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use miyagi_advisor::AdvisorService;
use miyagi_documents::{DocumentsService, Models};
use miyagi_memory::retrieve::Retriever;
use miyagi_platform::{config::Secret, events::EventBus};
use miyagi_testing::{fixtures::grace, models, outage::Relay, TestApp, TestContext};
use miyagi_users::UsersService;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The advice cache's Redis, through a relay a test can cut.
static REDIS: OnceLock<Arc<Relay>> = OnceLock::new();
/// The services' event log, where a test publishes what another service would.
static BUS: OnceLock<Arc<dyn EventBus>> = OnceLock::new();

fn server() -> &'static TestApp {
    static SERVER: OnceLock<TestApp> = OnceLock::new();
    SERVER.get_or_init(|| {
        TestApp::shared(|| async {
            let redis =
                std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
            let redis = url::Url::parse(&redis).unwrap();
            let relay = Relay::to(&format!(
                "{}:{}",
                redis.host_str().unwrap(),
                redis.port().unwrap_or(6379)
            ))
            .await;
            let cache_url = format!("redis://{}", relay.addr());
            let _ = REDIS.set(relay);
            let test = TestContext::new(&["alice", "bob", "carol", "dave", "erin"], |config| {
                config.cache.url = Secret::new(cache_url);
                // The tests' model calls queue behind each other on one local model.
                config.http.request_timeout_secs = 900;
                config.advisor.prompts_dir =
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../prompts");
            })
            .await;
            let _ = BUS.set(test.context.bus.clone());
            let models = models::local();
            let documents = DocumentsService::start(
                &test.context,
                Models {
                    embedder: models.embedder.clone(),
                    tokens: models.tokens.clone(),
                    kernel: Some(models.kernel.clone()),
                },
            )
            .await
            .unwrap();
            let pages = documents.documents().clone();
            let library: std::sync::Arc<dyn Retriever> = pages.clone();
            let advisor =
                AdvisorService::start(&test.context, Some(models.kernel.clone()), library.clone())
                    .await
                    .unwrap();
            let users = UsersService::start(&test.context).await.unwrap();
            let app = test
                .spawn(vec![
                    Box::new(users),
                    Box::new(documents),
                    Box::new(advisor),
                ])
                .await;
            // Advice should cite the library, so wait until every page of it is searchable.
            models::library_indexed(|| async { pages.library_status().await.unwrap().pending })
                .await;
            app
        })
    })
}

async fn call(user: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    server().call(user, method, path, body).await
}

async fn create_profile(user: &str, age: u32) -> String {
    let (status, created) = call(user, Method::POST, "/api/v1/userprofile", Some(grace(age))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().unwrap().to_string()
}

fn personalize_body(user_id: &str) -> Value {
    json!({
        "userInfo": {"userId": user_id},
        "portfolio": [
            {"name": "Stocks", "allocation": 70}, {"name": "Bonds", "allocation": 5},
            {"name": "Cash", "allocation": 5}, {"name": "HomeEquity", "allocation": 20}
        ],
        "stocks": [{"symbol": "MSFT", "allocation": 60}, {"symbol": "VTI", "allocation": 40}]
    })
}

#[tokio::test]
async fn personalize_returns_engine_numbers_and_advice_written_by_the_local_model() {
    let user_id = create_profile("alice", 45).await;
    let (status, advice) = call(
        "alice",
        Method::POST,
        "/api/v1/personalize",
        Some(personalize_body(&user_id)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{advice}");

    let assets = advice["assets"]["portfolio"].as_array().unwrap();
    let names: Vec<&str> = assets.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["Stocks", "Bonds", "Cash", "HomeEquity"],
        "the caller's own names come back"
    );
    for a in assets {
        let action = a["action"].as_str().unwrap();
        assert!(
            a["gptRecommendation"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{action}:")),
            "{a}"
        );
    }
    let symbols: Vec<&str> = advice["investments"]["portfolio"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(symbols, ["MSFT", "VTI"]);

    let target = &advice["engine"]["target"];
    let total: f64 = ["stocks", "bonds", "cash", "realEstate"]
        .iter()
        .map(|k| target[k].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-9, "{target}");
    assert_eq!(
        advice["engine"]["household"]["age"], 45,
        "age came from the stored profile"
    );
    let years = advice["engine"]["projection"]["years"].as_array().unwrap();
    assert_eq!(years.len(), 62 - 45);
    assert!(years.last().unwrap()["p50"].as_f64().unwrap() > 0.0);
    // MSFT is 60% of a 70% stock sleeve: 42% of everything, a concentration the engine flags.
    assert_eq!(advice["investments"]["portfolio"][0]["action"], "Sell");

    let narrative = advice["narrative"].as_str().unwrap();
    assert!(narrative.split_whitespace().count() >= 3, "{narrative}");
    for c in advice["citations"].as_array().unwrap() {
        assert!(!c["snippet"].as_str().unwrap().is_empty());
        assert!(c["documentName"].as_str().unwrap().ends_with(".md"), "{c}");
    }
    assert_eq!(advice["cached"], false);

    let (status, again) = call(
        "alice",
        Method::POST,
        "/api/v1/personalize",
        Some(personalize_body(&user_id)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again["cached"], true,
        "an identical request is answered from stored advice"
    );
    assert_eq!(again["id"], advice["id"]);

    let (status, history) = call(
        "alice",
        Method::GET,
        &format!("/api/v1/advice?userId={user_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
}

#[tokio::test]
async fn with_the_cache_down_stored_advice_is_still_answered_at_once() {
    let user_id = create_profile("carol", 38).await;
    let ask = || {
        call(
            "carol",
            Method::POST,
            "/api/v1/personalize",
            Some(personalize_body(&user_id)),
        )
    };
    // The advisor learns of the new profile through its event; until then it says so.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (status, advice) = loop {
        let (status, body) = ask().await;
        let waiting = status == StatusCode::UNPROCESSABLE_ENTITY
            && body["detail"]
                .as_str()
                .unwrap_or("")
                .contains("no stored profile");
        if !waiting || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, StatusCode::OK, "{advice}");

    let redis = REDIS.get().expect("the server is up");
    redis.cut();
    let started = Instant::now();
    let (status, again) = ask().await;
    let took = started.elapsed();
    redis.restore();
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        again["id"], advice["id"],
        "the stored advice, not a new one"
    );
    assert_eq!(again["cached"], true);
    assert!(
        took < Duration::from_secs(3),
        "a cache outage costs speed, not minutes: took {took:?}"
    );
}

#[tokio::test]
async fn updating_a_profile_produces_new_advice_through_events_alone() {
    // The update's event follows the creation's on the profile's partition, so the advisor
    // sees them in order without the test waiting in between.
    let user_id = create_profile("alice", 38).await;
    let (status, updated) = call(
        "alice",
        Method::PUT,
        &format!("/api/v1/userprofile/{user_id}"),
        Some(grace(52)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");

    let started = Instant::now();
    let refreshed = loop {
        let (_, history) = call(
            "alice",
            Method::GET,
            &format!("/api/v1/advice?userId={user_id}"),
            None,
        )
        .await;
        if let Some(advice) = history
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["trigger"] == "profile-updated")
        {
            break advice.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no advice after the profile update"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(refreshed["engine"]["household"]["age"], 52);
    assert_eq!(refreshed["engine"]["household"]["profileVersion"], 2);
    assert!(!refreshed["narrative"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn a_malformed_request_gets_problem_json_naming_each_field() {
    let user_id = uuid::Uuid::now_v7().to_string();
    let cases = [
        (
            json!({"userInfo": {"userId": user_id, "age": 12}}),
            "userInfo.age",
        ),
        (
            json!({"userInfo": {"userId": "not-a-uuid"}}),
            "userInfo.userId",
        ),
        (
            json!({"userInfo": {"userId": user_id, "age": 40, "riskLevel": "Moderate", "annualHouseholdIncome": 1},
                "portfolio": [{"name": "Crypto", "allocation": 1}]}),
            "portfolio[0].name",
        ),
        (
            json!({"userInfo": {"userId": user_id, "age": 40, "riskLevel": "Moderate", "annualHouseholdIncome": 1},
                "stocks": [{"symbol": "DROP TABLE", "allocation": 1}]}),
            "stocks[0].symbol",
        ),
        (
            json!({"userInfo": {"userId": user_id, "riskLevel": "Moderate", "annualHouseholdIncome": 1}}),
            "userInfo.age",
        ),
    ];
    for (body, field) in cases {
        let response = server()
            .request("bob", Method::POST, "/api/v1/personalize")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        let problem: Value = response.json().await.unwrap();
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{status} {problem}"
        );
        assert_eq!(content_type, "application/problem+json");
        assert!(
            problem.to_string().contains(field),
            "{field} not named in {problem}"
        );
    }
}

#[tokio::test]
async fn one_users_advice_and_profiles_are_invisible_to_another() {
    let user_id = create_profile("alice", 45).await;
    // Alice's advice from her stored profile alone: a 422 means the profile's event has not
    // reached the advisor yet.
    let started = Instant::now();
    loop {
        let (status, advice) = call(
            "alice",
            Method::POST,
            "/api/v1/investments",
            Some(json!({"userInfo": {"userId": user_id}})),
        )
        .await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{advice}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "profile never reached the advisor"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Bob names alice's profile: the advisor does not use it for him (it asks for the fields).
    let (status, problem) = call(
        "bob",
        Method::POST,
        "/api/v1/personalize",
        Some(json!({"userInfo": {"userId": user_id}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (_, alices) = call("alice", Method::GET, "/api/v1/advice", None).await;
    for advice in alices.as_array().unwrap() {
        let id = advice["id"].as_str().unwrap();
        let (status, _) = call("bob", Method::GET, &format!("/api/v1/advice/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (_, bobs) = call(
        "bob",
        Method::GET,
        &format!("/api/v1/advice?userId={user_id}"),
        None,
    )
    .await;
    assert_eq!(bobs, json!([]));
}

/// The stream's events, in order, as (event name, data).
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|frame| {
            let mut name = None;
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = Some(n.trim().to_string());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            Some((name?, serde_json::from_str(&data).ok()?))
        })
        .collect()
}

#[tokio::test]
async fn the_stream_shows_each_stage_and_the_narrative_as_it_is_written_then_the_advice() {
    let user_id = create_profile("carol", 38).await;
    let mut body = personalize_body(&user_id);
    // A voice no other test uses, so the answer cannot come from an earlier request.
    body["userInfo"]["favoriteAdvisor"] = json!("Ray Dalio");
    let response = server()
        .request("carol", Method::POST, "/api/v1/personalize/stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse_events(&response.text().await.unwrap());

    let stages: Vec<&str> = events
        .iter()
        .filter(|(name, _)| name == "stage")
        .map(|(_, data)| data["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["engine", "library", "writing", "saving"]);
    let deltas: Vec<&str> = events
        .iter()
        .filter(|(name, _)| name == "narrative")
        .map(|(_, data)| data["delta"].as_str().unwrap())
        .collect();
    let (last, advice) = events.last().unwrap();
    assert_eq!(last, "advice");
    assert!(
        deltas.len() > 1,
        "the narrative arrives in pieces, not at once"
    );
    // The person's figures come first, before the model writes a word; the model's sentences
    // stream after them (a retried or replaced answer is in the final advice).
    let opening = deltas[0].trim();
    let target = format!(
        "{:.0}%",
        advice["engine"]["target"]["stocks"].as_f64().unwrap() * 100.0
    );
    assert!(
        opening.starts_with("Stocks are 70% of your portfolio") && opening.contains(&target),
        "{opening}"
    );
    assert!(advice["narrative"].as_str().unwrap().starts_with(opening));
    assert_eq!(advice["engine"]["household"]["age"], 38);
}
