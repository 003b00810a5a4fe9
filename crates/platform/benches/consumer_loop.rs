//! The consumer loop: what [`Consumer`] costs over polling and committing by hand, and what one
//! slow event costs the partitions beside it.
//!
//! `cargo bench -p miyagi-platform --bench consumer_loop`
//!
//! 20,000 envelopes (~700 bytes, 1,000 keys, 4 partitions) are published first, then consumed:
//! - baseline: `poll(100)` → `commit` by hand, the bus's own ceiling;
//! - the loop: `Consumer` with a handler that does nothing, so the row is the loop's own cost
//!   (lanes, probe, pause gate, panic guard and time limit per event);
//! - one slow event: the same, but the first event of one key takes 1 s. The row reports when
//!   the events of the other three partitions were all handled: with a lane per partition they
//!   do not wait for it.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use miyagi_platform::{
    config::ConsumerConfig,
    events::{
        embedded::EmbeddedLog, CloudEvent, Consumer, EventBus, EventHandler, HandlerError, Record,
    },
};
use tokio_util::sync::CancellationToken;

const EVENTS: usize = 20_000;
const SLOW_KEY: &str = "user-0";

#[tokio::main]
async fn main() {
    println!("| run | events | events/s | seconds | ratio to baseline |");
    println!("|---|---|---|---|---|");
    let (log, _dir) = published().await;
    let baseline = by_hand(&log).await;
    println!(
        "| baseline: poll(100) → commit | {EVENTS} | {:.0} | {:.2} | 1.00 |",
        EVENTS as f64 / baseline,
        baseline
    );
    let (all, _) = through_consumer(&log, "loop", Duration::ZERO).await;
    println!(
        "| Consumer, no-op handler | {EVENTS} | {:.0} | {all:.2} | {:.2} |",
        EVENTS as f64 / all,
        baseline / all
    );
    let (all, others) = through_consumer(&log, "slow", Duration::from_secs(1)).await;
    println!(
        "| Consumer, one event takes 1 s: the other partitions done after | {} | – | {others:.2} | {:.2} |",
        EVENTS - per_partition(&log, SLOW_KEY),
        baseline / others
    );
    println!(
        "| … and everything, the slow partition included, after | {EVENTS} | – | {all:.2} | – |"
    );
}

async fn published() -> (EmbeddedLog, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("events"), 4)
        .await
        .unwrap();
    for chunk in 0..EVENTS / 256 + 1 {
        let records = (chunk * 256..((chunk + 1) * 256).min(EVENTS))
            .map(|i| {
                let event = CloudEvent::new(
                    "/bench",
                    "miyagi.bench.happened.v1",
                    format!("user-{}", i % 1000),
                    &serde_json::json!({ "n": i, "padding": "x".repeat(500) }),
                );
                Record::event("bench", &event)
            })
            .collect::<Vec<_>>();
        if !records.is_empty() {
            log.publish(records).await.unwrap();
        }
    }
    (log, dir)
}

/// How many events share `key`'s partition.
fn per_partition(log: &EmbeddedLog, key: &str) -> usize {
    let partition = log.partition_for(key);
    (0..EVENTS)
        .filter(|i| log.partition_for(&format!("user-{}", i % 1000)) == partition)
        .count()
}

async fn by_hand(log: &EmbeddedLog) -> f64 {
    let mut subscription = log.subscribe("by-hand", &["bench"]).await.unwrap();
    let started = Instant::now();
    let mut seen = 0;
    while seen < EVENTS {
        let got = subscription
            .poll(100, Duration::from_secs(5))
            .await
            .unwrap();
        subscription.commit(&got).await.unwrap();
        seen += got.len();
    }
    started.elapsed().as_secs_f64()
}

/// Handles every event at once, except the first of [`SLOW_KEY`], which takes `slow`.
struct Bench {
    slow_partition: u32,
    slow: Duration,
    slowed: std::sync::atomic::AtomicBool,
    done: AtomicUsize,
    others_done: AtomicUsize,
    log: EmbeddedLog,
}

#[async_trait]
impl EventHandler for Bench {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.subject == SLOW_KEY && !self.slowed.swap(true, Ordering::SeqCst) {
            tokio::time::sleep(self.slow).await;
        }
        if self.log.partition_for(&event.subject) != self.slow_partition {
            self.others_done.fetch_add(1, Ordering::SeqCst);
        }
        self.done.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Seconds until every event was handled, and until every event outside the slow key's
/// partition was.
async fn through_consumer(log: &EmbeddedLog, group: &str, slow: Duration) -> (f64, f64) {
    let others = EVENTS - per_partition(log, SLOW_KEY);
    let handler = Arc::new(Bench {
        slow_partition: log.partition_for(SLOW_KEY),
        slow,
        slowed: Default::default(),
        done: AtomicUsize::new(0),
        others_done: AtomicUsize::new(0),
        log: log.clone(),
    });
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let running = tokio::spawn(Consumer::new(group, &["bench"], handler.clone()).run(
        Arc::new(log.clone()),
        ConsumerConfig::default(),
        shutdown.clone(),
    ));
    let mut others_at = None;
    while handler.done.load(Ordering::SeqCst) < EVENTS {
        if others_at.is_none() && handler.others_done.load(Ordering::SeqCst) >= others {
            others_at = Some(started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let all = started.elapsed().as_secs_f64();
    shutdown.cancel();
    running.await.unwrap();
    (all, others_at.unwrap_or(all))
}
