//! Monte Carlo projection of wealth at retirement, in today's money.
//!
//! Each year every path grows by a lognormal return whose mean and volatility come from the
//! allocation and the capital-market assumptions below (real returns, after inflation), then
//! adds the year's savings. The seed is part of the input, so a projection is reproducible.

use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::{allocation::Allocation, risk::amount};

/// Real (after-inflation) expected return and volatility per asset class: long-run figures in
/// line with published capital-market assumptions, rounded. Stated, not fitted.
pub const ASSUMPTIONS: [(f64, f64); 4] = [
    (0.050, 0.16), // stocks
    (0.015, 0.06), // bonds
    (0.000, 0.01), // cash
    (0.020, 0.10), // real estate
];
/// Share of income a household is taken to save each year when it has not said.
pub const ASSUMED_SAVINGS_RATE: f64 = 0.15;
/// Paths a projection runs when its caller has no reason to choose.
pub const DEFAULT_PATHS: usize = 2_000;
/// Correlation between stocks and real estate; the other pairs are taken as uncorrelated.
const STOCKS_REAL_ESTATE_CORRELATION: f64 = 0.5;
const PERCENTILES: [f64; 5] = [0.10, 0.25, 0.50, 0.75, 0.90];
/// Years projected when a household is already at or past retirement.
const MIN_YEARS: u32 = 1;
const MAX_YEARS: u32 = 80;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectionInput {
    pub starting_wealth: f64,
    pub annual_savings: f64,
    pub years: u32,
    pub allocation: Allocation,
    pub paths: usize,
    pub seed: u64,
}

/// Wealth percentiles at the end of one year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct YearBand {
    pub year: u32,
    pub p10: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Projection {
    /// Expected real return and volatility of the allocation, per year.
    pub expected_return: f64,
    pub volatility: f64,
    /// One band per year; the last is retirement.
    pub years: Vec<YearBand>,
    pub paths: usize,
}

impl Projection {
    pub fn at_retirement(&self) -> &YearBand {
        self.years
            .last()
            .expect("a projection covers at least one year")
    }
}

/// Expected real return and volatility of a mix under [`ASSUMPTIONS`].
pub fn portfolio_moments(mix: &Allocation) -> (f64, f64) {
    let w = [mix.stocks, mix.bonds, mix.cash, mix.real_estate].map(amount);
    let mean: f64 = w.iter().zip(ASSUMPTIONS).map(|(w, (r, _))| w * r).sum();
    let mut variance: f64 = w
        .iter()
        .zip(ASSUMPTIONS)
        .map(|(w, (_, s))| (w * s).powi(2))
        .sum();
    variance +=
        2.0 * STOCKS_REAL_ESTATE_CORRELATION * w[0] * ASSUMPTIONS[0].1 * w[3] * ASSUMPTIONS[3].1;
    (mean, variance.max(0.0).sqrt())
}

pub fn project(input: &ProjectionInput) -> Projection {
    let (mean, volatility) = portfolio_moments(&input.allocation);
    // Lognormal with the given arithmetic mean and volatility.
    let sigma2 = (1.0 + (volatility / (1.0 + mean)).powi(2)).ln();
    let mu = (1.0 + mean).ln() - sigma2 / 2.0;
    let normal = Normal::new(mu, sigma2.sqrt()).expect("a finite, non-negative deviation");
    let mut rng = StdRng::seed_from_u64(input.seed);
    let paths = input.paths.max(1);
    let years = input.years.clamp(MIN_YEARS, MAX_YEARS);
    let savings = amount(input.annual_savings);
    let mut wealth = vec![amount(input.starting_wealth); paths];
    let mut bands = Vec::with_capacity(years as usize);
    for year in 1..=years {
        for w in wealth.iter_mut() {
            *w = *w * normal.sample(&mut rng).exp() + savings;
        }
        let mut sorted = wealth.clone();
        sorted.sort_by(f64::total_cmp);
        let [p10, p25, p50, p75, p90] =
            PERCENTILES.map(|p| sorted[((p * (paths - 1) as f64).round() as usize).min(paths - 1)]);
        bands.push(YearBand {
            year,
            p10,
            p25,
            p50,
            p75,
            p90,
        });
    }
    Projection {
        expected_return: mean,
        volatility,
        years: bands,
        paths,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn balanced() -> Allocation {
        Allocation {
            stocks: 0.6,
            bonds: 0.3,
            cash: 0.1,
            real_estate: 0.0,
        }
    }

    fn input() -> ProjectionInput {
        ProjectionInput {
            starting_wealth: 100_000.0,
            annual_savings: 10_000.0,
            years: 30,
            allocation: balanced(),
            paths: 2_000,
            seed: 7,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_projection() {
        assert_eq!(project(&input()), project(&input()));
    }

    #[test]
    fn the_median_of_a_riskless_mix_is_savings_plus_start() {
        let all_cash = Allocation {
            stocks: 0.0,
            bonds: 0.0,
            cash: 1.0,
            real_estate: 0.0,
        };
        let p = project(&ProjectionInput {
            allocation: all_cash,
            ..input()
        });
        let median = p.at_retirement().p50;
        assert!((median - 400_000.0).abs() / 400_000.0 < 0.01, "{median}");
    }

    #[test]
    fn more_stocks_widen_the_band() {
        let spread = |mix: Allocation| {
            let r = project(&ProjectionInput {
                allocation: mix,
                ..input()
            });
            r.at_retirement().p90 - r.at_retirement().p10
        };
        let aggressive = Allocation {
            stocks: 0.9,
            bonds: 0.1,
            cash: 0.0,
            real_estate: 0.0,
        };
        assert!(spread(aggressive) > spread(balanced()));
    }

    proptest! {
        #[test]
        fn percentiles_are_ordered_and_finite(start in prop_oneof![0.0..1e12f64, Just(f64::NAN)], savings in 0.0..1e9f64,
                                              years in 0u32..200, stocks in 0.0..1.0f64, seed in any::<u64>()) {
            let mix = Allocation { stocks, bonds: 1.0 - stocks, cash: 0.0, real_estate: 0.0 };
            let p = project(&ProjectionInput { starting_wealth: start, annual_savings: savings, years, allocation: mix, paths: 200, seed });
            prop_assert!(!p.years.is_empty());
            for b in &p.years {
                prop_assert!([b.p10, b.p25, b.p50, b.p75, b.p90].iter().all(|v| v.is_finite() && *v >= 0.0));
                prop_assert!(b.p10 <= b.p25 && b.p25 <= b.p50 && b.p50 <= b.p75 && b.p75 <= b.p90);
            }
        }
    }
}
