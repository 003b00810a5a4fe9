//! Running a suite: every row through every variant on every model, each answer checked and
//! written to `results.jsonl` as soon as it is known, so a run stopped half-way (a crash, a
//! rate limit, Ctrl-C) is resumed from where it stopped rather than paid for again.
//!
//! A run lives in `<runs_dir>/<run id>/`: `run.json` (what was run), `results.jsonl` (one line
//! per answer; a later line for the same model, variant and row replaces an earlier one),
//! `summary.json` and `report.html` (written by [`crate::report`]).

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    time::Instant,
};

use chrono::{DateTime, Utc};
use miyagi_kernel::{flow::Flow, function::PromptFunction, Arguments, Kernel, KernelError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    check::{self, Outcome},
    suite::Suite,
};

/// A model the suite runs on, by the name the suite gives it.
pub struct Model {
    pub name: String,
    pub kernel: Kernel,
}

impl Model {
    /// The model `kernel` answers with, its flows' tool nodes given the finance engine.
    pub fn new(name: &str, kernel: &Kernel) -> Self {
        Self {
            name: name.into(),
            kernel: crate::finance::with_engine(kernel),
        }
    }
}

/// What a run is, as `run.json` records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunInfo {
    pub id: String,
    pub suite: String,
    pub suite_path: PathBuf,
    pub started_at: DateTime<Utc>,
    pub models: Vec<String>,
    pub variants: Vec<String>,
    pub rows: usize,
    pub threshold: f64,
}

/// One answer and what the checks made of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowResult {
    pub model: String,
    pub variant: String,
    pub row: usize,
    pub answer: String,
    pub outcomes: Vec<Outcome>,
    /// The model call failed; the row is run again on resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: u64,
    /// Tokens the answer took; 0 for a flow, whose nodes' calls are not added up.
    pub completion_tokens: u32,
}

impl RowResult {
    /// Every check passed.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.outcomes.iter().all(|o| o.passed)
    }

    fn key(&self) -> (String, String, usize) {
        (self.model.clone(), self.variant.clone(), self.row)
    }
}

/// What a variant is: one prompt function, or a Prompt flow whose first output is the answer.
enum Variant {
    Prompt(Box<PromptFunction>),
    Flow(Flow),
}

const FLOW_FILE: &str = "flow.dag.yaml";

/// A variant's name: its folder or file name without the extension; a flow's folder.
pub fn variant_name(path: &Path) -> String {
    let named = match path.file_name().and_then(|n| n.to_str()) {
        Some(FLOW_FILE) => path.parent().unwrap_or(path),
        _ => path,
    };
    named
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("variant")
        .to_string()
}

/// A prompt directory, a prompt YAML file, or a flow (its `flow.dag.yaml` or the folder of one).
fn load_variant(path: &Path) -> anyhow::Result<Variant> {
    let flow = if path.is_dir() {
        Some(path.join(FLOW_FILE)).filter(|f| f.exists())
    } else {
        Some(path.to_path_buf()).filter(|p| p.ends_with(FLOW_FILE))
    };
    let variant = match flow {
        Some(flow) => Flow::load(&flow).map(Variant::Flow),
        None if path.is_dir() => {
            PromptFunction::from_directory("eval", path).map(|f| Variant::Prompt(Box::new(f)))
        }
        None => {
            let yaml = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("variant {}: {e}", path.display()))?;
            PromptFunction::from_yaml("eval", &yaml).map(|f| Variant::Prompt(Box::new(f)))
        }
    };
    variant.map_err(|e| anyhow::anyhow!("variant {}: {e}", path.display()))
}

/// Loads the suite's variants and checks that every row gives each prompt the inputs it
/// requires, so a broken suite fails before anything is asked (a flow's inputs are checked as
/// it runs).
fn variants(suite: &Suite) -> anyhow::Result<Vec<(String, Variant)>> {
    let variants: Vec<(String, Variant)> = suite
        .variants
        .iter()
        .map(|path| Ok((variant_name(path), load_variant(path)?)))
        .collect::<anyhow::Result<_>>()?;
    for (name, variant) in &variants {
        let Variant::Prompt(function) = variant else {
            continue;
        };
        for (index, row) in suite.rows.iter().enumerate() {
            function
                .complete_arguments(arguments(row))
                .map_err(|e| anyhow::anyhow!("variant {name}, row {}: {e}", index + 1))?;
        }
    }
    Ok(variants)
}

/// Loads every variant of `suite` and checks each row against each prompt's inputs, without
/// running anything: what `miyagi eval run` checks first.
pub fn check(suite: &Suite) -> anyhow::Result<()> {
    variants(suite).map(drop)
}

fn arguments(row: &Value) -> Arguments {
    row.as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The results of a run so far, the latest line of each answer.
pub fn read_results(dir: &Path) -> anyhow::Result<Vec<RowResult>> {
    let path = dir.join("results.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e.into()),
    };
    let mut latest: HashMap<(String, String, usize), RowResult> = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // A line cut short by a crash mid-write is the one answer not saved: it runs again.
        if let Ok(result) = serde_json::from_str::<RowResult>(line) {
            latest.insert(result.key(), result);
        }
    }
    let mut results: Vec<RowResult> = latest.into_values().collect();
    results.sort_by_key(RowResult::key);
    Ok(results)
}

pub fn read_info(dir: &Path) -> anyhow::Result<RunInfo> {
    let path = dir.join("run.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("{}: {e} (is this a run directory?)", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// Runs `suite` into a new run under `runs_dir`, or on into `resume` (a run directory of the
/// same suite), skipping the answers it already has. `grader` grades rubrics. The run's
/// directory.
pub async fn run(
    suite: &Suite,
    models: &[Model],
    grader: Option<&Kernel>,
    runs_dir: &Path,
    resume: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    let variants = variants(suite)?;
    let (dir, done) = match resume {
        Some(dir) => {
            let info = read_info(dir)?;
            anyhow::ensure!(
                info.suite == suite.name,
                "run {} is of suite {:?}, not {:?}",
                info.id,
                info.suite,
                suite.name
            );
            let done: Vec<(String, String, usize)> = read_results(dir)?
                .into_iter()
                .filter(|r| r.error.is_none())
                .map(|r| r.key())
                .collect();
            (dir.to_path_buf(), done)
        }
        None => {
            let id = format!(
                "{}-{}",
                Utc::now().format("%Y%m%dT%H%M%S"),
                &uuid::Uuid::new_v4().simple().to_string()[..6]
            );
            let dir = runs_dir.join(&id);
            std::fs::create_dir_all(&dir)?;
            let info = RunInfo {
                id,
                suite: suite.name.clone(),
                suite_path: suite.path.clone(),
                started_at: Utc::now(),
                models: models.iter().map(|m| m.name.clone()).collect(),
                variants: variants.iter().map(|(name, _)| name.clone()).collect(),
                rows: suite.rows.len(),
                threshold: suite.threshold,
            };
            std::fs::write(dir.join("run.json"), serde_json::to_vec_pretty(&info)?)?;
            (dir, vec![])
        }
    };
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("results.jsonl"))?;
    for model in models {
        for (variant, variant_of) in &variants {
            for (index, row) in suite.rows.iter().enumerate() {
                if done.contains(&(model.name.clone(), variant.clone(), index)) {
                    continue;
                }
                let result = answer(suite, model, variant, variant_of, index, row, grader).await;
                writeln!(out, "{}", serde_json::to_string(&result)?)?;
                out.flush()?;
            }
        }
    }
    Ok(dir)
}

async fn answer(
    suite: &Suite,
    model: &Model,
    variant: &str,
    variant_of: &Variant,
    index: usize,
    row: &Value,
    grader: Option<&Kernel>,
) -> RowResult {
    let args = arguments(row);
    let started = Instant::now();
    let called = match variant_of {
        Variant::Prompt(function) => {
            async {
                let request = function.request(&model.kernel, args).await?;
                let response = model.kernel.chat(request).await?;
                Ok::<_, KernelError>((response.message.content, response.usage.completion_tokens))
            }
            .await
        }
        Variant::Flow(flow) => flow
            .run(&model.kernel, &args.into_iter().collect())
            .await
            .map(|outputs| {
                let first = outputs
                    .into_iter()
                    .next()
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                let text = first
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| first.to_string());
                (text, 0)
            }),
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    let mut result = RowResult {
        model: model.name.clone(),
        variant: variant.into(),
        row: index,
        answer: String::new(),
        outcomes: vec![],
        error: None,
        latency_ms,
        completion_tokens: 0,
    };
    match called {
        Ok((answer, tokens)) => {
            result.answer = answer.trim().to_string();
            result.completion_tokens = tokens;
            for check in &suite.checks {
                result
                    .outcomes
                    .push(check::run(check, &result.answer, row, grader).await);
            }
        }
        Err(e) => result.error = Some(e.to_string()),
    }
    result
}
