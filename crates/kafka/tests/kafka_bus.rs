//! The Kafka adapter against a real Kafka-protocol broker (`scripts/kafka.sh start`, or
//! `TEST_KAFKA_BROKERS`): every promise of the bus (the shared conformance suite), plus what only
//! Kafka has: CloudEvents headers that other Kafka tools read, and a cluster that can be away.
//! Every test works under its own topic and group prefix, so tests share one broker.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use miyagi_kafka::KafkaBus;
use miyagi_platform::{
    config::KafkaConfig,
    events::{conformance::Harness, CloudEvent, EventBus, Record},
};
use rdkafka::{
    consumer::{BaseConsumer, Consumer as _},
    message::Headers,
    ClientConfig, Message,
};

miyagi_platform::bus_conformance!(KafkaHarness::new);

fn brokers() -> String {
    std::env::var("TEST_KAFKA_BROKERS").unwrap_or_else(|_| "localhost:9092".into())
}

/// The test broker, under a prefix of its own.
struct KafkaHarness {
    settings: KafkaConfig,
}

impl KafkaHarness {
    async fn new() -> Self {
        Self {
            settings: KafkaConfig {
                brokers: Some(brokers()),
                prefix: format!("test-{}.", uuid::Uuid::new_v4().simple()),
                ..KafkaConfig::default()
            },
        }
    }

    fn bus(&self) -> KafkaBus {
        KafkaBus::connect(&self.settings, 3).expect("valid Kafka settings")
    }
}

#[async_trait]
impl Harness for KafkaHarness {
    async fn connect(&self) -> Arc<dyn EventBus> {
        Arc::new(self.bus())
    }

    async fn committed(&self, group: &str, topic: &str) -> i64 {
        miyagi_kafka::committed_offsets(&self.bus(), group, topic)
            .await
            .unwrap()
            .values()
            .sum()
    }
}

#[tokio::test]
async fn records_carry_cloudevents_attributes_and_trace_context_as_headers() {
    let harness = KafkaHarness::new().await;
    let mut sent = CloudEvent::new(
        "/miyagi/test",
        "miyagi.test.counted.v1",
        "k",
        &serde_json::json!({ "n": 7 }),
    );
    sent.traceparent = Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into());
    harness
        .bus()
        .publish(vec![Record::event("t", &sent)])
        .await
        .unwrap();

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("{}raw", harness.settings.prefix))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer
        .subscribe(&[&format!("{}t", harness.settings.prefix)])
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
