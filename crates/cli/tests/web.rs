//! The web UI in a real browser: `crates/web/tests/browser/e2e.mjs` drives headless Chromium
//! (Debian `chromium` through npm `playwright-core`) against the real `miyagi up` with its local
//! models. `.ci/run` installs both; screenshots of every page land in
//! `crates/web/tests/browser/screenshots/`.

mod common;

use std::{path::Path, process::Command};

use common::Miyagi;

#[tokio::test]
async fn a_person_uses_every_page_of_the_web_ui_in_a_real_browser() {
    let browser_tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/tests/browser");
    assert!(
        browser_tests.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run `npm ci --prefix crates/web/tests/browser` (.ci/run does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let miyagi = Miyagi::up(
        dir.path(),
        &[
            ("MIYAGI_MODELS__LOCAL", "true"),
            ("MIYAGI_DOCUMENTS__LIBRARY", "true"),
        ],
    )
    .await;
    let base = miyagi.url("");
    let outcome = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(browser_tests.join("e2e.mjs"))
            .env("MIYAGI_URL", base)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    assert!(
        outcome.status.success(),
        "the browser test failed:\n{}\n{}\n--- miyagi ---\n{}",
        String::from_utf8_lossy(&outcome.stdout),
        String::from_utf8_lossy(&outcome.stderr),
        miyagi.log_tail()
    );
    assert!(miyagi.stop());
}
