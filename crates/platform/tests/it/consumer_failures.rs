//! What the consumer loop does when a handler fails: a database that says "not now" is waited
//! for, a handler that panics or hangs is retried and then dead-lettered, and the loop goes on.

use std::{
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};

use async_trait::async_trait;
use miyagi_platform::{
    config::ConsumerConfig,
    db::{testing::fresh, Backend},
    events::{
        consumer::dead_letter_topic, embedded::EmbeddedLog, CloudEvent, Consumer, EventBus,
        EventHandler, HandlerError, Record,
    },
};
use serde_json::{json, Value};
use sqlx::{
    sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions},
    Connection,
};
use tokio_util::sync::CancellationToken;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("tests/it/migrations");

fn settings() -> ConsumerConfig {
    ConsumerConfig {
        backoff_initial_ms: 10,
        backoff_max_ms: 50,
        max_attempts: 3,
        handler_timeout_secs: 1,
        ..ConsumerConfig::default()
    }
}

fn event(subject: &str) -> CloudEvent {
    CloudEvent::new("/test", "miyagi.test.happened.v1", subject, &json!({}))
}

/// A consumer of topic `t` on a fresh embedded log, running until the returned token fires.
async fn consuming(
    handler: Arc<dyn EventHandler>,
) -> (EmbeddedLog, CancellationToken, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("events"), 2)
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(Consumer::new("g", &["t"], handler).run(
        Arc::new(log.clone()),
        settings(),
        shutdown.clone(),
    ));
    (log, shutdown, dir)
}

async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The dead letters of topic `t` so far: each one's data.
async fn dead_letters(log: &EmbeddedLog) -> Vec<Value> {
    let mut sub = log
        .subscribe(&uuid(), &[&dead_letter_topic("t")])
        .await
        .unwrap();
    sub.poll(100, Duration::from_millis(50))
        .await
        .unwrap()
        .iter()
        .map(|d| CloudEvent::from_bytes(&d.payload).unwrap().data)
        .collect()
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Writes one row per event into a SQLite file that gives up at once when another connection
/// holds the write lock: its "database is locked" is what a busy embedded database says.
struct ImpatientWriter {
    db: SqlitePool,
}

#[async_trait]
impl EventHandler for ImpatientWriter {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        sqlx::query("INSERT INTO effects (event_id) VALUES ($1)")
            .bind(&event.id)
            .execute(&self.db)
            .await?;
        Ok(())
    }
}

#[tokio::test]
async fn an_event_meeting_a_busy_sqlite_database_waits_for_it_instead_of_being_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("effects.db"))
        .create_if_missing(true)
        .busy_timeout(Duration::ZERO);
    let db = SqlitePoolOptions::new()
        .connect_with(options.clone())
        .await
        .unwrap();
    sqlx::query("CREATE TABLE effects (event_id TEXT PRIMARY KEY)")
        .execute(&db)
        .await
        .unwrap();
    let mut holder = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();

    let (log, shutdown, _dir) = consuming(Arc::new(ImpatientWriter { db: db.clone() })).await;
    log.publish(vec![Record::event("t", &event("a"))])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query("COMMIT").execute(&mut holder).await.unwrap();

    eventually("the effect is written", async || {
        // The checker may meet the lock too; it just looks again.
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM effects")
            .fetch_one(&db)
            .await
            .is_ok_and(|n| n == 1)
    })
    .await;
    assert_eq!(dead_letters(&log).await, Vec::<Value>::new());
    shutdown.cancel();
}

#[tokio::test]
async fn a_postgres_deadlock_is_a_transient_failure() {
    let (db, _guard) = fresh(Backend::Postgres, &MIGRATOR).await;
    for id in ["a", "b"] {
        sqlx::query("INSERT INTO effects (event_id, subject) VALUES ($1, '')")
            .bind(id)
            .execute(db.pool())
            .await
            .unwrap();
    }
    let lock = "UPDATE effects SET subject = 'x' WHERE event_id = $1";
    let (mut first, mut second) = (db.begin().await.unwrap(), db.begin().await.unwrap());
    sqlx::query(lock)
        .bind("a")
        .execute(&mut *first)
        .await
        .unwrap();
    sqlx::query(lock)
        .bind("b")
        .execute(&mut *second)
        .await
        .unwrap();
    // Each now waits for the other's row: PostgreSQL breaks the cycle by failing one of them.
    let (one, other) = tokio::join!(
        sqlx::query(lock).bind("b").execute(&mut *first),
        sqlx::query(lock).bind("a").execute(&mut *second),
    );
    let deadlock = one
        .err()
        .or(other.err())
        .expect("one side is the deadlock's victim");
    assert!(
        matches!(HandlerError::from(deadlock), HandlerError::Transient(_)),
        "a deadlock clears when retried"
    );
}

/// Panics on events about `poison`, hangs on events about `hang`, records the rest, and notes
/// each event it was told the consumer gave up on.
#[derive(Default)]
struct Fragile {
    handled: AtomicU32,
    calls: AtomicU32,
    given_up: std::sync::Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl EventHandler for Fragile {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match event.subject.as_str() {
            "poison" => panic!("boom on {}", event.subject),
            "hang" => std::future::pending().await,
            _ => {
                self.handled.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }
    }

    async fn gave_up(&self, event: &CloudEvent, reason: &str) -> Result<(), HandlerError> {
        self.given_up
            .lock()
            .unwrap()
            .push((event.id.clone(), reason.to_string()));
        Ok(())
    }
}

#[tokio::test]
async fn a_panicking_handler_is_retried_then_dead_lettered_and_the_consumer_goes_on() {
    let handler = Arc::new(Fragile::default());
    let (log, shutdown, _dir) = consuming(handler.clone()).await;
    // One key, one partition: the good event waits behind the poison one.
    let records = [event("poison"), event("poison")]
        .iter()
        .map(|e| Record {
            key: "k".into(),
            ..Record::event("t", e)
        })
        .chain([Record {
            key: "k".into(),
            ..Record::event("t", &event("fine"))
        }])
        .collect();
    log.publish(records).await.unwrap();

    eventually("the event after the poison ones is handled", async || {
        handler.handled.load(Ordering::SeqCst) == 1
    })
    .await;
    let letters = dead_letters(&log).await;
    assert_eq!(letters.len(), 2, "{letters:?}");
    for letter in letters {
        assert_eq!(letter["attempts"], 3);
        let error = letter["error"].as_str().unwrap();
        assert!(
            error.contains("the handler panicked: boom on poison"),
            "{error}"
        );
    }
    assert_eq!(
        handler.calls.load(Ordering::SeqCst),
        7,
        "3 attempts each, then the good one"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn a_handler_that_hangs_is_cut_off_at_its_time_limit_and_dead_lettered() {
    let handler = Arc::new(Fragile::default());
    let (log, shutdown, _dir) = consuming(handler.clone()).await;
    let records = [event("hang"), event("fine")]
        .iter()
        .map(|e| Record {
            key: "k".into(),
            ..Record::event("t", e)
        })
        .collect();
    log.publish(records).await.unwrap();

    eventually("the event after the hanging one is handled", async || {
        handler.handled.load(Ordering::SeqCst) == 1
    })
    .await;
    let letters = dead_letters(&log).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        letters[0]["error"]
            .as_str()
            .unwrap()
            .contains("longer than its limit of 1s"),
        "{}",
        letters[0]
    );
    shutdown.cancel();
}

#[tokio::test]
async fn the_handler_is_told_which_event_was_dead_lettered_and_why() {
    let handler = Arc::new(Fragile::default());
    let (log, shutdown, _dir) = consuming(handler.clone()).await;
    let poison = event("poison");
    log.publish(vec![Record::event("t", &poison)])
        .await
        .unwrap();

    eventually("the handler hears of the dead letter", async || {
        !handler.given_up.lock().unwrap().is_empty()
    })
    .await;
    let given_up = handler.given_up.lock().unwrap().clone();
    assert_eq!(given_up.len(), 1, "{given_up:?}");
    assert_eq!(given_up[0].0, poison.id);
    assert!(given_up[0].1.contains("boom on poison"), "{given_up:?}");
    assert_eq!(dead_letters(&log).await.len(), 1);
    shutdown.cancel();
}

#[tokio::test]
async fn a_tombstone_is_passed_by_without_calling_the_handler() {
    let handler = Arc::new(Fragile::default());
    let (log, shutdown, _dir) = consuming(handler.clone()).await;
    // A tombstone of an event the handler would panic on: it must never reach it.
    let records = [event("poison").tombstone(), event("fine")]
        .iter()
        .map(|e| Record {
            key: "k".into(),
            ..Record::event("t", e)
        })
        .collect();
    log.publish(records).await.unwrap();

    eventually("the event after the tombstone is handled", async || {
        handler.handled.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(handler.calls.load(Ordering::SeqCst), 1);
    assert!(dead_letters(&log).await.is_empty());
    shutdown.cancel();
}

/// Fails every event about `stuck` as an outage would, for ever; records the others it handles.
#[derive(Default)]
struct OutageOnOneKey {
    stuck_attempts: AtomicU32,
    handled: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl EventHandler for OutageOnOneKey {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.subject == "stuck" {
            self.stuck_attempts.fetch_add(1, Ordering::SeqCst);
            return Err(HandlerError::Transient(anyhow::anyhow!(
                "the database is restarting"
            )));
        }
        self.handled.lock().unwrap().push(event.subject.clone());
        Ok(())
    }
}

#[tokio::test]
async fn a_partition_stuck_on_an_outage_does_not_hold_up_events_published_later_on_other_partitions(
) {
    let handler = Arc::new(OutageOnOneKey::default());
    let (log, shutdown, _dir) = consuming(handler.clone()).await;
    log.publish(vec![Record::event("t", &event("stuck"))])
        .await
        .unwrap();
    eventually("the stuck event is being retried", async || {
        handler.stuck_attempts.load(Ordering::SeqCst) >= 2
    })
    .await;

    // Published after the stuck event was polled: a loop that waits for its whole batch before
    // polling again would never see them.
    let stuck_partition = log.partition_for("stuck");
    let elsewhere: Vec<String> = (0..8)
        .map(|n| format!("k{n}"))
        .filter(|key| log.partition_for(key) != stuck_partition)
        .collect();
    assert!(!elsewhere.is_empty());
    let behind = (0..8)
        .map(|n| format!("k{n}"))
        .find(|key| log.partition_for(key) == stuck_partition);
    let records = elsewhere
        .iter()
        .chain(&behind)
        .map(|key| Record::event("t", &event(key)))
        .collect();
    log.publish(records).await.unwrap();

    eventually(
        "every event on the other partition is handled",
        async || {
            let handled = handler.handled.lock().unwrap();
            elsewhere.iter().all(|key| handled.contains(key))
        },
    )
    .await;
    // Order per key is kept: what queued behind the stuck event still waits for it.
    if let Some(behind) = behind {
        assert!(!handler.handled.lock().unwrap().contains(&behind));
    }
    assert!(dead_letters(&log).await.is_empty());
    shutdown.cancel();
}
