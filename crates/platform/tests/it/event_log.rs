//! The embedded event log keeps every promise of the bus (the shared conformance suite), plus
//! what only it offers: replay by seeking a group, and partitioning fixed in its file.

use miyagi_platform::events::{
    conformance::{drain, EmbeddedHarness},
    embedded::EmbeddedLog,
    EventBus, Record,
};

miyagi_platform::bus_conformance!(EmbeddedHarness::new);

fn record(topic: &str, key: &str, body: &str) -> Record {
    Record {
        topic: topic.into(),
        key: key.into(),
        payload: body.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn seeking_a_group_back_replays_from_that_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("events.db"), 1)
        .await
        .unwrap();
    log.publish((0..5).map(|i| record("t", "k", &i.to_string())).collect())
        .await
        .unwrap();
    let mut sub = log.subscribe("g", &["t"]).await.unwrap();
    let all = drain(&mut sub, 5).await;
    sub.commit(&all).await.unwrap();
    log.seek("g", "t", 0, 2).await.unwrap();
    let mut replay = log.subscribe("g", &["t"]).await.unwrap();
    let bodies: Vec<Vec<u8>> = drain(&mut replay, 3)
        .await
        .into_iter()
        .map(|d| d.payload)
        .collect();
    assert_eq!(bodies, [b"2", b"3", b"4"]);
}

#[tokio::test]
async fn reopening_a_log_with_another_partition_count_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    EmbeddedLog::open(&path, 4).await.unwrap();
    let err = EmbeddedLog::open(&path, 8).await.err().unwrap().to_string();
    assert!(
        err.contains("bus.partitions") && err.contains("has 4 partitions"),
        "{err}"
    );
}

/// FNV-1a of each key, mod 8, computed independently from the algorithm's definition.
const PINNED_PARTITIONS: [u32; 3] = [4, 5, 6];

#[tokio::test]
async fn a_key_always_maps_to_the_same_partition() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("events.db"), 8)
        .await
        .unwrap();
    // FNV-1a is fixed: these values must never change, or existing logs would reorder keys.
    let pinned: Vec<u32> = ["user-1", "user-2", "01a22111-c06d-7634-8a1a-3e85c0235a7d"]
        .iter()
        .map(|k| log.partition_for(k))
        .collect();
    assert_eq!(pinned, PINNED_PARTITIONS);
    let spread: std::collections::HashSet<u32> = (0..100)
        .map(|i| log.partition_for(&format!("user-{i}")))
        .collect();
    assert!(
        spread.len() >= 6,
        "keys should spread over partitions: {spread:?}"
    );
}
