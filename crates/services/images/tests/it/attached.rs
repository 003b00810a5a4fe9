//! Cards attached to answers: the coach's and the advisor's events name the cards of the figures
//! they stated, and the images service draws each one beside its answer, once, and deletes it
//! with the chat or the profile the answer belonged to.

use miyagi_domain::{
    advice::{AdviceGenerated, AdviceTrigger},
    chat::{Author, ChatChanged, ChatMessageCreated},
    events::{topics, types},
    image::{Card, ClassShare},
};
use uuid::Uuid;

use super::cards::{publish, with_profile};
use super::*;

/// The cards filed under `answer`, once `count` of them are drawn.
async fn attached(user: &str, answer: &str, count: usize) -> Vec<Value> {
    let path = format!("/api/v1/images?attachedTo={answer}");
    eventually(60, "the answer's cards to be drawn", || async {
        let (status, images) = call(user, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{images}");
        let images = images.as_array().unwrap().clone();
        (images.len() == count && images.iter().all(|i| i["status"] == "ready")).then_some(images)
    })
    .await
}

fn answer(owner: &str, cards: Vec<Card>) -> ChatMessageCreated {
    ChatMessageCreated {
        chat_id: Uuid::now_v7(),
        message_id: Uuid::now_v7(),
        owner: owner.into(),
        author: Author::Assistant,
        cards,
    }
}

#[tokio::test]
async fn a_coach_answer_that_looked_up_a_projection_gets_the_projection_card_beside_it() {
    let profile = with_profile("gwen").await;
    let said = answer(
        "gwen",
        vec![Card::Projection {
            years: Some(20),
            annual_savings: Some(12_000.0),
        }],
    );
    publish(topics::CHAT, types::CHAT_MESSAGE_CREATED, "gwen", &said).await;

    let answer = format!("chat-message:{}", said.message_id);
    let cards = attached("gwen", &answer, 1).await;
    let card = &cards[0];
    assert_eq!(card["attachedTo"], answer);
    assert_eq!(card["model"], "miyagi-cards");
    let planned = miyagi_finance::profile::project(&profile, Some(20), Some(12_000.0));
    let caption = card["revisedPrompt"].as_str().unwrap();
    assert!(caption.contains("in 20 years"), "{caption}");
    assert!(
        caption.contains(&miyagi_finance::words::money(
            planned.projection.at_retirement().p50
        )),
        "the card states the answer's median: {caption}"
    );
    let (_, bytes) = picture(server(), "gwen", card).await;
    assert_eq!(png_size(&bytes), (768, 768));
}

#[tokio::test]
async fn an_answer_delivered_twice_has_its_card_drawn_once() {
    with_profile("hana").await;
    let said = answer("hana", projection());
    publish(topics::CHAT, types::CHAT_MESSAGE_CREATED, "hana", &said).await;
    let answer = format!("chat-message:{}", said.message_id);
    let first = attached("hana", &answer, 1).await;

    publish(topics::CHAT, types::CHAT_MESSAGE_CREATED, "hana", &said).await;
    // A later answer's card, drawn after the redelivery was handled (one partition, in order).
    let later = self::answer(
        "hana",
        vec![Card::Projection {
            years: Some(5),
            annual_savings: None,
        }],
    );
    publish(topics::CHAT, types::CHAT_MESSAGE_CREATED, "hana", &later).await;
    attached("hana", &format!("chat-message:{}", later.message_id), 1).await;

    let again = attached("hana", &answer, 1).await;
    assert_eq!(again[0]["id"], first[0]["id"]);
}

#[tokio::test]
async fn advice_gets_a_card_of_its_own_target_mix() {
    let advice = target_mix_advice("hana", Uuid::now_v7());
    publish(topics::ADVICE, types::ADVICE_GENERATED, "hana", &advice).await;

    let cards = attached("hana", &format!("advice:{}", advice.advice_id), 1).await;
    let caption = cards[0]["revisedPrompt"].as_str().unwrap();
    assert!(
        caption.contains("advice from Miyagi's finance engine: Stocks 55%, Bonds 35%, Cash 10%."),
        "{caption}"
    );
}

fn projection() -> Vec<Card> {
    vec![Card::Projection {
        years: None,
        annual_savings: None,
    }]
}

fn target_mix_advice(owner: &str, profile: Uuid) -> AdviceGenerated {
    AdviceGenerated {
        advice_id: Uuid::now_v7(),
        owner: owner.into(),
        user_id: profile,
        trigger: AdviceTrigger::Request,
        created_at: chrono::Utc::now(),
        narrative: "Hold more bonds.".into(),
        recommendations: vec![],
        cards: vec![Card::TargetMix {
            shares: [("Stocks", 0.55), ("Bonds", 0.35), ("Cash", 0.10)]
                .into_iter()
                .map(|(class, share)| ClassShare {
                    class: class.into(),
                    share,
                })
                .collect(),
        }],
    }
}

async fn picture_status(user: &str, card: &Value) -> StatusCode {
    let url = card["contentUrl"].as_str().unwrap();
    server()
        .request(user, Method::GET, url)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn deleting_a_chat_deletes_the_cards_beside_its_answers_and_no_others() {
    with_profile("ivan").await;
    let in_deleted_chat = answer("ivan", projection());
    let in_other_chat = answer("ivan", projection());
    for said in [&in_deleted_chat, &in_other_chat] {
        publish(topics::CHAT, types::CHAT_MESSAGE_CREATED, "ivan", said).await;
    }
    let deleted_answer = format!("chat-message:{}", in_deleted_chat.message_id);
    let other_answer = format!("chat-message:{}", in_other_chat.message_id);
    let card = attached("ivan", &deleted_answer, 1).await.remove(0);
    attached("ivan", &other_answer, 1).await;

    let chat = ChatChanged {
        chat_id: in_deleted_chat.chat_id,
        owner: "ivan".into(),
    };
    publish(topics::CHAT, types::CHAT_DELETED, "ivan", &chat).await;

    attached("ivan", &deleted_answer, 0).await;
    assert_eq!(picture_status("ivan", &card).await, StatusCode::NOT_FOUND);
    attached("ivan", &other_answer, 1).await;
}

#[tokio::test]
async fn deleting_a_profile_deletes_the_cards_of_the_advice_written_for_it() {
    let profile = with_profile("june").await;
    let advice = target_mix_advice("june", profile.id);
    publish(topics::ADVICE, types::ADVICE_GENERATED, "june", &advice).await;
    let answer = format!("advice:{}", advice.advice_id);
    let card = attached("june", &answer, 1).await.remove(0);

    let path = format!("/api/v1/userprofile/{}", profile.id);
    let (status, body) = call("june", Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    attached("june", &answer, 0).await;
    assert_eq!(picture_status("june", &card).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cards_are_listed_by_answer_and_a_malformed_answer_is_named() {
    let (status, none) = call(
        "alice",
        Method::GET,
        &format!("/api/v1/images?attachedTo=advice:{}", Uuid::now_v7()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none, json!([]));
    let (status, problem) = call(
        "alice",
        Method::GET,
        "/api/v1/images?attachedTo=advice:7",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("attachedTo"), "{problem}");
}
