use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The paper-trading market: what a new account starts with, what an order may do, and how the
/// simulated market moves.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketsConfig {
    /// Dollars a person's paper account opens with.
    pub starting_cash: f64,
    /// Dollars charged a share on every fill.
    pub fee_per_share: f64,
    /// How far (basis points) a limit price may be from the last trade before it is taken for a
    /// typo; a market order may fill at most this far away.
    pub price_band_bps: u32,
    /// The most shares one order may ask for.
    pub max_order_shares: u64,
    /// The most shares of one stock an account may hold, open buys included.
    pub max_position_shares: u64,
    /// Whether simulated traders quote and trade around each stock's fair price. Off, the books
    /// hold only people's own orders.
    pub simulate: bool,
    /// Milliseconds between two steps of the simulated market; each step is one second of
    /// market time.
    pub tick_millis: u64,
    /// Journal entries between two snapshots of the books (recovery replays at most this many).
    pub snapshot_every: u64,
}

impl Default for MarketsConfig {
    fn default() -> Self {
        Self {
            starting_cash: 100_000.0,
            fee_per_share: 0.005,
            price_band_bps: 1_000,
            max_order_shares: 100_000,
            max_position_shares: 1_000_000,
            simulate: true,
            tick_millis: 1_000,
            snapshot_every: 5_000,
        }
    }
}

impl MarketsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(self.starting_cash.is_finite() && (0.0..=1e12).contains(&self.starting_cash)) {
            return Err(ConfigError::expected(
                "markets.starting_cash",
                "dollars from 0 to 1,000,000,000,000, such as 100000",
            ));
        }
        if !(self.fee_per_share.is_finite() && (0.0..=1.0).contains(&self.fee_per_share)) {
            return Err(ConfigError::expected(
                "markets.fee_per_share",
                "dollars a share from 0 to 1, such as 0.005",
            ));
        }
        if !(1..=5_000).contains(&self.price_band_bps) {
            return Err(ConfigError::expected(
                "markets.price_band_bps",
                "basis points from 1 to 5000 (1000 is 10%)",
            ));
        }
        if !(1..=100_000_000).contains(&self.max_order_shares) {
            return Err(ConfigError::expected(
                "markets.max_order_shares",
                "a number of shares from 1 to 100,000,000",
            ));
        }
        if self.max_position_shares < self.max_order_shares {
            return Err(ConfigError::expected(
                "markets.max_position_shares",
                "at least `markets.max_order_shares`",
            ));
        }
        if !(10..=60_000).contains(&self.tick_millis) {
            return Err(ConfigError::expected(
                "markets.tick_millis",
                "milliseconds from 10 to 60000",
            ));
        }
        if self.snapshot_every == 0 {
            return Err(ConfigError::expected(
                "markets.snapshot_every",
                "a number of journal entries of at least 1, such as 5000",
            ));
        }
        Ok(())
    }
}
