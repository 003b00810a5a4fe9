//! The embedded log's writer: two threads that take turns with the file's only write
//! connection. Every change (appends, consumer groups' commits, seeks, retention, erasure) is
//! sent to it. The thread whose turn it is takes everything waiting, writes the appends and
//! commits among it in one transaction, and hands the connection on. It then flushes the WAL
//! (`durable.rs`) and answers, unless the other thread is flushing: that one answers these
//! callers too after a flush of its own, and this thread goes back to writing. If a
//! transaction fails, all of its changes fail and nothing of theirs is written. Concurrent
//! publishers and consumers so share a transaction and a flush instead of queueing for one
//! each, the next transaction is written while the last is flushed, and offsets are assigned by
//! one owner, without gaps.
//!
//! Why threads of their own on rusqlite rather than sqlx: sqlx's SQLite driver runs each
//! statement on its worker thread, a channel hop there and back per statement. A group's BEGIN,
//! INSERTs and COMMIT were four or more, and a profile of 16 concurrent publishers spent its time
//! in those thread switches (the scheduler and futex wake-ups at the top, SQLite's own execution
//! under 1%). Here a group costs one hop, and the statements are prepared once. Why the thread
//! that wrote also flushes, rather than a flusher thread of its own: a lone publisher's answer
//! then takes no extra hop between threads (one cost a single producer a fifth of its rate).

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        mpsc::{self, Receiver},
        Arc, Mutex,
    },
};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use tokio::sync::{oneshot, watch};

use super::{batch, durable::Durability, partition_of, schema};
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

/// Where a change's answer goes, and the answer, sent once it is durable.
type Answer = (oneshot::Sender<Result<u64, String>>, Result<u64, String>);

/// Threads taking turns: one writes while the other flushes. A third measured slower: it
/// only queues for the one flush that runs at a time, or with flushes side by side, slows them.
const THREADS: usize = 2;

/// Where changes are sent. The threads end when the last handle is dropped.
pub(super) struct Writer {
    requests: mpsc::Sender<Request>,
}

impl Writer {
    /// Opens the file for writing (`schema.rs`) and starts the threads, which count the
    /// records they make durable on `appended`. Readers ask the returned `Durability` what
    /// they may hand out.
    pub(super) fn start(
        path: &Path,
        partitions: u32,
        appended: watch::Sender<u64>,
    ) -> anyhow::Result<(Self, Arc<Durability>)> {
        let conn = schema::open_for_writing(path, partitions)?;
        let durability = Arc::new(Durability::open(path)?);
        let (requests, received) = mpsc::channel();
        let turns = Arc::new(Turns {
            writing: Mutex::new(Writing {
                conn,
                received,
                partitions,
                next_offsets: HashMap::new(),
                durability: durability.clone(),
            }),
            flushing: Mutex::default(),
            durability: durability.clone(),
            appended,
        });
        for n in 0..THREADS {
            let turns = turns.clone();
            std::thread::Builder::new()
                .name(format!("event-log-writer-{n}"))
                .spawn(move || turns.take_until_stopped())?;
        }
        Ok((Self { requests }, durability))
    }

    /// Sends `change` and waits until it is written and on disk. A caller that stops waiting
    /// does not take it back: a publish is then written at least once, as the bus promises
    /// (consumers' inboxes drop the repeat), and a commit only ever moves a group forward.
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

/// What the threads share: the write connection, held by one of them at a time, and the
/// turns written but not yet answered.
struct Turns {
    writing: Mutex<Writing>,
    flushing: Mutex<Flushing>,
    durability: Arc<Durability>,
    appended: watch::Sender<u64>,
}

#[derive(Default)]
struct Flushing {
    /// Whether a thread is flushing; it answers `waiting` before it stops.
    busy: bool,
    waiting: Vec<Written>,
}

impl Turns {
    fn take_until_stopped(&self) {
        loop {
            // The connection is handed on at the end of this statement, before the flush.
            let written = self
                .writing
                .lock()
                .expect("no writer panics holding the connection")
                .write_waiting();
            let Some(written) = written else { return };
            self.answer_when_durable(written);
        }
    }

    /// Flushes and answers, and goes on while other turns wait; or, if the other thread is
    /// flushing, leaves `written` to it.
    fn answer_when_durable(&self, written: Written) {
        let mut flushing = self.lock_flushing();
        flushing.waiting.push(written);
        if flushing.busy {
            return;
        }
        flushing.busy = true;
        while !flushing.waiting.is_empty() {
            let taken = std::mem::take(&mut flushing.waiting);
            drop(flushing);
            let synced = self.durability.flush();
            let records: u64 = taken.iter().map(|w| w.records).sum();
            if synced.is_ok() && records > 0 {
                self.appended.send_modify(|n| *n += records);
            }
            for (done, said) in taken.into_iter().flat_map(|w| w.answers) {
                // After a failed flush the callers hear of it and try again, as after any
                // failure; consumers' inboxes drop a publish written twice.
                let said = match &synced {
                    Ok(()) => said,
                    Err(e) => Err(format!("the event log could not flush its WAL: {e}")),
                };
                let _ = done.send(said);
            }
            flushing = self.lock_flushing();
        }
        flushing.busy = false;
    }

    fn lock_flushing(&self) -> std::sync::MutexGuard<'_, Flushing> {
        self.flushing
            .lock()
            .expect("no writer panics while flushing")
    }
}

/// A turn's transactions, all ended: how many records they appended, and their callers'
/// answers.
#[derive(Default)]
struct Written {
    records: u64,
    answers: Vec<Answer>,
}

/// The write connection and what the writer keeps beside it.
struct Writing {
    conn: Connection,
    received: Receiver<Request>,
    partitions: u32,
    /// Next offset per (topic, partition), loaded from the file when first needed.
    next_offsets: HashMap<(String, u32), i64>,
    durability: Arc<Durability>,
}

impl Writing {
    /// Waits for changes and writes all that are waiting; `None` once every sender is gone.
    fn write_waiting(&mut self) -> Option<Written> {
        let first = self.received.recv().ok()?;
        let waiting: Vec<Request> = std::iter::once(first)
            .chain(self.received.try_iter())
            .collect();
        let mut written = Written::default();
        // In the order they came: a group of appends and commits up to a change that goes
        // alone, which then sees everything sent before it.
        let mut group = Vec::new();
        for request in waiting {
            if request.change.joins_a_group() {
                group.push(request);
                continue;
            }
            self.write_group(std::mem::take(&mut group), &mut written);
            let said = self.alone(&request.change).map_err(|e| e.to_string());
            self.durability.ended();
            written.answers.push((request.done, said));
        }
        self.write_group(group, &mut written);
        Some(written)
    }

    fn write_group(&mut self, group: Vec<Request>, written: &mut Written) {
        if group.is_empty() {
            return;
        }
        let outcome = self.append(&group);
        self.durability.ended();
        if outcome.is_err() {
            // Another process may have written to the file; read offsets from it again.
            self.next_offsets.clear();
        }
        let said = outcome.map_err(|e| e.to_string());
        written.records += said.as_ref().map_or(0, |records| *records);
        for request in group {
            let count = match &request.change {
                Change::Append(records) => records.len() as u64,
                _ => 0,
            };
            written
                .answers
                .push((request.done, said.clone().map(|_| count)));
        }
    }

    /// Writes a group's records and positions in one transaction; how many records. The
    /// group's records for each partition become one batch.
    fn append(&mut self, group: &[Request]) -> rusqlite::Result<u64> {
        let tx = self.conn.transaction()?;
        // Few partitions take part in a group: a list searched in turn beats a map.
        let mut batches: Vec<Pending> = Vec::new();
        let mut written = 0;
        {
            let mut commit = tx.prepare_cached(
                "INSERT INTO log_group_offsets (group_id, topic, partition_no, next_offset) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (group_id, topic, partition_no)
                 DO UPDATE SET next_offset = MAX(next_offset, excluded.next_offset)",
            )?;
            for request in group {
                match &request.change {
                    Change::Append(records) => {
                        for record in records {
                            let partition = partition_of(&record.key, self.partitions);
                            let found = batches
                                .iter()
                                .position(|b| b.partition == partition && b.topic == record.topic);
                            let at = match found {
                                Some(at) => at,
                                None => {
                                    let base = next_offset(
                                        &tx,
                                        &self.next_offsets,
                                        &record.topic,
                                        partition,
                                    )?;
                                    batches.push(Pending::new(&record.topic, partition, base));
                                    batches.len() - 1
                                }
                            };
                            batches[at].push(&record.key, &record.payload);
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
            let mut insert = tx.prepare_cached(
                "INSERT INTO log_batches (topic, partition_no, base_offset, last_offset, appended_at, records)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let now = chrono::Utc::now().timestamp_millis();
            for b in &batches {
                insert.execute(params![
                    b.topic,
                    b.partition,
                    b.base,
                    b.next - 1,
                    now,
                    b.records
                ])?;
            }
        }
        if !batches.is_empty() {
            let starts = batches
                .iter()
                .map(|b| (b.topic.clone(), b.partition, b.base));
            self.durability.hold(starts.collect());
        }
        tx.commit()?;
        // Only after the commit: a failed append must not leave offsets that were never written.
        for b in batches {
            self.next_offsets.insert((b.topic, b.partition), b.next);
        }
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
            Change::Prune { before } => self.prune(*before),
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

    /// Deletes the records appended before `before` (epoch milliseconds) that every group of
    /// their partition has read past; how many. A batch read only in part loses that part.
    /// Each partition's newest record is kept: offsets continue from it, so a pruned log never
    /// hands out an offset twice.
    fn prune(&mut self, before: i64) -> rusqlite::Result<u64> {
        let tx = self.conn.transaction()?;
        let mut pruned = 0;
        {
            // Per partition, the first offset kept: the lowest any group will read next, but
            // not past the newest record.
            let mut bounds = tx.prepare(
                "SELECT b.topic, b.partition_no,
                        MIN(MAX(b.last_offset), COALESCE(
                            (SELECT MIN(g.next_offset) FROM log_group_offsets g
                             WHERE g.topic = b.topic AND g.partition_no = b.partition_no),
                            MAX(b.last_offset)))
                 FROM log_batches b GROUP BY b.topic, b.partition_no",
            )?;
            let bounds = bounds
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, u32>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut whole = tx.prepare(
                "DELETE FROM log_batches WHERE topic = ?1 AND partition_no = ?2 AND last_offset < ?3
                 AND appended_at < ?4 RETURNING last_offset - base_offset + 1",
            )?;
            let mut straddling = tx.prepare(
                "SELECT base_offset, last_offset, records FROM log_batches
                 WHERE topic = ?1 AND partition_no = ?2 AND base_offset < ?3 AND last_offset >= ?3
                 AND appended_at < ?4",
            )?;
            let mut trim = tx.prepare(
                "UPDATE log_batches SET base_offset = ?4, records = ?5
                 WHERE topic = ?1 AND partition_no = ?2 AND last_offset = ?3",
            )?;
            for (topic, partition, keep_from) in bounds {
                let mut deleted = whole.query(params![topic, partition, keep_from, before])?;
                while let Some(row) = deleted.next()? {
                    pruned += row.get::<_, i64>(0)? as u64;
                }
                let part = straddling
                    .query_row(params![topic, partition, keep_from, before], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, i64>(1)?,
                            row.get::<_, Vec<u8>>(2)?,
                        ))
                    })
                    .optional()?;
                if let Some((base, last, records)) = part {
                    let read = (keep_from - base) as usize;
                    let records = batch::decode(&records)?;
                    trim.execute(params![
                        topic,
                        partition,
                        last,
                        keep_from,
                        batch::encode(records.into_iter().skip(read))
                    ])?;
                    pruned += read as u64;
                }
            }
        }
        tx.commit()?;
        Ok(pruned)
    }

    /// Replaces the payload of every record of `key` on `topic` with its tombstone, but for
    /// the event `sparing`; how many.
    fn tombstone(&mut self, topic: &str, key: &str, sparing: &str) -> rusqlite::Result<u64> {
        let tx = self.conn.transaction()?;
        let mut erased = 0;
        // Rewritten batches are kept aside and written after the scan, not under its cursor.
        let mut rewritten: Vec<(u32, i64, Vec<u8>)> = Vec::new();
        {
            let mut batches = tx.prepare(
                "SELECT partition_no, last_offset, records FROM log_batches WHERE topic = ?1",
            )?;
            let mut rows = batches.query(params![topic])?;
            while let Some(row) = rows.next()? {
                let records = batch::decode(row.get_ref(2)?.as_blob()?)?;
                if records.iter().all(|(k, _)| *k != key) {
                    continue;
                }
                let mut tombstones = 0;
                let kept: Vec<(&str, Vec<u8>)> = records
                    .into_iter()
                    .map(|(k, payload)| {
                        if k != key {
                            return (k, payload.to_vec());
                        }
                        // A record that is not an envelope carries nothing it could be told
                        // apart by; it is dropped to a null payload all the same.
                        let tombstone = match CloudEvent::from_bytes(payload) {
                            Ok(event) if event.erased || event.id == sparing => {
                                return (k, payload.to_vec())
                            }
                            Ok(event) => event.tombstone().to_bytes(),
                            Err(_) => b"null".to_vec(),
                        };
                        tombstones += 1;
                        (k, tombstone)
                    })
                    .collect();
                if tombstones > 0 {
                    let records = batch::encode(kept.iter().map(|(k, p)| (*k, p.as_slice())));
                    rewritten.push((row.get(0)?, row.get(1)?, records));
                    erased += tombstones;
                }
            }
        }
        {
            let mut replace = tx.prepare(
                "UPDATE log_batches SET records = ?1 WHERE topic = ?2 AND partition_no = ?3 AND last_offset = ?4",
            )?;
            for (partition, last, records) in rewritten {
                replace.execute(params![records, topic, partition, last])?;
            }
        }
        tx.commit()?;
        Ok(erased)
    }
}

/// Records of one partition a group appends, as one batch.
struct Pending {
    topic: String,
    partition: u32,
    base: i64,
    /// The offset the next record takes.
    next: i64,
    records: Vec<u8>,
}

impl Pending {
    fn new(topic: &str, partition: u32, base: i64) -> Self {
        Self {
            topic: topic.to_string(),
            partition,
            base,
            next: base,
            records: Vec::new(),
        }
    }

    fn push(&mut self, key: &str, payload: &[u8]) {
        batch::push(&mut self.records, key, payload);
        self.next += 1;
    }
}

/// The offset a partition's next record takes: remembered from the last append, or read from
/// the file the first time.
fn next_offset(
    tx: &Transaction,
    known: &HashMap<(String, u32), i64>,
    topic: &str,
    partition: u32,
) -> rusqlite::Result<i64> {
    if let Some(next) = known.get(&(topic.to_string(), partition)) {
        return Ok(*next);
    }
    tx.query_row(
        "SELECT COALESCE(MAX(last_offset) + 1, 0) FROM log_batches WHERE topic = ?1 AND partition_no = ?2",
        params![topic, partition],
        |row| row.get(0),
    )
}
