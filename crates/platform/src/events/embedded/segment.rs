//! Segment files: the log's entries (`entry.rs`) in the order they were written, in numbered
//! files of about `ROLL_AT` bytes, `00000000000000000007.log` and so on. Only the newest, the
//! active segment, is written to; the others are only read, rewritten whole by an erasure, or
//! deleted by retention. Files appear under their names only once written and flushed, through
//! a rename, so a named segment always starts with its snapshot.
//!
//! The active segment is kept `ZERO_AHEAD` of zeros ahead of its entries (`writer.rs`). Zeros
//! are where reading stops, and they spare the flushes: writing into bytes already on disk
//! changes neither the file's size nor its block map, so `fdatasync` writes the data alone, not
//! the inode too. A file grown by each append, or preallocated with `posix_fallocate` (whose
//! blocks are marked unwritten until written), made every flush write the inode as well: half
//! of the writer's time in the kernel (BENCHMARKS.md, "Embedded event log: segment files").

use std::{
    fs::{self, File, OpenOptions},
    io,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

use super::entry::{Damaged, Entry};

/// A segment takes no group that would carry it past this size, unless it holds nothing else.
pub(super) const ROLL_AT: u64 = 16 << 20;

/// How far the zeros written ahead of the active segment's entries reach past them.
pub(super) const ZERO_AHEAD: u64 = 1 << 20;

const SUFFIX: &str = ".log";
/// A segment being created or rewritten, not yet in place.
const UNFINISHED: &str = ".log.new";

pub(super) fn path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}{SUFFIX}"))
}

/// The segments in `dir`, oldest first. Unfinished ones left by a crash are removed.
pub(super) fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(UNFINISHED) {
            fs::remove_file(entry.path())?;
        } else if let Some(seq) = name.strip_suffix(SUFFIX).and_then(|n| n.parse().ok()) {
            segments.push(seq);
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// Puts segment `seq` in place holding `bytes`, replacing any segment of that number whole:
/// written beside it, flushed, then renamed over it.
pub(super) fn create(dir: &Path, seq: u64, bytes: &[u8]) -> io::Result<File> {
    let unfinished = dir.join(format!("{seq:020}{UNFINISHED}"));
    let made = write_and_rename(dir, seq, &unfinished, bytes);
    if made.is_err() {
        // It may be what filled the disk.
        let _ = fs::remove_file(&unfinished);
    }
    made
}

fn write_and_rename(dir: &Path, seq: u64, unfinished: &Path, bytes: &[u8]) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(unfinished)?;
    file.write_all_at(bytes, 0)?;
    file.sync_all()?;
    fs::rename(unfinished, path(dir, seq))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Opens segment `seq` for reading and writing.
pub(super) fn open(dir: &Path, seq: u64) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path(dir, seq))
}

/// Makes the creation, renaming or removal of files in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The batch or other entry framed at byte `at`, `len` bytes long.
pub(super) fn read_at(file: &File, at: u64, len: u32) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0; len as usize];
    file.read_exact_at(&mut bytes, at)?;
    Ok(bytes)
}

/// A segment's entries in order, each with the byte its frame starts at and its framed length.
/// It ends where the written part ends, or after yielding the error of bytes that are not an
/// entry; `at` is then where the good part ends.
pub(super) struct Entries<'a> {
    bytes: &'a [u8],
    pub at: usize,
    failed: bool,
}

impl<'a> Entries<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            at: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<(Entry<'a>, u64, u32), Damaged>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match Entry::decode(&self.bytes[self.at..]) {
            Ok(Some((entry, len))) => {
                let at = self.at as u64;
                self.at += len;
                let len = u32::try_from(len).expect("an entry is far below 4 GiB");
                Some(Ok((entry, at, len)))
            }
            Ok(None) => None,
            Err(damage) => {
                self.failed = true;
                Some(Err(damage))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::embedded::entry::Snapshot;

    fn snapshot() -> Vec<u8> {
        let mut bytes = Vec::new();
        Entry::Snapshot(Snapshot {
            partitions: 1,
            ..Snapshot::default()
        })
        .encode(&mut bytes);
        bytes
    }

    #[test]
    fn a_new_segment_reads_as_its_entries() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = snapshot();
        create(dir.path(), 3, &bytes).unwrap();
        let written = fs::read(path(dir.path(), 3)).unwrap();
        let mut entries = Entries::new(&written);
        assert!(matches!(
            entries.next(),
            Some(Ok((Entry::Snapshot(_), 0, _)))
        ));
        assert!(entries.next().is_none());
        assert_eq!(entries.at, bytes.len());
    }

    #[test]
    fn segments_list_oldest_first_and_unfinished_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        for seq in [10, 2] {
            create(dir.path(), seq, &snapshot()).unwrap();
        }
        fs::write(dir.path().join("00000000000000000011.log.new"), b"half").unwrap();
        assert_eq!(list(dir.path()).unwrap(), [2, 10]);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn reading_stops_at_a_torn_entry_and_says_where_the_good_part_ends() {
        let mut bytes = snapshot();
        let good = bytes.len();
        bytes.extend_from_slice(&snapshot()[..good - 3]);
        let mut entries = Entries::new(&bytes);
        assert!(entries.next().unwrap().is_ok());
        assert!(entries.next().unwrap().is_err());
        assert!(entries.next().is_none());
        assert_eq!(entries.at, good);
    }
}
