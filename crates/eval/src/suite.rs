//! An evaluation suite: one YAML file naming the dataset, the prompt variants, the models, the
//! checks every answer must pass and the share of rows that must pass them. Paths are relative
//! to the suite file, so a suite and its data travel together.
//!
//! ```yaml
//! name: expense-questions
//! dataset: questions.jsonl          # one JSON object a line: the prompt's inputs and expectations
//! variants: [prompts/terse, prompts/friendly.yaml, flows/qa]   # SK prompt dirs, prompt YAML, Prompt flows
//! models: [local]                   # or {name, base_url, model, api_key_env}
//! checks:
//!   - contains: expected            # the row field each check reads
//!   - regex: '\$[0-9]'
//!   - numbers: numbers
//!   - rubric: The answer gives one dollar sum and names the category.
//!   - row_rubric: rubric            # each row's own rubric, from its field
//! threshold: 0.8                    # share of rows that must pass every check
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn invalid(path: &Path, message: impl Into<String>) -> SuiteError {
    SuiteError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    name: String,
    dataset: PathBuf,
    variants: Vec<PathBuf>,
    #[serde(default = "local_only")]
    models: Vec<ModelSpec>,
    /// `- contains: expected` rather than YAML's tag form `- !contains expected`.
    #[serde(with = "serde_yaml_ng::with::singleton_map_recursive")]
    checks: Vec<Check>,
    #[serde(default = "all_rows")]
    threshold: f64,
}

fn local_only() -> Vec<ModelSpec> {
    vec![ModelSpec::Named("local".into())]
}

fn all_rows() -> f64 {
    1.0
}

/// A model to run the variants on: `local` (the process's own), or an OpenAI-compatible
/// endpoint whose key is read from an environment variable, never from the suite.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ModelSpec {
    Named(String),
    Endpoint {
        name: String,
        base_url: String,
        model: String,
        api_key_env: Option<String>,
    },
}

impl ModelSpec {
    pub fn name(&self) -> &str {
        match self {
            Self::Named(name) | Self::Endpoint { name, .. } => name,
        }
    }
}

/// One check, as the suite writes it: its kind is its only key.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// The answer, trimmed, equals the row's field; a field that is JSON (not a string) is
    /// compared with the answer read as JSON.
    Exact(String),
    /// The answer contains the row's field (a string, or every string of a list), ignoring case.
    Contains(String),
    /// The answer matches the pattern.
    Regex(String),
    /// The answer is JSON valid against the schema.
    JsonSchema(Value),
    /// Every number in the answer is one of the row field's numbers (to its rounding), so an
    /// answer states only figures the finance engine gave it.
    Numbers(String),
    /// Every `[n]` in the answer, or every `{source, quote}` of a JSON answer's `citations`,
    /// cites one of the row field's sources, and at least one does; a quote must be words of
    /// the source it names.
    Citations(String),
    /// A model grades the answer against the rubric from 1 to 5; 4 or more passes.
    Rubric(String),
    /// As `rubric`, with each row's own rubric from the named field: what a good answer says
    /// to this person.
    RowRubric(String),
}

impl Check {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Exact(_) => "exact",
            Self::Contains(_) => "contains",
            Self::Regex(_) => "regex",
            Self::JsonSchema(_) => "json_schema",
            Self::Numbers(_) => "numbers",
            Self::Citations(_) => "citations",
            Self::Rubric(_) => "rubric",
            Self::RowRubric(_) => "row_rubric",
        }
    }
}

/// A suite read and checked: every path resolved, every row parsed, every pattern compiled.
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    pub path: PathBuf,
    pub rows: Vec<Value>,
    pub variants: Vec<PathBuf>,
    pub models: Vec<ModelSpec>,
    pub checks: Vec<Check>,
    pub threshold: f64,
}

impl Suite {
    pub fn load(path: &Path) -> Result<Self, SuiteError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| SuiteError::Io {
                path: p.to_path_buf(),
                source,
            })
        };
        let file: SuiteFile =
            serde_yaml_ng::from_str(&read(path)?).map_err(|e| invalid(path, e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if !(0.0..=1.0).contains(&file.threshold) {
            return Err(invalid(path, "`threshold` is a share of rows, from 0 to 1"));
        }
        if file.variants.is_empty() || file.checks.is_empty() || file.models.is_empty() {
            return Err(invalid(
                path,
                "a suite needs at least one variant, one model and one check",
            ));
        }
        for check in &file.checks {
            match check {
                Check::Regex(pattern) => {
                    regex::Regex::new(pattern)
                        .map_err(|e| invalid(path, format!("`regex` {pattern:?}: {e}")))?;
                }
                Check::JsonSchema(schema) => {
                    jsonschema::validator_for(schema)
                        .map_err(|e| invalid(path, format!("`json_schema`: {e}")))?;
                }
                _ => {}
            }
        }
        let dataset = base.join(&file.dataset);
        let rows = read(&dataset)?
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| match serde_json::from_str::<Value>(line) {
                Ok(row @ Value::Object(_)) => Ok(row),
                Ok(_) => Err(invalid(
                    &dataset,
                    format!("line {}: expected a JSON object", i + 1),
                )),
                Err(e) => Err(invalid(&dataset, format!("line {}: {e}", i + 1))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if rows.is_empty() {
            return Err(invalid(&dataset, "the dataset has no rows"));
        }
        let mut names: Vec<&str> = file.models.iter().map(ModelSpec::name).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid(path, "two models share a name"));
        }
        Ok(Self {
            name: file.name,
            path: path.to_path_buf(),
            rows,
            variants: file.variants.iter().map(|v| base.join(v)).collect(),
            models: file.models,
            checks: file.checks,
            threshold: file.threshold,
        })
    }
}
