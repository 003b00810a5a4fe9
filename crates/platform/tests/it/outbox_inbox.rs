//! Outbox, relay, inbox and the consumer loop, on SQLite and on PostgreSQL.

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
    db::{testing::fresh, Backend, Db},
    events::{
        consumer::{dead_letter_topic, DEAD_LETTER_TYPE},
        dead_letters,
        embedded::EmbeddedLog,
        erasure, inbox,
        outbox::{self, Relay},
        CloudEvent, Consumer, EventBus, EventHandler, HandlerError, Record, MAX_RECORD_BYTES,
    },
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("tests/it/migrations");

miyagi_platform::on_both_backends!(
    events_of_a_rolled_back_transaction_are_never_published,
    committed_events_reach_the_bus_in_commit_order_and_leave_the_outbox,
    a_redelivered_event_has_no_second_effect,
    transient_failures_are_retried_until_the_effect_is_applied_once,
    a_poison_event_is_parked_on_the_dead_letter_topic_with_its_error,
    an_event_the_bus_refuses_is_parked_and_the_events_after_it_still_flow,
    an_erasure_tombstones_the_dead_letters_and_parked_records_of_its_key_but_spares_the_deletion,
);

async fn log() -> (EmbeddedLog, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (
        EmbeddedLog::open(&dir.path().join("events"), 2)
            .await
            .unwrap(),
        dir,
    )
}

fn event(subject: &str, n: i64) -> CloudEvent {
    CloudEvent::new(
        "/test",
        "miyagi.test.happened.v1",
        subject,
        &json!({ "n": n }),
    )
}

async fn write_with_event(db: &Db, event: &CloudEvent, commit: bool) {
    let mut tx = db.begin().await.unwrap();
    sqlx::query("INSERT INTO effects (event_id, subject) VALUES ($1, $2)")
        .bind(format!("state-{}", event.id))
        .bind(&event.subject)
        .execute(&mut *tx)
        .await
        .unwrap();
    outbox::enqueue(&mut tx, "t", event).await.unwrap();
    if commit {
        outbox::commit(db, tx).await.unwrap();
    } else {
        tx.rollback().await.unwrap();
    }
}

async fn consume_all(bus: &EmbeddedLog, group: &str, topic: &str) -> Vec<CloudEvent> {
    let mut sub = bus.subscribe(group, &[topic]).await.unwrap();
    let mut out = Vec::new();
    loop {
        let batch = sub.poll(100, Duration::from_millis(200)).await.unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(
            batch
                .iter()
                .map(|d| CloudEvent::from_bytes(&d.payload).unwrap()),
        );
    }
}

async fn events_of_a_rolled_back_transaction_are_never_published(backend: Backend) {
    let (db, _guard) = fresh(backend, &MIGRATOR).await;
    let (bus, _dir) = log().await;
    let (kept, dropped) = (event("a", 1), event("a", 2));
    write_with_event(&db, &kept, true).await;
    write_with_event(&db, &dropped, false).await;
    assert_eq!(
        Relay::new(db.clone(), Arc::new(bus.clone()))
            .publish_batch()
            .await
            .unwrap(),
        1
    );
    let published: Vec<String> = consume_all(&bus, "g", "t")
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(published, vec![kept.id]);
    assert_eq!(outbox::pending(&db).await.unwrap(), 0);
}

async fn committed_events_reach_the_bus_in_commit_order_and_leave_the_outbox(backend: Backend) {
    let (db, _guard) = fresh(backend, &MIGRATOR).await;
    let (bus, _dir) = log().await;
    let written: Vec<CloudEvent> = (0..20).map(|n| event("same-aggregate", n)).collect();
    for e in &written {
        write_with_event(&db, e, true).await;
    }
    let relay = Relay::new(db.clone(), Arc::new(bus.clone()));
    while relay.publish_batch().await.unwrap() > 0 {}
    let ids: Vec<String> = consume_all(&bus, "g", "t")
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        ids,
        written.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    );
    assert_eq!(outbox::pending(&db).await.unwrap(), 0);
}

async fn a_redelivered_event_has_no_second_effect(backend: Backend) {
    let (db, _guard) = fresh(backend, &MIGRATOR).await;
    let handler = Recorder::new(db.clone(), 0);
    let e = event("a", 1);
    handler.handle(&e).await.unwrap();
    handler.handle(&e).await.unwrap();
    assert_eq!(effects(&db).await, vec![e.id]);
}

async fn transient_failures_are_retried_until_the_effect_is_applied_once(backend: Backend) {
    let (db, _guard) = fresh(backend, &MIGRATOR).await;
    let (bus, _dir) = log().await;
    let e = event("a", 1);
    bus.publish(vec![Record::event("t", &e)]).await.unwrap();
    let handler = Recorder::new(db.clone(), 2);
    run_consumer_until(&bus, handler.clone(), || async {
        !effects(&db).await.is_empty()
    })
    .await;
    assert_eq!(effects(&db).await, vec![e.id]);
    assert_eq!(
        handler.failures_left.load(Ordering::SeqCst),
        0,
        "both injected failures were retried"
    );
}

async fn a_poison_event_is_parked_on_the_dead_letter_topic_with_its_error(backend: Backend) {
    let (db, _guard) = fresh(backend, &MIGRATOR).await;
    let (bus, _dir) = log().await;
    let poison = CloudEvent::new(
        "/test",
        "miyagi.test.happened.v1",
        "a",
        &json!({ "n": "not a number" }),
    );
    let good = event("a", 2);
    bus.publish(vec![Record::event("t", &poison), Record::event("t", &good)])
        .await
        .unwrap();
    run_consumer_until(&bus, Recorder::new(db.clone(), 0), || async {
        !effects(&db).await.is_empty()
    })
    .await;

    assert_eq!(
        effects(&db).await,
        vec![good.id],
        "the event after the poison one is still processed"
    );
    let letters = consume_all(&bus, "inspector", &dead_letter_topic("t")).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].event_type, DEAD_LETTER_TYPE);
    assert_eq!(letters[0].data["record"]["id"], json!(poison.id));
    assert!(
        letters[0].data["error"]
            .as_str()
            .unwrap()
            .contains("invalid payload"),
        "{}",
        letters[0].data
    );
}

#[tokio::test]
async fn a_malformed_envelope_is_dead_lettered_without_retries() {
    let (db, _guard) = fresh(Backend::Sqlite, &MIGRATOR).await;
    let (bus, _dir) = log().await;
    bus.publish(vec![Record {
        topic: "t".into(),
        key: "k".into(),
        payload: b"{not json".to_vec(),
    }])
    .await
    .unwrap();
    let handler = Recorder::new(db.clone(), 0);
    run_consumer_until(&bus, handler, || {
        let bus = bus.clone();
        async move { !consume_all(&bus, "inspector", "t.dlq").await.is_empty() }
    })
    .await;
    let letters = consume_all(&bus, "inspector2", "t.dlq").await;
    assert_eq!(letters[0].data["attempts"], json!(0));
    assert_eq!(letters[0].data["record"], json!("{not json"));
}

#[tokio::test]
async fn a_restarted_consumer_does_not_reprocess_committed_events() {
    let (db, _guard) = fresh(Backend::Sqlite, &MIGRATOR).await;
    let (bus, _dir) = log().await;
    let first = event("a", 1);
    bus.publish(vec![Record::event("t", &first)]).await.unwrap();
    run_consumer_until(&bus, Recorder::new(db.clone(), 0), || async {
        effects(&db).await.len() == 1
    })
    .await;
    let second = event("a", 2);
    bus.publish(vec![Record::event("t", &second)])
        .await
        .unwrap();
    let handler = Recorder::new(db.clone(), 0);
    run_consumer_until(&bus, handler.clone(), || async {
        effects(&db).await.len() == 2
    })
    .await;
    assert_eq!(
        handler.calls.load(Ordering::SeqCst),
        1,
        "only the new event reaches the restarted consumer"
    );
}

/// Runs the consumer loop for group `g` on topic `t` until `done` holds, then shuts it down.
async fn run_consumer_until<F, Fut>(bus: &EmbeddedLog, handler: Arc<Recorder>, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let settings = ConsumerConfig {
        backoff_initial_ms: 10,
        backoff_max_ms: 50,
        batch_size: 10,
        ..ConsumerConfig::default()
    };
    let shutdown = CancellationToken::new();
    let keep_in = handler.db.clone();
    let consumer = Consumer::new("g", &["t"], handler).keeping_dead_letters_in(keep_in);
    let task = tokio::spawn(consumer.run(Arc::new(bus.clone()), settings, shutdown.clone()));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "consumer did not reach the expected state in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the loop commit what it processed before stopping it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    shutdown.cancel();
    task.await.unwrap();
}

async fn effects(db: &Db) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT event_id FROM effects WHERE event_id NOT LIKE 'state-%' ORDER BY event_id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
}

/// A handler with an idempotent effect (inbox + one row per event) and injectable failures.
struct Recorder {
    db: Db,
    failures_left: AtomicU32,
    calls: AtomicU32,
}

impl Recorder {
    fn new(db: Db, failures: u32) -> Arc<Self> {
        Arc::new(Self {
            db,
            failures_left: AtomicU32::new(failures),
            calls: AtomicU32::new(0),
        })
    }
}

#[async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.failures_left.load(Ordering::SeqCst) > 0 {
            self.failures_left.fetch_sub(1, Ordering::SeqCst);
            return Err(HandlerError::Transient(anyhow::anyhow!("injected failure")));
        }
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Payload {
            n: i64,
        }
        event.data_as::<Payload>()?;
        insert_effect(&self.db, "g", event).await?;
        Ok(())
    }
}

/// The effect: one row per event, applied through the inbox.
async fn insert_effect(db: &Db, consumer: &str, event: &CloudEvent) -> Result<bool, sqlx::Error> {
    let (id, subject) = (event.id.clone(), event.subject.clone());
    inbox::apply_once(db, consumer, &event.id, move |conn| {
        Box::pin(async move {
            sqlx::query("INSERT INTO effects (event_id, subject) VALUES ($1, $2)")
                .bind(id)
                .bind(subject)
                .execute(conn)
                .await?;
            Ok(())
        })
    })
    .await
}

async fn an_event_the_bus_refuses_is_parked_and_the_events_after_it_still_flow(backend: Backend) {
    let (db, _guard) = fresh(backend, &MIGRATOR).await;
    let (bus, _dir) = log().await;
    let oversized = CloudEvent::new(
        "/test",
        "miyagi.test.happened.v1",
        "a",
        &json!({ "blob": "x".repeat(MAX_RECORD_BYTES) }),
    );
    let after = event("a", 2);
    write_with_event(&db, &oversized, true).await;
    write_with_event(&db, &after, true).await;

    let relay = Relay::new(db.clone(), Arc::new(bus.clone()));
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    relay.run(shutdown).await;

    let published: Vec<String> = consume_all(&bus, "g", "t")
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(published, vec![after.id]);
    let (parked, reason): (String, String) =
        sqlx::query_as("SELECT event_id, reason FROM miyagi_outbox_parked")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(parked, oversized.id);
    assert!(reason.contains("over the limit"), "{reason}");
    assert_eq!(outbox::pending(&db).await.unwrap(), 0);
}

async fn an_erasure_tombstones_the_dead_letters_and_parked_records_of_its_key_but_spares_the_deletion(
    backend: Backend,
) {
    let (db, _guard) = fresh(backend, &MIGRATOR).await;
    let (bus, _dir) = log().await;
    // Parked: two oversized events about `a` (the second is the deletion) and one about `b`.
    let oversized = |key: &str| {
        CloudEvent::new(
            "/test",
            "miyagi.test.happened.v1",
            key,
            &json!({ "secret": "Ada's salary", "blob": "x".repeat(MAX_RECORD_BYTES) }),
        )
    };
    let (about_a, deletion, about_b) = (oversized("a"), oversized("a"), oversized("b"));
    for e in [&about_a, &deletion, &about_b] {
        write_with_event(&db, e, true).await;
    }
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    Relay::new(db.clone(), Arc::new(bus.clone()))
        .run(shutdown)
        .await;
    // Dead-lettered: a poison event about `a`.
    let poison = CloudEvent::new(
        "/test",
        "miyagi.test.happened.v1",
        "a",
        &json!({ "n": "Ada's salary" }),
    );
    bus.publish(vec![Record::event("t", &poison)])
        .await
        .unwrap();
    run_consumer_until(&bus, Recorder::new(db.clone(), 0), || async {
        dead_letters::list(&db, 10).await.unwrap().len() == 1
    })
    .await;

    let erased = erasure::erase_kept_copies(&db, "t", "a", &deletion.id)
        .await
        .unwrap();
    assert_eq!(erased, 2, "the parked event and the dead letter about `a`");
    let kept: Vec<(String, String)> =
        sqlx::query_as("SELECT event_id, event FROM miyagi_outbox_parked ORDER BY seq")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let still_secret: Vec<&str> = kept
        .iter()
        .filter(|(_, event)| event.contains("Ada's salary"))
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(
        still_secret,
        vec![deletion.id.as_str(), about_b.id.as_str()]
    );
    let letter = &dead_letters::list(&db, 10).await.unwrap()[0];
    assert_eq!(letter.record["id"], json!(poison.id));
    assert_eq!(letter.record["data"], json!(null));
    assert!(!letter.record.to_string().contains("Ada's salary"));
    assert_eq!(
        erasure::erase_kept_copies(&db, "t", "a", &deletion.id)
            .await
            .unwrap(),
        0,
        "erasing twice changes nothing"
    );
}

#[tokio::test]
async fn inbox_ids_are_kept_until_the_cut_off_passes_them_then_forgotten() {
    let (db, _guard) = fresh(Backend::Sqlite, &MIGRATOR).await;
    for id in ["a", "b"] {
        let mut tx = db.begin().await.unwrap();
        assert!(inbox::claim(&mut tx, "g", id).await.unwrap());
        tx.commit().await.unwrap();
    }
    let now = chrono::Utc::now();
    assert_eq!(
        inbox::prune(&db, now - chrono::Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        inbox::prune(&db, now + chrono::Duration::hours(1))
            .await
            .unwrap(),
        2
    );
    assert!(!inbox::seen(&db, "g", "a").await.unwrap());
}
