//! Taking over a log kept in SQLite (`events.db`, before segment files): its records, offsets
//! and groups' positions become the new log's first segment, then the old file is removed.
//!
//! The segment is put in place whole, in a directory renamed to the log's, so a crash leaves
//! either the old file alone (the next start imports it again) or the new log, beside an old
//! file the next start only removes.

use std::{fs, path::Path};

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

use super::{
    batch,
    entry::{BatchEntry, Entry, Snapshot},
    segment,
};

/// Imports the SQLite log at `old`, if there is one, into `dir`, unless `dir` already holds
/// segments (the import was done, and a crash kept the old file).
pub(super) fn import(old: &Path, dir: &Path) -> anyhow::Result<()> {
    if !old.is_file() {
        return Ok(());
    }
    let imported = dir.exists() && !segment::list(dir)?.is_empty();
    if !imported {
        let bytes =
            read(old).with_context(|| format!("reading the event log {}", old.display()))?;
        let unfinished = dir.with_extension("importing");
        if unfinished.exists() {
            fs::remove_dir_all(&unfinished)?;
        }
        fs::create_dir_all(&unfinished)?;
        segment::create(&unfinished, 0, &bytes)?;
        // A directory without segments holds nothing of the log's yet.
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
        fs::rename(&unfinished, dir)?;
        segment::sync_dir(dir.parent().unwrap_or(Path::new(".")))?;
        tracing::info!(from = %old.display(), to = %dir.display(), "the event log moved into segment files");
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", old.display());
        if Path::new(&file).exists() {
            fs::remove_file(&file).with_context(|| format!("removing {file}"))?;
        }
    }
    Ok(())
}

/// The old log as one segment's entries: a snapshot with its partition count and groups'
/// positions, then its batches. A file from before batches holds a row per record, each read as
/// a batch of one.
fn read(old: &Path) -> anyhow::Result<Vec<u8>> {
    // Read-write, so that SQLite takes in what its WAL holds.
    let conn = Connection::open_with_flags(old, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let partitions: u32 = conn.query_row(
        "SELECT value FROM log_meta WHERE name = 'partitions'",
        [],
        |row| row.get(0),
    )?;
    let groups = conn
        .prepare("SELECT group_id, topic, partition_no, next_offset FROM log_group_offsets")?
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut bytes = Vec::new();
    Entry::Snapshot(Snapshot {
        partitions,
        logs: Vec::new(),
        groups,
    })
    .encode(&mut bytes);
    let record_per_row: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_records')",
        [],
        |row| row.get(0),
    )?;
    let query = if record_per_row {
        "SELECT topic, partition_no, log_offset, 1, appended_at, record_key, payload FROM log_records
         ORDER BY topic, partition_no, log_offset"
    } else {
        "SELECT topic, partition_no, base_offset, last_offset - base_offset + 1, appended_at, NULL, records
         FROM log_batches ORDER BY topic, partition_no, last_offset"
    };
    let mut statement = conn.prepare(query)?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let stored: Vec<u8> = row.get(6)?;
        let records = match row.get::<_, Option<String>>(5)? {
            Some(key) => batch::encode([(key.as_str(), stored.as_slice())]),
            None => stored,
        };
        Entry::Batch(BatchEntry {
            topic: row.get(0)?,
            partition: row.get(1)?,
            base: row.get(2)?,
            count: row.get(3)?,
            appended_at: row.get(4)?,
            records: &records,
        })
        .encode(&mut bytes);
    }
    Ok(bytes)
}
