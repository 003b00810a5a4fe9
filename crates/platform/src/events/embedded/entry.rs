//! The log's entries as they lie in a segment file, each in a frame: its body's length and
//! CRC-32 (little-endian `u32`s), then the body, a kind byte and its fields.
//!
//! The frame is what makes a crash safe to reopen from: a group's entries are written with one
//! `pwrite`, and a power cut can leave any prefix of it on disk. Reading stops at the first
//! frame whose length runs past the bytes or whose checksum fails, the torn tail. Segments are
//! preallocated with zeros, so a length of zero is where the written part ends.
//!
//! Written by hand, like `batch.rs`: a few integers and strings per entry do not justify a
//! serialisation crate, and every length is checked against the bytes there are.

/// Bytes before an entry's body: its length and checksum.
pub(super) const FRAME: usize = 8;

const SNAPSHOT: u8 = 1;
const BATCH: u8 = 2;
const POSITIONS: u8 = 3;
const STARTS: u8 = 4;

/// A partition's place, as (topic, partition, offset).
pub(super) type Mark = (String, u32, i64);

pub(super) enum Entry<'a> {
    /// First in every segment: all the log knows besides its records, so that older segments
    /// can be deleted without losing offsets or groups' positions.
    Snapshot(Snapshot),
    /// Records one group appended to one partition (`batch.rs`), offsets `base` on.
    Batch(BatchEntry<'a>),
    /// A group's positions: a commit only moves them forward, a seek sets them.
    Positions {
        group: String,
        seek: bool,
        moves: Vec<Mark>,
    },
    /// Retention moved these partitions' first readable offsets forward.
    Starts(Vec<Mark>),
}

#[derive(Debug, Default, PartialEq)]
pub(super) struct Snapshot {
    pub partitions: u32,
    /// (topic, partition, next offset, first readable offset).
    pub logs: Vec<(String, u32, i64, i64)>,
    /// (group, topic, partition, next offset to read).
    pub groups: Vec<(String, String, u32, i64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct BatchEntry<'a> {
    pub topic: String,
    pub partition: u32,
    pub base: i64,
    pub count: u32,
    /// Epoch milliseconds, for retention.
    pub appended_at: i64,
    pub records: &'a [u8],
}

/// Bytes that are not an entry: a torn tail in the last segment, damage anywhere else.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct Damaged(String);

impl Entry<'_> {
    /// Appends the entry, framed, to `out`.
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; FRAME]);
        match self {
            Entry::Snapshot(s) => {
                out.push(SNAPSHOT);
                put_u32(out, s.partitions);
                put_len(out, s.logs.len());
                for (topic, partition, next, first) in &s.logs {
                    put_str(out, topic);
                    put_u32(out, *partition);
                    put_i64(out, *next);
                    put_i64(out, *first);
                }
                put_len(out, s.groups.len());
                for (group, topic, partition, next) in &s.groups {
                    put_str(out, group);
                    put_str(out, topic);
                    put_u32(out, *partition);
                    put_i64(out, *next);
                }
            }
            Entry::Batch(b) => {
                out.push(BATCH);
                put_str(out, &b.topic);
                put_u32(out, b.partition);
                put_i64(out, b.base);
                put_u32(out, b.count);
                put_i64(out, b.appended_at);
                out.extend_from_slice(b.records);
            }
            Entry::Positions { group, seek, moves } => {
                out.push(POSITIONS);
                put_str(out, group);
                out.push(u8::from(*seek));
                put_marks(out, moves);
            }
            Entry::Starts(marks) => {
                out.push(STARTS);
                put_marks(out, marks);
            }
        }
        let body = &out[start + FRAME..];
        let len = u32::try_from(body.len()).expect("an entry is far below 4 GiB");
        let crc = crc32fast::hash(body);
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        out[start + 4..start + FRAME].copy_from_slice(&crc.to_le_bytes());
    }

    /// The entry at the start of `bytes` and its framed length; `None` where the written part
    /// ends (a zero length, or too few bytes left for a frame).
    pub(super) fn decode(bytes: &[u8]) -> Result<Option<(Entry<'_>, usize)>, Damaged> {
        let Some((frame, rest)) = bytes.split_first_chunk::<FRAME>() else {
            return Ok(None);
        };
        let len = u32::from_le_bytes(frame[..4].try_into().expect("four bytes")) as usize;
        if len == 0 {
            return Ok(None);
        }
        let crc = u32::from_le_bytes(frame[4..].try_into().expect("four bytes"));
        let body = rest
            .get(..len)
            .ok_or_else(|| Damaged(format!("an entry of {len} bytes is cut short")))?;
        if crc32fast::hash(body) != crc {
            return Err(Damaged(format!(
                "an entry of {len} bytes fails its checksum"
            )));
        }
        Ok(Some((Self::body(body)?, FRAME + len)))
    }

    fn body(body: &[u8]) -> Result<Entry<'_>, Damaged> {
        let mut r = Fields(body);
        let entry = match r.u8()? {
            SNAPSHOT => {
                let partitions = r.u32()?;
                let logs = (0..r.u32()?)
                    .map(|_| Ok((r.string()?, r.u32()?, r.i64()?, r.i64()?)))
                    .collect::<Result<_, Damaged>>()?;
                let groups = (0..r.u32()?)
                    .map(|_| Ok((r.string()?, r.string()?, r.u32()?, r.i64()?)))
                    .collect::<Result<_, Damaged>>()?;
                Entry::Snapshot(Snapshot {
                    partitions,
                    logs,
                    groups,
                })
            }
            BATCH => Entry::Batch(BatchEntry {
                topic: r.string()?,
                partition: r.u32()?,
                base: r.i64()?,
                count: r.u32()?,
                appended_at: r.i64()?,
                records: std::mem::take(&mut r.0),
            }),
            POSITIONS => Entry::Positions {
                group: r.string()?,
                seek: r.u8()? != 0,
                moves: r.marks()?,
            },
            STARTS => Entry::Starts(r.marks()?),
            kind => return Err(Damaged(format!("an entry of unknown kind {kind}"))),
        };
        if !r.0.is_empty() {
            return Err(Damaged("an entry has bytes left over".into()));
        }
        Ok(entry)
    }
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_i64(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    put_u32(out, u32::try_from(n).expect("counts are far below 4 G"));
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_marks(out: &mut Vec<u8>, marks: &[Mark]) {
    put_len(out, marks.len());
    for (topic, partition, offset) in marks {
        put_str(out, topic);
        put_u32(out, *partition);
        put_i64(out, *offset);
    }
}

/// An entry's body, read from the front.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Damaged> {
        let (taken, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| Damaged("an entry's fields are cut short".into()))?;
        self.0 = rest;
        Ok(*taken)
    }

    fn u8(&mut self) -> Result<u8, Damaged> {
        Ok(self.take::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, Damaged> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    fn i64(&mut self) -> Result<i64, Damaged> {
        Ok(i64::from_le_bytes(self.take()?))
    }

    fn string(&mut self) -> Result<String, Damaged> {
        let len = self.u32()? as usize;
        if self.0.len() < len {
            return Err(Damaged("an entry's string is cut short".into()));
        }
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| Damaged("an entry's string is not UTF-8".into()))
    }

    fn marks(&mut self) -> Result<Vec<Mark>, Damaged> {
        (0..self.u32()?)
            .map(|_| Ok((self.string()?, self.u32()?, self.i64()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(entry: &Entry) -> Vec<u8> {
        let mut out = Vec::new();
        entry.encode(&mut out);
        out
    }

    fn batch(records: &[u8]) -> Entry<'_> {
        Entry::Batch(BatchEntry {
            topic: "orders".into(),
            partition: 3,
            base: 41,
            count: 2,
            appended_at: 1_700_000_000_000,
            records,
        })
    }

    #[test]
    fn a_batch_reads_back_as_written_with_its_framed_length() {
        let bytes = framed(&batch(b"\x01records"));
        let (entry, used) = Entry::decode(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        let Entry::Batch(read) = entry else {
            panic!("not a batch")
        };
        let Entry::Batch(written) = batch(b"\x01records") else {
            unreachable!()
        };
        assert_eq!(read, written);
    }

    #[test]
    fn a_snapshot_reads_back_as_written() {
        let snapshot = Snapshot {
            partitions: 4,
            logs: vec![("orders".into(), 1, 120, 100)],
            groups: vec![("billing".into(), "orders".into(), 1, 110)],
        };
        let bytes = framed(&Entry::Snapshot(snapshot));
        let Some((Entry::Snapshot(read), _)) = Entry::decode(&bytes).unwrap() else {
            panic!("not a snapshot")
        };
        assert_eq!(read.logs, [("orders".to_string(), 1, 120, 100)]);
        assert_eq!(read.groups[0].3, 110);
    }

    #[test]
    fn zeros_are_the_end_of_what_was_written() {
        assert!(Entry::decode(&[0; 64]).unwrap().is_none());
        assert!(Entry::decode(&[]).unwrap().is_none());
    }

    #[test]
    fn every_cut_through_an_entry_is_refused() {
        let bytes = framed(&batch(b"\x01records"));
        for end in FRAME..bytes.len() {
            assert!(Entry::decode(&bytes[..end]).is_err(), "cut at {end}");
        }
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum() {
        let mut bytes = framed(&batch(b"\x01records"));
        *bytes.last_mut().unwrap() ^= 1;
        let err = Entry::decode(&bytes).err().unwrap();
        assert!(err.0.contains("checksum"), "{err}");
    }
}
