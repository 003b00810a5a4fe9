//! The advice eval set: `evals/advice/households.jsonl` (30 households of varied ages, risk,
//! portfolios, stocks and favourite advisors) through the running service on the default local
//! model, graded as a reader would read the answer. Two kinds of bar:
//!
//! - what a person must never see, on every household: a note that is a bare number, a
//!   narrative without the person's target stock share or under four sentences (two of the
//!   code's, two after them), a citation without its quote, a percentage or amount in the text
//!   that is none of the engine's;
//! - how often the model's own words survive its checks ([`MODEL_NARRATIVE_SHARE`], on runs of
//!   the whole set), so that a prompt or model change that makes the model fail more (and the
//!   template speak more) fails the gate instead of passing quietly.
//!
//! Each household's grade and the narrative it got are printed, so a run can be read.

use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::call;

/// Share of households whose narrative the model wrote (the rest fell back to the template),
/// held to on runs of at least [`GATED_RUN`] households: a bar against getting worse. SmolLM2-135M,
/// the default model, wrote 10 of 10 on 2026-12-05 (BENCHMARKS.md, "Advice in one attempt").
const MODEL_NARRATIVE_SHARE: f64 = 0.8;
/// Share of households whose first answer passed the checks, on the same runs: an answer that
/// fails is written twice, which is most of a slow cold answer. 22 of 30 on 2026-12-05.
const FIRST_TRY_SHARE: f64 = 0.7;
const GATED_RUN: usize = 10;
/// Households run when `ADVICE_EVAL_HOUSEHOLDS` does not say: each costs a model answer or two
/// (about ten seconds on 2 cores in the test profile), so CI runs the first one and the whole
/// set is run by hand (`ADVICE_EVAL_HOUSEHOLDS=30`) for BENCHMARKS.md.
const DEFAULT_RUN: usize = 1;

const HOUSEHOLDS: &str = include_str!("../../../../../evals/advice/households.jsonl");

#[derive(Debug, Default)]
struct Grade {
    failures: Vec<String>,
    model_narrative: bool,
    first_try: bool,
    rejected_citations: usize,
    refused: usize,
}

#[tokio::test]
async fn the_eval_households_get_advice_a_person_can_read() {
    let households: Vec<Value> = HOUSEHOLDS
        .lines()
        .map(|line| serde_json::from_str(line).expect("an eval household"))
        .collect();
    assert!(
        households.len() >= 30,
        "the eval set has {}",
        households.len()
    );
    let run = std::env::var("ADVICE_EVAL_HOUSEHOLDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_RUN);
    let mut grades = Vec::new();
    for household in households.iter().take(run) {
        let mut body = household.clone();
        let id = body
            .as_object_mut()
            .unwrap()
            .remove("id")
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        body["userInfo"]["userId"] = json!(uuid::Uuid::new_v4());
        let started = Instant::now();
        let (status, advice) = call("erin", Method::POST, "/api/v1/personalize", Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{id}: {advice}");
        let grade = grade(&advice);
        println!(
            "{id} {:>5.1}s attempts={} by={} refused={} failures={:?}\n    {}",
            started.elapsed().as_secs_f64(),
            advice["writing"]["attempts"],
            advice["writing"]["narrativeBy"],
            advice["writing"]["refused"],
            grade.failures,
            advice["narrative"].as_str().unwrap_or_default()
        );
        grades.push((id, grade));
    }
    let share = |pick: fn(&Grade) -> bool| {
        grades.iter().filter(|(_, g)| pick(g)).count() as f64 / grades.len() as f64
    };
    let model_share = share(|g| g.model_narrative);
    let first_try_share = share(|g| g.first_try);
    println!(
        "eval: {} households; narrative by the model {:.0}%; first answer passed {:.0}%; rejected citations {}; refused parts {}",
        grades.len(),
        model_share * 100.0,
        first_try_share * 100.0,
        grades.iter().map(|(_, g)| g.rejected_citations).sum::<usize>(),
        grades.iter().map(|(_, g)| g.refused).sum::<usize>(),
    );
    let failed: Vec<_> = grades
        .iter()
        .filter(|(_, g)| !g.failures.is_empty())
        .collect();
    assert!(
        failed.is_empty(),
        "advice a person should never see: {failed:#?}"
    );
    assert!(
        grades.len() < GATED_RUN || model_share >= MODEL_NARRATIVE_SHARE,
        "the model wrote only {:.0}% of the narratives",
        model_share * 100.0
    );
    assert!(
        grades.len() < GATED_RUN || first_try_share >= FIRST_TRY_SHARE,
        "only {:.0}% of the first answers passed the checks",
        first_try_share * 100.0
    );
}

fn grade(advice: &Value) -> Grade {
    let mut failures = Vec::new();
    let engine = &advice["engine"];
    let narrative = advice["narrative"].as_str().unwrap_or_default();
    let target = format!(
        "{:.0}%",
        engine["target"]["stocks"].as_f64().unwrap() * 100.0
    );
    if !narrative.contains(&target) {
        failures.push(format!(
            "the narrative misses the target stock share {target}"
        ));
    }
    let sentences = narrative
        .split_terminator(['.', '!', '?'])
        .filter(|s| {
            s.split_whitespace()
                .filter(|w| w.chars().any(char::is_alphabetic))
                .count()
                >= 3
        })
        .count();
    if sentences < 4 {
        failures.push(format!("the narrative has {sentences} sentences"));
    }
    let recommendations = advice["assets"]["portfolio"]
        .as_array()
        .unwrap()
        .iter()
        .chain(advice["investments"]["portfolio"].as_array().unwrap());
    for rec in recommendations {
        let text = rec["gptRecommendation"].as_str().unwrap_or_default();
        let last = text.rsplit(". ").next().unwrap_or_default();
        if !last.chars().any(char::is_alphabetic) {
            failures.push(format!("a note says nothing: {text}"));
        }
    }
    for citation in advice["citations"].as_array().unwrap() {
        if citation["snippet"].as_str().is_none_or(str::is_empty) {
            failures.push(format!("a citation without its quote: {citation}"));
        }
    }
    let (percents, amounts) = engine_figures(engine);
    for (figure, percent) in written_figures(narrative) {
        let known = if percent { &percents } else { &amounts };
        let tolerance = |k: f64| if percent { 1.0 } else { 0.05 * k.abs() + 1.0 };
        if !known.iter().any(|k| (figure - k).abs() <= tolerance(*k)) {
            failures.push(format!(
                "the narrative states a figure the engine did not: {figure}"
            ));
        }
    }
    Grade {
        failures,
        model_narrative: advice["writing"]["narrativeBy"] == "model",
        first_try: advice["writing"]["attempts"] == 1,
        rejected_citations: advice["rejectedCitations"].as_array().map_or(0, Vec::len),
        refused: advice["writing"]["refused"].as_array().map_or(0, Vec::len),
    }
}

/// The engine's percentages (in percent) and amounts (in dollars), as the advice states them.
fn engine_figures(engine: &Value) -> (Vec<f64>, Vec<f64>) {
    let mut percents = Vec::new();
    for mix in [&engine["target"], &engine["current"]] {
        if let Some(mix) = mix.as_object() {
            percents.extend(mix.values().filter_map(Value::as_f64).map(|v| v * 100.0));
        }
    }
    for holding in engine["stocks"]["holdings"].as_array().unwrap() {
        for key in ["weight", "portfolioWeight", "volatility"] {
            percents.extend(holding[key].as_f64().map(|v| v * 100.0));
        }
    }
    let household = &engine["household"];
    let mut amounts: Vec<f64> = ["annualIncome", "assets", "liabilities"]
        .iter()
        .filter_map(|key| household[*key].as_f64())
        .collect();
    if let Some(end) = engine["projection"]["years"]
        .as_array()
        .and_then(|y| y.last())
    {
        amounts.extend(
            ["p10", "p50", "p90"]
                .iter()
                .filter_map(|k| end[*k].as_f64()),
        );
    }
    (percents, amounts)
}

/// Percentages and dollar amounts in `text`: (value, is a percentage).
fn written_figures(text: &str) -> Vec<(f64, bool)> {
    let mut found = Vec::new();
    for word in text.split_whitespace() {
        let word = word.trim_end_matches([',', '.', ';', ':', ')']);
        if let Some(number) = word.strip_suffix('%') {
            if let Ok(v) = number.parse() {
                found.push((v, true));
            }
        } else if let Some(amount) = word.strip_prefix('$') {
            let (digits, scale) = match amount.chars().last() {
                Some('M') => (&amount[..amount.len() - 1], 1e6),
                Some('k') => (&amount[..amount.len() - 1], 1e3),
                _ => (amount, 1.0),
            };
            if let Ok(v) = digits.replace(',', "").parse::<f64>() {
                found.push((v * scale, false));
            }
        }
    }
    found
}
