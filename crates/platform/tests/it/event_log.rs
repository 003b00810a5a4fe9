//! The embedded event log behaves like Kafka where services depend on it.

use std::time::Duration;

use miyagi_platform::events::{embedded::EmbeddedLog, Delivery, EventBus, Record, Subscription};

fn record(topic: &str, key: &str, body: &str) -> Record {
    Record {
        topic: topic.into(),
        key: key.into(),
        payload: body.as_bytes().to_vec(),
    }
}

async fn drain(sub: &mut Box<dyn Subscription>, expected: usize) -> Vec<Delivery> {
    let mut out = Vec::new();
    while out.len() < expected {
        let batch = sub.poll(1000, Duration::from_secs(2)).await.unwrap();
        assert!(
            !batch.is_empty(),
            "log ran dry after {} of {expected} records",
            out.len()
        );
        out.extend(batch);
    }
    out
}

fn bodies(deliveries: &[Delivery], key: &str) -> Vec<String> {
    deliveries
        .iter()
        .filter(|d| d.key == key)
        .map(|d| String::from_utf8(d.payload.clone()).unwrap())
        .collect()
}

#[tokio::test]
async fn records_with_the_same_key_are_consumed_in_publish_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("events.db"), 4)
        .await
        .unwrap();
    for i in 0..50 {
        for key in ["alice", "bob", "carol"] {
            log.publish(vec![record("t", key, &format!("{key}-{i}"))])
                .await
                .unwrap();
        }
    }
    let mut sub = log.subscribe("g", &["t"]).await.unwrap();
    let got = drain(&mut sub, 150).await;
    for key in ["alice", "bob", "carol"] {
        let expected: Vec<String> = (0..50).map(|i| format!("{key}-{i}")).collect();
        assert_eq!(bodies(&got, key), expected);
    }
}

#[tokio::test]
async fn a_group_resumes_after_its_committed_offsets_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    {
        let log = EmbeddedLog::open(&path, 2).await.unwrap();
        log.publish((0..10).map(|i| record("t", "k", &i.to_string())).collect())
            .await
            .unwrap();
        let mut sub = log.subscribe("g", &["t"]).await.unwrap();
        let first = drain(&mut sub, 10).await;
        sub.commit(&first[..4]).await.unwrap(); // processed 0..=3, then "crashed"
    }
    let log = EmbeddedLog::open(&path, 2).await.unwrap();
    let mut sub = log.subscribe("g", &["t"]).await.unwrap();
    let resumed = drain(&mut sub, 6).await;
    assert_eq!(bodies(&resumed, "k"), ["4", "5", "6", "7", "8", "9"]);
}

#[tokio::test]
async fn groups_consume_independently() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("events.db"), 2)
        .await
        .unwrap();
    log.publish(vec![record("t", "k", "a"), record("t", "k", "b")])
        .await
        .unwrap();
    let mut one = log.subscribe("one", &["t"]).await.unwrap();
    let got = drain(&mut one, 2).await;
    one.commit(&got).await.unwrap();
    let mut two = log.subscribe("two", &["t"]).await.unwrap();
    assert_eq!(bodies(&drain(&mut two, 2).await, "k"), ["a", "b"]);
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
    assert_eq!(bodies(&drain(&mut replay, 3).await, "k"), ["2", "3", "4"]);
}

#[tokio::test]
async fn a_waiting_consumer_wakes_as_soon_as_a_record_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("events.db"), 2)
        .await
        .unwrap();
    let mut sub = log.subscribe("g", &["t"]).await.unwrap();
    let publisher = log.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        publisher
            .publish(vec![record("t", "k", "hello")])
            .await
            .unwrap();
    });
    let started = std::time::Instant::now();
    let got = sub.poll(10, Duration::from_secs(10)).await.unwrap();
    assert_eq!(bodies(&got, "k"), ["hello"]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "woke after {:?}",
        started.elapsed()
    );
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
