//! What the binary's benchmarks share: the real binary started on embedded defaults (`miyagi up`
//! with the local models, or `miyagi serve <service>`), and percentiles reported the same way.
// Each bench binary uses a different part of this module.
#![allow(dead_code)]

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Where the server's log goes: the file `MIYAGI_BENCH_LOG` names (with `RUST_LOG`, to read why
/// a request took as long as it did), else nowhere, so it cannot slow the run.
fn server_log() -> Stdio {
    match std::env::var("MIYAGI_BENCH_LOG") {
        Ok(path) => std::fs::File::create(&path)
            .unwrap_or_else(|e| panic!("MIYAGI_BENCH_LOG={path}: {e}"))
            .into(),
        Err(_) => Stdio::null(),
    }
}

/// The binary serving on a fresh data dir and a free port; killed when dropped.
pub struct Miyagi {
    pub base: String,
    pub http: reqwest::Client,
    child: Child,
    _data: tempfile::TempDir,
}

impl Drop for Miyagi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Miyagi {
    /// `miyagi up`, once `/readyz` answers 200.
    pub async fn up() -> Self {
        Self::start(&["up"]).await
    }

    /// `miyagi <args>` (`serve markets`, …), once `/readyz` answers 200.
    pub async fn start(args: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_miyagi"));
        // The benches' own settings share the `MIYAGI_` prefix, which Miyagi reads as config and
        // refuses as unknown keys.
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("MIYAGI_BENCH_")) {
            command.env_remove(name);
        }
        let child = command
            .args(args)
            .env("MIYAGI_HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("MIYAGI_DATA_DIR", data.path())
            .stdout(Stdio::null())
            .stderr(server_log())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .unwrap();
        let started = Instant::now();
        while http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .map(|r| r.status().is_success())
            .ok()
            != Some(true)
        {
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "miyagi {args:?} never became ready"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Self {
            base,
            http,
            child,
            _data: data,
        }
    }
}

/// Sends `request` and parses its JSON answer.
pub async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// The `p` quantile (0–1) of `sorted` (ascending).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((p * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

/// Prints n, p50, p95 and max of `ms`.
pub fn report(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{label}: n={} p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        ms.last().unwrap()
    );
}
