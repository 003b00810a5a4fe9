//! The writer's changes that go back over what is written: retention and erasure.
//!
//! Retention moves partitions' first readable offsets forward (a `Starts` entry, as Kafka moves
//! a log's start offset) and deletes the segments no readable batch lies in any more; the
//! snapshot that begins each later segment keeps offsets and groups' positions. Erasure reads
//! every segment and rewrites those holding the key's records, whole: written beside it,
//! flushed, renamed over it. The active segment is closed first, so appends never meet a
//! rewrite. An erasure so reads the whole log, as it did in SQLite; it is rare (a person's
//! deletion) and runs on the writer thread, which holds publishes meanwhile.

use std::fs;

use anyhow::Context;

use super::{
    batch,
    entry::{BatchEntry, Entry},
    segment::{self, Entries},
    state::Located,
    writer::Appender,
};
use crate::events::CloudEvent;

impl Appender {
    /// Makes unreadable the records appended before `before` (epoch milliseconds) that every
    /// group of their partition has read past, but for each partition's newest record; how many.
    pub(super) fn prune(&mut self, before: i64) -> anyhow::Result<u64> {
        let mut starts = Vec::new();
        let mut pruned = 0;
        {
            let state = self.state();
            for (topic, partition, log) in state.logs() {
                let (Some(oldest), Some(newest)) = (log.batches.front(), log.batches.back()) else {
                    continue;
                };
                // A partition no group reads keeps only its newest record, as one read by all.
                let read_by_all = state.slowest_group(topic, partition);
                let mut keep_from = read_by_all.unwrap_or(newest.last).min(newest.last);
                if let Some(young) = log.batches.iter().find(|b| b.appended_at >= before) {
                    keep_from = keep_from.min(young.base);
                }
                let from = log.start.max(oldest.base);
                if keep_from > from {
                    starts.push((topic.to_string(), partition, keep_from));
                    pruned += (keep_from - from) as u64;
                }
            }
        }
        if !starts.is_empty() {
            self.write(&[Entry::Starts(starts)])?;
        }
        // Also segments an earlier prune failed to delete, or a crash kept.
        let unused: Vec<u64> = {
            let state = self.state();
            let in_use = state.segments_in_use();
            let active = self.active.seq;
            state
                .files
                .keys()
                .filter(|seq| **seq != active && !in_use.contains(seq))
                .copied()
                .collect()
        };
        for &seq in &unused {
            let path = segment::path(&self.dir, seq);
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            let mut state = self.state_mut();
            state.files.remove(&seq);
        }
        if !unused.is_empty() {
            segment::sync_dir(&self.dir)?;
        }
        Ok(pruned)
    }

    /// Replaces the payload of every record of `key` on `topic` with its tombstone, but for
    /// the event `sparing`; how many.
    pub(super) fn erase(&mut self, topic: &str, key: &str, sparing: &str) -> anyhow::Result<u64> {
        // Every segment, not only those with readable batches of the topic: records retention
        // made unreadable are still in their files until those are deleted.
        if self.active.end > self.active.snapshot_end {
            self.roll()?;
        }
        let segments: Vec<u64> = self.state().files.keys().copied().collect();
        let segments = segments.into_iter().filter(|seq| *seq != self.active.seq);
        let mut erased = 0;
        for seq in segments {
            let path = segment::path(&self.dir, seq);
            let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let mut rewritten = Vec::with_capacity(bytes.len());
            let mut moved = Vec::new();
            let mut tombstones = 0;
            for read in Entries::new(&bytes) {
                let (entry, at, len) =
                    read.with_context(|| format!("reading {} to erase", path.display()))?;
                let new_at = rewritten.len() as u64;
                let Entry::Batch(b) = &entry else {
                    rewritten.extend_from_slice(&bytes[at as usize..][..len as usize]);
                    continue;
                };
                let changed = if b.topic == topic {
                    tombstoned(b.records, key, sparing)?
                } else {
                    None
                };
                match changed {
                    Some((records, n)) => {
                        tombstones += n;
                        Entry::Batch(BatchEntry {
                            records: &records,
                            ..b.clone()
                        })
                        .encode(&mut rewritten);
                    }
                    None => rewritten.extend_from_slice(&bytes[at as usize..][..len as usize]),
                }
                let new_len = (rewritten.len() as u64 - new_at) as u32;
                let located = Located {
                    base: b.base,
                    last: b.base + i64::from(b.count) - 1,
                    appended_at: b.appended_at,
                    segment: seq,
                    at: new_at,
                    len: new_len,
                };
                moved.push((b.topic.clone(), b.partition, located));
            }
            if tombstones == 0 {
                continue;
            }
            let file = segment::create(&self.dir, seq, &rewritten)
                .with_context(|| format!("rewriting {}", path.display()))?;
            self.state_mut().relocate(seq, file, &moved);
            erased += tombstones;
        }
        Ok(erased)
    }
}

/// A batch's records with `key`'s turned into tombstones, but for the event `sparing`, and how
/// many; `None` if none changed.
fn tombstoned(
    records: &[u8],
    key: &str,
    sparing: &str,
) -> Result<Option<(Vec<u8>, u64)>, batch::Unreadable> {
    let records = batch::decode(records)?;
    let mut tombstones = 0;
    let kept: Vec<(&str, Vec<u8>)> = records
        .into_iter()
        .map(|(k, payload)| {
            if k != key {
                return (k, payload.to_vec());
            }
            // A record that is not an envelope carries nothing it could be told apart by; it
            // is dropped to a null payload all the same.
            let tombstone = match CloudEvent::from_bytes(payload) {
                Ok(event) if event.erased || event.id == sparing => return (k, payload.to_vec()),
                Ok(event) => event.tombstone().to_bytes(),
                Err(_) => b"null".to_vec(),
            };
            tombstones += 1;
            (k, tombstone)
        })
        .collect();
    Ok((tombstones > 0).then(|| {
        let records = batch::encode(kept.iter().map(|(k, p)| (*k, p.as_slice())));
        (records, tombstones)
    }))
}
