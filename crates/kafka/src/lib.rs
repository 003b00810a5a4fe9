//! The [`EventBus`] on Apache Kafka, or anything that speaks its protocol (Azure Event Hubs,
//! Redpanda, tansu), through librdkafka.
//!
//! - Producing is idempotent with `acks=all`: `publish` returns once every replica in sync has
//!   the records, and a retried send is never written twice. The key (the aggregate id) picks the
//!   partition, so one aggregate's events stay in order.
//! - Payloads are CloudEvents in structured mode (the whole envelope as JSON), with the
//!   attributes and the W3C trace context copied into `ce_*` and `traceparent` headers so that
//!   tools can route and trace without parsing the body.
//! - Consumers join a consumer group with auto-commit off; the platform's consumer loop commits
//!   a batch's offsets only after its effects are durable (after the inbox transaction). When a
//!   rebalance moves a partition away mid-batch, the new owner starts from the last commit and
//!   the inbox absorbs the redelivery.
//!
//! This crate is separate from the platform so that only the binary links librdkafka.

mod config;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use futures::FutureExt;
use miyagi_platform::{
    config::KafkaConfig,
    events::{BusError, Delivery, EventBus, PartitionLag, Record, Subscription},
};
use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer},
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord, Producer},
    ClientConfig, ClientContext, Message, Offset, TopicPartitionList,
};
use serde::Deserialize;

pub use config::{client_config, EventHubs};

/// How long a publish may wait for the cluster before it reports the bus unavailable; the
/// outbox relay then retries, so nothing is lost.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

pub struct KafkaBus {
    client: ClientConfig,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    prefix: String,
    partitions: i32,
    replication: i32,
    create_topics: bool,
    instance_id: Option<String>,
    /// Topics known to exist, so creation is asked once per topic and process.
    created: Mutex<HashSet<String>>,
}

impl KafkaBus {
    /// Connects lazily: librdkafka reaches the brokers in the background, so this fails only
    /// on configuration errors; [`EventBus::ping`] tells whether the cluster answers.
    pub fn connect(settings: &KafkaConfig, partitions: u32) -> anyhow::Result<Self> {
        let client = client_config(settings)?;
        let producer: FutureProducer = client
            .clone()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("linger.ms", "5")
            .create()
            .map_err(|e| anyhow::anyhow!("key `bus.kafka`: {e}"))?;
        let admin = client
            .create()
            .map_err(|e| anyhow::anyhow!("key `bus.kafka`: {e}"))?;
        Ok(Self {
            client,
            producer,
            admin,
            prefix: settings.prefix.clone(),
            partitions: partitions as i32,
            replication: settings.replication_factor,
            create_topics: settings.create_topics,
            instance_id: settings.instance_id.clone(),
            created: Mutex::new(HashSet::new()),
        })
    }

    fn kafka_topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }

    /// Creates the topics not yet known to exist; one that already exists is fine.
    async fn ensure_topics(&self, topics: &[String]) -> Result<(), BusError> {
        if !self.create_topics {
            return Ok(());
        }
        let missing: Vec<&String> = {
            let created = self.created.lock().expect("topic set lock");
            topics.iter().filter(|t| !created.contains(*t)).collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let new: Vec<NewTopic> = missing
            .iter()
            .map(|t| {
                NewTopic::new(
                    t,
                    self.partitions,
                    TopicReplication::Fixed(self.replication),
                )
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = self
            .admin
            .create_topics(&new, &options)
            .await
            .map_err(unavailable)?;
        let mut created = self.created.lock().expect("topic set lock");
        for result in results {
            match result {
                Ok(topic) | Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    created.insert(topic);
                }
                Err((topic, code)) => {
                    return Err(BusError::Unavailable(format!(
                        "cannot create topic {topic}: {code}"
                    )))
                }
            }
        }
        Ok(())
    }
}

fn unavailable(e: KafkaError) -> BusError {
    BusError::Unavailable(e.to_string())
}

/// The envelope attributes copied into headers; the body stays the source of truth.
#[derive(Deserialize)]
struct Attributes<'a> {
    specversion: Option<&'a str>,
    id: Option<&'a str>,
    source: Option<&'a str>,
    #[serde(rename = "type")]
    event_type: Option<&'a str>,
    subject: Option<&'a str>,
    time: Option<&'a str>,
    traceparent: Option<&'a str>,
}

fn headers(payload: &[u8]) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new().insert(Header {
        key: "content-type",
        value: Some("application/cloudevents+json"),
    });
    let Ok(attributes) = serde_json::from_slice::<Attributes>(payload) else {
        return headers;
    };
    for (key, value) in [
        ("ce_specversion", attributes.specversion),
        ("ce_id", attributes.id),
        ("ce_source", attributes.source),
        ("ce_type", attributes.event_type),
        ("ce_subject", attributes.subject),
        ("ce_time", attributes.time),
        ("traceparent", attributes.traceparent),
    ] {
        if let Some(value) = value {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
    }
    headers
}

#[async_trait]
impl EventBus for KafkaBus {
    async fn publish(&self, records: Vec<Record>) -> Result<(), BusError> {
        let mut topics: Vec<String> = records.iter().map(|r| self.kafka_topic(&r.topic)).collect();
        topics.sort();
        topics.dedup();
        self.ensure_topics(&topics).await?;
        // All sends are in flight at once; the idempotent producer keeps each partition's order.
        let sends = records.iter().map(|record| {
            let topic = self.kafka_topic(&record.topic);
            let headers = headers(&record.payload);
            async move {
                self.producer
                    .send(
                        FutureRecord::to(&topic)
                            .key(&record.key)
                            .payload(&record.payload)
                            .headers(headers),
                        SEND_TIMEOUT,
                    )
                    .await
                    .map_err(|(e, _)| e)
            }
        });
        for (index, result) in futures::future::join_all(sends)
            .await
            .into_iter()
            .enumerate()
        {
            match result {
                Ok(_) => {}
                // The record itself is what the broker (or librdkafka before it) refuses.
                Err(KafkaError::MessageProduction(
                    code @ (RDKafkaErrorCode::MessageSizeTooLarge
                    | RDKafkaErrorCode::InvalidMessageSize
                    | RDKafkaErrorCode::MessageBatchTooLarge
                    | RDKafkaErrorCode::InvalidRecord
                    | RDKafkaErrorCode::InvalidTopic),
                )) => {
                    return Err(BusError::Rejected {
                        index,
                        reason: code.to_string(),
                    })
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        group: &str,
        topics: &[&str],
    ) -> Result<Box<dyn Subscription>, BusError> {
        let kafka_topics: Vec<String> = topics.iter().map(|t| self.kafka_topic(t)).collect();
        // Subscribing to a topic that does not exist yet would wait for a metadata refresh.
        self.ensure_topics(&kafka_topics).await?;
        let group_id = format!("{}{group}", self.prefix);
        let mut client = self.client.clone();
        if let Some(instance) = &self.instance_id {
            client.set("group.instance.id", instance);
        }
        let consumer: StreamConsumer<GroupContext> = client
            .set("group.id", &group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            // How long the broker may hold a fetch with no new records: Kafka's 500 ms default
            // is also the latency of an event on a broker that answers only at the deadline
            // (measured on tansu); 100 ms costs a few idle fetches a second.
            .set("fetch.wait.max.ms", "100")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .create_with_context(GroupContext {
                group: group_id.clone(),
            })
            .map_err(unavailable)?;
        let names: Vec<&str> = kafka_topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names).map_err(unavailable)?;
        Ok(Box::new(KafkaSubscription {
            consumer: Arc::new(consumer),
            prefix: self.prefix.clone(),
        }))
    }

    async fn ping(&self) -> Result<(), BusError> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, Duration::from_secs(5))
                .map(|_| ())
                .map_err(unavailable)
        })
        .await
        .map_err(|e| BusError::Unavailable(e.to_string()))?
    }
}

/// Logs rebalances: which partitions this member gained or lost, and commit failures.
struct GroupContext {
    group: String,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                tracing::info!(group = %self.group, partitions = %describe(tpl), "partitions revoked; uncommitted records go to their next owner")
            }
            Rebalance::Assign(tpl) => {
                tracing::info!(group = %self.group, partitions = %describe(tpl), "partitions assigned")
            }
            Rebalance::Error(e) => {
                tracing::warn!(group = %self.group, error = %e, "rebalance failed")
            }
        }
    }
}

fn describe(tpl: &TopicPartitionList) -> String {
    tpl.elements()
        .iter()
        .map(|e| format!("{}/{}", e.topic(), e.partition()))
        .collect::<Vec<_>>()
        .join(",")
}

struct KafkaSubscription {
    consumer: Arc<StreamConsumer<GroupContext>>,
    prefix: String,
}

impl KafkaSubscription {
    fn one_partition(&self, topic: &str, partition: u32) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&format!("{}{topic}", self.prefix), partition as i32);
        tpl
    }

    fn delivery(&self, message: &rdkafka::message::BorrowedMessage<'_>) -> Delivery {
        let topic = message.topic();
        Delivery {
            topic: topic
                .strip_prefix(&self.prefix)
                .unwrap_or(topic)
                .to_string(),
            partition: message.partition() as u32,
            offset: message.offset(),
            key: message
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default(),
            payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        }
    }
}

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let mut batch = Vec::new();
        match tokio::time::timeout(wait, self.consumer.recv()).await {
            Err(_) => return Ok(batch),
            Ok(received) => batch.push(self.delivery(&received.map_err(unavailable)?)),
        }
        // Then whatever librdkafka has already fetched, without waiting for more.
        while batch.len() < max {
            match self.consumer.recv().now_or_never() {
                Some(Ok(message)) => batch.push(self.delivery(&message)),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "consumer error after a partial batch");
                    break;
                }
                None => break,
            }
        }
        Ok(batch)
    }

    async fn commit(&mut self, deliveries: &[Delivery]) -> Result<(), BusError> {
        // Kafka commits the next offset to read, per partition.
        let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for d in deliveries {
            let entry = next
                .entry((format!("{}{}", self.prefix, d.topic), d.partition as i32))
                .or_insert(0);
            *entry = (*entry).max(d.offset + 1);
        }
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in next {
            tpl.add_partition_offset(&topic, partition, Offset::Offset(offset))
                .map_err(unavailable)?;
        }
        let consumer = self.consumer.clone();
        tokio::task::spawn_blocking(move || consumer.commit(&tpl, CommitMode::Sync))
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?
            .map_err(unavailable)
    }

    async fn pause(&mut self, topic: &str, partition: u32) -> Result<(), BusError> {
        self.consumer
            .pause(&self.one_partition(topic, partition))
            .map_err(unavailable)
    }

    async fn resume(&mut self, topic: &str, partition: u32) -> Result<(), BusError> {
        self.consumer
            .resume(&self.one_partition(topic, partition))
            .map_err(unavailable)
    }

    async fn lag(&mut self) -> Result<Vec<PartitionLag>, BusError> {
        const ASK_FOR: Duration = Duration::from_secs(5);
        let consumer = self.consumer.clone();
        let prefix = self.prefix.clone();
        tokio::task::spawn_blocking(move || {
            // This member's partitions only: the group's other members report theirs.
            let assigned = consumer.assignment()?;
            let committed = consumer.committed_offsets(assigned, ASK_FOR)?;
            committed
                .elements()
                .iter()
                .map(|e| {
                    let (low, high) =
                        consumer.fetch_watermarks(e.topic(), e.partition(), ASK_FOR)?;
                    // Nothing committed yet, or committed before what retention kept: the
                    // group owes everything still in the log.
                    let from = match e.offset() {
                        Offset::Offset(o) => o.max(low),
                        _ => low,
                    };
                    Ok(PartitionLag {
                        topic: e
                            .topic()
                            .strip_prefix(&prefix)
                            .unwrap_or(e.topic())
                            .to_string(),
                        partition: e.partition() as u32,
                        records: (high - from).max(0) as u64,
                    })
                })
                .collect::<Result<Vec<_>, KafkaError>>()
        })
        .await
        .map_err(|e| BusError::Unavailable(e.to_string()))?
        .map_err(unavailable)
    }
}

/// Committed offsets of `group` (without the prefix) for `topic`, by partition; for tests and
/// operators checking lag.
pub async fn committed_offsets(
    bus: &KafkaBus,
    group: &str,
    topic: &str,
) -> anyhow::Result<HashMap<i32, i64>> {
    let consumer: BaseConsumer = bus
        .client
        .clone()
        .set("group.id", format!("{}{group}", bus.prefix))
        .create()?;
    let topic = bus.kafka_topic(topic);
    tokio::task::spawn_blocking(move || {
        let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
        let mut tpl = TopicPartitionList::new();
        for t in metadata.topics() {
            for p in t.partitions() {
                tpl.add_partition(&topic, p.id());
            }
        }
        let committed = consumer.committed_offsets(tpl, Duration::from_secs(10))?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect())
    })
    .await?
}
