//! The store on SQLite and PostgreSQL: keyword search per backend, chunk replacement once per
//! event, and each change with its event.

use miyagi_documents::{Applied, DocumentStore, EmbeddedChunk, StoreError, Upload, MIGRATOR};
use miyagi_domain::{
    document::{Document, DocumentStatus},
    events::types,
};
use miyagi_memory::chunk::Chunk;
use miyagi_platform::{
    db::{testing::fresh, Backend},
    events::CloudEvent,
};
use uuid::Uuid;

miyagi_platform::on_both_backends!(
    keyword_search_ranks_the_owners_matching_chunks_first,
    chunks_are_replaced_once_per_event_and_only_for_the_current_version,
    every_change_enqueues_its_event,
    a_version_given_up_on_shows_the_reason_and_can_be_retried_once_failed,
);

async fn store(backend: Backend) -> (DocumentStore, tempfile::TempDir) {
    let (db, guard) = fresh(backend, &MIGRATOR).await;
    (DocumentStore::open(db).await.unwrap(), guard)
}

async fn upload(store: &DocumentStore, owner: &str, name: &str) -> (Document, String) {
    let upload = Upload {
        owner: owner.into(),
        collection: "default".into(),
        name: name.into(),
        media_type: "text/markdown".into(),
        size_bytes: 10,
        sha256: "00".into(),
    };
    let id = store
        .existing_id(owner, "default", name)
        .await
        .unwrap()
        .unwrap_or_else(Uuid::now_v7);
    store
        .record_upload(id, &upload, "documents/x")
        .await
        .unwrap()
}

fn chunks(texts: &[&str]) -> Vec<EmbeddedChunk> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| EmbeddedChunk {
            id: Uuid::now_v7(),
            chunk: Chunk {
                position: i as u32,
                text: t.to_string(),
                offset: 0,
                section: None,
                tokens: 5,
            },
            embedding: vec![1.0, 0.0],
        })
        .collect()
}

async fn keyword_search_ranks_the_owners_matching_chunks_first(backend: Backend) {
    let (store, _guard) = store(backend).await;
    let (mine, e1) = upload(&store, "alice", "a.md").await;
    let (theirs, e2) = upload(&store, "bob", "b.md").await;
    let alice_chunks = chunks(&[
        "Bonds pay a coupon and their prices fall when rates rise.",
        "Rebalancing sells winners and buys laggards to restore targets.",
        "Rebalancing bands of five points limit rebalancing trades.",
    ]);
    store
        .replace_chunks("c", &e1, &mine, &alice_chunks)
        .await
        .unwrap();
    store
        .replace_chunks(
            "c",
            &e2,
            &theirs,
            &chunks(&["Rebalancing rebalancing rebalancing."]),
        )
        .await
        .unwrap();
    let found = store
        .keyword_search("alice", None, None, "how does rebalancing work?", 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 2, "{backend:?}");
    assert_eq!(
        found[0], alice_chunks[2].id,
        "{backend:?}: more matches rank first"
    );
    assert!(found.contains(&alice_chunks[1].id));
    let none = store
        .keyword_search("alice", Some("other"), None, "rebalancing", 10)
        .await
        .unwrap();
    assert!(none.is_empty());
    // Stemming: "bond" finds "Bonds".
    assert!(!store
        .keyword_search("alice", None, Some(mine.id), "bond", 10)
        .await
        .unwrap()
        .is_empty());
}

async fn chunks_are_replaced_once_per_event_and_only_for_the_current_version(backend: Backend) {
    let (store, _guard) = store(backend).await;
    let (v1, e1) = upload(&store, "alice", "a.md").await;
    let first = chunks(&["one", "two"]);
    assert_eq!(
        store.replace_chunks("c", &e1, &v1, &first).await.unwrap(),
        Applied::Replaced { old: vec![] }
    );
    assert_eq!(
        store
            .replace_chunks("c", &e1, &v1, &chunks(&["again"]))
            .await
            .unwrap(),
        Applied::AlreadyDone
    );
    let (v2, e2) = upload(&store, "alice", "a.md").await;
    assert_eq!((v2.id, v2.version), (v1.id, 2));
    // A late event for version 1 must not overwrite version 2's pending ingestion.
    let late = format!("{e1}-late");
    assert_eq!(
        store
            .replace_chunks("c", &late, &v1, &chunks(&["stale"]))
            .await
            .unwrap(),
        Applied::Superseded
    );
    let second = chunks(&["three"]);
    let Applied::Replaced { old } = store.replace_chunks("c", &e2, &v2, &second).await.unwrap()
    else {
        panic!("version 2 applies");
    };
    assert_eq!(old, first.iter().map(|c| c.id).collect::<Vec<_>>());
    let now = store.get("alice", v1.id).await.unwrap();
    assert_eq!(
        (now.status, now.chunk_count, now.version),
        (DocumentStatus::Indexed, 1, 2)
    );
    assert_eq!(store.chunk_ids().await.unwrap().len(), 1);
}

async fn every_change_enqueues_its_event(backend: Backend) {
    let (store, _guard) = store(backend).await;
    let (doc, e1) = upload(&store, "alice", "a.md").await;
    store
        .replace_chunks("c", &e1, &doc, &chunks(&["x"]))
        .await
        .unwrap();
    let (doc, e2) = upload(&store, "alice", "a.md").await;
    store
        .mark_failed("c", &e2, &doc, "unreadable")
        .await
        .unwrap();
    let (_, removed) = store.delete("alice", doc.id).await.unwrap();
    assert!(removed.is_empty(), "a failed version keeps no chunks");
    let rows: Vec<String> = sqlx::query_scalar("SELECT event FROM miyagi_outbox ORDER BY seq")
        .fetch_all(store.db().pool())
        .await
        .unwrap();
    let kinds: Vec<String> = rows
        .iter()
        .map(|r| serde_json::from_str::<CloudEvent>(r).unwrap().event_type)
        .collect();
    assert_eq!(
        kinds,
        [
            types::DOCUMENT_UPLOADED,
            types::DOCUMENT_INDEXED,
            types::DOCUMENT_UPLOADED,
            types::DOCUMENT_FAILED,
            types::DOCUMENT_DELETED
        ]
    );
}

async fn a_version_given_up_on_shows_the_reason_and_can_be_retried_once_failed(backend: Backend) {
    let (store, _guard) = store(backend).await;
    let (doc, uploaded) = upload(&store, "alice", "a.md").await;
    store
        .mark_given_up(&doc, "ingestion gave up: the handler panicked")
        .await
        .unwrap();
    let failed = store.get("alice", doc.id).await.unwrap();
    assert_eq!(failed.status, DocumentStatus::Failed);
    assert_eq!(
        failed.error.as_deref(),
        Some("ingestion gave up: the handler panicked")
    );

    assert!(
        matches!(store.retry("bob", doc.id).await, Err(StoreError::NotFound)),
        "nobody else can retry alice's document"
    );
    let retried = store.retry("alice", doc.id).await.unwrap();
    assert_eq!(
        (retried.status, retried.error, retried.version),
        (DocumentStatus::Pending, None, doc.version)
    );
    assert!(
        matches!(
            store.retry("alice", doc.id).await,
            Err(StoreError::NotRetryable(DocumentStatus::Pending))
        ),
        "a pending document is already queued"
    );
    let events: Vec<CloudEvent> =
        sqlx::query_scalar::<_, String>("SELECT event FROM miyagi_outbox ORDER BY seq")
            .fetch_all(store.db().pool())
            .await
            .unwrap()
            .iter()
            .map(|r| serde_json::from_str(r).unwrap())
            .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            types::DOCUMENT_UPLOADED,
            types::DOCUMENT_FAILED,
            types::DOCUMENT_UPLOADED
        ]
    );
    assert_ne!(
        events[2].id, uploaded,
        "the retry is a new event, not a replay the inbox would skip"
    );
}
