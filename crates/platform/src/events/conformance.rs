//! The promises of an [`EventBus`], written once and run on every implementation: the embedded
//! log in this crate's tests, Kafka in `miyagi-kafka`'s. A new implementation is done when
//! [`bus_conformance!`](crate::bus_conformance) passes on it.
//!
//! Services rely on the bus together with the [`Consumer`] loop running on it, so the suite
//! checks both: keyed order, committed offsets surviving a restart, independent groups, prompt
//! wake-up, poison records parked on `<topic>.dlq`, redelivery of exactly what was not
//! committed, and the lag operators watch.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{
    consumer::{dead_letter_topic, DEAD_LETTER_TYPE},
    embedded::EmbeddedLog,
    CloudEvent, Consumer, Delivery, EventBus, EventHandler, HandlerError, Record, Subscription,
};
use crate::config::ConsumerConfig;

/// One implementation under test, on a log of its own (a file, a topic prefix), so that tests
/// can run side by side on one broker.
#[async_trait]
pub trait Harness: Send + Sync {
    /// A connection to this harness's log; connecting again after dropping every connection
    /// is a restart of the process that used it.
    async fn connect(&self) -> Arc<dyn EventBus>;

    /// Sum over `topic`'s partitions of the offsets `group` committed (the next ones to read).
    async fn committed(&self, group: &str, topic: &str) -> i64;
}

/// Generates one `#[tokio::test]` per promise, each on a fresh harness from `$harness`, an
/// `async fn() -> impl Harness` in scope.
#[macro_export]
macro_rules! bus_conformance {
    ($harness:path) => {
        $crate::bus_conformance!(
            @each $harness;
            records_with_the_same_key_are_consumed_in_publish_order,
            a_group_resumes_after_its_committed_offsets_after_a_restart,
            groups_consume_independently,
            a_waiting_consumer_wakes_as_soon_as_a_record_is_published,
            a_poison_record_is_parked_on_the_dead_letter_topic_with_the_reason,
            a_consumer_stopped_mid_batch_redelivers_only_what_it_did_not_commit,
            a_paused_partition_is_held_back_until_resumed_and_then_skips_nothing,
            a_groups_lag_counts_the_records_after_its_committed_position,
        );
    };
    (@each $harness:path; $($promise:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $promise() {
                $crate::events::conformance::$promise(&$harness().await).await
            }
        )+
    };
}

/// The embedded log in a temporary folder.
pub struct EmbeddedHarness {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl EmbeddedHarness {
    const PARTITIONS: u32 = 4;

    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self {
            path: dir.path().join("events"),
            _dir: dir,
        }
    }

    async fn open(&self) -> EmbeddedLog {
        EmbeddedLog::open(&self.path, Self::PARTITIONS)
            .await
            .expect("the log opens")
    }
}

#[async_trait]
impl Harness for EmbeddedHarness {
    async fn connect(&self) -> Arc<dyn EventBus> {
        Arc::new(self.open().await)
    }

    async fn committed(&self, group: &str, topic: &str) -> i64 {
        let log = self.open().await;
        let mut sum = 0;
        for partition in 0..Self::PARTITIONS {
            sum += log.committed(group, topic, partition).await.unwrap();
        }
        sum
    }
}

pub async fn records_with_the_same_key_are_consumed_in_publish_order(harness: &dyn Harness) {
    let bus = harness.connect().await;
    // One batch per round, keys interleaved: they spread over partitions but each keeps order.
    for round in 0..20 {
        let records = KEYS
            .iter()
            .map(|key| Record::event("orders", &event(key, round)))
            .collect();
        bus.publish(records).await.unwrap();
    }
    let mut sub = bus.subscribe("ordering", &["orders"]).await.unwrap();
    let got = drain(&mut sub, 80).await;
    for key in KEYS {
        let seen: Vec<usize> = got.iter().filter(|d| d.key == key).map(n_of).collect();
        assert_eq!(seen, (0..20).collect::<Vec<_>>(), "order of {key}");
    }
}

pub async fn a_group_resumes_after_its_committed_offsets_after_a_restart(harness: &dyn Harness) {
    {
        let bus = harness.connect().await;
        publish_in_order(&*bus, 10).await;
        let mut sub = bus.subscribe("resume", &["t"]).await.unwrap();
        let first = drain(&mut sub, 10).await;
        // Processed 0..=3 and committed them, then "crashed": the commit lands mid-batch.
        sub.commit(&first[..4]).await.unwrap();
    }
    let bus = harness.connect().await;
    let mut sub = bus.subscribe("resume", &["t"]).await.unwrap();
    let resumed = drain(&mut sub, 6).await;
    let seen: Vec<usize> = resumed.iter().map(n_of).collect();
    assert_eq!(seen, [4, 5, 6, 7, 8, 9]);
}

pub async fn groups_consume_independently(harness: &dyn Harness) {
    let bus = harness.connect().await;
    publish_in_order(&*bus, 5).await;
    let mut a = bus.subscribe("group-a", &["t"]).await.unwrap();
    let got_a = drain(&mut a, 5).await;
    a.commit(&got_a).await.unwrap();
    let mut b = bus.subscribe("group-b", &["t"]).await.unwrap();
    let seen: Vec<usize> = drain(&mut b, 5).await.iter().map(n_of).collect();
    assert_eq!(seen, [0, 1, 2, 3, 4]);
}

pub async fn a_waiting_consumer_wakes_as_soon_as_a_record_is_published(harness: &dyn Harness) {
    let bus = harness.connect().await;
    // Once a first record arrives the member has joined its group, so what is timed below is
    // the wake-up alone.
    bus.publish(vec![Record::event("t", &event("k", 0))])
        .await
        .unwrap();
    let mut sub = bus.subscribe("waiting", &["t"]).await.unwrap();
    drain(&mut sub, 1).await;
    let publisher = bus.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        publisher
            .publish(vec![Record::event("t", &event("k", 1))])
            .await
            .unwrap();
    });
    let started = Instant::now();
    let got = sub.poll(10, Duration::from_secs(10)).await.unwrap();
    assert_eq!(got.iter().map(n_of).collect::<Vec<_>>(), [1]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "woke after {:?}",
        started.elapsed()
    );
}

pub async fn a_poison_record_is_parked_on_the_dead_letter_topic_with_the_reason(
    harness: &dyn Harness,
) {
    let bus = harness.connect().await;
    let good = event("k", 1);
    bus.publish(vec![
        Record {
            topic: "t".into(),
            key: "k".into(),
            payload: b"{not json".to_vec(),
        },
        Record::event("t", &good),
    ])
    .await
    .unwrap();
    let handler = Arc::new(Counting::default());
    let shutdown = CancellationToken::new();
    let running = start(&bus, "poison", handler.clone(), shutdown.clone());
    wait_until("the good event is handled", || handler.saw(&good.id)).await;
    shutdown.cancel();
    running.await.unwrap();

    let mut letters = bus
        .subscribe("inspect", &[&dead_letter_topic("t")])
        .await
        .unwrap();
    let parked = drain(&mut letters, 1).await;
    let letter = CloudEvent::from_bytes(&parked[0].payload).unwrap();
    assert_eq!(letter.event_type, DEAD_LETTER_TYPE);
    assert_eq!(letter.data["topic"], "t");
    assert_eq!(letter.data["record"], "{not json");
    assert!(
        letter.data["error"]
            .as_str()
            .unwrap()
            .contains("not a CloudEvents"),
        "{letter:?}"
    );
}

pub async fn a_consumer_stopped_mid_batch_redelivers_only_what_it_did_not_commit(
    harness: &dyn Harness,
) {
    let bus = harness.connect().await;
    let events: Vec<CloudEvent> = (0..40).map(|n| event(&format!("k{}", n % 4), n)).collect();
    bus.publish(events.iter().map(|e| Record::event("t", e)).collect())
        .await
        .unwrap();

    // First member: abort it (no goodbye, batch in hand uncommitted) once it has handled more
    // than a batch, so at least one commit happened.
    let first = Arc::new(Counting::default());
    let running = start(&bus, "midbatch", first.clone(), CancellationToken::new());
    wait_until("some events are handled", || first.distinct() >= 15).await;
    running.abort();
    let _ = running.await;

    // A new member of the group takes over from the committed offsets.
    let second = Arc::new(Counting::default());
    let shutdown = CancellationToken::new();
    let running = start(&bus, "midbatch", second.clone(), shutdown.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while harness.committed("midbatch", "t").await < 40 {
        assert!(
            Instant::now() < deadline,
            "the second member never committed every partition to its end"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    running.await.unwrap();

    // Nothing lost; redelivered only what the first member had not committed, which the inbox
    // would absorb in a service. Nothing the first member committed came back.
    assert!(events.iter().all(|e| first.saw(&e.id) || second.saw(&e.id)));
    let second_applied = second.applied.lock().unwrap();
    assert!(second_applied.values().all(|&n| n == 1));
    assert!(
        second_applied.len() < 40,
        "the second member re-read everything: nothing was committed before the abort"
    );
}

pub async fn a_paused_partition_is_held_back_until_resumed_and_then_skips_nothing(
    harness: &dyn Harness,
) {
    let bus = harness.connect().await;
    let round = |from: usize| -> Vec<Record> {
        (from..from + 8)
            .map(|n| Record::event("t", &event(&format!("k{}", n % 8), n)))
            .collect()
    };
    bus.publish(round(0)).await.unwrap();
    let mut sub = bus.subscribe("paused", &["t"]).await.unwrap();
    let first = drain(&mut sub, 8).await;
    let held = first[0].partition;
    let on_held = first.iter().filter(|d| d.partition == held).count();

    sub.pause("t", held).await.unwrap();
    bus.publish(round(8)).await.unwrap();
    let mut during = drain(&mut sub, 8 - on_held).await;
    during.extend(sub.poll(100, Duration::from_millis(500)).await.unwrap());
    assert!(
        during.iter().all(|d| d.partition != held),
        "a record of the paused partition was returned"
    );
    assert_eq!(during.len(), 8 - on_held, "the other partitions flowed");

    sub.resume("t", held).await.unwrap();
    let after: Vec<usize> = drain(&mut sub, on_held).await.iter().map(n_of).collect();
    let expected: Vec<usize> = first
        .iter()
        .filter(|d| d.partition == held)
        .map(|d| n_of(d) + 8)
        .collect();
    assert_eq!(after, expected, "the held records, in order, none skipped");
}

const KEYS: [&str; 4] = ["alice", "bob", "carol", "dave"];

fn event(key: &str, n: usize) -> CloudEvent {
    CloudEvent::new(
        "/miyagi/test",
        "miyagi.test.counted.v1",
        key,
        &serde_json::json!({ "n": n }),
    )
}

pub async fn a_groups_lag_counts_the_records_after_its_committed_position(harness: &dyn Harness) {
    let bus = harness.connect().await;
    publish_in_order(&*bus, 10).await;
    let mut sub = bus.subscribe("lagging", &["t"]).await.unwrap();
    let got = drain(&mut sub, 10).await;
    let behind = |lags: Vec<super::PartitionLag>| lags.iter().map(|l| l.records).sum::<u64>();

    // Read but not committed is still owed: a restart would deliver it again.
    assert_eq!(behind(sub.lag().await.unwrap()), 10);
    sub.commit(&got[..4]).await.unwrap();
    assert_eq!(behind(sub.lag().await.unwrap()), 6);
    sub.commit(&got).await.unwrap();
    assert_eq!(behind(sub.lag().await.unwrap()), 0);
}

/// Events 0..`count` on topic `t`, all under one key, so they keep their order.
async fn publish_in_order(bus: &dyn EventBus, count: usize) {
    bus.publish(
        (0..count)
            .map(|n| Record::event("t", &event("k", n)))
            .collect(),
    )
    .await
    .unwrap();
}

fn n_of(delivery: &Delivery) -> usize {
    let event = CloudEvent::from_bytes(&delivery.payload).unwrap();
    event.data["n"].as_u64().unwrap() as usize
}

/// Polls until `expected` records arrived; a broker's first poll also waits for the group to form.
pub async fn drain(sub: &mut Box<dyn Subscription>, expected: usize) -> Vec<Delivery> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while out.len() < expected {
        assert!(
            Instant::now() < deadline,
            "only {} of {expected} records within 60 s",
            out.len()
        );
        out.extend(sub.poll(1000, Duration::from_secs(1)).await.unwrap());
    }
    out
}

/// Applies each event once per id; counts how often each id was seen.
#[derive(Default)]
struct Counting {
    applied: Mutex<HashMap<String, usize>>,
}

impl Counting {
    fn saw(&self, id: &str) -> bool {
        self.applied.lock().unwrap().contains_key(id)
    }

    fn distinct(&self) -> usize {
        self.applied.lock().unwrap().len()
    }
}

#[async_trait]
impl EventHandler for Counting {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        *self
            .applied
            .lock()
            .unwrap()
            .entry(event.id.clone())
            .or_default() += 1;
        Ok(())
    }
}

/// Runs the consumer loop of `group` on topic `t` until `shutdown`, with short backoffs.
fn start(
    bus: &Arc<dyn EventBus>,
    group: &str,
    handler: Arc<Counting>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let settings = ConsumerConfig {
        backoff_initial_ms: 5,
        backoff_max_ms: 50,
        batch_size: 10,
        ..ConsumerConfig::default()
    };
    tokio::spawn(Consumer::new(group, &["t"], handler).run(bus.clone(), settings, shutdown))
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
