//! The log's file: its tables, its settings, and the move from the layout before record batches.

use std::{path::Path, time::Duration};

use rusqlite::{params, Connection};

use super::batch;

/// Records are kept in batches (`batch.rs`), keyed by their last offset so that the batch
/// holding an offset is the first whose `last_offset` is not below it: one index seek.
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS log_batches (
    topic TEXT NOT NULL,
    partition_no INTEGER NOT NULL,
    base_offset INTEGER NOT NULL,
    last_offset INTEGER NOT NULL,
    appended_at INTEGER NOT NULL,
    records BLOB NOT NULL,
    PRIMARY KEY (topic, partition_no, last_offset)
);
CREATE TABLE IF NOT EXISTS log_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_group_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition_no INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition_no)
) WITHOUT ROWID;";

/// Opens the file's write connection: WAL with `synchronous=NORMAL`, so a commit returns once
/// written and the writer makes it durable (`durable.rs`); tables created; records of the
/// older layout moved into batches; the partition count checked against the one the file was
/// made with.
pub(super) fn open_for_writing(path: &Path, partitions: u32) -> anyhow::Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // Only a new file takes it. A transaction of a few records rewrites ~10 pages (the table's
    // last leaf, an index leaf per partition, the groups' offsets): 4 KiB pages halve what is
    // written and flushed for those, worth more to concurrent publishers than the 8 KiB pages
    // that suited 256-record batches a little better (BENCHMARKS.md).
    conn.pragma_update(None, "page_size", 4096)?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(TABLES)?;
    move_records_into_batches(&mut conn)?;
    // Keys map to partitions by count: a different count would scatter keys (breaking their
    // order) and strand records in partitions that no longer exist.
    conn.execute(
        "INSERT INTO log_meta (name, value) VALUES ('partitions', ?1) ON CONFLICT (name) DO NOTHING",
        [partitions],
    )?;
    let stored: i64 = conn.query_row(
        "SELECT value FROM log_meta WHERE name = 'partitions'",
        [],
        |row| row.get(0),
    )?;
    if stored != i64::from(partitions) {
        anyhow::bail!(
            "the event log at {} has {stored} partitions but key `bus.partitions` is {partitions}; set it back to {stored}",
            path.display()
        );
    }
    Ok(conn)
}

/// A file written before record batches keeps a row per record in `log_records`. Each becomes
/// a batch of one, with its offset and time, in one transaction: a crash leaves the old table
/// whole and the next start moves it again.
fn move_records_into_batches(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let old: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_records')",
        [],
        |row| row.get(0),
    )?;
    if !old {
        return Ok(());
    }
    {
        let mut read = tx.prepare(
            "SELECT topic, partition_no, log_offset, record_key, payload, appended_at FROM log_records",
        )?;
        let mut write = tx.prepare(
            "INSERT INTO log_batches (topic, partition_no, base_offset, last_offset, appended_at, records)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
        )?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let (key, payload): (String, Vec<u8>) = (row.get(3)?, row.get(4)?);
            let records = batch::encode([(key.as_str(), payload.as_slice())]);
            write.execute(params![
                row.get::<_, String>(0)?,
                row.get::<_, u32>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(5)?,
                records
            ])?;
        }
    }
    tx.execute("DROP TABLE log_records", [])?;
    tx.commit()
}
