//! What each tool does when its step runs: reads of the service's copies and of the documents,
//! the computations, the model's writing, and the orders a person approved (the one effect,
//! returned to be recorded with the step, never sent from here).

use miyagi_domain::agents::{ApprovedOrder, OrdersApproved};
use miyagi_memory::{cite::Passage, retrieve::RetrievalSettings};
use serde_json::{json, Value};
use uuid::Uuid;

use super::tools::{
    MarketDataArgs, PlaceOrdersArgs, ProposeRebalanceArgs, SearchDocumentsArgs, ToolName,
    WriteAnalysisArgs, WriteReportArgs,
};
use super::{analyst, rebalance, report, retirement, Agents};
use crate::store::RunRecord;

/// Why a step did not produce an output: `Permanent` fails the run now, `Transient` is tried
/// again while attempts remain.
pub(super) enum StepError {
    Permanent(String),
    Transient(String),
}

pub(super) struct Executed {
    pub output: Value,
    pub orders: Option<OrdersApproved>,
}

impl Agents {
    pub(super) async fn execute(
        &self,
        tool: ToolName,
        run: &RunRecord,
        position: usize,
        arguments: &Value,
    ) -> Result<Executed, StepError> {
        let output = match tool {
            ToolName::ReadPositions => self.read_positions(&run.owner).await?,
            ToolName::ProposeRebalance => {
                let args: ProposeRebalanceArgs = parse(arguments)?;
                let plan = rebalance::rebalance(
                    &args.positions,
                    &args.targets.unwrap_or_default(),
                    args.band.unwrap_or(rebalance::DEFAULT_BAND),
                );
                to_value(&plan)
            }
            ToolName::PlaceOrders => {
                let args: PlaceOrdersArgs = parse(arguments)?;
                let orders = OrdersApproved {
                    owner: run.owner.clone(),
                    run_id: run.id,
                    step: position,
                    // Fresh ids are safe: they are written with the step's record or not at all.
                    orders: args
                        .orders
                        .iter()
                        .map(|o| ApprovedOrder {
                            id: Uuid::now_v7(),
                            symbol: o.symbol.to_ascii_uppercase(),
                            side: o.side.as_str().into(),
                            qty: o.qty,
                        })
                        .collect(),
                };
                let output = json!({ "orders": orders.orders });
                return Ok(Executed {
                    output,
                    orders: (!orders.orders.is_empty()).then_some(orders),
                });
            }
            ToolName::ProjectRetirement => {
                let inputs: retirement::RetirementInputs = parse(arguments)?;
                to_value(&retirement::project_scenarios(&inputs))
            }
            ToolName::WriteRetirementReport => {
                let args: WriteReportArgs = parse(arguments)?;
                let report = report::write(self.kernel.as_ref(), &args.projections)
                    .await
                    .map_err(|e| StepError::Transient(format!("the model: {e}")))?;
                to_value(&report)
            }
            ToolName::SearchDocuments => {
                let args: SearchDocumentsArgs = parse(arguments)?;
                let library = self.library.as_ref().ok_or_else(|| {
                    StepError::Permanent(
                        "searching your documents needs the documents service in this process (`miyagi serve documents agents`)".into(),
                    )
                })?;
                let settings = RetrievalSettings {
                    limit: args.limit.unwrap_or(6),
                    // What the summariser reads in three parts at most.
                    token_budget: Some(2_400),
                    ..RetrievalSettings::default()
                };
                let passages = library
                    .retrieve(&run.owner, &args.query, None, &settings)
                    .await
                    .map_err(|e| StepError::Transient(format!("the documents: {e}")))?;
                json!({ "passages": passages })
            }
            ToolName::MarketData => {
                let args: MarketDataArgs = parse(arguments)?;
                let held = self.shares_held(&run.owner, &args.symbol).await?;
                to_value(
                    &analyst::market_facts(&self.history, &args.symbol, held)
                        .map_err(StepError::Permanent)?,
                )
            }
            ToolName::WriteAnalysis => {
                let args: WriteAnalysisArgs = parse(arguments)?;
                let passages: Vec<Passage> = parse(&Value::Array(args.passages))?;
                let analysis = analyst::write(self.kernel.as_ref(), &args.market, &passages)
                    .await
                    .map_err(|e| StepError::Transient(format!("the model: {e}")))?;
                to_value(&analysis)
            }
        };
        Ok(Executed {
            output,
            orders: None,
        })
    }

    async fn shares_held(&self, owner: &str, symbol: &str) -> Result<u64, StepError> {
        let kept = self
            .store
            .positions(owner)
            .await
            .map_err(|e| StepError::Transient(e.to_string()))?;
        Ok(kept
            .and_then(|(positions, _)| {
                positions.as_array()?.iter().find_map(|p| {
                    p["symbol"]
                        .as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(symbol))
                        .then(|| p["shares"].as_u64())
                        .flatten()
                })
            })
            .unwrap_or(0))
    }

    async fn read_positions(&self, owner: &str) -> Result<Value, StepError> {
        let kept = self
            .store
            .positions(owner)
            .await
            .map_err(|e| StepError::Transient(e.to_string()))?;
        let Some((positions, as_of)) = kept else {
            return Err(StepError::Permanent(
                "your paper account holds nothing yet: buy some stocks on the Trade page first"
                    .into(),
            ));
        };
        let holdings: Vec<rebalance::Holding> = positions
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let shares = p["shares"].as_u64().filter(|s| *s > 0)?;
                Some(rebalance::Holding {
                    symbol: p["symbol"].as_str()?.to_string(),
                    shares,
                    price: p["marketValue"].as_f64()? / shares as f64,
                })
            })
            .collect();
        let value: f64 = holdings.iter().map(|h| h.shares as f64 * h.price).sum();
        Ok(json!({ "positions": holdings, "value": value, "asOf": as_of }))
    }
}

fn parse<T: serde::de::DeserializeOwned>(arguments: &Value) -> Result<T, StepError> {
    serde_json::from_value(arguments.clone())
        .map_err(|e| StepError::Permanent(format!("bad arguments: {e}")))
}

pub(super) fn to_value(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("outputs serialize")
}
