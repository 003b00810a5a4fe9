//! Per-stock metrics: each holding's weight in the stock sleeve and in the whole portfolio,
//! how concentrated the sleeve is, volatility from price history when given, and an action.

use serde::{Deserialize, Serialize};

use crate::{allocation::Action, risk::amount};

/// A single stock above this share of the whole portfolio is a concentration risk.
pub const MAX_SINGLE_STOCK: f64 = 0.10;
/// Annualised volatility above which a stock counts as highly volatile.
pub const HIGH_VOLATILITY: f64 = 0.45;
const TRADING_DAYS: f64 = 252.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Holding {
    pub symbol: String,
    /// In any unit (percent, fractions or money): only ratios between holdings matter.
    pub allocation: f64,
    /// Daily closing prices, oldest first, when known.
    #[serde(default)]
    pub prices: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StockMetrics {
    pub symbol: String,
    /// Share of the stock sleeve.
    pub weight: f64,
    /// Share of the whole portfolio.
    pub portfolio_weight: f64,
    /// Annualised standard deviation of daily log returns; `None` without enough prices.
    pub volatility: Option<f64>,
    /// The closes the volatility was computed from, oldest first (for charts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<f64>,
    pub action: Action,
    /// Why the action, in a few words the narrative can build on.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StockSleeve {
    pub holdings: Vec<StockMetrics>,
    /// Herfindahl–Hirschman index of the sleeve's weights: 1/n when equal, 1 for a single stock.
    pub concentration: f64,
    /// The number of equally weighted stocks with the same concentration (1 / HHI).
    pub effective_holdings: f64,
}

/// Annualised volatility of daily log returns; needs at least three positive prices.
pub fn volatility(prices: &[f64]) -> Option<f64> {
    let returns: Vec<f64> = prices
        .windows(2)
        .filter(|w| w[0] > 0.0 && w[1] > 0.0 && w[0].is_finite() && w[1].is_finite())
        .map(|w| (w[1] / w[0]).ln())
        .collect();
    if returns.len() < 2 {
        return None;
    }
    let n = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let variance = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((variance * TRADING_DAYS).sqrt()).filter(|v| v.is_finite())
}

/// Metrics for each holding. `stock_share` is the stock sleeve's share of the whole portfolio;
/// `class_action` is the engine's action for stocks as a class, which each holding follows
/// unless its own weight or volatility says otherwise; `risk_score` is the household's.
pub fn analyse(
    holdings: &[Holding],
    stock_share: f64,
    class_action: Action,
    risk_score: f64,
) -> StockSleeve {
    let total: f64 = holdings.iter().map(|h| amount(h.allocation)).sum();
    let stock_share = amount(stock_share).min(1.0);
    let metrics: Vec<StockMetrics> = holdings
        .iter()
        .map(|h| {
            let weight = if total > 0.0 {
                amount(h.allocation) / total
            } else {
                0.0
            };
            let portfolio_weight = weight * stock_share;
            let volatility = volatility(&h.prices);
            let (action, reason) = if portfolio_weight > MAX_SINGLE_STOCK {
                (
                    Action::Sell,
                    format!(
                        "{:.0}% of the portfolio in one stock; trim below {:.0}%",
                        portfolio_weight * 100.0,
                        MAX_SINGLE_STOCK * 100.0
                    ),
                )
            } else if volatility.is_some_and(|v| v > HIGH_VOLATILITY) && risk_score < 0.4 {
                (
                    Action::Sell,
                    "highly volatile for a cautious risk profile".to_string(),
                )
            } else {
                let reason = match class_action {
                    Action::Buy => "stocks are below target; add in proportion",
                    Action::Sell => "stocks are above target; trim in proportion",
                    Action::Hold => "stocks are on target",
                };
                (class_action, reason.to_string())
            };
            StockMetrics {
                symbol: h.symbol.clone(),
                weight,
                portfolio_weight,
                volatility,
                prices: h.prices.clone(),
                action,
                reason,
            }
        })
        .collect();
    let concentration: f64 = metrics.iter().map(|m| m.weight * m.weight).sum();
    StockSleeve {
        effective_holdings: if concentration > 0.0 {
            1.0 / concentration
        } else {
            0.0
        },
        concentration,
        holdings: metrics,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn holding(symbol: &str, allocation: f64) -> Holding {
        Holding {
            symbol: symbol.into(),
            allocation,
            prices: vec![],
        }
    }

    #[test]
    fn one_stock_holding_most_of_the_portfolio_is_a_sell() {
        let sleeve = analyse(
            &[holding("MSFT", 80.0), holding("VTI", 20.0)],
            0.6,
            Action::Hold,
            0.6,
        );
        assert_eq!(sleeve.holdings[0].action, Action::Sell);
        assert!((sleeve.holdings[0].portfolio_weight - 0.48).abs() < 1e-12);
        assert!((sleeve.concentration - 0.68).abs() < 1e-12);
    }

    #[test]
    fn volatility_of_a_steady_series_is_zero_and_of_a_swinging_one_is_large() {
        assert_eq!(
            volatility(&[100.0, 101.0, 102.01, 103.0301]).map(|v| (v * 1e6).round()),
            Some(0.0)
        );
        let swinging: Vec<f64> = (0..60)
            .map(|i| if i % 2 == 0 { 100.0 } else { 110.0 })
            .collect();
        assert!(volatility(&swinging).unwrap() > 1.0);
        assert_eq!(volatility(&[100.0]), None);
    }

    proptest! {
        #[test]
        fn weights_sum_to_one_and_nothing_is_nan(allocations in proptest::collection::vec(prop_oneof![0.0..1e9f64, Just(f64::NAN), Just(-1.0)], 0..20),
                                                 share in prop_oneof![0.0..1.0f64, Just(f64::NAN)],
                                                 prices in proptest::collection::vec(prop_oneof![0.0..1e6f64, Just(f64::NAN)], 0..30)) {
            let holdings: Vec<Holding> = allocations.iter().enumerate()
                .map(|(i, a)| Holding { symbol: format!("S{i}"), allocation: *a, prices: prices.clone() })
                .collect();
            let sleeve = analyse(&holdings, share, Action::Hold, 0.5);
            let total: f64 = sleeve.holdings.iter().map(|m| m.weight).sum();
            prop_assert!(total == 0.0 || (total - 1.0).abs() < 1e-9);
            prop_assert!(sleeve.concentration.is_finite() && sleeve.effective_holdings.is_finite());
            for m in &sleeve.holdings {
                prop_assert!(m.weight.is_finite() && m.portfolio_weight.is_finite());
                prop_assert!(m.volatility.is_none_or(f64::is_finite));
            }
        }
    }
}
