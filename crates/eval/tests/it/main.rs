//! A suite run end to end against a scripted OpenAI-protocol server standing in for the model:
//! answers checked and stored as they come, a failed call resumed without asking again what was
//! answered, the summary and the HTML report.

use std::{path::Path, sync::Arc, time::Duration};

use miyagi_eval::{report, run, Suite};
use miyagi_kernel::{
    connectors::openai::{OpenAiClient, OpenAiConfig},
    Kernel,
};
use miyagi_testing::openai::{completion, Reply, ScriptedLlm};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// A suite of two questions with one variant, checked for the sum and its figures.
fn suite(dir: &Path) -> Suite {
    write(
        dir,
        "eval.yaml",
        "name: sums\ndataset: rows.jsonl\nvariants: [terse.yaml]\nmodels: [local]\nchecks:\n  - contains: expected\n  - numbers: numbers\nthreshold: 1.0\n",
    );
    write(
        dir,
        "rows.jsonl",
        "{\"question\": \"groceries?\", \"expected\": \"$54\", \"numbers\": [54.21]}\n{\"question\": \"coffee?\", \"expected\": \"$4.75\", \"numbers\": [4.75]}\n",
    );
    write(
        dir,
        "terse.yaml",
        "name: answer\ntemplate: |\n  <message role=\"user\">{{$question}}</message>\ntemplate_format: semantic-kernel\ninput_variables:\n  - name: question\n",
    );
    Suite::load(&dir.join("eval.yaml")).unwrap()
}

fn model(llm: &ScriptedLlm) -> run::Model {
    let mut config = OpenAiConfig::openai(&format!("{}/v1", llm.base), "judge", None);
    config.max_retries = 0;
    config.timeout = Duration::from_secs(5);
    let kernel = Kernel::builder()
        .chat_model(Arc::new(OpenAiClient::new(config).unwrap()))
        .build();
    run::Model::new("local", &kernel)
}

#[tokio::test]
async fn a_stopped_run_is_resumed_without_asking_again_what_was_answered() {
    let dir = tempfile::tempdir().unwrap();
    let suite = suite(dir.path());
    let runs = dir.path().join("runs");

    let llm = ScriptedLlm::start(vec![
        Reply::Json(completion("You spent $54.21 on groceries.")),
        Reply::Status(500, vec![], "{}".into()),
    ])
    .await;
    let run_dir = run::run(&suite, &[model(&llm)], None, &runs, None)
        .await
        .unwrap();
    let first = report::summarise(&run_dir).unwrap();
    assert_eq!((first.variants[0].passed, first.variants[0].errors), (1, 1));
    assert!(!first.passed, "a row not answered is a row not passed");

    let again = ScriptedLlm::start(vec![Reply::Json(completion("Coffee came to $4.75."))]).await;
    run::run(&suite, &[model(&again)], None, &runs, Some(&run_dir))
        .await
        .unwrap();
    assert_eq!(
        again.requests().len(),
        1,
        "only the failed row is asked again"
    );
    assert!(again.requests()[0].body.to_string().contains("coffee?"));
    let resumed = report::summarise(&run_dir).unwrap();
    assert_eq!(resumed.variants[0].passed, 2);
    assert!(resumed.passed);
    assert_eq!(
        report::compare(&first, &resumed),
        vec!["local / terse: 50% → 100% (+50 points)"]
    );
}

#[tokio::test]
async fn the_report_says_why_each_failed_row_failed_and_escapes_answers() {
    let dir = tempfile::tempdir().unwrap();
    let suite = suite(dir.path());
    let llm = ScriptedLlm::start(vec![
        Reply::Json(completion("<script>alert('x')</script> about $60.")),
        Reply::Json(completion("Coffee came to $4.75.")),
    ])
    .await;
    let run_dir = run::run(&suite, &[model(&llm)], None, &dir.path().join("runs"), None)
        .await
        .unwrap();
    let summary = report::summarise(&run_dir).unwrap();
    report::write(&run_dir, &summary).unwrap();
    assert_eq!(summary.variants[0].checks["numbers"], 0.5);
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(html.contains("&lt;script&gt;"), "answers are escaped");
    assert!(!html.contains("<script>alert"));
    assert!(
        html.contains("states numbers it was not given: [60.0]"),
        "{html}"
    );
    assert!(html.contains("missed"));
}

#[test]
fn a_suite_with_a_mistake_names_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path());
    write(
        dir.path(),
        "eval.yaml",
        "name: x\ndataset: rows.jsonl\nvariants: [terse.yaml]\nchecks:\n  - regex: '('\n",
    );
    let error = Suite::load(&dir.path().join("eval.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("eval.yaml") && error.contains("`regex`"),
        "{error}"
    );
    write(dir.path(), "rows.jsonl", "{\"question\": 1}\nnot json\n");
    write(
        dir.path(),
        "eval.yaml",
        "name: x\ndataset: rows.jsonl\nvariants: [terse.yaml]\nchecks:\n  - contains: expected\n",
    );
    let error = Suite::load(&dir.path().join("eval.yaml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("rows.jsonl: line 2"), "{error}");
}

#[tokio::test]
async fn a_prompt_flow_is_a_variant_whose_first_output_is_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path());
    let flow = dir.path().join("qa");
    std::fs::create_dir(&flow).unwrap();
    write(
        &flow,
        "flow.dag.yaml",
        "inputs:\n  question:\n    type: string\noutputs:\n  answer:\n    type: string\n    reference: ${ask.output}\nnodes:\n- name: ask\n  type: llm\n  source:\n    type: code\n    path: ask.jinja2\n  inputs:\n    question: ${inputs.question}\n  api: chat\n",
    );
    write(
        &flow,
        "ask.jinja2",
        "system:\nAnswer with the sum.\nuser:\n{{question}}\n",
    );
    write(
        dir.path(),
        "eval.yaml",
        "name: sums\ndataset: rows.jsonl\nvariants: [terse.yaml, qa]\nchecks:\n  - contains: expected\n",
    );
    let suite = Suite::load(&dir.path().join("eval.yaml")).unwrap();
    let llm = ScriptedLlm::start(vec![
        Reply::Json(completion("$54.21")),
        Reply::Json(completion("$4.75")),
        Reply::Json(completion("$54.21 on groceries")),
        Reply::Json(completion("about four dollars")),
    ])
    .await;
    let run_dir = run::run(&suite, &[model(&llm)], None, &dir.path().join("runs"), None)
        .await
        .unwrap();
    let summary = report::summarise(&run_dir).unwrap();
    let flow = summary.variants.iter().find(|v| v.variant == "qa").unwrap();
    assert_eq!((flow.answered, flow.passed), (2, 1));
    let sent = &llm.requests()[2].body["messages"];
    assert_eq!(sent[0]["role"], "system");
    assert_eq!(sent[1]["content"], "groceries?");
}

/// A flow whose tool node asks the finance engine how the row's holdings compare with its
/// target for the row's person, and whose LLM node explains what the engine said.
fn rebalance_flow(dir: &Path) -> Suite {
    let flow = dir.join("engine");
    std::fs::create_dir(&flow).unwrap();
    write(
        &flow,
        "flow.dag.yaml",
        "inputs:\n  profile:\n    type: object\n  current:\n    type: object\noutputs:\n  answer:\n    type: string\n    reference: ${explain.output}\nnodes:\n- name: plan\n  type: python\n  source:\n    type: package\n    tool: finance.rebalance\n  inputs:\n    profile: ${inputs.profile}\n    current: ${inputs.current}\n- name: explain\n  type: llm\n  source:\n    type: code\n    path: explain.jinja2\n  inputs:\n    plan: ${plan.output}\n  api: chat\n",
    );
    write(
        &flow,
        "explain.jinja2",
        "system:\nExplain the plan.\nuser:\n{{plan}}\n",
    );
    let grace = miyagi_testing::fixtures::grace(40);
    let mut young = grace.clone();
    young["age"] = 12.into();
    let rows = [grace, young]
        .into_iter()
        .map(|profile| {
            serde_json::json!({"profile": profile, "current": {"Stocks": 20, "Bonds": 50, "Cash": 30}})
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    write(dir, "rows.jsonl", &rows);
    write(
        dir,
        "eval.yaml",
        "name: engine\ndataset: rows.jsonl\nvariants: [engine]\nchecks:\n  - contains: Stocks\n",
    );
    Suite::load(&dir.join("eval.yaml")).unwrap()
}

#[tokio::test]
async fn a_flows_tool_node_gives_the_model_the_finance_engines_figures_for_the_rows_person() {
    let dir = tempfile::tempdir().unwrap();
    let suite = rebalance_flow(dir.path());
    let llm = ScriptedLlm::start(vec![Reply::Json(completion("Stocks: buy."))]).await;

    let run_dir = run::run(&suite, &[model(&llm)], None, &dir.path().join("runs"), None)
        .await
        .unwrap();

    let sent = llm.requests()[0].body["messages"][1]["content"].to_string();
    assert!(
        sent.contains("Against the finance engine's target mix: Stocks 20% now")
            && sent.contains("buy ("),
        "the model is given the engine's comparison: {sent}"
    );
    let results = run::read_results(&run_dir).unwrap();
    let refused = results.iter().find(|r| r.row == 1).unwrap();
    let why = refused.error.as_deref().unwrap_or_default();
    assert!(
        why.contains("profile: age"),
        "a person of 12 is refused, named: {why}"
    );
    assert_eq!(
        llm.requests().len(),
        1,
        "a refused row asks the model nothing"
    );
}

#[test]
fn every_shipped_suite_loads_and_its_rows_give_each_prompt_its_inputs() {
    let evals = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../evals");
    let mut checked = vec![];
    for entry in std::fs::read_dir(&evals).unwrap() {
        let file = entry.unwrap().path().join("eval.yaml");
        if file.exists() {
            let suite = Suite::load(&file).unwrap_or_else(|e| panic!("{e}"));
            run::check(&suite).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            checked.push(suite.name);
        }
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "coach-explanations",
            "copilot-answers",
            "documents-ask",
            "expense-spent-on"
        ]
    );
}

#[tokio::test]
async fn a_row_missing_a_required_input_is_named_before_anything_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let suite = suite(dir.path());
    write(
        dir.path(),
        "rows.jsonl",
        "{\"expected\": \"$54\", \"numbers\": [54.21]}\n",
    );
    write(
        dir.path(),
        "terse.yaml",
        "name: answer\ntemplate: '{{$question}}'\ninput_variables:\n  - name: question\n    is_required: true\n",
    );
    let suite = Suite::load(&suite.path).unwrap();
    let err = run::check(&suite).unwrap_err().to_string();
    assert!(err.contains("variant terse, row 1"), "{err}");
    assert!(err.contains("question"), "{err}");
}
