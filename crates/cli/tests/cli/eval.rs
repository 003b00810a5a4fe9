//! `miyagi eval` on the shipped coach suite (`evals/coach`), with the local model: every row
//! answered through every variant (two prompts and a Prompt flow) and checked, the report written, a resumed run asking nothing
//! again, and the exit code gating on the threshold.

use std::path::Path;

use serde_json::Value;

use crate::common::{heavy_turn, miyagi};

fn suite() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../evals/coach/eval.yaml")
}

fn eval(args: &[&str]) -> (Option<i32>, String) {
    let output = miyagi().arg("eval").args(args).output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), said)
}

#[tokio::test]
async fn the_coach_suite_runs_on_the_local_model_and_reports_each_answer() {
    let _turn = heavy_turn().await;
    let runs = tempfile::tempdir().unwrap();
    let runs_dir = runs.path().to_str().unwrap();
    let suite = suite();
    let (code, said) = eval(&["run", suite.to_str().unwrap(), "--runs-dir", runs_dir]);
    assert_eq!(code, Some(0), "{said}");
    let run = std::fs::read_dir(runs.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let summary: Value =
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    let variants = summary["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 3, "{summary}");
    for variant in variants {
        assert_eq!(variant["answered"], 2, "every row was answered: {variant}");
        assert_eq!(variant["checks"].as_object().unwrap().len(), 3, "{variant}");
    }
    let results = std::fs::read_to_string(run.join("results.jsonl")).unwrap();
    for line in results.lines() {
        let result: Value = serde_json::from_str(line).unwrap();
        let answer = result["answer"].as_str().unwrap();
        assert!(
            answer.split_whitespace().count() >= 10,
            "a real answer, not a stub: {answer:?}"
        );
    }
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("coach-explanations"));

    // Resumed, the run has every answer already: nothing is asked, nothing changes.
    let before = results.lines().count();
    let (code, said) = eval(&[
        "run",
        suite.to_str().unwrap(),
        "--resume",
        run.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{said}");
    let after = std::fs::read_to_string(run.join("results.jsonl")).unwrap();
    assert_eq!(after.lines().count(), before);

    let (code, said) = eval(&["compare", run.to_str().unwrap(), run.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("(+0 points)"), "{said}");
}

#[test]
fn a_missed_threshold_exits_1_and_a_broken_suite_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let coach = suite();
    let coach = coach.parent().unwrap();
    let text = std::fs::read_to_string(coach.join("eval.yaml")).unwrap();
    // A model that does not exist answers nothing: every row is an error, so none pass.
    let unreachable = text
        .replace(
            "models: [local]",
            "models:\n  - {name: gone, base_url: \"http://127.0.0.1:9/v1\", model: x}",
        )
        .replace("threshold: 0.0", "threshold: 0.5")
        .replace(
            "dataset: households.jsonl",
            &format!("dataset: {}", coach.join("households.jsonl").display()),
        )
        .replace(
            "../../prompts/advisor/Personalize",
            &coach
                .join("../../prompts/advisor/Personalize")
                .display()
                .to_string(),
        )
        .replace(
            "brief.yaml",
            &coach.join("brief.yaml").display().to_string(),
        )
        .replace(
            "  - explain-flow",
            &format!("  - {}", coach.join("explain-flow").display()),
        );
    std::fs::write(dir.path().join("eval.yaml"), unreachable).unwrap();
    let suite = dir.path().join("eval.yaml");
    let runs = dir.path().join("runs");
    let (code, said) = eval(&[
        "run",
        suite.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("threshold 50%: missed"), "{said}");

    std::fs::write(dir.path().join("eval.yaml"), "name: x\nchecks: []\n").unwrap();
    let (code, said) = eval(&["run", suite.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("eval.yaml"), "{said}");
}
