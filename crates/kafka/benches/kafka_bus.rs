//! Kafka adapter: publish → consume → commit throughput and end-to-end latency, next to the
//! embedded log in the same session.
//!
//! `scripts/kafka.sh start && cargo bench -p miyagi-kafka --bench kafka_bus`
//! (`TEST_KAFKA_BROKERS` picks another broker.)
//!
//! The loop is the one services run: a producer publishes batches while a consumer group polls
//! and commits after each batch. Latency is publish-call start → record in the consumer's hands.
//! Throughput rows run the producer flat out, so their latency includes queueing; the paced row
//! leaves 5 ms between events. The baseline is the embedded log running the same loop.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use miyagi_kafka::KafkaBus;
use miyagi_platform::{
    config::KafkaConfig,
    events::{embedded::EmbeddedLog, EventBus, Record},
};

const EVENTS: usize = 20_000;

fn settings() -> KafkaConfig {
    KafkaConfig {
        brokers: Some(
            std::env::var("TEST_KAFKA_BROKERS").unwrap_or_else(|_| "localhost:9092".into()),
        ),
        prefix: format!("bench-{}.", uuid::Uuid::new_v4().simple()),
        ..KafkaConfig::default()
    }
}

#[tokio::main]
async fn main() {
    println!("| bus | batch | events | events/s | p50 latency | p99 latency |");
    println!("|---|---|---|---|---|---|");
    for batch in [1usize, 100] {
        let events = if batch == 1 { EVENTS / 10 } else { EVENTS };
        let kafka = Arc::new(KafkaBus::connect(&settings(), 4).unwrap());
        row(
            "kafka (adapter)",
            batch,
            events,
            bus_run(kafka, events, batch, None).await,
        );
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(
            EmbeddedLog::open(&dir.path().join("e.db"), 4)
                .await
                .unwrap(),
        );
        row(
            "embedded log",
            batch,
            events,
            bus_run(log, events, batch, None).await,
        );
    }
    let kafka = Arc::new(KafkaBus::connect(&settings(), 4).unwrap());
    let paced = bus_run(kafka, 1000, 1, Some(Duration::from_millis(5))).await;
    row("kafka (adapter), paced 5 ms", 1, 1000, paced);
}

fn row(bus: &str, batch: usize, events: usize, (rate, p50, p99): (f64, Duration, Duration)) {
    println!(
        "| {bus} | {batch} | {events} | {rate:.0} | {:.2} ms | {:.2} ms |",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

async fn bus_run(
    bus: Arc<dyn EventBus>,
    events: usize,
    batch: usize,
    pace: Option<Duration>,
) -> (f64, Duration, Duration) {
    let mut subscription = bus.subscribe("bench", &["bench"]).await.unwrap();
    // Let the group form before timing, as a running service's would have.
    let _ = subscription.poll(1, Duration::from_secs(3)).await.unwrap();
    let origin = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut latencies = Histogram::<u64>::new(3).unwrap();
        let mut seen = 0;
        while seen < events {
            let got = subscription
                .poll(1000, Duration::from_secs(10))
                .await
                .unwrap();
            let now = origin.elapsed().as_micros() as u64;
            for d in &got {
                latencies
                    .record(now.saturating_sub(sent_at(&d.payload)).max(1))
                    .unwrap();
            }
            if !got.is_empty() {
                subscription.commit(&got).await.unwrap();
            }
            seen += got.len();
        }
        latencies
    });
    let started = Instant::now();
    for chunk in 0..events / batch {
        let sent = origin.elapsed().as_micros() as u64;
        let records = (0..batch)
            .map(|i| record(chunk * batch + i, sent))
            .collect();
        bus.publish(records).await.unwrap();
        if let Some(pause) = pace {
            tokio::time::sleep(pause).await;
        }
    }
    let latencies = consumer.await.unwrap();
    summarize(events, started, &latencies)
}

fn summarize(
    events: usize,
    started: Instant,
    latencies: &Histogram<u64>,
) -> (f64, Duration, Duration) {
    let rate = events as f64 / started.elapsed().as_secs_f64();
    let micros = |q| Duration::from_micros(latencies.value_at_quantile(q));
    (rate, micros(0.5), micros(0.99))
}

fn sent_at(payload: &[u8]) -> u64 {
    u64::from_le_bytes(payload[..8].try_into().unwrap())
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
