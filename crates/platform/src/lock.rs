//! One process per embedded data dir.
//!
//! The embedded event log hands out offsets and consumer-group positions from one process's
//! memory, and the services' SQLite files expect one writer process: a second `miyagi up` on the
//! same folder would interleave offsets and deliver events twice. So the folder is locked at
//! start. The lock is the operating system's (`flock`), not the file's presence: it goes with the
//! process however it ends, so a `kill -9` leaves nothing to clean up before the next start.

use std::{
    fs::{File, OpenOptions, TryLockError},
    io::{Read, Seek, Write},
    path::Path,
};

/// Held for as long as the process uses the data dir.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// The lock file's name inside the data dir; it holds the owning process's id.
pub const LOCK_FILE: &str = "miyagi.lock";

impl DataDirLock {
    pub fn acquire(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => String::new(),
                    pid => format!(" (pid {pid})"),
                };
                anyhow::bail!(
                    "the data dir {} is in use by another Miyagi process{holder}: stop that one first, or give this one its own folder with `data_dir` (MIYAGI_DATA_DIR)",
                    data_dir.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                anyhow::bail!("cannot lock {}: {e}", path.display())
            }
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let _first = DataDirLock::acquire(dir.path()).unwrap();
        let error = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains(&format!("pid {}", std::process::id())),
            "{error}"
        );
        assert!(error.contains("data_dir"), "{error}");
    }

    #[test]
    fn the_lock_is_free_again_once_its_holder_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        drop(DataDirLock::acquire(dir.path()).unwrap());
        assert!(DataDirLock::acquire(dir.path()).is_ok());
    }
}
