//! The embedded log's reads: a consumer's poll, a group's committed offsets, lag, replays.
//!
//! They run on read-only rusqlite connections, which WAL lets read beside the writer thread,
//! one hand-off to tokio's blocking pool per call however many partitions it reads. Why not
//! sqlx's pool: its SQLite driver runs each statement on the connection's own thread and sends
//! every row back over a channel, so a poll of four partitions was four round trips and a
//! channel message per record. Reading here took the log's 256-record batches from 122k to 140k
//! events/s and halved their latency (BENCHMARKS.md, "Embedded event log: record batches, and
//! reads without sqlx"). A read hands out only records already on disk (`durable.rs`).

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use rusqlite::{params, Connection};

use super::{batch, durable::Durability};
use crate::db::open_read_only;
use crate::events::bus::{BusError, Delivery};

/// Idle read connections, opened as needed and kept: the most at once is the number of reads
/// running at once, which the blocking pool bounds.
#[derive(Clone)]
pub(super) struct Readers {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
    durability: Arc<Durability>,
}

/// One partition's read: its topic, partition and the first offset wanted.
pub(super) struct ReadStart {
    pub topic: String,
    pub partition: u32,
    pub offset: i64,
}

impl Readers {
    pub(super) fn new(path: &Path, durability: Arc<Durability>) -> Self {
        Self {
            path: Arc::new(path.to_path_buf()),
            idle: Arc::default(),
            durability,
        }
    }

    /// Runs `read` on an idle connection, on tokio's blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, BusError> {
        let readers = self.clone();
        tokio::task::spawn_blocking(move || {
            let connection = match readers.idle.lock().expect("no read panics").pop() {
                Some(connection) => connection,
                None => open_read_only(&readers.path)?,
            };
            let outcome = read(&connection);
            readers
                .idle
                .lock()
                .expect("no read panics")
                .push(connection);
            outcome
        })
        .await
        .map_err(|e| BusError::Unavailable(format!("an event log read stopped: {e}")))?
        .map_err(|e| BusError::Unavailable(e.to_string()))
    }

    /// Up to `max` records in all, in order from each partition in turn. A partition that fails
    /// after others were read ends the read with what was read, so nothing handed out is dropped;
    /// the first failing fails the whole.
    pub(super) async fn records(
        &self,
        partitions: Vec<ReadStart>,
        max: usize,
    ) -> Result<Vec<Delivery>, BusError> {
        let durability = self.durability.clone();
        self.run(move |connection| {
            // The batch holding `from` is the first not ending before it.
            let mut statement = connection.prepare_cached(
                "SELECT base_offset, records FROM log_batches
                 WHERE topic = ?1 AND partition_no = ?2 AND last_offset >= ?3 ORDER BY last_offset",
            )?;
            let mut out = Vec::new();
            for from in partitions {
                if out.len() >= max {
                    break;
                }
                let before = out.len();
                let read = read_partition(&mut statement, &from, max, &mut out);
                // Asked after the read, so a hold the writer placed before a commit this read
                // saw is found.
                if let Some(until) = durability.visible_until(&from.topic, from.partition) {
                    let visible = out[before..].partition_point(|d| d.offset < until);
                    out.truncate(before + visible);
                }
                match read {
                    Ok(()) => {}
                    Err(_) if !out.is_empty() => break,
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
        .await
    }

    /// Where `group` resumes each partition: its committed next offset, 0 if it never committed.
    pub(super) async fn committed(
        &self,
        group: &str,
        partitions: Vec<(String, u32)>,
    ) -> Result<Vec<i64>, BusError> {
        let group = group.to_string();
        self.run(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT next_offset FROM log_group_offsets WHERE group_id = ?1 AND topic = ?2 AND partition_no = ?3",
            )?;
            partitions
                .iter()
                .map(|(topic, partition)| {
                    let mut rows = statement.query(params![group, topic, partition])?;
                    Ok(match rows.next()? {
                        Some(row) => row.get(0)?,
                        None => 0,
                    })
                })
                .collect()
        })
        .await
    }

    /// Each partition's oldest kept offset and next offset to be written (`None` while empty).
    pub(super) async fn bounds(
        &self,
        partitions: Vec<(String, u32)>,
    ) -> Result<Vec<(Option<i64>, Option<i64>)>, BusError> {
        self.run(move |connection| {
            // The first and the last batch by the primary key: one index entry each.
            let mut statement = connection.prepare_cached(
                "SELECT (SELECT base_offset FROM log_batches WHERE topic = ?1 AND partition_no = ?2
                         ORDER BY last_offset LIMIT 1),
                        (SELECT MAX(last_offset) + 1 FROM log_batches WHERE topic = ?1 AND partition_no = ?2)",
            )?;
            partitions
                .iter()
                .map(|(topic, partition)| {
                    statement.query_row(params![topic, partition], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })
                })
                .collect()
        })
        .await
    }

    /// Whether the file can be read.
    pub(super) async fn ping(&self) -> Result<(), BusError> {
        self.run(|connection| connection.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }
}

/// Records of one partition from `from.offset` on, into `out` until it holds `max`. What was
/// read before a failure stays in `out`.
fn read_partition(
    statement: &mut rusqlite::CachedStatement<'_>,
    from: &ReadStart,
    max: usize,
    out: &mut Vec<Delivery>,
) -> rusqlite::Result<()> {
    let mut rows = statement.query(params![from.topic, from.partition, from.offset])?;
    while out.len() < max {
        let Some(row) = rows.next()? else { break };
        let base: i64 = row.get(0)?;
        let records = batch::decode(row.get_ref(1)?.as_blob()?)?;
        // A consumer may have stopped inside a batch: it skips what it already read.
        let skipped = (from.offset - base).max(0) as usize;
        let wanted = max - out.len();
        for (offset, (key, payload)) in (base..).zip(records).skip(skipped).take(wanted) {
            out.push(Delivery {
                topic: from.topic.clone(),
                partition: from.partition,
                offset,
                key: key.to_string(),
                payload: payload.to_vec(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::events::{embedded::EmbeddedLog, EventBus, Record};

    #[tokio::test]
    async fn a_read_stops_before_records_not_yet_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(&dir.path().join("events.db"), 1)
            .await
            .unwrap();
        let records = (0..5)
            .map(|i| Record {
                topic: "orders".into(),
                key: "order-1".into(),
                payload: vec![i],
            })
            .collect();
        log.publish(records).await.unwrap();
        // What the writer does before it commits a transaction from offset 3 on.
        let hold = vec![("orders".to_string(), 0, 3)];
        log.inner.readers.durability.hold(hold);

        let read = log.read("orders", 0, 0, 100).await.unwrap();
        let offsets: Vec<i64> = read.iter().map(|d| d.offset).collect();
        assert_eq!(offsets, [0, 1, 2]);
    }
}
