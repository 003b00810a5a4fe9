//! `miyagi eval`: runs an evaluation suite (`miyagi_eval`) on the local model or any
//! OpenAI-compatible endpoint, resumes a stopped run, compares two runs. The exit code says
//! whether the suite's threshold was met, so CI can gate on it.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::Subcommand;
use miyagi_eval::{finance, report, run, ModelSpec, Suite};
use miyagi_kernel::{
    connectors::openai::{OpenAiClient, OpenAiConfig},
    flow::Flow,
    Kernel,
};
use miyagi_platform::config::ModelsConfig;

#[derive(Subcommand)]
pub enum EvalAction {
    /// Run a suite (its YAML file), or resume a run of it, and write its report.
    Run {
        suite: PathBuf,
        /// Where runs are kept, one folder each.
        #[arg(long, default_value = "eval-runs")]
        runs_dir: PathBuf,
        /// A run folder of the same suite to go on with: answers it has are not asked again.
        #[arg(long)]
        resume: Option<PathBuf>,
        /// Grade rubrics with this model of the suite's (by name); the first model when left out.
        #[arg(long)]
        grader: Option<String>,
    },
    /// How a run's pass rates moved from an earlier run's.
    Compare { before: PathBuf, after: PathBuf },
    /// Run a Prompt flow (`flow.dag.yaml`, or its folder) once on the local model and print its
    /// outputs as JSON.
    Flow {
        flow: PathBuf,
        /// The flow's inputs, as a JSON object.
        #[arg(long, default_value = "{}")]
        inputs: String,
    },
}

/// Exit codes: 0 the threshold was met, 1 it was missed, 2 the suite could not be run.
pub fn command(models: &ModelsConfig, action: EvalAction) -> ExitCode {
    let result = match action {
        EvalAction::Run {
            suite,
            runs_dir,
            resume,
            grader,
        } => super::block_on(run_suite(models, &suite, &runs_dir, resume, grader)),
        EvalAction::Compare { before, after } => compare(&before, &after).map(|()| true),
        EvalAction::Flow { flow, inputs } => {
            super::block_on(run_flow(models, &flow, &inputs)).map(|()| true)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run_suite(
    config: &ModelsConfig,
    path: &std::path::Path,
    runs_dir: &std::path::Path,
    resume: Option<PathBuf>,
    grader: Option<String>,
) -> anyhow::Result<bool> {
    let suite = Suite::load(path)?;
    let mut local: Option<Kernel> = None;
    let mut models = Vec::new();
    for spec in &suite.models {
        let kernel = match spec {
            ModelSpec::Named(name) if name == "local" => match &local {
                Some(kernel) => kernel.clone(),
                None => {
                    let loaded = super::local_models(config)?;
                    let kernel = loaded
                        .chat
                        .ok_or_else(|| anyhow::anyhow!("model `local` needs `models.local` on"))?;
                    local = Some(kernel.clone());
                    kernel
                }
            },
            ModelSpec::Named(other) => anyhow::bail!(
                "{}: unknown model {other:?}; `local`, or an endpoint with name, base_url, model and api_key_env",
                path.display()
            ),
            ModelSpec::Endpoint {
                base_url,
                model,
                api_key_env,
                ..
            } => {
                let key = api_key_env
                    .as_ref()
                    .map(|var| {
                        std::env::var(var).map_err(|_| {
                            anyhow::anyhow!("{}: the environment variable {var} holds no API key", path.display())
                        })
                    })
                    .transpose()?;
                let client = OpenAiClient::new(OpenAiConfig::openai(base_url, model, key.as_deref()))?;
                Kernel::builder().chat_model(Arc::new(client)).build()
            }
        };
        models.push(run::Model::new(spec.name(), &kernel));
    }
    let grader = match &grader {
        Some(name) => Some(
            &models
                .iter()
                .find(|m| &m.name == name)
                .ok_or_else(|| {
                    anyhow::anyhow!("--grader {name:?} is not one of the suite's models")
                })?
                .kernel,
        ),
        None => models.first().map(|m| &m.kernel),
    };
    let dir = run::run(&suite, &models, grader, runs_dir, resume.as_deref()).await?;
    let summary = report::summarise(&dir)?;
    report::write(&dir, &summary)?;
    for v in &summary.variants {
        println!(
            "{:<20} {:<20} {:>3}/{} passed ({:.0}%), {} errors, {:.0} ms an answer",
            v.model,
            v.variant,
            v.passed,
            summary.run.rows,
            v.pass_rate * 100.0,
            v.errors,
            v.mean_latency_ms
        );
    }
    println!(
        "threshold {:.0}%: {}; report {}",
        summary.run.threshold * 100.0,
        if summary.passed { "met" } else { "missed" },
        dir.join("report.html").display()
    );
    Ok(summary.passed)
}

async fn run_flow(
    config: &ModelsConfig,
    path: &std::path::Path,
    inputs: &str,
) -> anyhow::Result<()> {
    let path = if path.is_dir() {
        path.join("flow.dag.yaml")
    } else {
        path.to_path_buf()
    };
    let flow = Flow::load(&path)?;
    let inputs: serde_json::Map<String, serde_json::Value> = serde_json::from_str(inputs)
        .map_err(|e| anyhow::anyhow!("--inputs must be a JSON object: {e}"))?;
    let kernel = super::local_models(config)?.chat.ok_or_else(|| {
        anyhow::anyhow!("a flow runs on the local model, which needs `models.local` on")
    })?;
    let outputs = flow.run(&finance::with_engine(&kernel), &inputs).await?;
    println!("{}", serde_json::to_string_pretty(&outputs)?);
    Ok(())
}

fn compare(before: &std::path::Path, after: &std::path::Path) -> anyhow::Result<()> {
    let (before, after) = (report::summarise(before)?, report::summarise(after)?);
    for line in report::compare(&before, &after) {
        println!("{line}");
    }
    Ok(())
}
