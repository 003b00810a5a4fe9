//! The agents Miyagi ships, each a plan over the tools made from the person's inputs; and
//! `custom`, whose plan the person (or the model's proposal they accepted) gives.

use std::collections::BTreeMap;

use miyagi_kernel::structured::schema_for;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::retirement::RetirementInputs;
use crate::model::{Agent, PlanStep};

pub const REBALANCER: &str = "rebalancer";
pub const RETIREMENT_PLANNER: &str = "retirement-planner";
pub const ANALYST: &str = "equity-analyst";
pub const CUSTOM: &str = "custom";

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RebalancerInputs {
    /// Target weight per symbol (any scale); without, every holding gets an equal share.
    pub targets: Option<BTreeMap<String, f64>>,
    /// How far a weight may drift (a fraction of the stocks) before it is traded; 0.05 by
    /// default.
    #[schemars(range(min = 0.01, max = 0.5))]
    pub band: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalystInputs {
    /// One of the traded symbols (`/api/v1/markets/symbols`).
    #[schemars(length(min = 1, max = 12))]
    pub symbol: String,
    /// The company's name, which documents use more than its symbol (`Microsoft`).
    #[schemars(length(max = 80))]
    pub company: Option<String>,
}

/// A custom run's inputs: none, its plan says it all.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInputs {}

pub fn agents() -> Vec<Agent> {
    vec![
        Agent {
            name: REBALANCER.into(),
            title: "Rebalancer".into(),
            description: "Reads what your paper account holds, proposes the orders that bring drifted holdings back to their target weights, and places them once you approve.".into(),
            inputs: schema_for::<RebalancerInputs>(),
        },
        Agent {
            name: RETIREMENT_PLANNER.into(),
            title: "Retirement planner".into(),
            description: "Simulates your savings to retirement as planned and with two changes you could make, and writes a report comparing them.".into(),
            inputs: schema_for::<RetirementInputs>(),
        },
        Agent {
            name: ANALYST.into(),
            title: "Equity analyst".into(),
            description: "Gathers what your documents say about a stock and its market data, and writes an analysis citing your documents.".into(),
            inputs: schema_for::<AnalystInputs>(),
        },
        Agent {
            name: CUSTOM.into(),
            title: "Your own plan".into(),
            description: "Runs a plan of tools you wrote or accepted from the planner.".into(),
            inputs: schema_for::<NoInputs>(),
        },
    ]
}

/// The default goal of a shipped agent's run.
pub fn goal(agent: &str) -> Option<&'static str> {
    match agent {
        REBALANCER => Some("Bring my paper portfolio back to its target weights"),
        RETIREMENT_PLANNER => Some("See where my savings take me by retirement"),
        ANALYST => Some("Tell me what my documents and the market say about a stock"),
        _ => None,
    }
}

/// The plan of a shipped agent for `inputs`; `Err` says what is wrong with the inputs.
pub fn plan(agent: &str, inputs: &Value) -> Result<Vec<PlanStep>, String> {
    let step = |tool: &str, purpose: &str, arguments: Value| PlanStep {
        tool: tool.into(),
        purpose: purpose.into(),
        arguments,
    };
    match agent {
        REBALANCER => {
            let inputs: RebalancerInputs = parse(inputs)?;
            let mut propose = json!({"positions": {"$output": 0, "field": "positions"}});
            if let Some(targets) = inputs.targets {
                propose["targets"] = json!(targets);
            }
            if let Some(band) = inputs.band {
                propose["band"] = json!(band);
            }
            Ok(vec![
                step(
                    "read-positions",
                    "see what the account holds and what it is worth",
                    json!({}),
                ),
                step(
                    "propose-rebalance",
                    "work out the orders that close the drift",
                    propose,
                ),
                step(
                    "place-orders",
                    "place the orders, once you approve them",
                    json!({"orders": {"$output": 1, "field": "orders"}}),
                ),
            ])
        }
        RETIREMENT_PLANNER => {
            let _: RetirementInputs = parse(inputs)?;
            Ok(vec![
                step(
                    "project-retirement",
                    "simulate the plan and two variations",
                    inputs.clone(),
                ),
                step(
                    "write-retirement-report",
                    "explain what the simulations mean",
                    json!({"projections": {"$output": 0}}),
                ),
            ])
        }
        ANALYST => {
            let inputs: AnalystInputs = parse(inputs)?;
            let symbol = inputs.symbol.trim().to_ascii_uppercase();
            let query = match inputs.company.as_deref().map(str::trim) {
                Some(company) if !company.is_empty() => format!("{symbol} {company}"),
                _ => symbol.clone(),
            };
            Ok(vec![
                step("search-documents", "find what your documents say about it", json!({"query": query})),
                step("market-data", "read its prices and what you hold", json!({"symbol": symbol})),
                step(
                    "write-analysis",
                    "write the analysis, citing your documents",
                    json!({"market": {"$output": 1}, "passages": {"$output": 0, "field": "passages"}}),
                ),
            ])
        }
        _ => Err(format!(
            "`{agent}` is not an agent; one of {REBALANCER}, {RETIREMENT_PLANNER}, {ANALYST}, {CUSTOM}"
        )),
    }
}

fn parse<T: serde::de::DeserializeOwned>(inputs: &Value) -> Result<T, String> {
    serde_json::from_value(inputs.clone()).map_err(|e| e.to_string())
}
