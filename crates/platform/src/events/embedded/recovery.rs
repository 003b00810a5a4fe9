//! Opening the log: one process at a time, every segment read back into the in-memory state,
//! and a torn tail cut off the active segment.
//!
//! A crash or power cut can leave the active segment with any prefix of the last group's
//! `pwrite` on disk. Nothing in it was answered (answers follow the flush), so the records
//! after the last whole entry are dropped and their publishers, who saw no answer, send again.
//! The cut is made durable before anything new is appended, so a stray piece of the old tail
//! can never line up behind a later entry. Damage anywhere else is refused, by file and byte:
//! it is not a crash's doing.

use std::{
    fs::{self, File, TryLockError},
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;

use super::{
    entry::{Entry, Snapshot},
    legacy,
    segment::{self, Entries},
    state::State,
};

/// The segment being appended to.
pub(super) struct Active {
    pub seq: u64,
    pub file: Arc<File>,
    /// Where the next entry goes.
    pub end: u64,
    /// Where the zeros written ahead of `end` end, as far as is known to be on disk.
    pub zeroed: u64,
    /// Where a failed write may have left bytes, to be cut before the next (`writer.rs`).
    pub torn_from: Option<u64>,
    /// Where its snapshot ends: a segment holding nothing more is never rolled.
    pub snapshot_end: u64,
}

impl Active {
    /// Segment `seq`, written up to `end`, its snapshot up to `snapshot_end`.
    pub(super) fn new(seq: u64, file: Arc<File>, end: u64, snapshot_end: u64) -> Self {
        Self {
            seq,
            file,
            end,
            zeroed: end,
            torn_from: None,
            snapshot_end,
        }
    }
}

pub(super) struct Opened {
    pub state: State,
    pub active: Active,
    /// `<dir>.lock`, held while the log is open: a second writer would interleave its entries with
    /// ours.
    pub lock: File,
}

/// How long opening waits for a log closing in this process, or another, to let go of it.
const LOCK_WAIT: Duration = Duration::from_secs(10);

pub(super) fn open(dir: &Path, partitions: u32) -> anyhow::Result<Opened> {
    let lock = lock(dir, LOCK_WAIT)?;
    legacy::import(&dir.with_extension("db"), dir)?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    segment::sync_dir(dir.parent().unwrap_or(Path::new(".")))?;
    let segments = segment::list(dir).with_context(|| format!("reading {}", dir.display()))?;
    let Some(&last) = segments.last() else {
        return start(dir, partitions, lock);
    };
    let mut state = State::default();
    let (mut end, mut snapshot_end) = (0, 0);
    for &seq in &segments {
        let path = segment::path(dir, seq);
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut entries = Entries::new(&bytes);
        let mut damage = None;
        for read in &mut entries {
            match read {
                Ok((entry, at, len)) => {
                    if at == 0 {
                        snapshot_end = u64::from(len);
                    }
                    state.apply(&entry, seq, at, len);
                }
                Err(e) => damage = Some(e.to_string()),
            }
        }
        end = entries.at as u64;
        // A closed segment ends with its last entry, or with zeros where a crash kept it from
        // being cut to it; the last may end with a torn write.
        let after = &bytes[entries.at..];
        let damage = damage.or_else(|| {
            after
                .iter()
                .any(|b| *b != 0)
                .then(|| "bytes that are not an entry follow the last one".to_string())
        });
        match damage {
            Some(damage) if seq == last => {
                tracing::warn!(segment = %path.display(), at = end, %damage,
                    "the event log's last write was torn by a crash; it was never acknowledged and is dropped");
            }
            Some(damage) => anyhow::bail!(
                "the event log segment {} is damaged at byte {end}: {damage}; restore the data dir from a backup",
                path.display()
            ),
            None => {}
        }
        let file =
            segment::open(dir, seq).with_context(|| format!("opening {}", path.display()))?;
        state.files.insert(seq, Arc::new(file));
    }
    // Keys map to partitions by count: a different count would scatter keys (breaking their
    // order) and strand records in partitions that no longer exist.
    if state.partitions != partitions {
        return Err(other_partitions(dir, state.partitions, partitions));
    }
    let file = state.files[&last].clone();
    file.set_len(end)?;
    file.sync_all()?;
    Ok(Opened {
        state,
        active: Active::new(last, file, end, snapshot_end),
        lock,
    })
}

/// Why a log made with `stored` partitions is not opened with `configured`.
pub(super) fn other_partitions(dir: &Path, stored: u32, configured: u32) -> anyhow::Error {
    anyhow::anyhow!(
        "the event log at {} has {stored} partitions but key `bus.partitions` is {configured}; set it back to {stored}",
        dir.display()
    )
}

/// A new log: its first segment, holding the snapshot of an empty log.
fn start(dir: &Path, partitions: u32, lock: File) -> anyhow::Result<Opened> {
    let snapshot = Entry::Snapshot(Snapshot {
        partitions,
        ..Snapshot::default()
    });
    let mut bytes = Vec::new();
    snapshot.encode(&mut bytes);
    let file = Arc::new(segment::create(dir, 0, &bytes)?);
    let mut state = State::default();
    state.apply(&snapshot, 0, 0, bytes.len() as u32);
    state.files.insert(0, file.clone());
    let end = bytes.len() as u64;
    Ok(Opened {
        state,
        active: Active::new(0, file, end, end),
        lock,
    })
}

/// Locks the log's directory, waiting up to `wait` for a log being closed to let go.
fn lock(dir: &Path, wait: Duration) -> anyhow::Result<File> {
    // Beside the directory, not in it: taking over a log kept in SQLite replaces the directory.
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    let path = dir.with_file_name(format!("{name}.lock"));
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let since = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if since.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => anyhow::bail!(
                "the event log at {} is open in another process; stop it first",
                dir.display()
            ),
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileExt;

    use super::*;
    use crate::events::{
        embedded::{entry::BatchEntry, EmbeddedLog},
        EventBus, Record,
    };

    fn record(body: &str) -> Record {
        Record {
            topic: "t".into(),
            key: "k".into(),
            payload: body.as_bytes().to_vec(),
        }
    }

    async fn bodies(log: &EmbeddedLog) -> Vec<String> {
        let read = log.read("t", 0, 0, 100).await.unwrap();
        read.into_iter()
            .map(|d| String::from_utf8(d.payload).unwrap())
            .collect()
    }

    /// Where the written part of segment `seq` ends.
    fn written_end(dir: &Path, seq: u64) -> u64 {
        let bytes = fs::read(segment::path(dir, seq)).unwrap();
        let mut entries = Entries::new(&bytes);
        entries.by_ref().for_each(drop);
        entries.at as u64
    }

    #[tokio::test]
    async fn a_torn_last_write_is_cut_and_the_log_goes_on_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events");
        let log = EmbeddedLog::open(&path, 1).await.unwrap();
        log.publish(vec![record("0"), record("1")]).await.unwrap();
        drop(log);
        // A power cut that kept half of the next group's write.
        let mut torn = Vec::new();
        Entry::Batch(BatchEntry {
            topic: "t".into(),
            partition: 0,
            base: 2,
            count: 1,
            appended_at: 0,
            records: b"\x01\x01\0\0\0k\x01\0\0\0x",
        })
        .encode(&mut torn);
        let end = written_end(&path, 0);
        let file = segment::open(&path, 0).unwrap();
        file.write_all_at(&torn[..torn.len() / 2], end).unwrap();

        let log = EmbeddedLog::open(&path, 1).await.unwrap();
        assert_eq!(bodies(&log).await, ["0", "1"]);
        log.publish(vec![record("2")]).await.unwrap();
        drop(log);
        let log = EmbeddedLog::open(&path, 1).await.unwrap();
        assert_eq!(
            bodies(&log).await,
            ["0", "1", "2"],
            "nothing of the torn write is read"
        );
    }

    #[tokio::test]
    async fn damage_in_a_closed_segment_is_refused_by_file_and_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events");
        let log = EmbeddedLog::open(&path, 1).await.unwrap();
        log.publish(vec![record("0")]).await.unwrap();
        // Erasing closes the active segment, which holds the topic's batch.
        log.erase("t", "nobody", "").await.unwrap();
        drop(log);
        let end = written_end(&path, 0);
        let file = segment::open(&path, 0).unwrap();
        file.write_all_at(b"?", end - 1).unwrap();

        let err = EmbeddedLog::open(&path, 1).await.err().unwrap().to_string();
        assert!(
            err.contains("00000000000000000000.log is damaged") && err.contains("backup"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_log_open_elsewhere_is_not_opened_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events");
        let _log = EmbeddedLog::open(&path, 1).await.unwrap();
        let err = lock(&path, Duration::ZERO).err().unwrap().to_string();
        assert!(err.contains("open in another process"), "{err}");
    }
}
