//! Cards of a person's own figures: drawn from the copies the service keeps of their events, the
//! numbers the finance engine's, the picture a PNG of the size asked for.

use chrono::Utc;
use miyagi_domain::{
    events::{topics, types},
    expenses::SpendingSummarised,
    markets::{PositionValue, PositionsUpdated},
    user::UserProfile,
};
use miyagi_finance::words::{money, percent};
use miyagi_platform::events::{CloudEvent, Record};
use miyagi_testing::fixtures;

use super::*;

/// Gives `user` Grace's profile and waits until a card can be drawn from it; the profile.
pub(super) async fn with_profile(user: &str) -> UserProfile {
    let (status, profile) = call(
        user,
        Method::POST,
        "/api/v1/userprofile",
        Some(fixtures::grace(40)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{profile}");
    serde_json::from_value(profile).unwrap()
}

/// Draws `prompt` for `user`, asking again while the profile's event is still on its way.
async fn draw_when_copied(user: &str, prompt: &str) -> Value {
    eventually(30, "the profile to reach the images service", || async {
        let image = draw(user, prompt).await;
        let waiting = image["failure"]
            .as_str()
            .is_some_and(|f| f.contains("you have none yet"));
        (!waiting).then_some(image)
    })
    .await
}

pub(super) async fn publish(
    topic: &str,
    event_type: &str,
    owner: &str,
    payload: &impl serde::Serialize,
) {
    let event = CloudEvent::new("/test", event_type, owner, payload);
    shared()
        .bus
        .publish(vec![Record::event(topic, &event)])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_card_of_my_target_mix_shows_the_finance_engines_mix_for_my_profile() {
    let profile = with_profile("alice").await;
    let image = draw_when_copied("alice", "A card of my target mix").await;

    assert_eq!(image["status"], "ready", "{image}");
    assert_eq!(image["model"], "miyagi-cards");
    let target = miyagi_finance::profile::read(&profile).target;
    let caption = image["revisedPrompt"].as_str().unwrap();
    assert!(
        caption.starts_with("A card of Grace's target mix from Miyagi's finance engine"),
        "{caption}"
    );
    assert!(
        caption.contains(&format!("Stocks {}", percent(target.stocks))),
        "{caption}"
    );
    let (media, bytes) = picture(server(), "alice", &image).await;
    assert_eq!(media, "image/png");
    assert_eq!(png_size(&bytes), (1024, 1024));
}

#[tokio::test]
async fn a_projection_card_runs_over_the_years_asked_at_the_size_asked() {
    let profile = with_profile("bob").await;
    eventually(30, "the profile to reach the images service", || async {
        let image = draw_on(
            server(),
            "bob",
            "Project my wealth over the next 10 years",
            Some("1792x1024"),
        )
        .await;
        (image["status"] == "ready").then_some(())
    })
    .await;
    let (_, images) = call("bob", Method::GET, "/api/v1/images", None).await;
    let image = &images[0];
    let planned = miyagi_finance::profile::project(&profile, Some(10), None);
    let end = planned.projection.at_retirement();
    let caption = image["revisedPrompt"].as_str().unwrap();
    assert!(
        caption.contains("wealth projected in 10 years"),
        "{caption}"
    );
    assert!(
        caption.contains(&format!("the middle ends at {}", money(end.p50))),
        "{caption}"
    );
    assert_eq!(image["size"], "1792x1024");
    let (_, bytes) = picture(server(), "bob", image).await;
    assert_eq!(png_size(&bytes), (1792, 1024));
}

#[tokio::test]
async fn positions_and_usual_month_cards_are_drawn_from_their_events() {
    publish(
        topics::MARKETS_ACCOUNT,
        types::MARKETS_POSITIONS_UPDATED,
        "carol",
        &PositionsUpdated {
            owner: "carol".into(),
            positions: vec![
                PositionValue {
                    symbol: "AAPL".into(),
                    shares: 10,
                    average_cost: 150.0,
                    market_value: 1_800.0,
                    closes: vec![],
                },
                PositionValue {
                    symbol: "MSFT".into(),
                    shares: 4,
                    average_cost: 300.0,
                    market_value: 1_100.0,
                    closes: vec![],
                },
            ],
            as_of: Utc::now(),
        },
    )
    .await;
    publish(
        topics::EXPENSES,
        types::EXPENSES_SPENDING_SUMMARISED,
        "carol",
        &SpendingSummarised {
            owner: "carol".into(),
            monthly_income: 6_000.0,
            monthly_spending: 4_500.0,
            months: 3,
            as_of: Utc::now(),
        },
    )
    .await;

    let positions = eventually(30, "the positions to be copied", || async {
        let image = draw("carol", "my paper positions").await;
        (image["status"] == "ready").then_some(image)
    })
    .await;
    assert_eq!(
        positions["revisedPrompt"],
        "A card of the paper account's 2 holdings worth $3k in all: AAPL $2k, MSFT $1k."
    );
    let month = eventually(30, "the usual month to be copied", || async {
        let image = draw("carol", "What do I spend each month?").await;
        (image["status"] == "ready").then_some(image)
    })
    .await;
    assert!(
        month["revisedPrompt"]
            .as_str()
            .unwrap()
            .contains("You keep $2k a month, 25% of income"),
        "{month}"
    );
}

#[tokio::test]
async fn a_card_without_the_figures_it_needs_fails_saying_where_to_get_them() {
    let image = draw("dave", "my paper positions").await;
    assert_eq!(image["status"], "failed");
    assert!(image.get("contentUrl").is_none());
    assert!(
        image["failure"]
            .as_str()
            .unwrap()
            .contains("buy some on the Trade page"),
        "{image}"
    );
    let url = format!("/api/v1/images/{}/content", image["id"].as_str().unwrap());
    let (status, problem) = call("dave", Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
}

#[tokio::test]
async fn a_prompt_in_other_words_is_read_by_its_meaning() {
    with_profile("erin").await;
    for (prompt, shows) in [
        (
            "how much could I have when I stop working?",
            "wealth projected at 62",
        ),
        ("show me how my money is divided up", "target mix"),
    ] {
        let image = draw_when_copied("erin", prompt).await;
        assert_eq!(image["status"], "ready", "{image}");
        let caption = image["revisedPrompt"].as_str().unwrap();
        assert!(caption.contains(shows), "{prompt}: {caption}");
    }
    let image = draw("erin", "a watercolour of a cat asleep on a windowsill").await;
    assert_eq!(image["status"], "failed");
    assert!(
        image["failure"]
            .as_str()
            .unwrap()
            .contains("does not ask for one of them"),
        "{image}"
    );
}

#[tokio::test]
async fn another_persons_image_is_not_found() {
    let image = draw("alice", "my paper positions").await;
    let id = image["id"].as_str().unwrap();
    for path in [
        format!("/api/v1/images/{id}"),
        format!("/api/v1/images/{id}/content"),
    ] {
        let (status, _) = call("bob", Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = call("bob", Method::DELETE, &format!("/api/v1/images/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = call("bob", Method::GET, "/api/v1/images", None).await;
    assert!(listed.as_array().unwrap().iter().all(|i| i["id"] != id));
}

#[tokio::test]
async fn a_bad_request_names_the_field_at_fault() {
    for (body, field) in [
        (json!({"prompt": ""}), "prompt"),
        (json!({"prompt": "my mix", "size": "1000x1000"}), "size"),
        (json!({"prompt": "my mix", "colour": "red"}), "colour"),
    ] {
        let (status, problem) = call("alice", Method::POST, "/api/v1/images", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(problem.to_string().contains(field), "{problem}");
    }
}

#[tokio::test]
async fn an_openai_client_gets_the_picture_in_the_answer() {
    with_profile("dave").await;
    let body = eventually(30, "the profile to reach the images service", || async {
        let (status, body) = call(
            "dave",
            Method::POST,
            "/v1/images/generations",
            Some(json!({"prompt": "a card of my target mix", "response_format": "b64_json", "size": "512x512"})),
        )
        .await;
        (status == StatusCode::OK).then_some(body)
    })
    .await;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    assert_eq!(png_size(&bytes), (512, 512));
    assert!(
        body["data"][0]["revisedPrompt"].is_null()
            && body["data"][0]["revised_prompt"]
                .as_str()
                .unwrap()
                .contains("target mix")
    );

    let (status, body) = call(
        "dave",
        Method::POST,
        "/v1/images/generations",
        Some(json!({"prompt": "a card of my target mix"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["data"][0]["url"].as_str().unwrap();
    assert!(url.starts_with(&server().base), "{url}");
    let response = server()
        .request("dave", Method::GET, &url[server().base.len()..])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/png");

    for (body, field) in [
        (json!({"prompt": "my mix", "n": 2}), "n"),
        (json!({"prompt": "my mix", "model": "dall-e-3"}), "model"),
        (
            json!({"prompt": "my mix", "response_format": "gif"}),
            "response_format",
        ),
    ] {
        let (status, problem) =
            call("dave", Method::POST, "/v1/images/generations", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(problem.to_string().contains(field), "{problem}");
    }
}

#[tokio::test]
async fn deleting_an_image_deletes_its_picture_and_my_account_deletes_them_all() {
    with_profile("frank").await;
    let kept = draw_when_copied("frank", "A card of my target mix").await;
    let deleted = draw("frank", "A card of my target mix").await;
    let id = deleted["id"].as_str().unwrap();
    let (status, _) = call(
        "frank",
        Method::DELETE,
        &format!("/api/v1/images/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        "frank",
        Method::GET,
        &format!("/api/v1/images/{id}/content"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let kept = kept["id"].as_str().unwrap().to_string();
    let picture = server().data_dir().join("blobs/images").join(&kept);
    assert!(
        picture.exists(),
        "a drawn image's picture is in blob storage"
    );
    let (status, _) = call("frank", Method::DELETE, "/api/v1/account", None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    eventually(30, "the account's images to be deleted", || async {
        let (status, _) = call(
            "frank",
            Method::GET,
            &format!("/api/v1/images/{kept}"),
            None,
        )
        .await;
        (status == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert!(!picture.exists(), "the deleted account's picture is gone");
}
