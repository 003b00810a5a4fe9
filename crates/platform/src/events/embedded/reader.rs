//! The embedded log's reads: a consumer's poll, a group's committed offsets, lag, replays.
//!
//! A read finds its batches in the in-memory state (`state.rs`) under a read lock held for
//! microseconds, then reads their bytes with one `pread` each, beside the writer. The state
//! holds only what is on disk, so a read never hands out a record a power cut could take back.
//!
//! Reads run on the caller's task rather than tokio's blocking pool: the batches a consumer
//! reads were mostly written moments ago and come from the page cache in a few µs, less than
//! the hop to the pool and back.

use std::{
    fs::File,
    path::{Path, PathBuf},
    sync::{Arc, RwLock, RwLockReadGuard},
};

use super::{
    batch,
    entry::Entry,
    segment,
    state::{Located, State},
};
use crate::events::bus::{BusError, Delivery};

#[derive(Clone)]
pub(super) struct Readers {
    dir: Arc<PathBuf>,
    state: Arc<RwLock<State>>,
}

/// One partition's read: its topic, partition and the first offset wanted.
pub(super) struct ReadStart {
    pub topic: String,
    pub partition: u32,
    pub offset: i64,
}

impl Readers {
    pub(super) fn new(dir: &Path, state: Arc<RwLock<State>>) -> Self {
        Self {
            dir: Arc::new(dir.to_path_buf()),
            state,
        }
    }

    fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .expect("no writer panics holding the state")
    }

    /// Up to `max` records in all, in order from each partition in turn. A partition that fails
    /// after others were read ends the read with what was read, so nothing handed out is dropped;
    /// the first failing fails the whole.
    pub(super) async fn records(
        &self,
        partitions: Vec<ReadStart>,
        max: usize,
    ) -> Result<Vec<Delivery>, BusError> {
        let mut out = Vec::new();
        for from in partitions {
            if out.len() >= max {
                break;
            }
            let (first, batches) = self.locate(&from, max - out.len());
            for (place, file) in batches {
                let read = read_batch(&file, &place, &from, first, max, &mut out);
                match read {
                    Ok(()) => {}
                    Err(_) if !out.is_empty() => return Ok(out),
                    Err(e) => {
                        let path = segment::path(&self.dir, place.segment);
                        return Err(BusError::Unavailable(format!(
                            "the event log segment {} cannot be read at byte {}: {e}",
                            path.display(),
                            place.at
                        )));
                    }
                }
            }
        }
        Ok(out)
    }

    /// The first offset `from` may read, and the batches holding the next `wanted` records
    /// from there, with their files.
    fn locate(&self, from: &ReadStart, wanted: usize) -> (i64, Vec<(Located, Arc<File>)>) {
        let state = self.state();
        let Some(log) = state.log(&from.topic, from.partition) else {
            return (from.offset, Vec::new());
        };
        let first = from.offset.max(log.start);
        // The batch holding `first` is the first not ending before it.
        let skip = log.batches.partition_point(|b| b.last < first);
        let mut covered = 0;
        let batches = log
            .batches
            .iter()
            .skip(skip)
            .take_while(|b| {
                let more = covered < wanted;
                covered += (b.last - first.max(b.base) + 1) as usize;
                more
            })
            .map(|b| (*b, state.files[&b.segment].clone()))
            .collect();
        (first, batches)
    }

    /// Where `group` resumes each partition: its committed next offset, 0 if it never committed.
    pub(super) async fn committed(
        &self,
        group: &str,
        partitions: Vec<(String, u32)>,
    ) -> Result<Vec<i64>, BusError> {
        let state = self.state();
        Ok(partitions
            .iter()
            .map(|(topic, partition)| state.committed(group, topic, *partition))
            .collect())
    }

    /// Each partition's oldest kept offset and next offset to be written (`None` while empty).
    pub(super) async fn bounds(
        &self,
        partitions: Vec<(String, u32)>,
    ) -> Result<Vec<(Option<i64>, Option<i64>)>, BusError> {
        let state = self.state();
        Ok(partitions
            .iter()
            .map(|(topic, partition)| {
                let Some(log) = state.log(topic, *partition) else {
                    return (None, None);
                };
                let oldest = log.batches.front().map(|b| b.base.max(log.start));
                (oldest, oldest.map(|_| log.next))
            })
            .collect())
    }

    /// Whether the log's directory can still be read.
    pub(super) async fn ping(&self) -> Result<(), BusError> {
        std::fs::read_dir(self.dir.as_path())
            .map(|_| ())
            .map_err(|e| BusError::Unavailable(format!("{}: {e}", self.dir.display())))
    }
}

/// The records of the batch at `place` from `first` on (and from `from.offset`), into `out`
/// until it holds `max`.
fn read_batch(
    file: &File,
    place: &Located,
    from: &ReadStart,
    first: i64,
    max: usize,
    out: &mut Vec<Delivery>,
) -> anyhow::Result<()> {
    let bytes = segment::read_at(file, place.at, place.len)?;
    let Some((Entry::Batch(entry), _)) = Entry::decode(&bytes)? else {
        anyhow::bail!("no batch is there");
    };
    let records = batch::decode(entry.records)?;
    // A consumer may have stopped inside a batch: it skips what it already read.
    let skipped = (first - place.base).max(0) as usize;
    let wanted = max - out.len();
    for (offset, (key, payload)) in (place.base..).zip(records).skip(skipped).take(wanted) {
        out.push(Delivery {
            topic: from.topic.clone(),
            partition: from.partition,
            offset,
            key: key.to_string(),
            payload: payload.to_vec(),
        });
    }
    Ok(())
}
