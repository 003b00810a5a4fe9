//! Embedded event log: publish → consume → commit throughput and end-to-end latency.
//!
//! `cargo bench -p miyagi-platform --bench event_log`
//!
//! A producer publishes records in batches while a consumer group polls, and commits after each
//! batch (the same loop services run). Throughput rows run the producer flat out, so their latency
//! includes queueing; the paced row leaves 5 ms between events to show latency without a backlog.
//! Latency is publish-call start → record in the consumer's hands. Baseline, same session and same
//! SQLite settings (WAL, synchronous=FULL): plain batched INSERTs into a bare table, i.e. the
//! storage engine's own ceiling, so the ratio shows what the log machinery costs.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use miyagi_platform::events::{embedded::EmbeddedLog, EventBus, Record};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

const EVENTS: usize = 20_000;

#[tokio::main]
async fn main() {
    println!("| batch | events | log: events/s | log: p50 latency | log: p99 latency | baseline INSERT events/s | ratio |");
    println!("|---|---|---|---|---|---|---|");
    for batch in [1usize, 10, 100] {
        let events = if batch == 1 { EVENTS / 10 } else { EVENTS };
        let (rate, p50, p99) = log_run(events, batch, None).await;
        let baseline = baseline_run(events, batch).await;
        println!(
            "| {batch} | {events} | {rate:.0} | {:.2} ms | {:.2} ms | {baseline:.0} | {:.2} |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            rate / baseline
        );
    }
    let (_, p50, p99) = log_run(1000, 1, Some(Duration::from_millis(5))).await;
    println!(
        "| paced (5 ms apart) | 1000 | – | {:.2} ms | {:.2} ms | – | – |",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

async fn log_run(events: usize, batch: usize, pace: Option<Duration>) -> (f64, Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("events.db"), 4)
        .await
        .unwrap();
    let mut subscription = log.subscribe("bench", &["bench"]).await.unwrap();
    let origin = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut latencies = Histogram::<u64>::new(3).unwrap();
        let mut seen = 0;
        while seen < events {
            let got = subscription
                .poll(1000, Duration::from_secs(5))
                .await
                .unwrap();
            let now = origin.elapsed().as_micros() as u64;
            for d in &got {
                let sent = u64::from_le_bytes(d.payload[..8].try_into().unwrap());
                latencies.record(now.saturating_sub(sent).max(1)).unwrap();
            }
            subscription.commit(&got).await.unwrap();
            seen += got.len();
        }
        latencies
    });
    let started = Instant::now();
    let producer = Arc::new(log);
    for chunk in 0..events / batch {
        let sent = origin.elapsed().as_micros() as u64;
        let records = (0..batch)
            .map(|i| record(chunk * batch + i, sent))
            .collect();
        producer.publish(records).await.unwrap();
        if let Some(pause) = pace {
            tokio::time::sleep(pause).await;
        }
    }
    let latencies = consumer.await.unwrap();
    let rate = events as f64 / started.elapsed().as_secs_f64();
    let micros = |q| Duration::from_micros(latencies.value_at_quantile(q));
    (rate, micros(0.5), micros(0.99))
}

fn record(i: usize, sent_micros: u64) -> Record {
    // A realistic envelope size (~700 bytes, like a profile event) with the send time up front.
    let mut payload = sent_micros.to_le_bytes().to_vec();
    payload.extend(std::iter::repeat_n(b'x', 700));
    Record {
        topic: "bench".into(),
        key: format!("user-{}", i % 1000),
        payload,
    }
}

async fn baseline_run(events: usize, batch: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("baseline.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, payload BLOB)")
        .execute(&pool)
        .await
        .unwrap();
    let started = Instant::now();
    for chunk in 0..events / batch {
        let mut tx = pool.begin().await.unwrap();
        for i in 0..batch {
            let r = record(chunk * batch + i, 0);
            sqlx::query("INSERT INTO t (k, payload) VALUES ($1, $2)")
                .bind(r.key)
                .bind(r.payload)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    events as f64 / started.elapsed().as_secs_f64()
}
