//! The tools a plan may use: their names, what they take (a JSON Schema derived from the
//! argument type, which checks a plan before it runs and a step's arguments before it runs),
//! and which of them change something and so wait for the person.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use miyagi_kernel::structured::schema_for;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::analyst::MarketFacts;
use super::rebalance::{Holding, OrderProposal};
use super::retirement::{Projections, RetirementInputs};

/// The most orders one approval may place.
pub const MAX_ORDERS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolName {
    ReadPositions,
    ProposeRebalance,
    PlaceOrders,
    ProjectRetirement,
    WriteRetirementReport,
    SearchDocuments,
    MarketData,
    WriteAnalysis,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadPositionsArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProposeRebalanceArgs {
    pub positions: Vec<Holding>,
    /// Target weight per symbol (any scale; normalised). Without, every holding gets an equal
    /// share.
    pub targets: Option<BTreeMap<String, f64>>,
    /// How far (a fraction of the stocks, 0.01–0.5) a weight may drift before it is traded;
    /// 0.05 by default.
    #[schemars(range(min = 0.01, max = 0.5))]
    pub band: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceOrdersArgs {
    /// Market orders for whole shares, sells first.
    #[schemars(length(max = 20))]
    pub orders: Vec<OrderProposal>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteReportArgs {
    pub projections: Projections,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchDocumentsArgs {
    #[schemars(length(min = 1, max = 200))]
    pub query: String,
    /// Passages to return, 1–8 (default 6).
    #[schemars(range(min = 1, max = 8))]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarketDataArgs {
    #[schemars(length(min = 1, max = 12))]
    pub symbol: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteAnalysisArgs {
    pub market: MarketFacts,
    /// `search-documents`' passages.
    pub passages: Vec<Value>,
}

/// A step's tool as the OpenAPI document states it: one of [`ToolName::ALL`].
pub(crate) fn tool_name_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(ToolName::ALL.map(ToolName::name)))
        .examples([serde_json::json!("read-positions")])
        .build()
}

impl ToolName {
    pub const ALL: [ToolName; 8] = [
        ToolName::ReadPositions,
        ToolName::ProposeRebalance,
        ToolName::PlaceOrders,
        ToolName::ProjectRetirement,
        ToolName::WriteRetirementReport,
        ToolName::SearchDocuments,
        ToolName::MarketData,
        ToolName::WriteAnalysis,
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|tool| tool.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            ToolName::ReadPositions => "read-positions",
            ToolName::ProposeRebalance => "propose-rebalance",
            ToolName::PlaceOrders => "place-orders",
            ToolName::ProjectRetirement => "project-retirement",
            ToolName::WriteRetirementReport => "write-retirement-report",
            ToolName::SearchDocuments => "search-documents",
            ToolName::MarketData => "market-data",
            ToolName::WriteAnalysis => "write-analysis",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            ToolName::ReadPositions => {
                "The stocks your paper trading account holds, with their prices now."
            }
            ToolName::ProposeRebalance => {
                "The orders that bring drifted holdings back to their target weights, sells first."
            }
            ToolName::PlaceOrders => {
                "Places market orders in your paper trading account. Waits for your approval."
            }
            ToolName::ProjectRetirement => {
                "Simulates your savings to retirement as planned, saving a fifth more and retiring two years later."
            }
            ToolName::WriteRetirementReport => {
                "Writes a retirement report from the projections."
            }
            ToolName::SearchDocuments => "The passages of your own documents that best match a query.",
            ToolName::MarketData => {
                "A stock's last close, its past year's return, volatility and range, and what you hold of it."
            }
            ToolName::WriteAnalysis => {
                "Writes an analysis of a stock from its market data and your documents' passages, citing them."
            }
        }
    }

    /// The argument of later tools this tool's output supplies: its name, and the field of the
    /// output it is (`None`: the whole output). Plans are wired by it.
    pub fn supplies(self) -> Option<(&'static str, Option<&'static str>)> {
        match self {
            ToolName::ReadPositions => Some(("positions", Some("positions"))),
            ToolName::ProposeRebalance => Some(("orders", Some("orders"))),
            ToolName::ProjectRetirement => Some(("projections", None)),
            ToolName::SearchDocuments => Some(("passages", Some("passages"))),
            ToolName::MarketData => Some(("market", None)),
            ToolName::PlaceOrders | ToolName::WriteRetirementReport | ToolName::WriteAnalysis => {
                None
            }
        }
    }

    /// It changes something outside the run, so the run waits for the person before it runs.
    pub fn needs_approval(self) -> bool {
        self == ToolName::PlaceOrders
    }

    pub fn parameters(self) -> &'static Value {
        static SCHEMAS: LazyLock<Vec<Value>> = LazyLock::new(|| {
            ToolName::ALL
                .into_iter()
                .map(|tool| match tool {
                    ToolName::ReadPositions => schema_for::<ReadPositionsArgs>(),
                    ToolName::ProposeRebalance => schema_for::<ProposeRebalanceArgs>(),
                    ToolName::PlaceOrders => schema_for::<PlaceOrdersArgs>(),
                    ToolName::ProjectRetirement => schema_for::<RetirementInputs>(),
                    ToolName::WriteRetirementReport => schema_for::<WriteReportArgs>(),
                    ToolName::SearchDocuments => schema_for::<SearchDocumentsArgs>(),
                    ToolName::MarketData => schema_for::<MarketDataArgs>(),
                    ToolName::WriteAnalysis => schema_for::<WriteAnalysisArgs>(),
                })
                .collect()
        });
        &SCHEMAS[self.index()]
    }

    fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|tool| *tool == self)
            .expect("every tool is in ALL")
    }

    /// What is wrong with `arguments` for this tool, one message per fault, each naming where.
    pub fn check(self, arguments: &Value) -> Vec<String> {
        static VALIDATORS: LazyLock<Vec<jsonschema::Validator>> = LazyLock::new(|| {
            ToolName::ALL
                .into_iter()
                .map(|tool| {
                    jsonschema::validator_for(tool.parameters()).expect("derived schemas compile")
                })
                .collect()
        });
        let mut faults: Vec<String> = VALIDATORS[self.index()]
            .iter_errors(arguments)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{at}: {e}")
                }
            })
            .collect();
        if faults.is_empty() {
            // What a schema cannot say.
            let rule = match self {
                ToolName::ProjectRetirement => serde_json::from_value(arguments.clone())
                    .map_err(|e| e.to_string())
                    .and_then(|inputs| super::retirement::check(&inputs)),
                ToolName::PlaceOrders => {
                    serde_json::from_value::<PlaceOrdersArgs>(arguments.clone())
                        .map_err(|e| e.to_string())
                        .and_then(|args| {
                            if args.orders.len() > MAX_ORDERS {
                                Err(format!("/orders: at most {MAX_ORDERS} orders"))
                            } else {
                                Ok(())
                            }
                        })
                }
                _ => serde_json::from_value::<serde::de::IgnoredAny>(arguments.clone())
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            faults.extend(rule.err());
        }
        faults
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn arguments_that_miss_a_field_are_refused_naming_it() {
        let faults = ToolName::ProjectRetirement.check(&json!({"age": 40}));
        assert!(
            faults.iter().any(|f| f.contains("retirementAge")),
            "{faults:?}"
        );
    }

    #[test]
    fn an_order_with_an_unknown_side_is_refused_where_it_is() {
        let faults = ToolName::PlaceOrders
            .check(&json!({"orders": [{"symbol": "AAPL", "side": "short", "qty": 3}]}));
        assert!(faults[0].starts_with("/orders/0/side"), "{faults:?}");
    }

    #[test]
    fn only_placing_orders_waits_for_the_person() {
        let waiting: Vec<&str> = ToolName::ALL
            .into_iter()
            .filter(|t| t.needs_approval())
            .map(ToolName::name)
            .collect();
        assert_eq!(waiting, ["place-orders"]);
    }
}
