//! The event bus seam: publish records to topics, consume them in consumer groups.
//!
//! Semantics every implementation provides (the embedded log here, Kafka in distributed mode):
//! records with one key keep their order; a consumer group resumes from its committed offsets;
//! delivery is at-least-once, so consumers make their effects idempotent with the inbox.

use std::time::Duration;

use async_trait::async_trait;

use super::CloudEvent;

/// The largest payload a bus takes: Kafka's default `message.max.bytes` (about 1 MB), which the
/// embedded log enforces too, so an event that flows on a laptop also flows on Kafka.
pub const MAX_RECORD_BYTES: usize = 1_000_000;

/// A record to append: `key` picks the partition (the aggregate id).
#[derive(Debug, Clone)]
pub struct Record {
    pub topic: String,
    pub key: String,
    pub payload: Vec<u8>,
}

impl Record {
    pub fn event(topic: &str, event: &CloudEvent) -> Self {
        Self {
            topic: topic.into(),
            key: event.subject.clone(),
            payload: event.to_bytes(),
        }
    }
}

/// A record read from the log, with its position.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub topic: String,
    pub partition: u32,
    pub offset: i64,
    pub key: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
    /// The bus will never take `records[index]` as it is (over its size limit, a topic name it
    /// refuses). Records before or after it may have been appended.
    #[error("event bus refused record {index} for good: {reason}")]
    Rejected { index: usize, reason: String },
    #[error("event bus closed")]
    Closed,
}

#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Appends `records` durably; when this returns, they survive a crash.
    async fn publish(&self, records: Vec<Record>) -> Result<(), BusError>;

    /// Joins consumer group `group` on `topics`, resuming from the group's committed offsets
    /// (or the start of each partition for a new group).
    async fn subscribe(
        &self,
        group: &str,
        topics: &[&str],
    ) -> Result<Box<dyn Subscription>, BusError>;

    /// Readiness probe.
    async fn ping(&self) -> Result<(), BusError>;

    /// Drops records older than `before` that every group has consumed; how many went. A bus
    /// whose broker applies its own retention (Kafka's `retention.ms`, Event Hubs' retention
    /// period) keeps this default and leaves it to the broker.
    async fn prune(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64, BusError> {
        let _ = before;
        Ok(0)
    }

    /// Turns the events of `topic` under `key` into tombstones ([`super::CloudEvent::tombstone`]),
    /// all but the one with id `sparing` (the deletion that asked for it, which consumers still
    /// need to see); how many changed. A personal-data erasure calls it. A broker whose log
    /// cannot be rewritten (Kafka, Event Hubs) keeps this default: there the payloads go when
    /// the topic's retention drops them, which is why its retention must stay short.
    async fn erase(&self, topic: &str, key: &str, sparing: &str) -> Result<u64, BusError> {
        let _ = (topic, key, sparing);
        Ok(0)
    }
}

#[async_trait]
pub trait Subscription: Send {
    /// Up to `max` records after the last ones returned, waiting at most `wait` for the first.
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError>;

    /// Commits everything up to and including `deliveries` for the group: after a restart the
    /// group resumes after them.
    async fn commit(&mut self, deliveries: &[Delivery]) -> Result<(), BusError>;

    /// Stops fetching `partition` of `topic` until [`Subscription::resume`]: the consumer holds
    /// back a partition whose events queue behind a slow one, so memory stays bounded while the
    /// other partitions flow. Records fetched before the pause may still be returned; after the
    /// resume, the partition continues after the last record returned, skipping nothing.
    async fn pause(&mut self, topic: &str, partition: u32) -> Result<(), BusError>;

    async fn resume(&mut self, topic: &str, partition: u32) -> Result<(), BusError>;

    /// For each subscribed partition, the records after the group's committed position (what
    /// Kafka calls consumer lag): a group that falls behind shows here before people notice.
    async fn lag(&mut self) -> Result<Vec<PartitionLag>, BusError>;
}

/// How far a group is behind on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: u32,
    /// Records appended after the group's committed position.
    pub records: u64,
}
