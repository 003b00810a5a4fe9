//! What a person's account holds, valued for the people and services outside the engine (the
//! advisor advises on these stocks when a person asks without naming any).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use miyagi_domain::markets::{PositionValue, PositionsUpdated};
use miyagi_markets::history::DailyCloses;

use super::{market::Market, Held};
use crate::model::dollars;

/// Daily closes sent with each position: about three months, enough for a volatility estimate
/// without making every account event carry the whole history.
const RECENT_CLOSES: usize = 60;

/// The account's positions (none when `held` is gone), each at its market's reference price.
pub fn valued(
    owner: &str,
    held: Option<&Held>,
    markets: &BTreeMap<String, Market>,
    history: &DailyCloses,
    as_of: DateTime<Utc>,
) -> PositionsUpdated {
    let positions = held
        .into_iter()
        .flat_map(|held| &held.account.positions)
        // A sold-out position stays in the account for its realised profit; it holds nothing.
        .filter(|(_, position)| position.shares > 0)
        .map(|(symbol, position)| {
            let mark = markets.get(symbol).map_or(0, |market| market.reference().0);
            let closes = history.closes(symbol).unwrap_or_default();
            PositionValue {
                symbol: symbol.clone(),
                shares: position.shares,
                average_cost: position.average_cost().unwrap_or_default() / 100.0,
                market_value: dollars(mark * position.shares as i64),
                closes: closes[closes.len().saturating_sub(RECENT_CLOSES)..].to_vec(),
            }
        })
        .collect();
    PositionsUpdated {
        owner: owner.to_string(),
        positions,
        as_of,
    }
}
