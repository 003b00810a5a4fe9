//! The OpenAPI document states the constraints the handlers enforce (ranges, lengths, patterns,
//! enums, required fields), so a generated client or a fuzzer agrees with the server.
//! schemathesis, pinned from PyPI, generates requests from the document alone and reports any
//! it allows that a handler refuses, or forbids that a handler accepts.

use std::{collections::BTreeMap, path::Path};

use serde_json::Value;

use super::common::Miyagi;

const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// Operations whose input is a file whose validity is in its contents (a bank statement, a
/// PDF): no JSON schema can say which CSV has rows, so their own tests send bad files instead.
const FILE_CONTENT_OPERATIONS: [&str; 3] = ["upload_documents", "import_file", "preview_csv"];

#[tokio::test]
async fn the_openapi_document_admits_exactly_the_inputs_the_handlers_accept() {
    let _turn = super::common::heavy_turn().await;
    let python =
        miyagi_testing::python::venv_with(Path::new(env!("CARGO_TARGET_TMPDIR")), SCHEMATHESIS)
            .await;
    let schemathesis = python.with_file_name("schemathesis");
    let dir = tempfile::tempdir().unwrap();
    let miyagi = Miyagi::up(dir.path(), &[]).await;

    // The checks, and the few rules no JSON Schema can state, with the reason for each.
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/schemathesis.toml");
    let mut command = tokio::process::Command::new(schemathesis);
    command
        .args(["--config-file", config, "run"])
        .arg(miyagi.url("/openapi.json"))
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "25", "--seed", "1", "--workers", "1"])
        // Streams never end and a backup copies the data dir: both are tested apart.
        .args(["--exclude-path-regex", "stream|backups"]);
    for operation in FILE_CONTENT_OPERATIONS {
        command.args(["--exclude-operation-id", operation]);
    }
    let output = command.output().await.unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the document and the handlers disagree:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("Tested: "), "{report}");
    assert!(miyagi.stop());
}

#[tokio::test]
async fn every_operation_has_an_id_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let miyagi = Miyagi::up(dir.path(), &[]).await;
    let document: Value = reqwest::get(miyagi.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut operations: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (path, methods) in document["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or("(none)");
            operations
                .entry(id)
                .or_default()
                .push(format!("{method} {path}"));
        }
    }
    let shared: Vec<_> = operations.iter().filter(|(_, ops)| ops.len() > 1).collect();
    assert!(
        shared.is_empty(),
        "a generated client would have one method for several operations: {shared:?}"
    );
    assert!(miyagi.stop());
}
