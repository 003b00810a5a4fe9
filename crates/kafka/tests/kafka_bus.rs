//! The Kafka adapter against a real Kafka-protocol broker (`scripts/kafka.sh start`, or
//! `TEST_KAFKA_BROKERS`): every promise of the bus (the shared conformance suite), plus what only
//! Kafka has: CloudEvents headers that other Kafka tools read, a cluster that can be away, and a
//! broker that restarts under a running consumer.
//! Every test works under its own topic and group prefix, so tests share one broker.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use miyagi_kafka::KafkaBus;
use miyagi_platform::{
    config::{ConsumerConfig, KafkaConfig},
    events::{
        conformance::Harness, CloudEvent, Consumer, EventBus, EventHandler, HandlerError, Record,
    },
};
use rdkafka::{
    consumer::{BaseConsumer, Consumer as _},
    message::Headers,
    ClientConfig, Message,
};
use tokio_util::sync::CancellationToken;

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

/// A tansu broker of the test's own, on a port and SQLite file of its own, that the test can
/// kill and start again (the shared broker serves every other test).
struct OwnBroker {
    port: u16,
    dir: tempfile::TempDir,
    process: std::process::Child,
}

impl OwnBroker {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let process = Self::spawn(port, dir.path());
        Self { port, dir, process }
    }

    fn spawn(port: u16, dir: &std::path::Path) -> std::process::Child {
        let tansu = std::env::var("TANSU").unwrap_or_else(|_| {
            let home = std::env::var("CARGO_HOME")
                .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap()));
            format!("{home}/bin/tansu")
        });
        let child = std::process::Command::new(&tansu)
            .current_dir(dir)
            .args(["broker", "--cluster-id", "miyagi-restart"])
            .args(["--listener-url", &format!("tcp://127.0.0.1:{port}")])
            .args([
                "--advertised-listener-url",
                &format!("tcp://localhost:{port}"),
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {tansu} ({e}): `scripts/kafka.sh start` installs it")
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        child
    }

    /// Kills the broker as a crash would, and starts it again on the same storage.
    fn restart(&mut self) {
        self.process.kill().unwrap();
        self.process.wait().unwrap();
        self.process = Self::spawn(self.port, self.dir.path());
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Counts the distinct events it was handed.
#[derive(Default)]
struct Seen(std::sync::Mutex<std::collections::HashSet<String>>);

#[async_trait]
impl EventHandler for Seen {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        self.0.lock().unwrap().insert(event.id.clone());
        Ok(())
    }
}

impl Seen {
    async fn wait_for(&self, events: &[CloudEvent]) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let missing = {
                let seen = self.0.lock().unwrap();
                events.iter().filter(|e| !seen.contains(&e.id)).count()
            };
            if missing == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{missing} of {} events never consumed",
                events.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn a_consumer_resumes_by_itself_after_the_broker_restarts() {
    let mut broker = OwnBroker::start();
    let bus = Arc::new(
        KafkaBus::connect(
            &KafkaConfig {
                brokers: Some(format!("localhost:{}", broker.port)),
                prefix: "restart.".into(),
                ..KafkaConfig::default()
            },
            2,
        )
        .unwrap(),
    );
    let seen = Arc::new(Seen::default());
    let shutdown = CancellationToken::new();
    let consumer = Consumer::new("g", &["t"], seen.clone());
    let running =
        tokio::spawn(consumer.run(bus.clone(), ConsumerConfig::default(), shutdown.clone()));
    let round = |n: usize| -> Vec<CloudEvent> {
        (0..n)
            .map(|i| {
                CloudEvent::new(
                    "/miyagi/test",
                    "miyagi.test.counted.v1",
                    format!("k{i}"),
                    &serde_json::json!({ "n": i }),
                )
            })
            .collect()
    };
    let before = round(10);
    bus.publish(before.iter().map(|e| Record::event("t", e)).collect())
        .await
        .unwrap();
    seen.wait_for(&before).await;

    broker.restart();

    // The same consumer task and the same producer, neither told anything: both reconnect.
    let after = round(10);
    bus.publish(after.iter().map(|e| Record::event("t", e)).collect())
        .await
        .unwrap();
    seen.wait_for(&after).await;
    shutdown.cancel();
    running.await.unwrap();
    assert_eq!(seen.0.lock().unwrap().len(), 20);
}
