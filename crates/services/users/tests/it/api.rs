//! The HTTP API as a client sees it: status codes, problem+json, ETags and ownership.

use miyagi_testing::{fixtures::ada, log, Reply, TestApp, TestContext};
use std::sync::Arc;

use miyagi_domain::events::types;
use miyagi_platform::events::{CloudEvent, EventBus};
use miyagi_users::{
    events::{ACCOUNT_TOPIC, TOPIC},
    UsersService,
};
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

struct Api(TestApp, Arc<dyn EventBus>);

impl Api {
    /// The users service behind API-key auth with two users, alice and bob.
    async fn new() -> Self {
        let test = TestContext::new(&["alice", "bob"], |config| {
            config.http.body_limit_bytes = 16 * 1024;
        })
        .await;
        let users = UsersService::start(&test.context).await.unwrap();
        let bus = test.context.bus.clone();
        Self(test.spawn(vec![Box::new(users)]).await, bus)
    }

    /// Every event on `topic` about `id`, once `done` holds of them.
    async fn events_once(
        &self,
        topic: &str,
        id: &str,
        done: impl Fn(&[CloudEvent]) -> bool,
    ) -> Vec<CloudEvent> {
        log::events_once(&*self.1, topic, id, done).await
    }

    async fn send(
        &self,
        user: &str,
        method: &str,
        uri: &str,
        body: Option<String>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.0.request(user, method, uri);
        if let Some(body) = body {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        for (k, v) in extra {
            request = request.header(*k, *v);
        }
        self.0.exchange(request).await
    }

    async fn create(&self, user: &str) -> Reply {
        self.send(
            user,
            "POST",
            "/api/v1/userprofile",
            Some(serde_json::to_string(&ada()).unwrap()),
            &[],
        )
        .await
    }
}

fn ada_with(field: &str, value: Value) -> String {
    let mut body = serde_json::to_value(ada()).unwrap();
    body[field] = value;
    body.to_string()
}

#[tokio::test]
async fn creating_a_profile_returns_201_with_location_and_etag() {
    let api = Api::new().await;
    let reply = api.create("alice").await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let id = reply.body["id"].as_str().unwrap();
    assert_eq!(
        reply.headers[header::LOCATION],
        format!("/api/v1/userprofile/{id}")
    );
    assert_eq!(reply.headers[header::ETAG], "\"1\"");
    assert_eq!(reply.body["owner"], "alice");
    let read = api
        .send(
            "alice",
            "GET",
            &format!("/api/v1/userprofile/{id}"),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (read.status, &read.body["name"]),
        (StatusCode::OK, &json!("Ada Lovelace"))
    );
}

#[tokio::test]
async fn bad_input_is_a_4xx_problem_naming_the_field_never_a_500() {
    let api = Api::new().await;
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            "{\"name\": \"Ada\",".into(),
            StatusCode::BAD_REQUEST,
            "",
        ),
        (
            "wrong type",
            ada_with("age", json!("thirty")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "age",
        ),
        (
            "age out of range",
            ada_with("age", json!(12)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "age",
        ),
        (
            "negative money",
            ada_with("assets", json!(-1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "assets",
        ),
        (
            "unknown enum",
            ada_with("riskTolerance", json!("YOLO")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "riskTolerance",
        ),
        (
            "unknown field",
            ada_with("favouriteBook", json!("typo")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "favouriteBook",
        ),
        (
            "empty name",
            ada_with("name", json!("")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            "NUL in name",
            ada_with("name", json!("Ada\u{0}")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            "blank goal",
            ada_with("goals", json!(["ok", " "])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "goals",
        ),
        (
            "oversize body",
            ada_with("name", json!("x".repeat(20_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "",
        ),
        (
            "not an object",
            "\"just text\"".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "(body)",
        ),
    ];
    for (case, body, status, field) in cases {
        let reply = api
            .send("alice", "POST", "/api/v1/userprofile", Some(body), &[])
            .await;
        assert_eq!(reply.status, status, "{case}: {}", reply.body);
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{case}"
        );
        if !field.is_empty() {
            let fields: Vec<&str> = reply.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap())
                .collect();
            assert!(
                fields.contains(&field),
                "{case}: expected {field} in {fields:?}"
            );
        }
    }
    let listed = api
        .send("alice", "GET", "/api/v1/userprofile", None, &[])
        .await;
    assert_eq!(
        listed.body,
        json!([]),
        "no rejected request stored anything"
    );
}

#[tokio::test]
async fn a_malformed_id_or_query_is_a_400_problem() {
    let api = Api::new().await;
    for uri in [
        "/api/v1/userprofile/not-a-uuid",
        "/api/v1/userprofile?limit=many",
    ] {
        let reply = api.send("alice", "GET", uri, None, &[]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{uri}"
        );
    }
    let reply = api
        .send("alice", "GET", "/api/v1/userprofile?limit=1000", None, &[])
        .await;
    assert_eq!(
        (reply.status, &reply.body["errors"][0]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("limit"))
    );
}

#[tokio::test]
async fn a_user_cannot_read_list_update_or_delete_another_users_profile() {
    let api = Api::new().await;
    let alices = api.create("alice").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let uri = format!("/api/v1/userprofile/{alices}");
    let body = serde_json::to_string(&ada()).unwrap();

    assert_eq!(
        api.send("bob", "GET", &uri, None, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.send("bob", "PUT", &uri, Some(body), &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.send("bob", "DELETE", &uri, None, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.send("bob", "GET", "/api/v1/userprofile", None, &[])
            .await
            .body,
        json!([])
    );

    let still = api.send("alice", "GET", &uri, None, &[]).await;
    assert_eq!(
        (still.status, &still.body["version"]),
        (StatusCode::OK, &json!(1))
    );
}

#[tokio::test]
async fn requests_without_valid_credentials_are_401() {
    let api = Api::new().await;
    let reply = api
        .send("nobody", "GET", "/api/v1/userprofile", None, &[])
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
}

#[tokio::test]
async fn an_update_with_a_stale_etag_is_412_and_changes_nothing() {
    let api = Api::new().await;
    let id = api.create("alice").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let uri = format!("/api/v1/userprofile/{id}");
    let first = api
        .send(
            "alice",
            "PUT",
            &uri,
            Some(ada_with("age", json!(40))),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(
        (first.status, &first.headers[header::ETAG]),
        (StatusCode::OK, &"\"2\"".parse().unwrap())
    );
    let stale = api
        .send(
            "alice",
            "PUT",
            &uri,
            Some(ada_with("age", json!(50))),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        api.send("alice", "GET", &uri, None, &[]).await.body["age"],
        40
    );
}

#[tokio::test]
async fn deleting_a_profile_answers_204_then_404() {
    let api = Api::new().await;
    let id = api.create("alice").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let uri = format!("/api/v1/userprofile/{id}");
    assert_eq!(
        api.send("alice", "DELETE", &uri, None, &[]).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.send("alice", "GET", &uri, None, &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn generate_creates_valid_synthetic_profiles_for_the_caller() {
    let api = Api::new().await;
    let reply = api
        .send(
            "alice",
            "POST",
            "/api/v1/userprofile/generate?count=5&seed=9",
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body.as_array().unwrap().len(), 5);
    let listed = api
        .send("alice", "GET", "/api/v1/userprofile", None, &[])
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 5);
    let too_many = api
        .send(
            "alice",
            "POST",
            "/api/v1/userprofile/generate?count=1000",
            None,
            &[],
        )
        .await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_deleted_profile_leaves_only_tombstones_of_its_data_in_the_event_log() {
    let api = Api::new().await;
    let id = api.create("alice").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let uri = format!("/api/v1/userprofile/{id}");
    let updated = api
        .send(
            "alice",
            "PUT",
            &uri,
            Some(ada_with("age", json!(40))),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    let deleted = api.send("alice", "DELETE", &uri, None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);

    let events = api
        .events_once(TOPIC, &id, |events| {
            events.len() == 3 && events.iter().filter(|e| e.erased).count() == 2
        })
        .await;
    for event in &events {
        let text = serde_json::to_string(event).unwrap();
        for personal in ["Ada Lovelace", "Buy a home", "150000", "Chess"] {
            assert!(!text.contains(personal), "{personal} left in {text}");
        }
    }
    let last = events.last().unwrap();
    assert!(
        !last.erased && last.event_type.ends_with("deleted.v1"),
        "the deletion itself stays for other services to act on: {last:?}"
    );
}

#[tokio::test]
async fn deleting_the_account_deletes_every_profile_of_the_caller_and_announces_it() {
    let api = Api::new().await;
    let id_of = |reply: Reply| reply.body["id"].as_str().unwrap().to_string();
    let mut mine = vec![
        id_of(api.create("alice").await),
        id_of(api.create("alice").await),
    ];
    let bobs = id_of(api.create("bob").await);

    let reply = api
        .send("alice", "DELETE", "/api/v1/account", None, &[])
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let mut deleted: Vec<String> =
        serde_json::from_value(reply.body["profilesDeleted"].clone()).unwrap();
    deleted.sort();
    mine.sort();
    assert_eq!(deleted, mine);
    let listed = api
        .send("alice", "GET", "/api/v1/userprofile", None, &[])
        .await;
    assert_eq!(listed.body, json!([]));
    let kept = api
        .send(
            "bob",
            "GET",
            &format!("/api/v1/userprofile/{bobs}"),
            None,
            &[],
        )
        .await;
    assert_eq!(
        kept.status,
        StatusCode::OK,
        "another user's profile is untouched"
    );

    // Announced, for the services that hold more of alice: the account's deletion, and each
    // profile's own (which the advisor already follows).
    let account = api
        .events_once(ACCOUNT_TOPIC, "alice", |events| !events.is_empty())
        .await;
    assert_eq!(account[0].event_type, types::USER_ACCOUNT_DELETED);
    assert_eq!(account[0].data, json!({ "user": "alice" }));
    for id in &mine {
        api.events_once(TOPIC, id, |events| {
            events
                .last()
                .is_some_and(|e| e.event_type == types::USER_PROFILE_DELETED)
        })
        .await;
    }
}
