//! The embedded log's writer: one thread that owns the active segment. Every change (appends,
//! consumer groups' commits and seeks, retention, erasure) is sent to it. It takes everything
//! waiting, turns the appends, commits and seeks into entries (a group's records for one
//! partition become one batch), writes them with one `pwrite`, flushes with one `fdatasync`,
//! and only then takes them into the in-memory state readers look at and answers their
//! callers. Concurrent publishers and consumers so share a write and a flush instead of
//! queueing for one each, and offsets are assigned by one owner, without gaps.
//!
//! A flush costs ~70 µs on this machine's disk whatever it carries, so the writer makes its
//! groups large: having answered a group, it waits up to `GATHER` for as many changes as that
//! group had, which are mostly its own callers coming back. A lone caller never waits: its group
//! had one change, and it is that one. Why one thread: the CPU work per group is a few µs
//! beside the flush; a second thread could only run a second flush of the same file beside the
//! first, and flushes side by side each took longer on this disk (BENCHMARKS.md, "flushing
//! beside writing") where one flush for all the callers that came back costs one.
//!
//! Retention and erasure go back over what is written (`rewrite.rs`) and run alone, in their
//! turn.

use std::{
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::{
        mpsc::{self, Receiver},
        Arc, RwLock, RwLockReadGuard, RwLockWriteGuard,
    },
    time::{Duration, Instant},
};

use tokio::sync::{oneshot, watch};

use super::{
    batch,
    entry::{BatchEntry, Entry},
    partition_of,
    recovery::{self, Active},
    segment::{self, ROLL_AT, ZERO_AHEAD},
    state::State,
};
use crate::events::bus::{BusError, Record};

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
    /// answered with how many are gone.
    Prune { before: i64 },
    /// A key's records tombstoned, but for the event `sparing`; answered with how many.
    Erase {
        topic: String,
        key: String,
        sparing: String,
    },
}

impl Change {
    /// Appends, commits and seeks are written together in a group; the others alone.
    fn joins_a_group(&self) -> bool {
        !matches!(self, Self::Prune { .. } | Self::Erase { .. })
    }
}

struct Request {
    change: Change,
    done: oneshot::Sender<Result<u64, String>>,
}

/// How long a group waits for as many changes as the last one had: a little more than a
/// flush, which is what the callers it answered take to come back.
const GATHER: Duration = Duration::from_micros(100);

/// Where changes are sent. The thread ends when the last handle is dropped.
pub(super) struct Writer {
    requests: mpsc::Sender<Request>,
}

impl Writer {
    /// Opens the log in `dir` (`recovery.rs`) and starts the thread, which counts the records
    /// it makes durable on `appended`. Readers look at the returned state.
    pub(super) fn start(
        dir: &Path,
        partitions: u32,
        appended: watch::Sender<u64>,
    ) -> anyhow::Result<(Self, Arc<RwLock<State>>)> {
        let opened = recovery::open(dir, partitions)?;
        let state = Arc::new(RwLock::new(opened.state));
        let (requests, received) = mpsc::channel();
        let mut appender = Appender {
            dir: dir.to_path_buf(),
            active: opened.active,
            state: state.clone(),
            received,
            appended,
            last_group: 1,
            failed: None,
            _lock: opened.lock,
        };
        std::thread::Builder::new()
            .name("event-log-writer".into())
            .spawn(move || appender.take_until_stopped())?;
        Ok((Self { requests }, state))
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

/// The writer thread and what it owns.
pub(super) struct Appender {
    pub(super) dir: PathBuf,
    pub(super) active: Active,
    state: Arc<RwLock<State>>,
    received: Receiver<Request>,
    appended: watch::Sender<u64>,
    /// How many changes the last group took.
    last_group: usize,
    /// Why the writer takes no more writes: a roll failed in a way only a reopen mends.
    failed: Option<String>,
    _lock: std::fs::File,
}

impl Appender {
    fn take_until_stopped(&mut self) {
        while let Ok(first) = self.received.recv() {
            let waiting = self.gather(first);
            // In the order they came: a group up to a change that goes alone, which then sees
            // everything sent before it.
            let mut group = Vec::new();
            for request in waiting {
                if request.change.joins_a_group() {
                    group.push(request);
                    continue;
                }
                self.write_group(std::mem::take(&mut group));
                let said = match &request.change {
                    Change::Prune { before } => self.prune(*before),
                    Change::Erase {
                        topic,
                        key,
                        sparing,
                    } => self.erase(topic, key, sparing),
                    _ => unreachable!("only retention and erasure go alone"),
                };
                let _ = request.done.send(said.map_err(|e| format!("{e:#}")));
            }
            self.write_group(group);
        }
    }

    /// `first` and what follows it: all that waits, and more for up to `GATHER` until there
    /// are as many as the last group had.
    fn gather(&mut self, first: Request) -> Vec<Request> {
        let mut waiting = vec![first];
        waiting.extend(self.received.try_iter());
        let until = Instant::now() + GATHER;
        while waiting.len() < self.last_group {
            let left = until.saturating_duration_since(Instant::now());
            match self.received.recv_timeout(left) {
                Ok(request) => waiting.push(request),
                Err(_) => break,
            }
        }
        self.last_group = waiting.len();
        waiting
    }

    /// Writes a group's entries and answers its callers: all succeed or all fail.
    fn write_group(&mut self, group: Vec<Request>) {
        if group.is_empty() {
            return;
        }
        let batches = self.batches(&group);
        let now = chrono::Utc::now().timestamp_millis();
        let mut entries: Vec<Entry> = batches
            .iter()
            .map(|b| {
                Entry::Batch(BatchEntry {
                    topic: b.topic.clone(),
                    partition: b.partition,
                    base: b.base,
                    count: b.count,
                    appended_at: now,
                    records: &b.records,
                })
            })
            .collect();
        for request in &group {
            match &request.change {
                Change::Commit { group, next } => entries.push(Entry::Positions {
                    group: group.clone(),
                    seek: false,
                    moves: next.clone(),
                }),
                Change::Seek {
                    group,
                    topic,
                    partition,
                    offset,
                } => entries.push(Entry::Positions {
                    group: group.clone(),
                    seek: true,
                    moves: vec![(topic.clone(), *partition, *offset)],
                }),
                _ => {}
            }
        }
        let written = self
            .write(&entries)
            .map_err(|e| format!("the event log could not write {}: {e}", self.active_path()));
        let records: u64 = batches.iter().map(|b| u64::from(b.count)).sum();
        if written.is_ok() && records > 0 {
            self.appended.send_modify(|n| *n += records);
        }
        for request in group {
            let count = match &request.change {
                Change::Append(records) => records.len() as u64,
                _ => 0,
            };
            let _ = request.done.send(written.clone().map(|()| count));
        }
    }

    /// The group's records as one batch per partition, offsets from where each partition is.
    fn batches(&self, group: &[Request]) -> Vec<Pending> {
        let state = self.state();
        // Few partitions take part in a group: a list searched in turn beats a map.
        let mut batches: Vec<Pending> = Vec::new();
        for request in group {
            let Change::Append(records) = &request.change else {
                continue;
            };
            for record in records {
                let partition = partition_of(&record.key, state.partitions);
                let found = batches
                    .iter()
                    .position(|b| b.partition == partition && b.topic == record.topic);
                let at = found.unwrap_or_else(|| {
                    let base = state.next_offset(&record.topic, partition);
                    batches.push(Pending::new(&record.topic, partition, base));
                    batches.len() - 1
                });
                batches[at].push(&record.key, &record.payload);
            }
        }
        batches
    }

    /// Appends `entries` to the active segment with one write, flushes, and takes them into
    /// the state. On a failure nothing is taken in and the next write goes to the same place.
    pub(super) fn write(&mut self, entries: &[Entry]) -> std::io::Result<()> {
        self.refuse_if_failed()?;
        let mut bytes = Vec::new();
        let mut spans = Vec::with_capacity(entries.len());
        for entry in entries {
            let at = bytes.len() as u64;
            entry.encode(&mut bytes);
            spans.push((at, (bytes.len() as u64 - at) as u32));
        }
        let full = self.active.end + bytes.len() as u64 > ROLL_AT;
        if full && self.active.end > self.active.snapshot_end {
            self.roll()?;
        }
        let at = self.active.end;
        self.append(&bytes)?;
        let mut state = self.state_mut();
        for (entry, (offset, len)) in entries.iter().zip(spans) {
            state.apply(entry, self.active.seq, at + offset, len);
        }
        Ok(())
    }

    /// Writes `bytes` at the end of the active segment and flushes. A write or flush that fails
    /// leaves unknown bytes past the end (a disk that filled up, say): they are cut, durably,
    /// before the next write, or a later, shorter group could leave whole entries of the failed
    /// one behind its own, to be read back after a crash with offsets given out again.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(from) = self.active.torn_from {
            self.active.file.set_len(from)?;
            self.active.file.sync_all()?;
            self.active.torn_from = None;
            self.active.zeroed = from;
        }
        let at = self.active.end;
        self.active.torn_from = Some(at);
        let until = at + bytes.len() as u64;
        // Past the zeros: more of them, flushed with these entries, so that the next flushes
        // find their bytes' blocks written and write the data alone (`segment.rs`).
        let zeroed = if until > self.active.zeroed {
            let zeros = vec![0; ZERO_AHEAD as usize];
            self.active.file.write_all_at(&zeros, until)?;
            until + ZERO_AHEAD
        } else {
            self.active.zeroed
        };
        self.active.file.write_all_at(bytes, at)?;
        self.active.file.sync_data()?;
        self.active.end = until;
        self.active.zeroed = zeroed;
        self.active.torn_from = None;
        Ok(())
    }

    fn refuse_if_failed(&self) -> std::io::Result<()> {
        match &self.failed {
            Some(why) => Err(std::io::Error::other(why.clone())),
            None => Ok(()),
        }
    }

    /// Starts the next segment with a snapshot of the state and closes the active one, cut to
    /// its entries first: should the next not be made, the active one goes on as it was.
    pub(super) fn roll(&mut self) -> std::io::Result<()> {
        self.refuse_if_failed()?;
        self.active.file.set_len(self.active.end)?;
        self.active.file.sync_all()?;
        self.active.zeroed = self.active.end;
        self.active.torn_from = None;
        let seq = self.active.seq + 1;
        let mut bytes = Vec::new();
        let snapshot = self.state().snapshot();
        Entry::Snapshot(snapshot).encode(&mut bytes);
        let file = match segment::create(&self.dir, seq, &bytes) {
            Ok(file) => Arc::new(file),
            Err(e) => {
                // Named but not durably (its directory's flush failed), it would end the log
                // at its snapshot after a crash, before what this segment takes meanwhile.
                let path = segment::path(&self.dir, seq);
                let kept = path.exists()
                    && std::fs::remove_file(&path)
                        .and_then(|()| segment::sync_dir(&self.dir))
                        .is_err();
                if kept {
                    self.failed = Some(format!(
                        "the event log stopped taking writes: {} could be neither made nor removed ({e}); restart to reopen it",
                        path.display()
                    ));
                }
                return Err(e);
            }
        };
        let end = bytes.len() as u64;
        self.active = Active::new(seq, file.clone(), end, end);
        self.state_mut().files.insert(seq, file);
        Ok(())
    }

    pub(super) fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .expect("no reader panics holding the state")
    }

    pub(super) fn state_mut(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .expect("no reader panics holding the state")
    }

    fn active_path(&self) -> String {
        segment::path(&self.dir, self.active.seq)
            .display()
            .to_string()
    }
}

/// Records of one partition a group appends, as one batch.
struct Pending {
    topic: String,
    partition: u32,
    base: i64,
    count: u32,
    records: Vec<u8>,
}

impl Pending {
    fn new(topic: &str, partition: u32, base: i64) -> Self {
        Self {
            topic: topic.to_string(),
            partition,
            base,
            count: 0,
            records: Vec::new(),
        }
    }

    fn push(&mut self, key: &str, payload: &[u8]) {
        batch::push(&mut self.records, key, payload);
        self.count += 1;
    }
}
