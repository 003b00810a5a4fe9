//! The `miyagi` binary started as a person or a service manager would start it.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The binary with none of the caller's `MIYAGI_*` settings: config comes from each test alone.
pub fn miyagi() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_miyagi"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("MIYAGI_") {
            command.env_remove(key);
        }
    }
    command
}

/// A turn for a test that loads the machine for minutes (the local model writing advice, a
/// fuzzer's thousands of requests): on two cores, two of them at once turn a model's minute into
/// a request timeout, so they take turns while the light tests run beside them.
pub async fn heavy_turn() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

pub struct Miyagi {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Miyagi {
    /// `miyagi up` on a free port with its data in `data_dir`, plus extra `MIYAGI_*` settings.
    pub async fn up(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start(&["up"], data_dir, env).await
    }

    /// `miyagi up` as a person runs it: local models loaded, the investing library ingested.
    pub async fn up_with_models(data_dir: &Path) -> Self {
        Self::up(
            data_dir,
            &[
                ("MIYAGI_MODELS__LOCAL", "true"),
                ("MIYAGI_DOCUMENTS__LIBRARY", "true"),
            ],
        )
        .await
    }

    /// `miyagi <args>` (`up`, `serve users`, …) on a free port, once it answers `/healthz`.
    pub async fn start(args: &[&str], data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = miyagi()
            .args(args)
            .env("MIYAGI_HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("MIYAGI_DATA_DIR", data_dir)
            // These tests are about the platform; the models have their own (slower) tests.
            .env("MIYAGI_MODELS__LOCAL", "false")
            .env("MIYAGI_DOCUMENTS__LIBRARY", "false")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            // Kept beside the data, so a failing test can show what the process said.
            .stderr(std::fs::File::create(data_dir.join("miyagi.log")).unwrap())
            .spawn()
            .unwrap();
        let miyagi = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log: data_dir.join("miyagi.log"),
        };
        // Long enough for a first start that loads the models and ingests the library.
        let deadline = Instant::now() + Duration::from_secs(120);
        while reqwest::get(format!("{}/healthz", miyagi.base))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "miyagi {args:?} did not answer /healthz within 120 s:\n{}",
                miyagi.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        miyagi
    }

    /// Everything the process wrote to stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines the process wrote to stderr, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, as a service manager would send; returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "miyagi did not stop within 20s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Miyagi {
    /// SIGKILL, as a power cut or the OOM killer would; waits until the process is gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Miyagi {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
