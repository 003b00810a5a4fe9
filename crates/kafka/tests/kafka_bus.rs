//! The Kafka adapter against a real Kafka-protocol broker (`scripts/kafka.sh start`, or
//! `TEST_KAFKA_BROKERS`): the guarantees services rely on, checked end to end.
//! Every test works under its own topic and group prefix, so tests share one broker.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use miyagi_kafka::KafkaBus;
use miyagi_platform::{
    config::{ConsumerConfig, KafkaConfig},
    events::{
        consumer::{dead_letter_topic, DEAD_LETTER_TYPE},
        CloudEvent, Consumer, Delivery, EventBus, EventHandler, HandlerError, Record, Subscription,
    },
};
use rdkafka::{
    consumer::{BaseConsumer, Consumer as _},
    message::Headers,
    ClientConfig, Message,
};
use tokio_util::sync::CancellationToken;

fn brokers() -> String {
    std::env::var("TEST_KAFKA_BROKERS").unwrap_or_else(|_| "localhost:9092".into())
}

fn settings() -> KafkaConfig {
    KafkaConfig {
        brokers: Some(brokers()),
        prefix: format!("test-{}.", uuid::Uuid::new_v4().simple()),
        ..KafkaConfig::default()
    }
}

fn bus(settings: &KafkaConfig) -> KafkaBus {
    KafkaBus::connect(settings, 3).expect("valid Kafka settings")
}

fn event(key: &str, n: usize) -> CloudEvent {
    CloudEvent::new(
        "/miyagi/test",
        "miyagi.test.counted.v1",
        key,
        &serde_json::json!({ "n": n }),
    )
}

fn n_of(delivery: &Delivery) -> usize {
    let event = CloudEvent::from_bytes(&delivery.payload).unwrap();
    event.data["n"].as_u64().unwrap() as usize
}

/// Polls until `expected` records arrived (the first poll also waits for the group to form).
async fn drain(sub: &mut Box<dyn Subscription>, expected: usize) -> Vec<Delivery> {
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

#[tokio::test]
async fn records_with_the_same_key_are_consumed_in_publish_order() {
    let settings = settings();
    let bus = bus(&settings);
    // One batch per round, keys interleaved: they spread over partitions but each keeps order.
    for round in 0..20 {
        let records = ["alice", "bob", "carol", "dave"]
            .iter()
            .map(|key| Record::event("orders", &event(key, round)))
            .collect();
        bus.publish(records).await.unwrap();
    }
    let mut sub = bus.subscribe("ordering", &["orders"]).await.unwrap();
    let got = drain(&mut sub, 80).await;
    for key in ["alice", "bob", "carol", "dave"] {
        let seen: Vec<usize> = got.iter().filter(|d| d.key == key).map(n_of).collect();
        assert_eq!(seen, (0..20).collect::<Vec<_>>(), "order of {key}");
    }
}

#[tokio::test]
async fn a_group_resumes_after_its_committed_offsets_after_a_restart() {
    let settings = settings();
    {
        let bus = bus(&settings);
        bus.publish(
            (0..10)
                .map(|n| Record::event("t", &event("k", n)))
                .collect(),
        )
        .await
        .unwrap();
        let mut sub = bus.subscribe("resume", &["t"]).await.unwrap();
        let first = drain(&mut sub, 10).await;
        // Processed 0..=3 and committed them, then "crashed": the commit lands mid-batch.
        sub.commit(&first[..4]).await.unwrap();
    }
    let bus = bus(&settings);
    let mut sub = bus.subscribe("resume", &["t"]).await.unwrap();
    let resumed = drain(&mut sub, 6).await;
    let seen: Vec<usize> = resumed.iter().map(n_of).collect();
    assert_eq!(seen, [4, 5, 6, 7, 8, 9]);
}

#[tokio::test]
async fn groups_consume_independently() {
    let settings = settings();
    let bus = bus(&settings);
    bus.publish((0..5).map(|n| Record::event("t", &event("k", n))).collect())
        .await
        .unwrap();
    let mut a = bus.subscribe("group-a", &["t"]).await.unwrap();
    let got_a = drain(&mut a, 5).await;
    a.commit(&got_a).await.unwrap();
    let mut b = bus.subscribe("group-b", &["t"]).await.unwrap();
    assert_eq!(drain(&mut b, 5).await.len(), 5);
}

/// Applies each event once per id; counts how often each id was seen.
#[derive(Default)]
struct Counting {
    applied: Mutex<HashMap<String, usize>>,
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

fn consumer_settings() -> ConsumerConfig {
    ConsumerConfig {
        backoff_initial_ms: 5,
        backoff_max_ms: 50,
        batch_size: 10,
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_poison_record_is_parked_on_the_dead_letter_topic_with_the_reason() {
    let settings = settings();
    let bus: Arc<dyn EventBus> = Arc::new(bus(&settings));
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
    let running = tokio::spawn(Consumer::new("poison", &["t"], handler.clone()).run(
        bus.clone(),
        consumer_settings(),
        shutdown.clone(),
    ));
    wait_until("the good event is handled", || {
        handler.applied.lock().unwrap().contains_key(&good.id)
    })
    .await;
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

#[tokio::test]
async fn a_consumer_stopped_mid_batch_redelivers_only_what_it_did_not_commit() {
    let settings = settings();
    let bus: Arc<dyn EventBus> = Arc::new(bus(&settings));
    let events: Vec<CloudEvent> = (0..40).map(|n| event(&format!("k{}", n % 4), n)).collect();
    bus.publish(events.iter().map(|e| Record::event("t", e)).collect())
        .await
        .unwrap();

    // First member: abort it (no goodbye, batch in hand uncommitted) once it has handled more
    // than a batch, so at least one commit happened.
    let first = Arc::new(Counting::default());
    let running = tokio::spawn(Consumer::new("midbatch", &["t"], first.clone()).run(
        bus.clone(),
        consumer_settings(),
        CancellationToken::new(),
    ));
    wait_until("some events are handled", || {
        first.applied.lock().unwrap().len() >= 15
    })
    .await;
    running.abort();
    let _ = running.await;

    // A new member of the group takes over from the committed offsets.
    let second = Arc::new(Counting::default());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(Consumer::new("midbatch", &["t"], second.clone()).run(
        bus.clone(),
        consumer_settings(),
        shutdown.clone(),
    ));
    let all_seen = || {
        let (a, b) = (
            first.applied.lock().unwrap(),
            second.applied.lock().unwrap(),
        );
        events
            .iter()
            .all(|e| a.contains_key(&e.id) || b.contains_key(&e.id))
    };
    wait_until(
        "every event is handled by one member or the other",
        all_seen,
    )
    .await;
    shutdown.cancel();
    running.await.unwrap();

    // Nothing lost (above); redelivered only what the first member had not committed, which the
    // inbox would absorb in a service. Nothing the first member committed came back.
    let committed =
        miyagi_kafka::committed_offsets(&KafkaBus::connect(&settings, 3).unwrap(), "midbatch", "t")
            .await
            .unwrap();
    assert_eq!(
        committed.values().sum::<i64>(),
        40,
        "every partition committed to its end: {committed:?}"
    );
    let second_applied = second.applied.lock().unwrap();
    assert!(second_applied.values().all(|&n| n == 1));
    assert!(
        second_applied.len() < 40,
        "the second member re-read everything: nothing was committed before the abort"
    );
}

#[tokio::test]
async fn records_carry_cloudevents_attributes_and_trace_context_as_headers() {
    let settings = settings();
    let bus = bus(&settings);
    let mut sent = event("k", 7);
    sent.traceparent = Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into());
    bus.publish(vec![Record::event("t", &sent)]).await.unwrap();

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("{}raw", settings.prefix))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer
        .subscribe(&[&format!("{}t", settings.prefix)])
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let message = loop {
        assert!(Instant::now() < deadline, "no record within 60 s");
        if let Some(m) = consumer.poll(Duration::from_millis(500)) {
            break m.unwrap().detach();
        }
    };
    let headers: HashMap<String, String> = message
        .headers()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h.key.to_string(),
                String::from_utf8(h.value.unwrap().to_vec()).unwrap(),
            )
        })
        .collect();
    assert_eq!(headers["ce_id"], sent.id);
    assert_eq!(headers["ce_type"], "miyagi.test.counted.v1");
    assert_eq!(headers["ce_subject"], "k");
    assert_eq!(headers["traceparent"], sent.traceparent.unwrap());
    assert_eq!(headers["content-type"], "application/cloudevents+json");
    assert_eq!(message.key(), Some(&b"k"[..]));
}

#[tokio::test]
async fn ping_reports_an_unreachable_cluster() {
    let bus = KafkaBus::connect(
        &KafkaConfig {
            brokers: Some("127.0.0.1:1".into()),
            ..KafkaConfig::default()
        },
        1,
    )
    .unwrap();
    assert!(bus.ping().await.is_err());
}
