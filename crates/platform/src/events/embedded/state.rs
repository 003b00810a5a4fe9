//! What the log knows of itself, in memory: for each partition where its batches lie and which
//! offsets it holds, and each consumer group's positions. Rebuilt at open by reading every
//! segment's entries in order; kept by the writer, which applies each entry once it is on disk.
//! Readers look here first and then read the batches' bytes themselves, so what they see is
//! exactly what is durable.
//!
//! Why in memory rather than an index file: a batch costs ~50 bytes here, a few dozen MB for
//! the millions of batches a laptop's log holds between retention runs, and reading the
//! segments at open takes a second per GB. An index file would have to be kept in step with
//! the segments through every crash, which the segments' own framing already gives us.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque},
    fs::File,
    sync::Arc,
};

#[cfg(test)]
use super::entry::BatchEntry;
use super::entry::{Entry, Snapshot};

#[derive(Default)]
pub(super) struct State {
    pub partitions: u32,
    /// The segment files by sequence number, open for reading.
    pub files: BTreeMap<u64, Arc<File>>,
    /// Partitions by topic, then number.
    logs: HashMap<String, BTreeMap<u32, PartitionLog>>,
    groups: HashMap<(String, String, u32), i64>,
}

/// One partition of one topic.
#[derive(Default)]
pub(super) struct PartitionLog {
    /// The offset its next record takes.
    pub next: i64,
    /// Its first readable offset: retention moves it forward, records before it are gone.
    pub start: i64,
    /// Its batches by offset, all ending at or after `start`.
    pub batches: VecDeque<Located>,
}

impl PartitionLog {
    /// Makes `start` the first readable offset, and forgets the batches wholly before it.
    fn start_at(&mut self, start: i64) {
        self.start = start;
        while self.batches.front().is_some_and(|b| b.last < start) {
            self.batches.pop_front();
        }
    }
}

/// Where a batch lies: its segment and the byte its frame starts at.
#[derive(Clone, Copy, Debug)]
pub(super) struct Located {
    pub base: i64,
    pub last: i64,
    pub appended_at: i64,
    pub segment: u64,
    pub at: u64,
    pub len: u32,
}

impl State {
    /// Takes in an entry written at byte `at` of `segment`, `len` bytes long with its frame.
    pub(super) fn apply(&mut self, entry: &Entry, segment: u64, at: u64, len: u32) {
        match entry {
            Entry::Snapshot(snapshot) => self.restore(snapshot),
            Entry::Batch(batch) => {
                let log = self.log_mut(&batch.topic, batch.partition);
                let last = batch.base + i64::from(batch.count) - 1;
                log.batches.push_back(Located {
                    base: batch.base,
                    last,
                    appended_at: batch.appended_at,
                    segment,
                    at,
                    len,
                });
                log.next = last + 1;
            }
            Entry::Positions { group, seek, moves } => {
                for (topic, partition, next) in moves {
                    let key = (group.clone(), topic.clone(), *partition);
                    let position = self.groups.entry(key).or_insert(*next);
                    *position = if *seek { *next } else { (*position).max(*next) };
                }
            }
            Entry::Starts(marks) => {
                for (topic, partition, start) in marks {
                    let log = self.log_mut(topic, *partition);
                    let start = log.start.max(*start);
                    log.start_at(start);
                }
            }
        }
    }

    /// A snapshot says everything but where batches lie; batches already read stay, but for
    /// those before a partition's start.
    fn restore(&mut self, snapshot: &Snapshot) {
        self.partitions = snapshot.partitions;
        for (topic, partition, next, start) in &snapshot.logs {
            let log = self.log_mut(topic, *partition);
            log.next = log.next.max(*next);
            log.start_at(*start);
        }
        self.groups = snapshot
            .groups
            .iter()
            .map(|(g, t, p, next)| ((g.clone(), t.clone(), *p), *next))
            .collect();
    }

    /// All but the batches' places, to begin a new segment with.
    pub(super) fn snapshot(&self) -> Snapshot {
        Snapshot {
            partitions: self.partitions,
            logs: self
                .logs()
                .map(|(t, p, log)| (t.to_string(), p, log.next, log.start))
                .collect(),
            groups: self
                .groups
                .iter()
                .map(|((g, t, p), next)| (g.clone(), t.clone(), *p, *next))
                .collect(),
        }
    }

    fn log_mut(&mut self, topic: &str, partition: u32) -> &mut PartitionLog {
        // Looked up before inserting, so appending to a known topic allocates no key.
        if !self.logs.contains_key(topic) {
            self.logs.insert(topic.to_string(), BTreeMap::new());
        }
        let topic = self.logs.get_mut(topic).expect("just inserted");
        topic.entry(partition).or_default()
    }

    pub(super) fn log(&self, topic: &str, partition: u32) -> Option<&PartitionLog> {
        self.logs.get(topic)?.get(&partition)
    }

    /// Every partition that holds or held records, as (topic, partition, log).
    pub(super) fn logs(&self) -> impl Iterator<Item = (&str, u32, &PartitionLog)> {
        self.logs.iter().flat_map(|(topic, partitions)| {
            partitions
                .iter()
                .map(move |(partition, log)| (topic.as_str(), *partition, log))
        })
    }

    /// The offset a partition's next record takes.
    pub(super) fn next_offset(&self, topic: &str, partition: u32) -> i64 {
        self.log(topic, partition).map_or(0, |log| log.next)
    }

    /// Where `group` resumes a partition: its position, 0 if it never committed.
    pub(super) fn committed(&self, group: &str, topic: &str, partition: u32) -> i64 {
        let key = (group.to_string(), topic.to_string(), partition);
        self.groups.get(&key).copied().unwrap_or(0)
    }

    /// The lowest position of any group on a partition, `None` if no group reads it.
    pub(super) fn slowest_group(&self, topic: &str, partition: u32) -> Option<i64> {
        self.groups
            .iter()
            .filter(|((_, t, p), _)| t == topic && *p == partition)
            .map(|(_, next)| *next)
            .min()
    }

    /// The segments some batch still lies in.
    pub(super) fn segments_in_use(&self) -> BTreeSet<u64> {
        self.logs()
            .flat_map(|(_, _, log)| log.batches.iter().map(|b| b.segment))
            .collect()
    }

    /// After a segment is rewritten in place: its new file, and where its batches now lie, as
    /// (topic, partition, place).
    pub(super) fn relocate(&mut self, segment: u64, file: File, moved: &[(String, u32, Located)]) {
        for (topic, partition, place) in moved {
            let Some(log) = self.logs.get_mut(topic).and_then(|t| t.get_mut(partition)) else {
                continue;
            };
            // Batches are in offset order, and a batch's base is its own.
            if let Ok(found) = log.batches.binary_search_by_key(&place.base, |b| b.base) {
                log.batches[found] = *place;
            }
        }
        self.files.insert(segment, Arc::new(file));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::embedded::entry::Mark;

    fn batch(topic: &str, base: i64, count: u32) -> Entry<'static> {
        Entry::Batch(BatchEntry {
            topic: topic.into(),
            partition: 0,
            base,
            count,
            appended_at: 0,
            records: b"",
        })
    }

    fn positions(seek: bool, next: i64) -> Entry<'static> {
        let moves: Vec<Mark> = vec![("t".into(), 0, next)];
        Entry::Positions {
            group: "g".into(),
            seek,
            moves,
        }
    }

    #[test]
    fn offsets_go_on_from_the_last_batch() {
        let mut state = State::default();
        state.apply(&batch("t", 0, 3), 0, 0, 10);
        state.apply(&batch("t", 3, 2), 0, 10, 10);
        assert_eq!(state.next_offset("t", 0), 5);
        assert_eq!(state.next_offset("other", 0), 0);
    }

    #[test]
    fn a_commit_never_moves_a_group_back_but_a_seek_does() {
        let mut state = State::default();
        state.apply(&positions(false, 5), 0, 0, 0);
        state.apply(&positions(false, 2), 0, 0, 0);
        assert_eq!(state.committed("g", "t", 0), 5);
        state.apply(&positions(true, 2), 0, 0, 0);
        assert_eq!(state.committed("g", "t", 0), 2);
    }

    #[test]
    fn a_start_drops_the_batches_wholly_before_it() {
        let mut state = State::default();
        state.apply(&batch("t", 0, 3), 0, 0, 10);
        state.apply(&batch("t", 3, 2), 1, 0, 10);
        state.apply(&Entry::Starts(vec![("t".into(), 0, 3)]), 1, 10, 10);
        let log = state.log("t", 0).unwrap();
        assert_eq!((log.start, log.batches.len()), (3, 1));
        assert_eq!(state.segments_in_use(), BTreeSet::from([1]));
    }

    #[test]
    fn a_snapshot_alone_carries_offsets_and_positions_into_a_new_segment() {
        let mut old = State {
            partitions: 2,
            ..State::default()
        };
        old.apply(&batch("t", 0, 7), 0, 0, 10);
        old.apply(&positions(false, 4), 0, 10, 10);
        old.apply(&Entry::Starts(vec![("t".into(), 0, 3)]), 0, 20, 10);

        let mut new = State::default();
        new.apply(&Entry::Snapshot(old.snapshot()), 1, 0, 10);
        assert_eq!(new.partitions, 2);
        assert_eq!(new.next_offset("t", 0), 7);
        assert_eq!(new.log("t", 0).unwrap().start, 3);
        assert_eq!(new.committed("g", "t", 0), 4);
    }
}
