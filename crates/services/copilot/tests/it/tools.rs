//! The coach's tools: what it looks up for a question with the local model, which calls no
//! tools, and the tools a remote model (a scripted OpenAI-protocol endpoint) asks for itself.

use std::sync::Arc;

use miyagi_kernel::{
    connectors::openai::{OpenAiClient, OpenAiConfig},
    ChatModel, Kernel,
};
use miyagi_testing::{
    fixtures,
    openai::{streamed, streamed_tool_calls, ScriptedLlm},
    TestContext,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{ask, ask_on, call, eventually, new_chat, server, spawn_coach};

/// The tools called, by name.
fn names(calls: &Value) -> Vec<&str> {
    calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

/// Gives `user` Grace's profile at `age` and waits until the copilot's copy has it; a new chat
/// of theirs, and the profile's id.
async fn chat_with_profile(user: &str, age: u32) -> (String, String) {
    let (status, profile) = call(
        user,
        Method::POST,
        "/api/v1/userprofile",
        Some(fixtures::grace(age)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{profile}");
    let chat = new_chat(user, json!({})).await;
    eventually(30, "the profile to reach the copilot", || async {
        let view = looked_up(user, &chat, "Who am I?").await;
        view[0]["result"].as_str()?.contains("Grace").then_some(())
    })
    .await;
    (chat, profile["id"].as_str().unwrap().to_string())
}

/// What the copilot would look up for `question` in `user`'s `chat`.
async fn looked_up(user: &str, chat: &str, question: &str) -> Value {
    let request = server()
        .request(user, Method::GET, &format!("/api/v1/chats/{chat}/prompt"))
        .query(&[("question", question)]);
    let (status, view) = server().send(request).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view["lookedUp"].clone()
}

#[tokio::test]
async fn the_copilot_looks_up_what_each_question_needs_and_nothing_else() {
    let (chat, _) = chat_with_profile("erin", 45).await;

    let fees = looked_up("erin", &chat, "What do index funds cost?").await;
    assert_eq!(names(&fees), ["profile-read"], "{fees}");
    assert!(fees[0]["result"].as_str().unwrap().contains("risk score"));

    let retirement = looked_up("erin", &chat, "Am I on track to retire at 62?").await;
    assert_eq!(
        names(&retirement),
        ["profile-read", "finance-projection"],
        "{retirement}"
    );
    let projection = retirement[1]["result"].as_str().unwrap();
    assert!(
        projection.starts_with("In 17 years (at 62), the middle of"),
        "{projection}"
    );
    assert_eq!(retirement[1]["calledBy"], "copilot");

    let mix = looked_up(
        "erin",
        &chat,
        "I hold 90% stocks and 10% bonds. Should I rebalance?",
    )
    .await;
    assert_eq!(names(&mix), ["profile-read", "finance-rebalance"], "{mix}");
    let check = mix[1]["result"].as_str().unwrap();
    assert!(check.contains("Stocks 90% now"), "{check}");
}

#[tokio::test]
async fn an_answer_about_retirement_states_the_engines_projection_and_says_it_looked_it_up() {
    let (chat, _) = chat_with_profile("frank", 50).await;
    let streamed = ask("frank", &chat, "Am I on track to retire at 62?").await;
    let (event, exchange) = &streamed.last;
    assert_eq!(event, "message", "{exchange}");
    let details = &exchange["answer"]["details"];
    println!(
        "answer ({}): {}\nlooked up: {}",
        details["writtenBy"], exchange["answer"]["content"], details["toolCalls"]
    );
    assert_eq!(
        names(&details["toolCalls"]),
        ["profile-read", "finance-projection"]
    );
    let projection = details["toolCalls"][1]["result"].as_str().unwrap();
    let opening = projection.lines().next().unwrap();
    assert!(
        exchange["answer"]["content"]
            .as_str()
            .unwrap()
            .starts_with(opening),
        "the answer opens with the engine's projection"
    );
    assert!(
        streamed.deltas[0].starts_with("In 12 years (at 62)"),
        "{:?}",
        streamed.deltas
    );
}

#[tokio::test]
async fn the_advice_the_advisor_gave_is_what_the_coach_looks_up_when_asked_about_it() {
    let (chat, profile) = chat_with_profile("gina", 50).await;
    let question = "What did you advise me?";
    let before = looked_up("gina", &chat, question).await;
    assert_eq!(
        names(&before),
        ["profile-read", "advice-latest"],
        "{before}"
    );
    assert!(
        before[1]["result"]
            .as_str()
            .unwrap()
            .contains("not advised them yet"),
        "{before}"
    );

    let (status, advice) = call(
        "gina",
        Method::POST,
        "/api/v1/personalize",
        Some(json!({
            "userInfo": {"userId": profile},
            "portfolio": [{"name": "Stocks", "allocation": 80}, {"name": "Bonds", "allocation": 20}]
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{advice}");
    let read = eventually(60, "the advice to reach the copilot", || async {
        let view = looked_up("gina", &chat, question).await;
        let result = view[1]["result"].as_str()?.to_string();
        result.contains("It said").then_some(result)
    })
    .await;
    println!("the coach reads: {read}");
    assert!(read.contains("(they asked for it)"), "{read}");
    let first = &advice["assets"]["portfolio"][0];
    let line = format!(
        "- {}: {}",
        first["name"].as_str().unwrap(),
        first["gptRecommendation"].as_str().unwrap()
    );
    assert!(read.contains(&line), "{line} not in {read}");
}

#[tokio::test]
async fn a_remote_model_calls_the_rebalancing_tool_and_answers_from_its_result() {
    let llm = ScriptedLlm::start(vec![
        streamed_tool_calls(&[(
            "call-1",
            "finance-rebalance",
            r#"{"current":[{"assetClass":"Stocks","amount":90},{"assetClass":"Bonds","amount":10}]}"#,
        )]),
        streamed(&[
            "You hold 90% in stocks, well over your target, ",
            "so sell some stocks and buy bonds to rebalance.",
        ]),
    ])
    .await;
    let test = TestContext::new(&["remy"], |_| {}).await;
    let remote: Arc<dyn ChatModel> = Arc::new(
        OpenAiClient::new(OpenAiConfig::openai(
            &format!("{}/v1", llm.base),
            "gpt-test",
            Some("sk-test"),
        ))
        .unwrap(),
    );
    let (app, _) = spawn_coach(test, &Kernel::builder().chat_model(remote).build(), None).await;
    let (status, _) = app
        .call(
            "remy",
            Method::POST,
            "/api/v1/userprofile",
            Some(fixtures::grace(40)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, chat) = app
        .call("remy", Method::POST, "/api/v1/chats", Some(json!({})))
        .await;
    let chat = chat["id"].as_str().unwrap().to_string();
    eventually(30, "the profile to reach the copilot", || async {
        let (_, view) = app
            .call(
                "remy",
                Method::GET,
                &format!("/api/v1/chats/{chat}/prompt?question=hello"),
                None,
            )
            .await;
        view["lookedUp"][0]["result"]
            .as_str()?
            .contains("Grace")
            .then_some(())
    })
    .await;

    // A question alone holds nothing to remember, so no memory extraction asks the endpoint
    // for a reply meant for the answer.
    let streamed = ask_on(
        &app,
        "remy",
        &chat,
        "With 90% stocks and 10% bonds, should I rebalance?",
    )
    .await;
    let (event, exchange) = &streamed.last;
    assert_eq!(event, "message", "{exchange}");
    assert_eq!(streamed.deltas.len(), 2, "{:?}", streamed.deltas);
    let answer = &exchange["answer"];
    assert_eq!(answer["details"]["writtenBy"], "model", "{answer}");
    assert!(answer["content"]
        .as_str()
        .unwrap()
        .starts_with("You hold 90% in stocks"));
    let calls = &answer["details"]["toolCalls"];
    assert_eq!(
        names(calls),
        ["profile-read", "finance-rebalance"],
        "the copilot reads the profile, the model picks the rest: {calls}"
    );
    assert_eq!(calls[0]["calledBy"], "copilot");
    assert_eq!(calls[1]["calledBy"], "model");
    let result = calls[1]["result"].as_str().unwrap();
    assert!(
        result.contains("Stocks 90% now") && result.contains("sell"),
        "{result}"
    );

    let requests = llm.requests();
    assert_eq!(requests.len(), 2, "one round of tools, then the answer");
    let offered = requests[0].offered_tools();
    for tool in [
        "profile-read",
        "advice-latest",
        "finance-projection",
        "finance-rebalance",
        "documents-search",
    ] {
        assert!(offered.contains(&tool), "{tool} not offered: {offered:?}");
    }
    let told = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("the tool's result goes back to the model");
    assert_eq!(told["tool_call_id"], "call-1");
    assert_eq!(told["content"], result);
}
