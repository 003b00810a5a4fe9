//! What a run adds up to: per model and variant, the share of rows that passed every check,
//! each check's own pass rate and the time an answer took; whether the threshold was met; a
//! comparison with an earlier run; and the static HTML report of it all.

use std::{collections::BTreeMap, path::Path};

use serde::{Deserialize, Serialize};

use crate::run::{read_info, read_results, RowResult, RunInfo};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub run: RunInfo,
    pub variants: Vec<VariantScore>,
    /// Every model and variant passed at least the threshold's share of rows.
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantScore {
    pub model: String,
    pub variant: String,
    /// Rows with an answer stored; the rest are still to run.
    pub answered: usize,
    pub errors: usize,
    pub passed: usize,
    /// Passed rows over all the suite's rows: a row not run counts as not passed.
    pub pass_rate: f64,
    /// Each check's pass rate over the answered rows.
    pub checks: BTreeMap<String, f64>,
    pub mean_latency_ms: f64,
}

/// Adds up the run in `dir`.
pub fn summarise(dir: &Path) -> anyhow::Result<Summary> {
    let run = read_info(dir)?;
    let results = read_results(dir)?;
    let mut variants = Vec::new();
    for model in &run.models {
        for variant in &run.variants {
            let rows: Vec<&RowResult> = results
                .iter()
                .filter(|r| &r.model == model && &r.variant == variant)
                .collect();
            let answered: Vec<&&RowResult> = rows.iter().filter(|r| r.error.is_none()).collect();
            let mut checks: BTreeMap<String, (usize, usize)> = BTreeMap::new();
            for row in &answered {
                for outcome in &row.outcomes {
                    let tally = checks.entry(outcome.check.clone()).or_default();
                    tally.0 += usize::from(outcome.passed);
                    tally.1 += 1;
                }
            }
            let passed = rows.iter().filter(|r| r.passed()).count();
            variants.push(VariantScore {
                model: model.clone(),
                variant: variant.clone(),
                answered: answered.len(),
                errors: rows.len() - answered.len(),
                passed,
                pass_rate: passed as f64 / run.rows.max(1) as f64,
                checks: checks
                    .into_iter()
                    .map(|(name, (ok, all))| (name, ok as f64 / all.max(1) as f64))
                    .collect(),
                mean_latency_ms: answered.iter().map(|r| r.latency_ms as f64).sum::<f64>()
                    / answered.len().max(1) as f64,
            });
        }
    }
    let passed = variants.iter().all(|v| v.pass_rate >= run.threshold);
    Ok(Summary {
        run,
        variants,
        passed,
    })
}

/// Writes `summary.json` and `report.html` into the run's directory.
pub fn write(dir: &Path, summary: &Summary) -> anyhow::Result<()> {
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_vec_pretty(summary)?,
    )?;
    let results = read_results(dir)?;
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)?;
    let html = env
        .get_template("report.html")?
        .render(minijinja::context! {
            summary => summary,
            results => results,
            failures => results.iter().filter(|r| !r.passed()).collect::<Vec<_>>(),
        })?;
    std::fs::write(dir.join("report.html"), html)?;
    Ok(())
}

/// How each model and variant moved from `before` to `after`, one line each, for a terminal.
pub fn compare(before: &Summary, after: &Summary) -> Vec<String> {
    after
        .variants
        .iter()
        .map(|now| {
            let then = before
                .variants
                .iter()
                .find(|v| v.model == now.model && v.variant == now.variant);
            match then {
                Some(then) => format!(
                    "{} / {}: {:.0}% → {:.0}% ({:+.0} points)",
                    now.model,
                    now.variant,
                    then.pass_rate * 100.0,
                    now.pass_rate * 100.0,
                    (now.pass_rate - then.pass_rate) * 100.0
                ),
                None => format!(
                    "{} / {}: {:.0}% (not in the earlier run)",
                    now.model,
                    now.variant,
                    now.pass_rate * 100.0
                ),
            }
        })
        .collect()
}

/// The report: a table and a bar per model and variant, then every row that failed with why.
/// Named `.html`, so minijinja escapes every value: answers cannot inject markup.
const TEMPLATE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ summary.run.suite }} · {{ summary.run.id }}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #0f172a; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0 2rem; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
.bar { fill: #0f766e; } .miss { fill: #e2e8f0; } .line { stroke: #b91c1c; stroke-width: 2; }
.fail { color: #b91c1c; } .pass { color: #15803d; } pre { white-space: pre-wrap; margin: 0; }
</style></head><body>
<h1>{{ summary.run.suite }}</h1>
<p>Run <code>{{ summary.run.id }}</code>, started {{ summary.run.startedAt }}: {{ summary.run.rows }} rows ×
{{ summary.run.variants | length }} variants × {{ summary.run.models | length }} models. Threshold
{{ (summary.run.threshold * 100) | round | int }}% of rows passing every check:
{% if summary.passed %}<strong class="pass">met</strong>{% else %}<strong class="fail">missed</strong>{% endif %}.</p>
<svg width="100%" height="{{ summary.variants | length * 34 + 10 }}" role="img" aria-label="pass rate per model and variant">
{% for v in summary.variants %}
<text x="0" y="{{ loop.index0 * 34 + 22 }}" font-size="13">{{ v.model }} / {{ v.variant }}</text>
<rect class="miss" x="260" y="{{ loop.index0 * 34 + 6 }}" width="600" height="22"/>
<rect class="bar" x="260" y="{{ loop.index0 * 34 + 6 }}" width="{{ v.passRate * 600 }}" height="22"/>
<text x="870" y="{{ loop.index0 * 34 + 22 }}" font-size="13">{{ (v.passRate * 100) | round | int }}%</text>
{% endfor %}
<line class="line" x1="{{ 260 + summary.run.threshold * 600 }}" x2="{{ 260 + summary.run.threshold * 600 }}" y1="0" y2="{{ summary.variants | length * 34 + 10 }}"/>
</svg>
<table><thead><tr><th>model</th><th>variant</th><th>passed</th><th>answered</th><th>errors</th><th>checks</th><th>mean latency</th></tr></thead><tbody>
{% for v in summary.variants %}<tr><td>{{ v.model }}</td><td>{{ v.variant }}</td><td>{{ v.passed }} ({{ (v.passRate * 100) | round | int }}%)</td>
<td>{{ v.answered }}</td><td>{{ v.errors }}</td>
<td>{% for name, rate in v.checks | items %}{{ name }} {{ (rate * 100) | round | int }}%{% if not loop.last %}, {% endif %}{% endfor %}</td>
<td>{{ v.meanLatencyMs | round | int }} ms</td></tr>{% endfor %}
</tbody></table>
<h2>Rows that did not pass ({{ failures | length }} of {{ results | length }})</h2>
<table><thead><tr><th>model / variant</th><th>row</th><th>answer</th><th>why</th></tr></thead><tbody>
{% for r in failures %}<tr><td>{{ r.model }} / {{ r.variant }}</td><td>{{ r.row + 1 }}</td><td><pre>{{ r.answer }}</pre></td>
<td>{% if r.error %}<span class="fail">{{ r.error }}</span>{% endif %}{% for o in r.outcomes %}{% if not o.passed %}<div class="fail">{{ o.check }}: {{ o.detail }}</div>{% endif %}{% endfor %}</td></tr>
{% endfor %}</tbody></table>
</body></html>
"#;
