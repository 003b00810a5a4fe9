//! A full disk on demand: a filesystem of the test's own (tmpfs, a few MiB) that it can fill to
//! the last byte and free again, so a service meets `ENOSPC` exactly as it would on a full
//! volume, without filling the machine's disk under every other test. Mounting needs root, which
//! CI has; elsewhere the test fails saying so.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    pub fn mount(size_mib: u32) -> Self {
        let dir = tempfile::tempdir().expect("a mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(dir.path())
            .status();
        assert!(
            mounted.is_ok_and(|s| s.success()),
            "could not mount a {size_mib} MiB tmpfs at {}: the disk-full tests need root",
            dir.path().display()
        );
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Writes a file until the disk takes no more, in ever smaller pieces down to one byte.
    pub fn fill(&self) {
        let mut file = std::fs::File::create(self.filler()).expect("the filler file");
        for piece in [1 << 16, 1 << 12, 1] {
            let bytes = vec![0u8; piece];
            while file.write_all(&bytes).is_ok() {}
        }
        let _ = file.sync_all();
    }

    pub fn free(&self) {
        std::fs::remove_file(self.filler()).expect("the filler file goes");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: files the services still hold open must not keep the mount alive.
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}
