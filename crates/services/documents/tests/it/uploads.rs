//! Uploads as they arrive and after they fail: a file is written to storage while it is still
//! coming in, an abandoned upload leaves nothing, and a failed document can be retried.

use std::time::Duration;

use reqwest::{multipart, StatusCode};
use serde_json::{json, Value};

use super::api::{Miyagi, FEES_MD};

/// Bytes under the blob store's staging folder: files of uploads still arriving.
fn staged_bytes(miyagi: &Miyagi) -> u64 {
    walk(&miyagi.data_dir().join("blobs/uploads"))
}

fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => walk(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

#[tokio::test]
async fn an_upload_is_written_to_storage_as_it_arrives_and_an_abandoned_one_leaves_nothing() {
    const MIB: usize = 1024 * 1024;
    let miyagi = Miyagi::start_with(|c| c.documents.max_upload_bytes = 64 * MIB).await;
    let (tx, rx) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(rx);
    let form = multipart::Form::new().part(
        "file",
        multipart::Part::stream(body)
            .file_name("big.md")
            .mime_str("text/markdown")
            .unwrap(),
    );
    let request = miyagi
        .request("alice", reqwest::Method::POST, "/api/v1/documents")
        .multipart(form)
        .send();
    let upload = tokio::spawn(request);
    let mut tx = tx;
    let line = b"Index funds keep costs low for decades.\n".repeat(MIB / 40);
    for _ in 0..12 {
        futures::SinkExt::send(&mut tx, Ok(line.clone()))
            .await
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while staged_bytes(&miyagi) < 5 * MIB as u64 {
        assert!(
            std::time::Instant::now() < deadline,
            "12 MiB sent, but only {} bytes reached storage while the upload is open",
            staged_bytes(&miyagi)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!upload.is_finished(), "the upload is still arriving");

    futures::SinkExt::send(&mut tx, Err(std::io::Error::other("connection lost")))
        .await
        .unwrap();
    let _ = upload.await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while staged_bytes(&miyagi) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned upload left {} bytes behind",
            staged_bytes(&miyagi)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, listed) = miyagi
        .send(miyagi.request("alice", reqwest::Method::GET, "/api/v1/documents"))
        .await;
    assert_eq!(listed, json!([]), "an abandoned upload is no document");
}

#[tokio::test]
async fn a_failed_document_can_be_retried_by_its_owner_and_only_once_failed() {
    let miyagi = Miyagi::start().await;
    let failed = miyagi.unreadable_pdf("alice").await;
    assert_eq!(failed["status"], "failed");
    let id = failed["id"].as_str().unwrap();
    let retry = |user| {
        miyagi.send(miyagi.request(
            user,
            reqwest::Method::POST,
            &format!("/api/v1/documents/{id}/retry"),
        ))
    };

    let (status, body) = retry("bob").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, queued) = retry("alice").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["status"], "pending");
    assert_eq!(queued["error"], Value::Null);
    assert_eq!(queued["version"], failed["version"]);
    let again = miyagi.settled("alice", id).await;
    assert_eq!(again["status"], "failed", "the file is still unreadable");
    assert_ne!(
        again["updatedAt"], failed["updatedAt"],
        "it was ingested again"
    );

    let indexed = miyagi
        .upload_and_settle(
            "alice",
            "fees.md",
            "text/markdown",
            FEES_MD.as_bytes().to_vec(),
        )
        .await;
    let (status, problem) = miyagi
        .send(miyagi.request(
            "alice",
            reqwest::Method::POST,
            &format!(
                "/api/v1/documents/{}/retry",
                indexed["id"].as_str().unwrap()
            ),
        ))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("indexed"),
        "{problem}"
    );
}
