//! The service meeting its database going away: PostgreSQL unreachable for 30 seconds while
//! uploads are being ingested. Nothing accepted is lost: every document ends `indexed`.

use std::time::Duration;

use miyagi_platform::{config::Secret, db::testing::postgres_url};
use miyagi_testing::outage::Relay;
use reqwest::StatusCode;
use sqlx::{Connection, Executor};

use super::api::{Miyagi, FEES_MD};

/// A new, empty PostgreSQL database on the test server, reached through a relay the test cuts.
async fn database_behind_a_relay() -> (String, std::sync::Arc<Relay>) {
    let name = format!("outage_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let server = url::Url::parse(&postgres_url()).unwrap();
    let target = format!(
        "{}:{}",
        server.host_str().unwrap(),
        server.port().unwrap_or(5432)
    );
    let relay = Relay::to(&target).await;
    let mut url = server.clone();
    url.set_port(Some(relay.addr().port())).unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_path(&name);
    (url.to_string(), relay)
}

#[tokio::test]
async fn documents_uploaded_before_a_30_second_database_outage_all_end_indexed() {
    let (url, relay) = database_behind_a_relay().await;
    let miyagi = Miyagi::start_with(|config| {
        config.database.url = Secret::new(url.as_str());
        // Retries come every second, so the test ends soon after the database is back.
        config.consumer.backoff_max_ms = 1_000;
    })
    .await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let name = format!("fees-{n}.md");
        let (status, body) = miyagi
            .upload(
                "alice",
                vec![(&name, "text/markdown", FEES_MD.as_bytes().to_vec())],
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        ids.push(body[0]["id"].as_str().unwrap().to_string());
    }

    relay.cut();
    let (status, _) = miyagi
        .upload(
            "alice",
            vec![("late.md", "text/markdown", b"# Late\n\nToo late.".to_vec())],
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "an upload the database cannot record is refused, not accepted and lost"
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    relay.restore();

    for id in &ids {
        let doc = miyagi.settled("alice", id).await;
        assert_eq!(doc["status"], "indexed", "{doc}");
        assert!(doc["chunkCount"].as_i64().unwrap() >= 1, "{doc}");
    }
}
