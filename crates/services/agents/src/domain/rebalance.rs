//! Threshold rebalancing of a paper account's stocks: the orders that bring each holding back to
//! its target weight, once it has drifted more than the band from it. Pure: positions in,
//! orders out.
//!
//! Sells come first in the list so that their proceeds pay for the buys, and targets round down
//! to whole shares: the buys never cost more than the sells bring in, so the plan never needs
//! cash the account may not have.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The band used when the plan names none: 5 percentage points of the sleeve.
pub const DEFAULT_BAND: f64 = 0.05;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Holding {
    pub symbol: String,
    pub shares: u64,
    /// Dollars a share now.
    pub price: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderProposal {
    pub symbol: String,
    pub side: Side,
    #[schemars(range(min = 1))]
    pub qty: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// A holding's weight in the sleeve now, after the orders, and at target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Weight {
    pub symbol: String,
    pub now: f64,
    pub after: f64,
    pub target: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rebalance {
    /// Dollars the sleeve is worth.
    pub value: f64,
    pub orders: Vec<OrderProposal>,
    pub weights: Vec<Weight>,
    /// What the orders do, in one sentence.
    pub summary: String,
}

/// The orders that bring every holding drifted beyond `band` back to its target. `targets` maps
/// symbols to weights (normalised to sum to 1); empty, every holding gets an equal share.
pub fn rebalance(holdings: &[Holding], targets: &BTreeMap<String, f64>, band: f64) -> Rebalance {
    let held: Vec<&Holding> = holdings
        .iter()
        .filter(|h| h.shares > 0 && h.price > 0.0 && h.price.is_finite())
        .collect();
    let value: f64 = held.iter().map(|h| h.shares as f64 * h.price).sum();
    let target_of = target_weights(&held, targets);
    let mut orders = Vec::new();
    let mut weights = Vec::new();
    for h in &held {
        let now = h.shares as f64 * h.price / value;
        let target = target_of[&h.symbol];
        let mut shares = h.shares;
        if (now - target).abs() > band {
            // Down to whole shares, so the buys never spend more than the sells bring in.
            let wanted = (target * value / h.price + 1e-9).floor() as u64;
            if wanted != h.shares {
                let (side, qty) = if wanted < h.shares {
                    (Side::Sell, h.shares - wanted)
                } else {
                    (Side::Buy, wanted - h.shares)
                };
                orders.push(OrderProposal {
                    symbol: h.symbol.clone(),
                    side,
                    qty,
                });
                shares = wanted;
            }
        }
        weights.push(Weight {
            symbol: h.symbol.clone(),
            now,
            after: shares as f64 * h.price / value,
            target,
        });
    }
    orders.sort_by_key(|o| (o.side == Side::Buy, o.symbol.clone()));
    let summary = summary(&orders, &weights, band);
    Rebalance {
        value,
        orders,
        weights,
        summary,
    }
}

fn target_weights(held: &[&Holding], targets: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    let named: f64 = held
        .iter()
        .filter_map(|h| targets.get(&h.symbol))
        .filter(|w| w.is_finite() && **w > 0.0)
        .sum();
    held.iter()
        .map(|h| {
            let weight = if named > 0.0 {
                targets
                    .get(&h.symbol)
                    .filter(|w| w.is_finite() && **w > 0.0)
                    .map_or(0.0, |w| w / named)
            } else {
                1.0 / held.len() as f64
            };
            (h.symbol.clone(), weight)
        })
        .collect()
}

fn summary(orders: &[OrderProposal], weights: &[Weight], band: f64) -> String {
    if weights.is_empty() {
        return "The paper account holds no stocks, so there is nothing to rebalance.".into();
    }
    if orders.is_empty() {
        return format!(
            "Every holding is within {:.0} points of its target weight; no order is needed.",
            band * 100.0
        );
    }
    let moves: Vec<String> = orders
        .iter()
        .map(|o| {
            let w = weights
                .iter()
                .find(|w| w.symbol == o.symbol)
                .expect("an order is for a holding");
            format!(
                "{} {} {} ({:.0}% of the stocks now, {:.0}% after, {:.0}% target)",
                o.side.as_str(),
                o.qty,
                o.symbol,
                w.now * 100.0,
                w.after * 100.0,
                w.target * 100.0
            )
        })
        .collect();
    format!("{}.", capitalise(&moves.join("; ")))
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holding(symbol: &str, shares: u64, price: f64) -> Holding {
        Holding {
            symbol: symbol.into(),
            shares,
            price,
        }
    }

    #[test]
    fn an_overweight_holding_is_sold_down_and_the_proceeds_buy_the_underweight_one() {
        // 80% AAPL, 20% MSFT of $10,000.
        let plan = rebalance(
            &[holding("AAPL", 80, 100.0), holding("MSFT", 10, 200.0)],
            &BTreeMap::new(),
            DEFAULT_BAND,
        );
        assert_eq!(
            plan.orders,
            vec![
                OrderProposal {
                    symbol: "AAPL".into(),
                    side: Side::Sell,
                    qty: 30
                },
                OrderProposal {
                    symbol: "MSFT".into(),
                    side: Side::Buy,
                    qty: 15
                },
            ]
        );
        assert!(plan
            .summary
            .starts_with("Sell 30 AAPL (80% of the stocks now, 50% after"));
    }

    #[test]
    fn holdings_within_the_band_are_left_alone() {
        let plan = rebalance(
            &[holding("AAPL", 52, 100.0), holding("MSFT", 24, 200.0)],
            &BTreeMap::new(),
            DEFAULT_BAND,
        );
        assert!(plan.orders.is_empty());
        assert!(
            plan.summary.contains("no order is needed"),
            "{}",
            plan.summary
        );
    }

    #[test]
    fn named_targets_are_normalised_and_unnamed_holdings_are_sold() {
        let targets = BTreeMap::from([("AAPL".to_string(), 3.0), ("MSFT".to_string(), 1.0)]);
        let plan = rebalance(
            &[
                holding("AAPL", 50, 100.0),
                holding("MSFT", 25, 200.0),
                holding("KO", 100, 50.0),
            ],
            &targets,
            DEFAULT_BAND,
        );
        // $15,000 in all: AAPL to 75% (112.5 shares, 112 whole), MSFT to 25% (18.75, 18), KO
        // out.
        let qty = |symbol: &str| {
            plan.orders
                .iter()
                .find(|o| o.symbol == symbol)
                .map(|o| (o.side, o.qty))
        };
        assert_eq!(qty("KO"), Some((Side::Sell, 100)));
        assert_eq!(qty("AAPL"), Some((Side::Buy, 62)));
        assert_eq!(qty("MSFT"), Some((Side::Sell, 7)));
    }

    #[test]
    fn an_empty_account_has_nothing_to_rebalance() {
        let plan = rebalance(&[], &BTreeMap::new(), DEFAULT_BAND);
        assert!(plan.orders.is_empty());
        assert!(plan.summary.contains("holds no stocks"));
    }
}
