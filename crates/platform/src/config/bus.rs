use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    pub kind: BusKind,
    /// Partitions per topic; records with one key always land on one partition.
    pub partitions: u32,
    /// How long the embedded log keeps records every group has consumed (inbox ids are kept
    /// twice as long); 0 keeps everything. Kafka topics keep their own `retention.ms`.
    pub retention_hours: u64,
    /// Settings of `kind = "kafka"`.
    #[serde(default)]
    pub kafka: KafkaConfig,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BusKind {
    /// The durable event log inside this process, stored in segment files in `data_dir/events/`.
    Embedded,
    /// An Apache Kafka cluster or anything that speaks its protocol (Azure Event Hubs).
    Kafka,
}

impl BusKind {
    /// The kind as config spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Kafka => "kafka",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port]`; implied by `event_hubs_connection_string`.
    pub brokers: Option<String>,
    /// An Azure Event Hubs namespace connection string (`Endpoint=sb://….servicebus.windows.net/;
    /// SharedAccessKeyName=…;SharedAccessKey=…`): sets brokers, SASL_SSL and PLAIN for you.
    pub event_hubs_connection_string: Option<Secret>,
    /// Prepended to every topic and consumer group, so several deployments (or test runs) can
    /// share one cluster.
    #[serde(default)]
    pub prefix: String,
    /// Create missing topics with `bus.partitions` partitions (needs the admin right; off for
    /// Event Hubs tiers that create event hubs only through Azure).
    #[serde(default = "default_true")]
    pub create_topics: bool,
    /// Replication factor of created topics.
    #[serde(default = "default_replication")]
    pub replication_factor: i32,
    /// Static group membership: a name for this process that survives its restarts (the pod
    /// name). A restarted consumer then takes back its own partitions at once instead of
    /// waiting out the dead member's session and a rebalance. Must differ between processes
    /// running the same service; unset, every start is a new member.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Any other librdkafka property (`security.protocol`, `ssl.ca.location`, …); values are
    /// treated as secrets.
    #[serde(default)]
    pub options: BTreeMap<String, Secret>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: None,
            event_hubs_connection_string: None,
            prefix: String::new(),
            create_topics: default_true(),
            replication_factor: default_replication(),
            instance_id: None,
            options: Default::default(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_replication() -> i32 {
    1
}

impl BusConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.partitions == 0 || self.partitions > 1024 {
            return Err(ConfigError::expected(
                "bus.partitions",
                "a number between 1 and 1024",
            ));
        }
        let kafka = &self.kafka;
        if self.kind == BusKind::Kafka
            && kafka.brokers.is_none()
            && kafka.event_hubs_connection_string.is_none()
        {
            return Err(ConfigError::expected(
                "bus.kafka.brokers",
                "`host:port` of a Kafka broker (or bus.kafka.event_hubs_connection_string) when bus.kind = \"kafka\"",
            ));
        }
        if kafka
            .instance_id
            .as_deref()
            .is_some_and(|id| id.trim().is_empty())
        {
            return Err(ConfigError::expected(
                "bus.kafka.instance_id",
                "a name unique to this process, such as the pod name, or no value at all",
            ));
        }
        if kafka.replication_factor < 1 {
            return Err(ConfigError::expected(
                "bus.kafka.replication_factor",
                "a number of at least 1",
            ));
        }
        Ok(())
    }
}
