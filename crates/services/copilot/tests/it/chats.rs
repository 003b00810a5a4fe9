//! Chats as a client sees them, without asking the model anything: their lifecycle, their
//! privacy, the limits on what is sent, the history's cursor, export and import, the persona
//! and the prompt view.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{call, eventually, new_chat};

#[tokio::test]
async fn a_chat_is_created_renamed_listed_and_deleted() {
    let id = new_chat("alice", json!({"title": "Mortgage"})).await;
    let path = format!("/api/v1/chats/{id}");
    let (status, renamed) = call(
        "alice",
        Method::PATCH,
        &path,
        Some(json!({"title": "Paying off the mortgage", "memoryBalance": 0.8})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["title"], "Paying off the mortgage");
    assert_eq!(renamed["memoryBalance"], 0.8);
    let (_, listed) = call("alice", Method::GET, "/api/v1/chats", None).await;
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == id.as_str()));

    let (status, _) = call("alice", Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call("alice", Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_users_chat_answers_404_like_a_missing_one() {
    let id = new_chat("alice", json!({})).await;
    let path = format!("/api/v1/chats/{id}");
    for (method, suffix, body) in [
        (Method::GET, "", None),
        (Method::PATCH, "", Some(json!({"title": "mine now"}))),
        (Method::GET, "/messages", None),
        (
            Method::POST,
            "/messages",
            Some(json!({"content": "What do I hold?"})),
        ),
        (Method::GET, "/prompt?question=hello", None),
        (Method::GET, "/export", None),
        (Method::DELETE, "", None),
    ] {
        let (status, problem) = call("bob", method.clone(), &format!("{path}{suffix}"), body).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{method} {suffix}: {problem}"
        );
        assert_eq!(problem["detail"], "chat not found");
    }
    let (_, bobs) = call("bob", Method::GET, "/api/v1/chats", None).await;
    assert!(!bobs
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == id.as_str()));
    let (status, _) = call("alice", Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "alice's chat is untouched");
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    let id = new_chat("alice", json!({})).await;
    let messages = format!("/api/v1/chats/{id}/messages");
    let cases: [(Method, &str, Value, &str); 7] = [
        (
            Method::POST,
            messages.as_str(),
            json!({"content": ""}),
            "content",
        ),
        (
            Method::POST,
            messages.as_str(),
            json!({"content": "   "}),
            "content",
        ),
        (
            Method::POST,
            messages.as_str(),
            json!({"content": "a".repeat(4001)}),
            "content",
        ),
        (
            Method::POST,
            "/api/v1/chats",
            json!({"persona": "p".repeat(2001)}),
            "persona",
        ),
        (
            Method::POST,
            "/api/v1/chats",
            json!({"memoryBalance": 1.5}),
            "memoryBalance",
        ),
        (
            Method::POST,
            "/api/v1/chats",
            json!({"title": "ok", "colour": "red"}),
            "colour",
        ),
        (
            Method::POST,
            "/api/v1/chats/import",
            json!({"title": "t", "persona": "p", "memoryBalance": 0.5,
            "messages": [{"author": "robot", "content": "hi", "createdAt": "2026-01-01T00:00:00Z"}]}),
            "messages[0].author",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, problem) = call("alice", method, path, Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {problem}"
        );
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.iter().any(|f| f.contains(field)),
            "{field} not named: {problem}"
        );
    }
    let unknown = "/api/v1/chats/0190a0b0-0000-7000-8000-000000000000/messages";
    let (status, _) = call(
        "alice",
        Method::POST,
        unknown,
        Some(json!({"content": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, problem) = call(
        "alice",
        Method::GET,
        &format!("/api/v1/chats/{id}/prompt?question=%20"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
}

fn exported(n: usize) -> Value {
    let messages: Vec<Value> = (1..=n)
        .map(|i| {
            json!({
                "author": if i % 2 == 1 { "user" } else { "assistant" },
                "content": format!("message number {i}"),
                "createdAt": format!("2026-11-01T10:00:{i:02}Z"),
            })
        })
        .collect();
    json!({"title": "Imported", "persona": "You are a patient coach.", "memoryBalance": 0.3, "messages": messages})
}

#[tokio::test]
async fn history_pages_back_from_the_newest_with_a_cursor() {
    let (status, chat) = call(
        "carol",
        Method::POST,
        "/api/v1/chats/import",
        Some(exported(7)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    let path = format!("/api/v1/chats/{}/messages", chat["id"].as_str().unwrap());
    let mut seen = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        let page_path = match cursor {
            Some(c) => format!("{path}?limit=3&before={c}"),
            None => format!("{path}?limit=3"),
        };
        let (status, page) = call("carol", Method::GET, &page_path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let contents: Vec<String> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_string())
            .collect();
        seen.splice(0..0, contents);
        match page["nextCursor"].as_i64() {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=7).map(|i| format!("message number {i}")).collect();
    assert_eq!(seen, expected, "every message once, in order");
}

#[tokio::test]
async fn an_exported_chat_imports_as_the_same_conversation() {
    let (_, chat) = call(
        "carol",
        Method::POST,
        "/api/v1/chats/import",
        Some(exported(4)),
    )
    .await;
    let id = chat["id"].as_str().unwrap();
    let (status, export) = call(
        "carol",
        Method::GET,
        &format!("/api/v1/chats/{id}/export"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    let (status, again) = call(
        "carol",
        Method::POST,
        "/api/v1/chats/import",
        Some(export.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_ne!(again["id"], chat["id"], "an import is a new chat");
    let (_, second) = call(
        "carol",
        Method::GET,
        &format!("/api/v1/chats/{}/export", again["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(second, export);
    assert_eq!(export["messages"][3]["content"], "message number 4");
    assert_eq!(export["persona"], "You are a patient coach.");
}

#[tokio::test]
async fn a_new_chat_speaks_in_the_voice_of_the_favourite_advisor_on_the_profile() {
    let (status, _) = call(
        "dave",
        Method::POST,
        "/api/v1/userprofile",
        Some(
            json!({"name": "Dave", "age": 52, "annualHouseholdIncome": 150000, "assets": 800000,
            "liabilities": 100000, "riskTolerance": "Conservative", "retirementAge": 62,
            "favoriteAdvisor": "Jack Bogle"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // The copilot's copy of the profile arrives through the event log.
    let persona = eventually(30, "the profile to reach the copilot", || async {
        let (_, chat) = call("dave", Method::POST, "/api/v1/chats", Some(json!({}))).await;
        let persona = chat["persona"].as_str().unwrap().to_string();
        persona.contains("Jack Bogle").then_some(persona)
    })
    .await;
    assert!(persona.contains("voice of Jack Bogle"), "{persona}");
}

#[tokio::test]
async fn the_prompt_view_shows_each_part_within_the_budget() {
    let (_, chat) = call(
        "carol",
        Method::POST,
        "/api/v1/chats/import",
        Some(exported(6)),
    )
    .await;
    let id = chat["id"].as_str().unwrap();
    let (status, view) = call(
        "carol",
        Method::GET,
        &format!("/api/v1/chats/{id}/prompt?question=What%20are%20index%20fund%20fees%3F"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let parts: Vec<&str> = view["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        parts,
        [
            "instructions",
            "persona",
            "figures",
            "memories",
            "passages",
            "history",
            "question"
        ]
    );
    assert!(view["totalTokens"].as_u64().unwrap() <= view["limitTokens"].as_u64().unwrap());
    let messages = view["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"]
        .as_str()
        .unwrap()
        .starts_with("You are a patient coach."));
    assert!(
        messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("Sources:"),
        "the library is searched"
    );
    assert_eq!(
        messages.last().unwrap()["content"],
        "What are index fund fees?"
    );
    let history = view["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "history")
        .unwrap();
    assert_eq!(history["kept"], 6, "a short chat is kept whole: {history}");
}

#[tokio::test]
async fn deleting_the_account_deletes_every_chat() {
    new_chat("erin", json!({"title": "one"})).await;
    new_chat("erin", json!({"title": "two"})).await;
    let (status, _) = call("erin", Method::DELETE, "/api/v1/account", None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    eventually(30, "erin's chats to be deleted", || async {
        let (_, chats) = call("erin", Method::GET, "/api/v1/chats", None).await;
        chats.as_array().unwrap().is_empty().then_some(())
    })
    .await;
}
