//! Backup and restore of an embedded data dir (`miyagi up`'s SQLite files and blobs).
//!
//! A backup is taken by the running process, because only it can hold its relays and consumers
//! still ([`PauseGate`]) while each SQLite file is copied with `VACUUM INTO` — a consistent
//! snapshot of one file that needs no exclusive lock, so requests go on meanwhile — and the
//! event log's segment files are copied, oldest first. Those are only appended to, so a copy
//! taken while retention writes is still the log up to some entry: a piece of an entry at the
//! end is cut when the restored log opens. Blobs are
//! copied after the databases: a blob is written before the row that names it, so every blob a
//! copied row names is complete. The vector index is not copied; the documents service rebuilds
//! it from its database at the first start after a restore.
//!
//! A restore is done with Miyagi stopped: it takes the data dir's lock, so it cannot pull files
//! from under a running process.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::{sqlite::SqliteConnectOptions, ConnectOptions};

use crate::{events::PauseGate, DataDirLock};

/// Written last into each backup folder: what it holds, and proof that it is complete.
const MANIFEST: &str = "backup.json";
const BLOBS: &str = "blobs";
/// The embedded event log's directory (`events::embedded`).
const EVENT_LOG: &str = "events";
/// What a restore replaces besides the database files: the event log, blobs, and the index
/// rebuilt from them.
const REPLACED: [&str; 3] = [EVENT_LOG, BLOBS, "vector-index"];

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    #[schema(value_type = String)]
    pub path: PathBuf,
    pub taken_at: chrono::DateTime<chrono::Utc>,
    /// The database files, by name.
    pub databases: Vec<String>,
    /// Whether it holds the event log's segment files; backups taken while the log was a
    /// database file list it among `databases` instead.
    #[serde(default)]
    pub event_log: bool,
    pub bytes: u64,
}

/// Copies `data_dir`'s databases and blobs into `data_dir/backups/<time>/`.
pub async fn take(data_dir: &Path, gate: &PauseGate) -> anyhow::Result<Backup> {
    let taken_at = chrono::Utc::now();
    let path = data_dir
        .join("backups")
        .join(taken_at.format("%Y%m%dT%H%M%S%.3fZ").to_string());
    std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
    let databases = database_files(data_dir)?;
    let paused = gate.pause(Duration::from_secs(60)).await?;
    for name in &databases {
        let mut conn = SqliteConnectOptions::new()
            .filename(data_dir.join(name))
            .read_only(true)
            .connect()
            .await
            .with_context(|| format!("opening {name}"))?;
        sqlx::query("VACUUM INTO $1")
            .bind(path.join(name).to_string_lossy().into_owned())
            .execute(&mut conn)
            .await
            .with_context(|| format!("copying {name}"))?;
    }
    let event_log = copy_event_log(&data_dir.join(EVENT_LOG), &path.join(EVENT_LOG))?;
    drop(paused);
    copy_tree(&data_dir.join(BLOBS), &path.join(BLOBS))?;
    let backup = Backup {
        bytes: tree_size(&path)?,
        path,
        taken_at,
        databases,
        event_log,
    };
    std::fs::write(
        backup.path.join(MANIFEST),
        serde_json::to_vec_pretty(&backup)?,
    )?;
    tracing::info!(path = %backup.path.display(), bytes = backup.bytes, "backup taken");
    Ok(backup)
}

/// Puts the backup in `from` into `data_dir`. A data dir that already holds databases is only
/// overwritten when `replace` is given.
pub fn restore(from: &Path, data_dir: &Path, replace: bool) -> anyhow::Result<Backup> {
    let manifest = std::fs::read(from.join(MANIFEST)).map_err(|_| {
        anyhow::anyhow!(
            "{} is not a complete Miyagi backup (it has no {MANIFEST})",
            from.display()
        )
    })?;
    let backup: Backup = serde_json::from_slice(&manifest)
        .with_context(|| format!("reading {}", from.join(MANIFEST).display()))?;
    std::fs::create_dir_all(data_dir)?;
    let _lock = DataDirLock::acquire(data_dir)?;
    let existing = database_files(data_dir)?;
    let mut held = existing.clone();
    if data_dir.join(EVENT_LOG).exists() {
        held.push(format!("{EVENT_LOG}/"));
    }
    if !held.is_empty() && !replace {
        anyhow::bail!(
            "the data dir {} already holds data ({}): pass --replace to overwrite it",
            data_dir.display(),
            held.join(", ")
        );
    }
    for name in &existing {
        for suffix in ["", "-wal", "-shm"] {
            let file = data_dir.join(format!("{name}{suffix}"));
            if file.exists() {
                std::fs::remove_file(&file)
                    .with_context(|| format!("removing {}", file.display()))?;
            }
        }
    }
    for replaced in REPLACED {
        let dir = data_dir.join(replaced);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    for name in &backup.databases {
        std::fs::copy(from.join(name), data_dir.join(name))
            .with_context(|| format!("restoring {name}"))?;
    }
    copy_tree(&from.join(EVENT_LOG), &data_dir.join(EVENT_LOG))?;
    copy_tree(&from.join(BLOBS), &data_dir.join(BLOBS))?;
    Ok(backup)
}

/// The SQLite files directly in `dir`, by name, sorted.
fn database_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && name.ends_with(".db") {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Copies the event log's segment files, oldest first; whether there was a log. Retention may
/// delete a segment meanwhile: a later one begins with a snapshot of all the deleted one held
/// that is still needed, so it is passed by.
fn copy_event_log(from: &Path, to: &Path) -> anyhow::Result<bool> {
    if !from.exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(to)?;
    let mut segments: Vec<_> = std::fs::read_dir(from)?
        .map(|entry| entry.map(|e| e.file_name()))
        .filter(|name| {
            name.as_ref()
                .map_or(true, |n| n.to_string_lossy().ends_with(".log"))
        })
        .collect::<Result<_, _>>()?;
    segments.sort();
    for name in segments {
        match std::fs::copy(from.join(&name), to.join(&name)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            copied => {
                copied.with_context(|| format!("copying {}", from.join(&name).display()))?;
            }
        }
    }
    Ok(true)
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    if !from.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

fn tree_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        total += if entry.file_type()?.is_dir() {
            tree_size(&entry.path())?
        } else {
            entry.metadata()?.len()
        };
    }
    Ok(total)
}
