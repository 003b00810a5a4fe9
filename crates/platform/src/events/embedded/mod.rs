//! The embedded event log: Kafka's model (topics, keyed partitions, offsets, consumer groups with
//! committed positions) kept as Kafka keeps it, in segment files of checksummed entries, for
//! `miyagi up` on a single machine.
//!
//! - `segment.rs`, `entry.rs`, `batch.rs`: the files, the entries framed in them, the records
//!   in a batch.
//! - `writer.rs`: one thread appends every change; concurrent publishes and commits share one
//!   write and one flush, and each is answered once on disk. `rewrite.rs`: retention, erasure.
//! - `state.rs`: the in-memory index of where each partition's batches lie, and groups'
//!   positions, kept by the writer after each flush; `reader.rs` reads through it.
//! - `recovery.rs`: opening, a torn tail cut; `legacy.rs`: taking over a log kept in SQLite.
//!
//! An in-process `watch` channel wakes consumers the moment something is appended instead of
//! making them poll the files.
//!
//! Why segment files rather than SQLite, which kept this log until 2026-12: each SQLite
//! transaction rewrote ~10 pages of b-tree and WAL for a few records, and its flush carried all
//! of them; 16 one-event producers topped out near 45k events/s. Here a group is one sequential
//! write of its own bytes (BENCHMARKS.md, "Embedded event log: segment files").

use std::{
    collections::HashMap,
    hash::Hasher,
    path::{Path, PathBuf},
    sync::{Arc, LazyLock, Weak},
    time::Duration,
};

use anyhow::Context;
use async_trait::async_trait;
use tokio::sync::watch;

use self::{
    reader::{ReadStart, Readers},
    writer::{Change, Writer},
};
use super::bus::{
    BusError, Delivery, EventBus, PartitionLag, Record, Subscription, MAX_RECORD_BYTES,
};

mod batch;
mod entry;
mod legacy;
mod reader;
mod recovery;
mod rewrite;
mod segment;
mod state;
mod writer;

#[derive(Clone)]
pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Writer,
    readers: Readers,
    partitions: u32,
    /// Counts records made durable; the writer sends on it, each subscription waits on a clone.
    appended: watch::Receiver<u64>,
}

/// The logs open in this process, by directory.
static OPEN: LazyLock<tokio::sync::Mutex<HashMap<PathBuf, Weak<Inner>>>> =
    LazyLock::new(Default::default);

/// The log's directory by its absolute path, its parent created if need be.
fn identity(dir: &Path) -> anyhow::Result<PathBuf> {
    if let Ok(existing) = dir.canonicalize() {
        return Ok(existing);
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = dir
        .file_name()
        .with_context(|| format!("{} does not name a directory", dir.display()))?;
    Ok(parent.canonicalize()?.join(name))
}

/// Partition of a key: a stable hash (FNV-1a), so a key maps to the same partition across
/// restarts and versions — `std`'s hasher promises neither.
fn partition_of(key: &str, partitions: u32) -> u32 {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(key.as_bytes());
    (hasher.finish() % u64::from(partitions)) as u32
}

impl EmbeddedLog {
    /// Opens the log in directory `dir`, creating it if need be. A log kept in SQLite at
    /// `dir` with the extension `.db` (`events.db` beside `events/`) is taken over first.
    ///
    /// A log already open in this process is shared: its directory admits one writer.
    pub async fn open(dir: &Path, partitions: u32) -> anyhow::Result<Self> {
        assert!(partitions > 0, "a topic needs at least one partition");
        let mut open = OPEN.lock().await;
        let key = identity(dir)?;
        if let Some(inner) = open.get(&key).and_then(Weak::upgrade) {
            if inner.partitions != partitions {
                return Err(recovery::other_partitions(
                    dir,
                    inner.partitions,
                    partitions,
                ));
            }
            return Ok(Self { inner });
        }
        let (appended, seen) = watch::channel(0);
        let path = dir.to_owned();
        let (writer, state) =
            tokio::task::spawn_blocking(move || Writer::start(&path, partitions, appended))
                .await??;
        let inner = Arc::new(Inner {
            writer,
            readers: Readers::new(dir, state),
            partitions,
            appended: seen,
        });
        open.retain(|_, log| log.strong_count() > 0);
        open.insert(key, Arc::downgrade(&inner));
        Ok(Self { inner })
    }

    /// Partition of a key, the same across restarts and versions.
    pub fn partition_for(&self, key: &str) -> u32 {
        partition_of(key, self.inner.partitions)
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
        let from = ReadStart {
            topic: topic.to_string(),
            partition,
            offset: from_offset,
        };
        self.inner.readers.records(vec![from], max).await
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
        self.inner
            .writer
            .write(Change::Seek {
                group: group.into(),
                topic: topic.into(),
                partition,
                offset,
            })
            .await?;
        Ok(())
    }

    /// A group's committed position on one partition, for the conformance suite's checks.
    #[cfg(feature = "testing")]
    pub(super) async fn committed(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
    ) -> Result<i64, BusError> {
        let committed = self
            .inner
            .readers
            .committed(group, vec![(topic.to_string(), partition)])
            .await?;
        Ok(committed[0])
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
        self.inner.writer.write(Change::Append(records)).await?;
        Ok(())
    }

    async fn subscribe(
        &self,
        group: &str,
        topics: &[&str],
    ) -> Result<Box<dyn Subscription>, BusError> {
        let partitions: Vec<(String, u32)> = topics
            .iter()
            .flat_map(|topic| (0..self.inner.partitions).map(|p| (topic.to_string(), p)))
            .collect();
        let committed = self
            .inner
            .readers
            .committed(group, partitions.clone())
            .await?;
        let positions = partitions
            .into_iter()
            .zip(committed)
            .map(|((topic, partition), next)| Position {
                topic,
                partition,
                next,
                paused: false,
            })
            .collect();
        Ok(Box::new(EmbeddedSubscription {
            log: self.clone(),
            group: group.to_string(),
            positions,
            appended: self.inner.appended.clone(),
            start: 0,
        }))
    }

    async fn ping(&self) -> Result<(), BusError> {
        self.inner.readers.ping().await
    }

    /// Drops the records appended before `before` that every consumer group of their partition
    /// has committed past, but for each partition's newest, and deletes the segment files left
    /// holding none (`rewrite.rs`). Offsets go on from where they were.
    async fn prune(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64, BusError> {
        let before = before.timestamp_millis();
        self.inner.writer.write(Change::Prune { before }).await
    }

    async fn erase(&self, topic: &str, key: &str, sparing: &str) -> Result<u64, BusError> {
        let change = Change::Erase {
            topic: topic.into(),
            key: key.into(),
            sparing: sparing.into(),
        };
        self.inner.writer.write(change).await
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

    /// Up to `max` records, reading the unpaused partitions in turn from a start that rotates
    /// each call, so one busy partition cannot starve the others.
    async fn fetch(&mut self, max: usize) -> Result<Vec<Delivery>, BusError> {
        let count = self.positions.len();
        let wanted = (0..count)
            .map(|i| &self.positions[(self.start + i) % count])
            .filter(|position| !position.paused)
            .map(|position| ReadStart {
                topic: position.topic.clone(),
                partition: position.partition,
                offset: position.next,
            })
            .collect();
        self.start = (self.start + 1) % count.max(1);
        let out = self.log.inner.readers.records(wanted, max).await?;
        for position in &mut self.positions {
            if let Some(last) = out
                .iter()
                .rfind(|d| d.partition == position.partition && d.topic == position.topic)
            {
                position.next = last.offset + 1;
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Subscription for EmbeddedSubscription {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        // A read waits on nothing (`reader.rs`), so a poll lets other tasks run first: a
        // consumer whose log always has records would otherwise dispatch them to its handlers'
        // tasks without ever letting those run on a single-threaded runtime.
        tokio::task::yield_now().await;
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
        let change = Change::Commit {
            group: self.group.clone(),
            next,
        };
        self.log.inner.writer.write(change).await?;
        Ok(())
    }

    async fn pause(&mut self, topic: &str, partition: u32) -> Result<(), BusError> {
        self.set_paused(topic, partition, true)
    }

    async fn resume(&mut self, topic: &str, partition: u32) -> Result<(), BusError> {
        self.set_paused(topic, partition, false)
    }

    async fn lag(&mut self) -> Result<Vec<PartitionLag>, BusError> {
        let partitions: Vec<(String, u32)> = self
            .positions
            .iter()
            .map(|p| (p.topic.clone(), p.partition))
            .collect();
        let readers = &self.log.inner.readers;
        let bounds = readers.bounds(partitions.clone()).await?;
        let committed = readers.committed(&self.group, partitions.clone()).await?;
        Ok(partitions
            .into_iter()
            .zip(bounds.into_iter().zip(committed))
            .map(|((topic, partition), ((oldest, next), committed))| {
                // Records pruned by retention are not owed: the count starts at the oldest kept.
                let owed_from = committed.max(oldest.unwrap_or(0));
                PartitionLag {
                    topic,
                    partition,
                    records: next.map_or(0, |next| (next - owed_from).max(0) as u64),
                }
            })
            .collect())
    }
}
