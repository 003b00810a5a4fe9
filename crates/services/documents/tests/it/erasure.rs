//! Erasure: a deleted document leaves no trace of what it held in the event log, and a deleted
//! account takes every document of its owner, and nothing of anyone else's.

use std::time::Duration;

use miyagi_domain::events::{topics, types};
use miyagi_platform::events::CloudEvent;
use miyagi_testing::log;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api::{Miyagi, FEES_MD};

impl Miyagi {
    async fn upload_fees(&self, user: &str, name: &str) -> String {
        let doc = self
            .upload_and_settle(user, name, "text/markdown", FEES_MD.as_bytes().to_vec())
            .await;
        assert_eq!(doc["status"], "indexed", "{doc}");
        doc["id"].as_str().unwrap().to_string()
    }

    async fn documents_of(&self, user: &str) -> Vec<Value> {
        let (status, listed) = self
            .send(self.request(user, Method::GET, "/api/v1/documents"))
            .await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        listed.as_array().unwrap().clone()
    }

    /// Every event of the document topic about `id`, once `done` holds of them.
    async fn document_events_once(
        &self,
        id: &str,
        done: impl Fn(&[CloudEvent]) -> bool,
    ) -> Vec<CloudEvent> {
        log::events_once(&*self.1, topics::DOCUMENT, id, done).await
    }
}

#[tokio::test]
async fn a_deleted_documents_earlier_events_become_tombstones_and_its_deletion_names_nothing() {
    let miyagi = Miyagi::start().await;
    let id = miyagi.upload_fees("alice", "salary-review.md").await;
    let (status, _) = miyagi
        .send(miyagi.request("alice", Method::DELETE, &format!("/api/v1/documents/{id}")))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let events = miyagi
        .document_events_once(&id, |events| {
            events
                .last()
                .is_some_and(|e| e.event_type == types::DOCUMENT_DELETED)
                && events.iter().filter(|e| e.erased).count() == events.len() - 1
        })
        .await;
    assert!(events.len() >= 3, "uploaded, indexed, deleted: {events:?}");
    for event in &events {
        let text = serde_json::to_string(event).unwrap();
        assert!(
            !text.contains("salary-review"),
            "the name is left in {text}"
        );
    }
    assert_eq!(
        events.last().unwrap().data,
        json!({ "id": id, "owner": "alice" }),
        "the deletion stays, for other services to act on"
    );
}

#[tokio::test]
async fn a_deleted_account_takes_every_document_of_its_owner_and_nothing_of_anyone_else() {
    let miyagi = Miyagi::start().await;
    let alices = [
        miyagi.upload_fees("alice", "fees.md").await,
        miyagi.upload_fees("alice", "more-fees.md").await,
    ];
    let bobs = miyagi.upload_fees("bob", "fees.md").await;

    log::announce_account_deletion(&*miyagi.1, "alice").await;

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !miyagi.documents_of("alice").await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "alice's documents stayed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &alices {
        let files = miyagi.data_dir().join("blobs/documents").join(id);
        assert!(!files.exists() || files.read_dir().unwrap().count() == 0);
    }
    let query = json!({ "query": "expense ratio fee", "mode": "hybrid" });
    assert!(miyagi.search("alice", query.clone()).await.is_empty());

    let left: Vec<Value> = miyagi.documents_of("bob").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], json!(bobs));
    assert!(!miyagi.search("bob", query).await.is_empty());
}
