//! The web UI in a real browser: `crates/web/tests/browser/e2e.mjs` drives headless Chromium
//! (Debian `chromium` through npm `playwright-core`) against the real `miyagi up` with its local
//! models, and `signin.mjs` signs in to one that asks for an API key. `.ci/run` installs both;
//! screenshots of every page land in `crates/web/tests/browser/screenshots/`.

mod common;

use std::{path::Path, process::Command};

use common::Miyagi;
use miyagi_platform::config::ApiKeyConfig;

fn browser_tests() -> std::path::PathBuf {
    let browser_tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/tests/browser");
    assert!(
        browser_tests.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run `npm ci --prefix crates/web/tests/browser` (.ci/run does)"
    );
    browser_tests
}

/// Runs `script` of the browser tests against `miyagi` with `env`; fails with everything said.
async fn run_browser(script: &str, miyagi: &Miyagi, env: Vec<(&'static str, String)>) {
    let script = browser_tests().join(script);
    let base = miyagi.url("");
    let outcome = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .env("MIYAGI_URL", base)
            .envs(env)
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
}

#[tokio::test]
async fn a_person_uses_every_page_of_the_web_ui_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let miyagi = Miyagi::up_with_models(dir.path()).await;
    run_browser("e2e.mjs", &miyagi, vec![]).await;
    assert!(miyagi.stop());
}

#[tokio::test]
async fn a_person_signs_in_with_an_api_key_in_a_real_browser() {
    let key = "sam-secret-key";
    let keys = format!(
        r#"[{{user="sam", sha256="{}"}}]"#,
        ApiKeyConfig::for_key("sam", key).sha256.expose()
    );
    let dir = tempfile::tempdir().unwrap();
    let miyagi = Miyagi::up(
        dir.path(),
        &[
            ("MIYAGI_AUTH__MODE", "api_key"),
            ("MIYAGI_AUTH__KEYS", keys.as_str()),
        ],
    )
    .await;
    let name = "Sam Signed-In";
    let created = reqwest::Client::new()
        .post(miyagi.url("/api/v1/userprofile"))
        .header("x-api-key", key)
        .json(
            &serde_json::json!({"name": name, "age": 41, "annualHouseholdIncome": 90000,
            "assets": 50000, "riskTolerance": "Moderate", "retirementAge": 65}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    run_browser(
        "signin.mjs",
        &miyagi,
        vec![
            ("MIYAGI_KEY", key.into()),
            ("MIYAGI_PROFILE_NAME", name.into()),
        ],
    )
    .await;
    assert!(miyagi.stop());
}
