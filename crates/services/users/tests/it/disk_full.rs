//! A full disk under the embedded data dir: writes are refused with 507 while it lasts, every
//! write acknowledged before or during it is kept and its event published once space is back.

use std::{collections::HashSet, time::Duration};

use miyagi_platform::events::EventBus;
use miyagi_testing::{disk::SmallDisk, log, TestContext};
use miyagi_users::{events::TOPIC, UsersService};
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn a_full_disk_refuses_writes_with_507_and_loses_none_it_acknowledged() {
    let disk = SmallDisk::mount(24);
    let data_dir = disk.path().to_path_buf();
    let test = TestContext::new(&["alice"], |config| config.data_dir = data_dir).await;
    let bus = test.context.bus.clone();
    let users = UsersService::start(&test.context).await.unwrap();
    let app = test.spawn(vec![Box::new(users)]).await;
    let generate = |count: u32| {
        app.request(
            "alice",
            Method::POST,
            &format!("/api/v1/userprofile/generate?count={count}&seed={count}"),
        )
    };
    let mut acknowledged: HashSet<String> = HashSet::new();
    let keep = |acknowledged: &mut HashSet<String>, body: &serde_json::Value| {
        for profile in body.as_array().unwrap() {
            acknowledged.insert(profile["id"].as_str().unwrap().to_string());
        }
    };
    let (status, body) = app.send(generate(5)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    keep(&mut acknowledged, &body);

    disk.fill();
    // SQLite may still find room in pages it already holds; sooner or later a write needs more.
    let refused = loop {
        let reply = app.exchange(generate(100)).await;
        match reply.status {
            StatusCode::CREATED => keep(&mut acknowledged, &reply.body),
            StatusCode::INSUFFICIENT_STORAGE => break reply,
            other => panic!("a full disk answered {other}: {}", reply.body),
        }
        assert!(acknowledged.len() < 20_000, "the disk never filled");
    };
    assert_eq!(refused.headers["content-type"], "application/problem+json");
    assert!(refused.headers.contains_key("retry-after"));
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was saved"),
        "{}",
        refused.body
    );

    disk.free();
    let (status, body) = app.send(generate(3)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "writes go through again: {body}"
    );
    keep(&mut acknowledged, &body);
    let mut stored: HashSet<String> = HashSet::new();
    let mut offset = 0;
    loop {
        let (status, page) = app
            .send(app.request(
                "alice",
                Method::GET,
                &format!("/api/v1/userprofile?limit=200&offset={offset}"),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        offset += page.len();
        stored.extend(page.iter().map(|p| p["id"].as_str().unwrap().to_string()));
    }
    assert!(
        acknowledged.is_subset(&stored),
        "{} acknowledged profiles are gone",
        acknowledged.difference(&stored).count()
    );

    // Every acknowledged profile's event reaches the log once the relay can write there again.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let published = created_events(&*bus).await;
        if acknowledged.is_subset(&published) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} acknowledged profiles never had their event published",
            acknowledged.difference(&published).count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The subjects of every event on the profile topic.
async fn created_events(bus: &dyn EventBus) -> HashSet<String> {
    log::events_on(bus, TOPIC)
        .await
        .into_iter()
        .map(|e| e.subject)
        .collect()
}
