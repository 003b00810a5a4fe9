//! When the log's transactions are on disk, and who may see them meanwhile.
//!
//! The writer commits with `synchronous=NORMAL`: SQLite writes the transaction to the WAL and
//! returns without waiting for the disk (it still syncs around checkpoints, so the file is never
//! corrupted), and the writer makes it durable here with an `fdatasync` of the WAL, which covers
//! every transaction committed before it began. Why not `FULL`, where SQLite syncs inside the
//! commit: the write connection is then idle for the whole flush (~150 µs on this disk), and
//! publishes arriving meanwhile wait for it to end before they are even written. Here one of the
//! writer's threads flushes while the other writes the next transaction (`writer.rs`), and a
//! flush that ends finds the next one's transactions already written: 16 concurrent publishers
//! went from 32k to 39k events/s (BENCHMARKS.md, "Embedded event log: flushing beside writing").
//!
//! Until a transaction is durable no one learns of it: its callers wait, and readers hand out
//! no record at or past the first offset not yet on disk (`visible_until`), so a consumer never
//! acts on an event a power cut could take back. Records other processes wrote are not held.

use std::{
    collections::VecDeque,
    fs::File,
    io,
    path::Path,
    sync::{Mutex, MutexGuard},
};

/// Where a transaction's records begin in one partition: topic, partition, first offset.
pub(super) type Start = (String, u32, i64);

pub(super) struct Durability {
    wal: File,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The next transaction's number: every one below it has committed or failed.
    next_seq: u64,
    /// Transactions not yet durable, oldest first, with the first offset each writes per
    /// partition: readers stop before the lowest.
    held: VecDeque<(u64, Vec<Start>)>,
}

impl Durability {
    /// For the log at `path`, whose WAL the writer has opened. What the file already holds is
    /// flushed first: a process killed before its last flush left it in the page cache, where a
    /// power cut could still lose it, and it is visible from now on.
    pub(super) fn open(path: &Path) -> anyhow::Result<Self> {
        let mut wal_path = path.as_os_str().to_owned();
        wal_path.push("-wal");
        let wal = File::open(&wal_path).map_err(|e| {
            anyhow::anyhow!(
                "the event log's WAL {} cannot be opened: {e}",
                wal_path.display()
            )
        })?;
        wal.sync_data()?;
        Ok(Self {
            wal,
            state: Mutex::default(),
        })
    }

    /// Called by the writer before it commits a transaction whose records begin at `starts`:
    /// until the transaction is durable, readers stop before those offsets. Before the commit,
    /// not after: a reader that sees the commit must also see the hold.
    pub(super) fn hold(&self, starts: Vec<Start>) {
        let mut state = self.lock();
        let seq = state.next_seq;
        state.held.push_back((seq, starts));
    }

    /// Called by the writer after each transaction, committed or failed, before another
    /// begins. Only one writer thread writes at a time, which pairs this with the `hold`
    /// before it.
    pub(super) fn ended(&self) {
        self.lock().next_seq += 1;
    }

    /// Makes every transaction ended before the call durable, and lifts their holds. After a
    /// failure the holds stay: a later flush that succeeds lifts them.
    pub(super) fn flush(&self) -> io::Result<()> {
        let through = self.lock().next_seq;
        self.wal.sync_data()?;
        self.lock().held.retain(|(seq, _)| *seq >= through);
        Ok(())
    }

    /// The first offset of `partition` of `topic` readers may not hand out yet, if any. Read
    /// it after reading the records: the writer holds offsets before it commits them.
    pub(super) fn visible_until(&self, topic: &str, partition: u32) -> Option<i64> {
        self.lock()
            .held
            .iter()
            .flat_map(|(_, starts)| starts)
            .filter(|(t, p, _)| t == topic && *p == partition)
            .map(|(_, _, start)| *start)
            .min()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("no panics holding the lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened() -> (tempfile::TempDir, Durability) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("events.db-wal"), b"").unwrap();
        let durability = Durability::open(&dir.path().join("events.db")).unwrap();
        (dir, durability)
    }

    #[test]
    fn readers_stop_before_a_transactions_records_until_it_is_durable() {
        let (_dir, durability) = opened();
        durability.hold(vec![("orders".into(), 1, 40), ("orders".into(), 2, 7)]);
        assert_eq!(durability.visible_until("orders", 1), Some(40));
        assert_eq!(durability.visible_until("orders", 0), None);
        assert_eq!(durability.visible_until("payments", 1), None);

        durability.ended();
        durability.flush().unwrap();
        assert_eq!(durability.visible_until("orders", 1), None);
    }

    #[test]
    fn a_flush_covers_every_transaction_ended_before_it() {
        let (_dir, durability) = opened();
        durability.hold(vec![("orders".into(), 0, 12)]);
        durability.ended();
        durability.hold(vec![("orders".into(), 0, 13)]);
        durability.ended();
        durability.hold(vec![("orders".into(), 0, 14)]);

        durability.flush().unwrap();
        assert_eq!(
            durability.visible_until("orders", 0),
            Some(14),
            "the transaction still being written stays held"
        );
    }

    #[test]
    fn a_log_without_its_wal_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = Durability::open(&dir.path().join("events.db"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("events.db-wal"), "{err}");
    }
}
