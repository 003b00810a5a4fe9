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

/// A one-partition log holding records `0`..`4` of topic `t`.
async fn five_records_on_one_partition() -> (EmbeddedLog, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("events"), 1)
        .await
        .unwrap();
    log.publish((0..5).map(|i| record("t", "k", &i.to_string())).collect())
        .await
        .unwrap();
    (log, dir)
}

#[tokio::test]
async fn seeking_a_group_back_replays_from_that_offset() {
    let (log, _dir) = five_records_on_one_partition().await;
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
    let path = dir.path().join("events");
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
    let log = EmbeddedLog::open(&dir.path().join("events"), 8)
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

/// Bodies a new group reads from the start of partition 0 of `t`.
async fn bodies_from_the_start(log: &EmbeddedLog, n: usize) -> Vec<String> {
    let mut sub = log
        .subscribe(&uuid::Uuid::new_v4().to_string(), &["t"])
        .await
        .unwrap();
    drain(&mut sub, n)
        .await
        .into_iter()
        .map(|d| String::from_utf8(d.payload).unwrap())
        .collect()
}

#[tokio::test]
async fn retention_drops_old_records_every_group_has_read_and_offsets_never_repeat() {
    let (log, _dir) = five_records_on_one_partition().await;
    // Group `fast` read everything; group `slow` only the first two.
    let mut fast = log.subscribe("fast", &["t"]).await.unwrap();
    let read = drain(&mut fast, 5).await;
    fast.commit(&read).await.unwrap();
    let mut slow = log.subscribe("slow", &["t"]).await.unwrap();
    let read = drain(&mut slow, 2).await;
    slow.commit(&read[..2]).await.unwrap();

    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(log.prune(later).await.unwrap(), 2, "what both groups read");
    assert_eq!(bodies_from_the_start(&log, 3).await, ["2", "3", "4"]);

    let mut slow = log.subscribe("slow", &["t"]).await.unwrap();
    let rest = drain(&mut slow, 3).await;
    slow.commit(&rest).await.unwrap();
    assert_eq!(
        log.prune(later).await.unwrap(),
        2,
        "all but the newest record"
    );
    log.publish(vec![record("t", "k", "5")]).await.unwrap();
    let next = drain(&mut fast, 1).await;
    assert_eq!(
        (next[0].offset, next[0].payload.as_slice()),
        (5, b"5".as_slice()),
        "offsets go on after a pruned stretch"
    );
    assert_eq!(
        log.prune(chrono::Utc::now() - chrono::Duration::hours(1))
            .await
            .unwrap(),
        0,
        "nothing younger than the cut-off goes"
    );
}

#[tokio::test]
async fn erasing_a_key_leaves_tombstones_in_order_but_spares_the_deletion_and_other_keys() {
    use miyagi_platform::events::CloudEvent;
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("events"), 2)
        .await
        .unwrap();
    let about = |subject: &str, kind: &str| {
        CloudEvent::new(
            "/test",
            kind,
            subject,
            &serde_json::json!({"name": "Grace", "income": 98000}),
        )
    };
    let (created, updated, deleted) = (
        about("p1", "created"),
        about("p1", "updated"),
        about("p1", "deleted"),
    );
    let other = about("p2", "created");
    log.publish(
        [&created, &updated, &other, &deleted]
            .iter()
            .map(|e| Record::event("profiles", e))
            .collect(),
    )
    .await
    .unwrap();

    assert_eq!(log.erase("profiles", "p1", &deleted.id).await.unwrap(), 2);
    assert_eq!(
        log.erase("profiles", "p1", &deleted.id).await.unwrap(),
        0,
        "erasing again changes nothing"
    );
    let mut sub = log.subscribe("g", &["profiles"]).await.unwrap();
    let read: Vec<CloudEvent> = drain(&mut sub, 4)
        .await
        .iter()
        .map(|d| CloudEvent::from_bytes(&d.payload).unwrap())
        .collect();
    let events: Vec<&CloudEvent> = [&created, &updated, &other, &deleted]
        .iter()
        .map(|e| {
            read.iter()
                .find(|r| r.id == e.id)
                .expect("every event is still there")
        })
        .collect();
    let seen: Vec<(&str, bool, bool)> = events
        .iter()
        .map(|e| (e.event_type.as_str(), e.erased, e.data.is_null()))
        .collect();
    assert_eq!(
        seen,
        [
            ("created", true, true),
            ("updated", true, true),
            ("created", false, false),
            ("deleted", false, false)
        ]
    );
    assert_eq!(events[0].id, created.id, "a tombstone keeps its event's id");
}

/// `count` tasks publishing 50 records each, one at a time: publisher `p`'s are keyed `p{p}`
/// and say `{p}:{i}`.
fn publishers(log: &std::sync::Arc<EmbeddedLog>, count: usize) -> Vec<tokio::task::JoinHandle<()>> {
    (0..count)
        .map(|p| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    log.publish(vec![record("t", &format!("p{p}"), &format!("{p}:{i}"))])
                        .await
                        .unwrap();
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_are_each_acknowledged_and_every_record_lands_once_in_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(
        EmbeddedLog::open(&dir.path().join("events"), 1)
            .await
            .unwrap(),
    );
    // Sixteen publishers at once, each one record at a time: written in groups.
    for publisher in publishers(&log, 16) {
        publisher.await.unwrap();
    }

    let mut sub = log.subscribe("g", &["t"]).await.unwrap();
    let all = drain(&mut sub, 800).await;
    let offsets: Vec<i64> = all.iter().map(|d| d.offset).collect();
    assert_eq!(
        offsets,
        (0..800).collect::<Vec<_>>(),
        "offsets run without gaps"
    );
    for p in 0..16 {
        let mine: Vec<String> = all
            .iter()
            .filter(|d| d.key == format!("p{p}"))
            .map(|d| String::from_utf8(d.payload.clone()).unwrap())
            .collect();
        let sent: Vec<String> = (0..50).map(|i| format!("{p}:{i}")).collect();
        assert_eq!(
            mine, sent,
            "publisher {p}'s records, once each, in the order sent"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_committing_among_publishers_resume_where_they_committed_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events");
    let log = std::sync::Arc::new(EmbeddedLog::open(&path, 2).await.unwrap());
    // Commits queue for the writer with the publishes and are written in their groups.
    let groups: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|group| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut sub = log.subscribe(group, &["t"]).await.unwrap();
                let mut seen = 0;
                while seen < 400 {
                    let got = sub
                        .poll(7, std::time::Duration::from_secs(1))
                        .await
                        .unwrap();
                    sub.commit(&got).await.unwrap();
                    seen += got.len();
                }
            })
        })
        .collect();
    for task in publishers(&log, 8).into_iter().chain(groups) {
        task.await.unwrap();
    }
    drop(log);

    let log = EmbeddedLog::open(&path, 2).await.unwrap();
    log.publish(vec![record("t", "p0", "after")]).await.unwrap();
    for group in ["a", "b", "c"] {
        let mut sub = log.subscribe(group, &["t"]).await.unwrap();
        let next = drain(&mut sub, 1).await;
        assert_eq!(
            next.iter()
                .map(|d| d.payload.as_slice())
                .collect::<Vec<_>>(),
            [b"after"],
            "group {group} resumes after all 400 it committed"
        );
    }
}

/// (offset, body) of the `n` records group `g` reads next on topic `t`, as a member that joins now.
async fn what_group_g_reads_next(log: &EmbeddedLog, n: usize) -> Vec<(i64, String)> {
    let mut sub = log.subscribe("g", &["t"]).await.unwrap();
    drain(&mut sub, n)
        .await
        .into_iter()
        .map(|d| (d.offset, String::from_utf8(d.payload).unwrap()))
        .collect()
}

#[tokio::test]
async fn a_consumer_stopping_inside_a_batch_resumes_at_the_next_record_of_it() {
    let (log, _dir) = five_records_on_one_partition().await;
    let mut sub = log.subscribe("g", &["t"]).await.unwrap();
    let first = sub.poll(2, std::time::Duration::ZERO).await.unwrap();
    sub.commit(&first).await.unwrap();
    assert_eq!(
        what_group_g_reads_next(&log, 3).await,
        [(2, "2".into()), (3, "3".into()), (4, "4".into())]
    );
}

/// The tables every layout of a log kept in SQLite had beside its records, with one partition
/// and group `g` at offset 2.
macro_rules! sqlite_log_meta_and_groups {
    () => {
        "
CREATE TABLE log_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE log_group_offsets (
    group_id TEXT NOT NULL, topic TEXT NOT NULL, partition_no INTEGER NOT NULL,
    next_offset INTEGER NOT NULL, PRIMARY KEY (group_id, topic, partition_no)
) WITHOUT ROWID;
INSERT INTO log_meta VALUES ('partitions', 1);
INSERT INTO log_group_offsets VALUES ('g', 't', 0, 2);"
    };
}

/// A log kept in SQLite a row per record (before record batches).
const RECORD_PER_ROW_LAYOUT: &str = concat!(
    "
CREATE TABLE log_records (
    topic TEXT NOT NULL, partition_no INTEGER NOT NULL, log_offset INTEGER NOT NULL,
    record_key TEXT NOT NULL, payload BLOB NOT NULL, appended_at INTEGER NOT NULL,
    PRIMARY KEY (topic, partition_no, log_offset)
) WITHOUT ROWID;
INSERT INTO log_records VALUES ('t', 0, 0, 'k', X'30', 1), ('t', 0, 1, 'k', X'31', 1), ('t', 0, 2, 'k', X'32', 1);",
    sqlite_log_meta_and_groups!()
);

/// A log kept in SQLite in record batches: a version byte, then each record's key and payload
/// after their little-endian `u32` lengths. Offsets 0 and 1 were pruned.
const RECORD_BATCH_LAYOUT: &str = concat!(
    "
CREATE TABLE log_batches (
    topic TEXT NOT NULL, partition_no INTEGER NOT NULL, base_offset INTEGER NOT NULL,
    last_offset INTEGER NOT NULL, appended_at INTEGER NOT NULL, records BLOB NOT NULL,
    PRIMARY KEY (topic, partition_no, last_offset)
);
INSERT INTO log_batches VALUES ('t', 0, 2, 2, 1, X'01010000006B0100000032');",
    sqlite_log_meta_and_groups!()
);

/// A log kept in SQLite at `events.db` with `tables`, and the log that takes it over, where `3`
/// was then published.
async fn taken_over_from_sqlite(tables: &str) -> (EmbeddedLog, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    rusqlite::Connection::open(dir.path().join("events.db"))
        .unwrap()
        .execute_batch(tables)
        .unwrap();
    let log = EmbeddedLog::open(&dir.path().join("events"), 1)
        .await
        .unwrap();
    log.publish(vec![record("t", "k", "3")]).await.unwrap();
    (log, dir)
}

#[tokio::test]
async fn a_log_kept_in_sqlite_a_record_a_row_is_taken_over_with_its_records_and_positions() {
    let (log, dir) = taken_over_from_sqlite(RECORD_PER_ROW_LAYOUT).await;
    assert_eq!(
        what_group_g_reads_next(&log, 2).await,
        [(2, "2".into()), (3, "3".into())],
        "the group resumes where it was, and offsets go on"
    );
    assert_eq!(bodies_from_the_start(&log, 4).await, ["0", "1", "2", "3"]);
    assert!(
        !dir.path().join("events.db").exists(),
        "the old file is gone"
    );
}

#[tokio::test]
async fn a_log_kept_in_sqlite_in_batches_is_taken_over_from_its_oldest_kept_record() {
    let (log, _dir) = taken_over_from_sqlite(RECORD_BATCH_LAYOUT).await;
    assert_eq!(bodies_from_the_start(&log, 2).await, ["2", "3"]);
}

/// A record of ~1 MB, the most one may hold: sixteen fill a segment.
fn big(key: &str, n: usize) -> Record {
    let mut payload = n.to_string().into_bytes();
    payload.resize(999_000, b' ');
    Record {
        topic: "t".into(),
        key: key.into(),
        payload,
    }
}

#[tokio::test]
async fn a_full_segment_rolls_over_and_retention_deletes_it_once_read_without_losing_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events");
    let segments = || {
        std::fs::read_dir(&path)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".log")
            })
            .count()
    };
    let log = EmbeddedLog::open(&path, 1).await.unwrap();
    for n in 0..20 {
        log.publish(vec![big("k", n)]).await.unwrap();
    }
    assert_eq!(
        segments(),
        2,
        "twenty records of 1 MB fill more than one segment"
    );
    let mut sub = log.subscribe("g", &["t"]).await.unwrap();
    let read = drain(&mut sub, 20).await;
    sub.commit(&read).await.unwrap();

    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(log.prune(later).await.unwrap(), 19, "all but the newest");
    assert_eq!(segments(), 1, "the full segment is gone");
    drop((sub, log));

    let log = EmbeddedLog::open(&path, 1).await.unwrap();
    log.publish(vec![record("t", "k", "after")]).await.unwrap();
    assert_eq!(
        what_group_g_reads_next(&log, 1).await,
        [(20, "after".into())],
        "offsets and the group's position outlive the segment"
    );
}
