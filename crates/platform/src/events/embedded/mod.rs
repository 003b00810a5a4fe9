//! The embedded event log: Kafka's model (topics, keyed partitions, offsets, consumer groups with
//! committed offsets) stored in one SQLite file, for `miyagi up` on a single machine.
//!
//! SQLite gives us crash-safe appends and commits for free; an in-process `watch` channel wakes
//! consumers the moment something is appended instead of making them poll the file. Concurrent
//! publishes and consumer groups' offset commits are written in groups, one transaction (one
//! fsync) each, and each is answered only after its group commits (`writer.rs`).

use std::{collections::HashMap, hash::Hasher, path::Path, sync::Arc, time::Duration};

use async_trait::async_trait;
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Row, SqlitePool,
};
use tokio::sync::{watch, Mutex};

use self::writer::{Waiting, Write};
use super::{
    bus::{BusError, Delivery, EventBus, PartitionLag, Record, Subscription, MAX_RECORD_BYTES},
    CloudEvent,
};

mod writer;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log_records (
    topic TEXT NOT NULL,
    partition_no INTEGER NOT NULL,
    log_offset INTEGER NOT NULL,
    record_key TEXT NOT NULL,
    payload BLOB NOT NULL,
    appended_at INTEGER NOT NULL,
    PRIMARY KEY (topic, partition_no, log_offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_group_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition_no INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition_no)
) WITHOUT ROWID;";

#[derive(Clone)]
pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

struct Inner {
    /// One connection: appends are serialised here, so offsets are assigned without gaps.
    writer: SqlitePool,
    reader: SqlitePool,
    partitions: u32,
    /// Next offset per (topic, partition), loaded lazily from the file. Holding it is the
    /// writer's turn: appends are written one group at a time.
    next_offsets: Mutex<HashMap<(String, u32), i64>>,
    /// Writes waiting for the writer's turn.
    waiting: std::sync::Mutex<Vec<Waiting>>,
    appended: watch::Sender<u64>,
}

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

impl EmbeddedLog {
    pub async fn open(path: &Path, partitions: u32) -> anyhow::Result<Self> {
        assert!(partitions > 0, "a topic needs at least one partition");
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&writer).await?;
        // Keys map to partitions by count: a different count would scatter keys (breaking their
        // order) and strand records in partitions that no longer exist.
        sqlx::query("INSERT INTO log_meta (name, value) VALUES ('partitions', $1) ON CONFLICT (name) DO NOTHING")
            .bind(partitions)
            .execute(&writer)
            .await?;
        let stored: i64 =
            sqlx::query_scalar("SELECT value FROM log_meta WHERE name = 'partitions'")
                .fetch_one(&writer)
                .await?;
        if stored != i64::from(partitions) {
            anyhow::bail!(
                "the event log at {} has {stored} partitions but key `bus.partitions` is {partitions}; set it back to {stored}",
                path.display()
            );
        }
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let (appended, _) = watch::channel(0);
        Ok(Self {
            inner: Arc::new(Inner {
                writer,
                reader,
                partitions,
                next_offsets: Mutex::default(),
                waiting: std::sync::Mutex::default(),
                appended,
            }),
        })
    }

    /// Partition of a key: a stable hash (FNV-1a), so a key maps to the same partition across
    /// restarts and versions — `std`'s hasher promises neither.
    pub fn partition_for(&self, key: &str) -> u32 {
        let mut hasher = fnv::FnvHasher::default();
        hasher.write(key.as_bytes());
        (hasher.finish() % u64::from(self.inner.partitions)) as u32
    }

    /// Reads up to `max` records of one partition from `from_offset` on, without a group:
    /// for replays, audits and the live event view.
    pub async fn read(
        &self,
        topic: &str,
        partition: u32,
        from_offset: i64,
        max: usize,
    ) -> Result<Vec<Delivery>, BusError> {
        let rows = sqlx::query(
            "SELECT log_offset, record_key, payload FROM log_records
             WHERE topic = $1 AND partition_no = $2 AND log_offset >= $3 ORDER BY log_offset LIMIT $4",
        )
        .bind(topic)
        .bind(partition)
        .bind(from_offset)
        .bind(max as i64)
        .fetch_all(&self.inner.reader)
        .await
        .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|row| Delivery {
                topic: topic.to_string(),
                partition,
                offset: row.get(0),
                key: row.get(1),
                payload: row.get(2),
            })
            .collect())
    }

    /// Moves a group's position: the group re-reads (replays) the partition from `offset` on.
    /// Stop the group's consumers first: a running member's next commit would move it forward again.
    pub async fn seek(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: i64,
    ) -> Result<(), BusError> {
        sqlx::query(
            "INSERT INTO log_group_offsets (group_id, topic, partition_no, next_offset) VALUES ($1, $2, $3, $4)
             ON CONFLICT (group_id, topic, partition_no) DO UPDATE SET next_offset = excluded.next_offset",
        )
        .bind(group)
        .bind(topic)
        .bind(partition)
        .bind(offset)
        .execute(&self.inner.writer)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn committed(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
    ) -> Result<i64, BusError> {
        let row = sqlx::query(
            "SELECT next_offset FROM log_group_offsets WHERE group_id = $1 AND topic = $2 AND partition_no = $3",
        )
        .bind(group)
        .bind(topic)
        .bind(partition)
        .fetch_optional(&self.inner.writer)
        .await
        .map_err(unavailable)?;
        Ok(row.map_or(0, |r| r.get(0)))
    }
}

#[async_trait]
impl EventBus for EmbeddedLog {
    async fn publish(&self, records: Vec<Record>) -> Result<(), BusError> {
        if records.is_empty() {
            return Ok(());
        }
        if let Some(index) = records
            .iter()
            .position(|r| r.payload.len() > MAX_RECORD_BYTES)
        {
            return Err(BusError::Rejected {
                index,
                reason: format!(
                    "a record of {} bytes is over the limit of {MAX_RECORD_BYTES}",
                    records[index].payload.len()
                ),
            });
        }
        self.write(Write::Append(records)).await
    }

    async fn subscribe(
        &self,
        group: &str,
        topics: &[&str],
    ) -> Result<Box<dyn Subscription>, BusError> {
        let mut positions = Vec::new();
        for topic in topics {
            for partition in 0..self.inner.partitions {
                positions.push(Position {
                    topic: topic.to_string(),
                    partition,
                    next: self.committed(group, topic, partition).await?,
                    paused: false,
                });
            }
        }
        Ok(Box::new(EmbeddedSubscription {
            log: self.clone(),
            group: group.to_string(),
            positions,
            appended: self.inner.appended.subscribe(),
            start: 0,
        }))
    }

    async fn ping(&self) -> Result<(), BusError> {
        sqlx::query("SELECT 1")
            .execute(&self.inner.reader)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Deletes records appended before `before` that every consumer group of their partition
    /// has committed past, keeping each partition's newest record: offsets continue from it, so
    /// a pruned log never hands out an offset twice.
    async fn prune(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64, BusError> {
        let deleted = sqlx::query(
            "DELETE FROM log_records WHERE appended_at < $1
             AND log_offset < (SELECT MAX(n.log_offset) FROM log_records n
                               WHERE n.topic = log_records.topic AND n.partition_no = log_records.partition_no)
             AND NOT EXISTS (SELECT 1 FROM log_group_offsets g
                             WHERE g.topic = log_records.topic AND g.partition_no = log_records.partition_no
                               AND g.next_offset <= log_records.log_offset)",
        )
        .bind(before.timestamp_millis())
        .execute(&self.inner.writer)
        .await
        .map_err(unavailable)?;
        Ok(deleted.rows_affected())
    }

    async fn erase(&self, topic: &str, key: &str, sparing: &str) -> Result<u64, BusError> {
        self.tombstone(topic, key, sparing)
            .await
            .map_err(unavailable)
    }
}

impl EmbeddedLog {
    async fn tombstone(&self, topic: &str, key: &str, sparing: &str) -> Result<u64, sqlx::Error> {
        let mut tx = self.inner.writer.begin().await?;
        let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT partition_no, log_offset, payload FROM log_records WHERE topic = $1 AND record_key = $2",
        )
        .bind(topic)
        .bind(key)
        .fetch_all(&mut *tx)
        .await?;
        let mut erased = 0;
        for (partition, offset, payload) in rows {
            // A record that is not an envelope carries nothing it could be told apart by; it
            // is dropped to a null payload all the same.
            let tombstone = match CloudEvent::from_bytes(&payload) {
                Ok(event) if event.erased || event.id == sparing => continue,
                Ok(event) => event.tombstone().to_bytes(),
                Err(_) => b"null".to_vec(),
            };
            sqlx::query(
                "UPDATE log_records SET payload = $1 WHERE topic = $2 AND partition_no = $3 AND log_offset = $4",
            )
            .bind(tombstone)
            .bind(topic)
            .bind(partition)
            .bind(offset)
            .execute(&mut *tx)
            .await?;
            erased += 1;
        }
        tx.commit().await?;
        Ok(erased)
    }
}

struct Position {
    topic: String,
    partition: u32,
    /// Next offset to hand out (not yet committed).
    next: i64,
    paused: bool,
}

struct EmbeddedSubscription {
    log: EmbeddedLog,
    group: String,
    positions: Vec<Position>,
    appended: watch::Receiver<u64>,
    /// Round-robin start, so one busy partition cannot starve the others.
    start: usize,
}

impl EmbeddedSubscription {
    fn set_paused(&mut self, topic: &str, partition: u32, paused: bool) -> Result<(), BusError> {
        let position = self
            .positions
            .iter_mut()
            .find(|p| p.topic == topic && p.partition == partition)
            .ok_or_else(|| {
                BusError::Unavailable(format!("{topic}/{partition} is not subscribed"))
            })?;
        position.paused = paused;
        Ok(())
    }

    async fn fetch(&mut self, max: usize) -> Result<Vec<Delivery>, BusError> {
        let mut out = Vec::new();
        let count = self.positions.len();
        for i in 0..count {
            if out.len() >= max {
                break;
            }
            let position = &mut self.positions[(self.start + i) % count];
            if position.paused {
                continue;
            }
            let batch = match self
                .log
                .read(
                    &position.topic,
                    position.partition,
                    position.next,
                    max - out.len(),
                )
                .await
            {
                Ok(batch) => batch,
                // Hand out what was already read (its positions have advanced); never drop it.
                Err(_) if !out.is_empty() => break,
                Err(e) => return Err(e),
            };
            if let Some(last) = batch.last() {
                position.next = last.offset + 1;
            }
            out.extend(batch);
        }
        self.start = (self.start + 1) % count.max(1);
        Ok(out)
    }
}

#[async_trait]
impl Subscription for EmbeddedSubscription {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        self.appended.borrow_and_update();
        let found = self.fetch(max).await?;
        if !found.is_empty() {
            return Ok(found);
        }
        // Appends by this process wake us at once; the timeout also picks up other writers.
        let _ = tokio::time::timeout(wait, self.appended.changed()).await;
        self.fetch(max).await
    }

    async fn commit(&mut self, deliveries: &[Delivery]) -> Result<(), BusError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let mut highest: HashMap<(&str, u32), i64> = HashMap::new();
        for d in deliveries {
            let entry = highest
                .entry((d.topic.as_str(), d.partition))
                .or_insert(d.offset);
            *entry = (*entry).max(d.offset);
        }
        let next = highest
            .into_iter()
            .map(|((topic, partition), offset)| (topic.to_string(), partition, offset + 1))
            .collect();
        self.log
            .write(Write::Commit {
                group: self.group.clone(),
                next,
            })
            .await
    }

    async fn pause(&mut self, topic: &str, partition: u32) -> Result<(), BusError> {
        self.set_paused(topic, partition, true)
    }

    async fn resume(&mut self, topic: &str, partition: u32) -> Result<(), BusError> {
        self.set_paused(topic, partition, false)
    }

    async fn lag(&mut self) -> Result<Vec<PartitionLag>, BusError> {
        let mut lags = Vec::with_capacity(self.positions.len());
        for position in &self.positions {
            // A lone MIN or MAX over the primary key reads one index entry; records pruned by
            // retention are not owed, so the count starts at the oldest one kept.
            let (oldest, next): (Option<i64>, Option<i64>) = sqlx::query_as(
                "SELECT (SELECT MIN(log_offset) FROM log_records WHERE topic = $1 AND partition_no = $2),
                        (SELECT MAX(log_offset) + 1 FROM log_records WHERE topic = $1 AND partition_no = $2)",
            )
            .bind(&position.topic)
            .bind(position.partition)
            .fetch_one(&self.log.inner.reader)
            .await
            .map_err(unavailable)?;
            let committed = self
                .log
                .committed(&self.group, &position.topic, position.partition)
                .await?;
            let owed_from = committed.max(oldest.unwrap_or(0));
            lags.push(PartitionLag {
                topic: position.topic.clone(),
                partition: position.partition,
                records: next.map_or(0, |next| (next - owed_from).max(0) as u64),
            });
        }
        Ok(lags)
    }
}
