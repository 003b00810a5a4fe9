//! Python tools from PyPI that tests run against Miyagi as their users would (the official
//! OpenAI client, schemathesis): each pinned, in a venv of its own built once per target dir.

use std::path::{Path, PathBuf};

use tokio::process::Command;

/// The `python` of a venv holding `requirement` (`name==version`), made on first use under
/// `dir` (a test binary's `CARGO_TARGET_TMPDIR`), so later runs reuse it.
pub async fn venv_with(dir: &Path, requirement: &str) -> PathBuf {
    let venv = dir.join(requirement.replace("==", "-"));
    let python = venv.join("bin/python");
    let module = requirement
        .split("==")
        .next()
        .unwrap_or(requirement)
        .replace('-', "_");
    let ready = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .status()
        .await
        .is_ok_and(|s| s.success());
    if !ready {
        let made = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .status()
            .await
            .expect("python3 runs");
        assert!(made.success(), "python3 -m venv failed");
        let installed = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                requirement,
            ])
            .status()
            .await
            .unwrap();
        assert!(installed.success(), "pip install {requirement} failed");
    }
    python
}
