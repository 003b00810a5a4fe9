//! Embedded event log: publish → consume → commit throughput and end-to-end latency.
//!
//! `cargo bench -p miyagi-platform --bench event_log`; with `MIYAGI_BENCH_ONLY=producers`, the
//! concurrent producers' row alone (for profiles).
//!
//! A producer publishes records in batches while a consumer group polls, and commits after each
//! batch (the same loop services run). Throughput rows run the producer flat out, so their latency
//! includes queueing; the paced row leaves 5 ms between events to show latency without a backlog.
//! Latency is publish-call start → record in the consumer's hands. Baselines, same session, the
//! same records a batch at a time from this thread with nothing else running: appended to a bare
//! file of zeros with a write and an `fdatasync` a batch (the disk's ceiling for what the log
//! does, less its consumer, framing and index), and inserted into a bare SQLite table (WAL,
//! `synchronous=FULL`) a prepared statement a row (what the log cost when SQLite kept it).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use miyagi_platform::events::{embedded::EmbeddedLog, Delivery, EventBus, Record, Subscription};

/// A multiple of every batch size below, so each run sends exactly this many; at 200k events/s
/// a run still lasts half a second, long enough to smooth this machine's fsync times.
const EVENTS: usize = 102_400;

#[tokio::main]
async fn main() {
    if std::env::var("MIYAGI_BENCH_ONLY").as_deref() == Ok("producers") {
        let (rate, p50, p99) = concurrent_run(16, 1_600).await;
        println!("16 producers: {rate:.0} events/s, p50 {p50:?}, p99 {p99:?}");
        return;
    }
    println!("| batch | events | log: events/s | log: p50 latency | log: p99 latency | bare file, a write + flush a batch | bare SQLite table, prepared a row | log / bare file |");
    println!("|---|---|---|---|---|---|---|---|");
    for batch in [1usize, 10, 100, 256] {
        let events = if batch == 1 { EVENTS / 10 } else { EVENTS };
        let (rate, p50, p99) = log_run(events, batch, None).await;
        let file = file_baseline(events, batch);
        let prepared = prepared_baseline(events, batch);
        println!(
            "| {batch} | {events} | {rate:.0} | {:.2} ms | {:.2} ms | {file:.0} | {prepared:.0} | {:.2} |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            rate / file
        );
    }
    let (rate, p50, p99) = concurrent_run(16, 1_600).await;
    println!(
        "| 1, from 16 producers at once (publish → acknowledged) | {} | {rate:.0} | {:.2} ms | {:.2} ms | – | – | – |",
        16 * 1_600,
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    let (_, p50, p99) = log_run(1000, 1, Some(Duration::from_millis(5))).await;
    println!(
        "| paced (5 ms apart) | 1000 | – | {:.2} ms | {:.2} ms | – | – | – |",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

async fn log_run(events: usize, batch: usize, pace: Option<Duration>) -> (f64, Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("events"), 4)
        .await
        .unwrap();
    let mut subscription = log.subscribe("bench", &["bench"]).await.unwrap();
    let origin = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut latencies = Histogram::<u64>::new(3).unwrap();
        consume(subscription.as_mut(), events, |got| {
            let now = origin.elapsed().as_micros() as u64;
            for d in got {
                let sent = u64::from_le_bytes(d.payload[..8].try_into().unwrap());
                latencies.record(now.saturating_sub(sent).max(1)).unwrap();
            }
        })
        .await;
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

/// `producers` tasks each publishing `each` one-event batches as fast as they are acknowledged,
/// with a consumer group reading and committing beside them; latency is publish → acknowledged.
async fn concurrent_run(producers: usize, each: usize) -> (f64, Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(
        EmbeddedLog::open(&dir.path().join("events"), 4)
            .await
            .unwrap(),
    );
    let mut subscription = log.subscribe("bench", &["bench"]).await.unwrap();
    let total = producers * each;
    let consumer = tokio::spawn(async move { consume(subscription.as_mut(), total, |_| {}).await });
    let started = Instant::now();
    let tasks: Vec<_> = (0..producers)
        .map(|p| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut latencies = Histogram::<u64>::new(3).unwrap();
                for i in 0..each {
                    let sent = Instant::now();
                    log.publish(vec![record(p * each + i, 0)]).await.unwrap();
                    latencies
                        .record(sent.elapsed().as_micros().max(1) as u64)
                        .unwrap();
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Histogram::<u64>::new(3).unwrap();
    for task in tasks {
        latencies.add(task.await.unwrap()).unwrap();
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    consumer.await.unwrap();
    let micros = |q| Duration::from_micros(latencies.value_at_quantile(q));
    (rate, micros(0.5), micros(0.99))
}

/// The services' consumer loop: poll, look, commit, until `total` records are in.
async fn consume(
    subscription: &mut dyn Subscription,
    total: usize,
    mut look: impl FnMut(&[Delivery]),
) {
    let mut seen = 0;
    while seen < total {
        let got = subscription
            .poll(1000, Duration::from_secs(5))
            .await
            .unwrap();
        look(&got);
        subscription.commit(&got).await.unwrap();
        seen += got.len();
    }
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

/// The storage engine's ceiling: the same records into a bare table from this thread, one
/// prepared statement a row, a transaction a batch.
fn prepared_baseline(events: usize, batch: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = rusqlite::Connection::open(dir.path().join("baseline.db")).unwrap();
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        .unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, payload BLOB)",
        [],
    )
    .unwrap();
    let started = Instant::now();
    for chunk in 0..events / batch {
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO t (k, payload) VALUES (?1, ?2)")
                .unwrap();
            for i in 0..batch {
                let r = record(chunk * batch + i, 0);
                insert.execute(rusqlite::params![r.key, r.payload]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// The disk's ceiling: the same records' bytes written into a file of zeros already on disk from
/// this thread, one `pwrite` and one `fdatasync` a batch, as the log writes a group.
fn file_baseline(events: usize, batch: usize) -> f64 {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::create(dir.path().join("baseline.log")).unwrap();
    file.write_all_at(&vec![0; events * 800], 0).unwrap();
    file.sync_all().unwrap();
    let started = Instant::now();
    let mut at = 0;
    for chunk in 0..events / batch {
        let mut bytes = Vec::new();
        for i in 0..batch {
            let r = record(chunk * batch + i, 0);
            bytes.extend_from_slice(r.key.as_bytes());
            bytes.extend_from_slice(&r.payload);
        }
        file.write_all_at(&bytes, at).unwrap();
        file.sync_data().unwrap();
        at += bytes.len() as u64;
    }
    events as f64 / started.elapsed().as_secs_f64()
}
