//! A person's paper holdings: the payload of `miyagi.markets.positions.updated.v1`. The markets
//! service publishes it whenever an account changes, so the advisor can advise on the stocks a
//! person actually holds there without reading the markets service's tables.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionsUpdated {
    pub owner: String,
    /// Every position the account holds now; empty when it holds none, or no longer exists.
    pub positions: Vec<PositionValue>,
    /// When the positions were valued: a later event replaces an earlier one, never the reverse.
    pub as_of: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionValue {
    pub symbol: String,
    pub shares: u64,
    /// Dollars per share, fees included.
    pub average_cost: f64,
    /// Dollars: the shares at the last trade (or the last close before any trade).
    pub market_value: f64,
    /// Recent daily closes, oldest first, so a consumer can judge the stock's volatility.
    pub closes: Vec<f64>,
}
