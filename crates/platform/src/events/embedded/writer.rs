//! The embedded log's one writer: a thread that owns the file's only write connection. Every
//! change (appends, consumer groups' commits, seeks, retention, erasure) is sent to it. It takes
//! everything waiting, writes the appends and commits among it in one transaction (one fsync),
//! and answers each only after that transaction commits; if it fails, all of them fail and
//! nothing of theirs is written. Concurrent publishers and consumers so share an fsync instead
//! of queueing for one each, and offsets are assigned by one owner, without gaps.
//!
//! Why a thread of its own on rusqlite rather than sqlx: sqlx's SQLite driver runs each
//! statement on its worker thread, a channel hop there and back per statement. A group's BEGIN,
//! INSERTs and COMMIT were four or more, and a profile of 16 concurrent publishers spent its time
//! in those thread switches (the scheduler and futex wake-ups at the top, SQLite's own execution
//! under 1%). Here a group costs one hop, and the statements are prepared once.

use std::{
    collections::HashMap,
    path::Path,
    sync::mpsc::{self, Receiver},
    time::Duration,
};

use rusqlite::{params, Connection};
use tokio::sync::{oneshot, watch};

use super::{partition_of, SCHEMA};
use crate::events::{
    bus::{BusError, Record},
    CloudEvent,
};

/// A change to the log, as the writer takes it.
pub(super) enum Change {
    /// Records to append; answered with how many.
    Append(Vec<Record>),
    /// A group's positions: (topic, partition, next offset to read).
    Commit {
        group: String,
        next: Vec<(String, u32, i64)>,
    },
    /// A group's position moved, backwards too.
    Seek {
        group: String,
        topic: String,
        partition: u32,
        offset: i64,
    },
    /// Records appended before this time (epoch milliseconds) that every group has read;
    /// answered with how many were deleted.
    Prune { before: i64 },
    /// A key's records tombstoned, but for the event `sparing`; answered with how many.
    Erase {
        topic: String,
        key: String,
        sparing: String,
    },
}

impl Change {
    /// Appends and commits are written together in a group; the others alone, in their turn.
    fn joins_a_group(&self) -> bool {
        matches!(self, Self::Append(_) | Self::Commit { .. })
    }
}

struct Request {
    change: Change,
    done: oneshot::Sender<Result<u64, String>>,
}

/// Where changes are sent. The thread ends when the last handle is dropped.
pub(super) struct Writer {
    requests: mpsc::Sender<Request>,
}

impl Writer {
    /// Opens the file's write connection, creates the tables, checks the partition count and
    /// starts the thread.
    pub(super) fn start(
        path: &Path,
        partitions: u32,
        appended: watch::Sender<u64>,
    ) -> anyhow::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        // Keys map to partitions by count: a different count would scatter keys (breaking their
        // order) and strand records in partitions that no longer exist.
        conn.execute(
            "INSERT INTO log_meta (name, value) VALUES ('partitions', ?1) ON CONFLICT (name) DO NOTHING",
            [partitions],
        )?;
        let stored: i64 = conn.query_row(
            "SELECT value FROM log_meta WHERE name = 'partitions'",
            [],
            |row| row.get(0),
        )?;
        if stored != i64::from(partitions) {
            anyhow::bail!(
                "the event log at {} has {stored} partitions but key `bus.partitions` is {partitions}; set it back to {stored}",
                path.display()
            );
        }
        let (requests, received) = mpsc::channel();
        let thread = Thread {
            conn,
            partitions,
            next_offsets: HashMap::new(),
            appended,
        };
        std::thread::Builder::new()
            .name("event-log-writer".into())
            .spawn(move || thread.run(received))?;
        Ok(Self { requests })
    }

    /// Sends `change` and waits until it is written. A caller that stops waiting does not take
    /// it back: a publish is then written at least once, as the bus promises (consumers'
    /// inboxes drop the repeat), and a commit only ever moves a group forward.
    pub(super) async fn write(&self, change: Change) -> Result<u64, BusError> {
        let (done, outcome) = oneshot::channel();
        let stopped = || BusError::Unavailable("the event log's writer has stopped".into());
        self.requests
            .send(Request { change, done })
            .map_err(|_| stopped())?;
        outcome
            .await
            .map_err(|_| stopped())?
            .map_err(BusError::Unavailable)
    }
}

struct Thread {
    conn: Connection,
    partitions: u32,
    /// Next offset per (topic, partition), loaded from the file when first needed.
    next_offsets: HashMap<(String, u32), i64>,
    appended: watch::Sender<u64>,
}

impl Thread {
    fn run(mut self, received: Receiver<Request>) {
        while let Ok(first) = received.recv() {
            let waiting: Vec<Request> = std::iter::once(first).chain(received.try_iter()).collect();
            // In the order they came: a group of appends and commits up to a change that goes
            // alone, which then sees everything sent before it.
            let mut group = Vec::new();
            for request in waiting {
                if request.change.joins_a_group() {
                    group.push(request);
                    continue;
                }
                self.write_group(std::mem::take(&mut group));
                let said = self.alone(&request.change).map_err(|e| e.to_string());
                let _ = request.done.send(said);
            }
            self.write_group(group);
        }
    }

    fn write_group(&mut self, group: Vec<Request>) {
        if group.is_empty() {
            return;
        }
        let outcome = self.append(&group);
        match &outcome {
            Ok(0) => {}
            Ok(records) => self.appended.send_modify(|n| *n += records),
            // Another process may have written to the file; read offsets from it again.
            Err(_) => self.next_offsets.clear(),
        }
        let said = outcome.map_err(|e| e.to_string());
        for request in group {
            let count = match &request.change {
                Change::Append(records) => records.len() as u64,
                _ => 0,
            };
            let _ = request.done.send(said.clone().map(|_| count));
        }
    }

    /// Writes a group's records and positions in one transaction; how many records.
    fn append(&mut self, group: &[Request]) -> rusqlite::Result<u64> {
        let tx = self.conn.transaction()?;
        let mut assigned: HashMap<(String, u32), i64> = HashMap::new();
        let now = chrono::Utc::now().timestamp_millis();
        let mut written = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO log_records (topic, partition_no, log_offset, record_key, payload, appended_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut commit = tx.prepare_cached(
                "INSERT INTO log_group_offsets (group_id, topic, partition_no, next_offset) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (group_id, topic, partition_no)
                 DO UPDATE SET next_offset = MAX(next_offset, excluded.next_offset)",
            )?;
            for request in group {
                match &request.change {
                    Change::Append(records) => {
                        for record in records {
                            let slot = (
                                record.topic.clone(),
                                partition_of(&record.key, self.partitions),
                            );
                            let offset = match assigned.get(&slot).or(self.next_offsets.get(&slot))
                            {
                                Some(offset) => *offset,
                                None => tx.query_row(
                                    "SELECT COALESCE(MAX(log_offset) + 1, 0) FROM log_records WHERE topic = ?1 AND partition_no = ?2",
                                    params![slot.0, slot.1],
                                    |row| row.get(0),
                                )?,
                            };
                            insert.execute(params![
                                record.topic,
                                slot.1,
                                offset,
                                record.key,
                                record.payload,
                                now
                            ])?;
                            assigned.insert(slot, offset + 1);
                            written += 1;
                        }
                    }
                    // A commit never moves a group back: a redelivered batch's late commit is
                    // a no-op.
                    Change::Commit { group, next } => {
                        for (topic, partition, offset) in next {
                            commit.execute(params![group, topic, partition, offset])?;
                        }
                    }
                    _ => unreachable!("only appends and commits join a group"),
                }
            }
        }
        tx.commit()?;
        // Only after the commit: a failed append must not leave offsets that were never written.
        self.next_offsets.extend(assigned);
        Ok(written)
    }

    fn alone(&mut self, change: &Change) -> rusqlite::Result<u64> {
        match change {
            Change::Seek {
                group,
                topic,
                partition,
                offset,
            } => self
                .conn
                .execute(
                    "INSERT INTO log_group_offsets (group_id, topic, partition_no, next_offset) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (group_id, topic, partition_no) DO UPDATE SET next_offset = excluded.next_offset",
                    params![group, topic, partition, offset],
                )
                .map(|n| n as u64),
            // Each partition's newest record is kept: offsets continue from it, so a pruned
            // log never hands out an offset twice.
            Change::Prune { before } => self
                .conn
                .execute(
                    "DELETE FROM log_records WHERE appended_at < ?1
                     AND log_offset < (SELECT MAX(n.log_offset) FROM log_records n
                                       WHERE n.topic = log_records.topic AND n.partition_no = log_records.partition_no)
                     AND NOT EXISTS (SELECT 1 FROM log_group_offsets g
                                     WHERE g.topic = log_records.topic AND g.partition_no = log_records.partition_no
                                       AND g.next_offset <= log_records.log_offset)",
                    [before],
                )
                .map(|n| n as u64),
            Change::Erase {
                topic,
                key,
                sparing,
            } => self.tombstone(topic, key, sparing),
            Change::Append(_) | Change::Commit { .. } => {
                unreachable!("appends and commits are written in groups")
            }
        }
    }

    fn tombstone(&mut self, topic: &str, key: &str, sparing: &str) -> rusqlite::Result<u64> {
        let tx = self.conn.transaction()?;
        let mut erased = 0;
        {
            let mut found = tx.prepare(
                "SELECT partition_no, log_offset, payload FROM log_records WHERE topic = ?1 AND record_key = ?2",
            )?;
            let rows = found
                .query_map(params![topic, key], |row| {
                    Ok((
                        row.get::<_, u32>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut replace = tx.prepare(
                "UPDATE log_records SET payload = ?1 WHERE topic = ?2 AND partition_no = ?3 AND log_offset = ?4",
            )?;
            for (partition, offset, payload) in rows {
                // A record that is not an envelope carries nothing it could be told apart by;
                // it is dropped to a null payload all the same.
                let tombstone = match CloudEvent::from_bytes(&payload) {
                    Ok(event) if event.erased || event.id == sparing => continue,
                    Ok(event) => event.tombstone().to_bytes(),
                    Err(_) => b"null".to_vec(),
                };
                replace.execute(params![tombstone, topic, partition, offset])?;
                erased += 1;
            }
        }
        tx.commit()?;
        Ok(erased)
    }
}
