//! Risk profile: how much market risk a household can bear (capacity) and says it wants
//! (willingness). Planners treat the lower of the two as binding; the score leans toward it.

use serde::{Deserialize, Serialize};

/// Stated willingness to take risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Tolerance {
    Conservative,
    Moderate,
    Aggressive,
}

impl Tolerance {
    /// The tolerance as a person reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Conservative => "Conservative",
            Self::Moderate => "Moderate",
            Self::Aggressive => "Aggressive",
        }
    }

    fn score(self) -> f64 {
        match self {
            Self::Conservative => 0.2,
            Self::Moderate => 0.5,
            Self::Aggressive => 0.85,
        }
    }
}

/// What the engine needs to know about a household. Money in one currency, per year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Household {
    pub age: u32,
    pub retirement_age: u32,
    pub annual_income: f64,
    /// Everything owned, home equity included.
    pub assets: f64,
    pub liabilities: f64,
    pub tolerance: Tolerance,
}

impl Household {
    pub fn years_to_retirement(&self) -> u32 {
        self.retirement_age.saturating_sub(self.age)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RiskProfile {
    /// Ability to ride out losses, 0 (none) to 1.
    pub capacity: f64,
    /// Stated willingness, 0 to 1.
    pub willingness: f64,
    /// What the allocation uses: 60% the lower of the two, 40% their mean.
    pub score: f64,
    pub years_to_retirement: u32,
}

/// Years of horizon at which capacity from time alone is full.
const FULL_HORIZON_YEARS: f64 = 30.0;

/// A non-finite or negative amount counts as zero: the engine never propagates NaN.
pub(crate) fn amount(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 {
        x
    } else {
        0.0
    }
}

pub fn assess(household: &Household) -> RiskProfile {
    let years = household.years_to_retirement();
    let horizon = (f64::from(years) / FULL_HORIZON_YEARS).min(1.0);
    let assets = amount(household.assets);
    let liabilities = amount(household.liabilities);
    // Debt eats the cushion that lets a household hold on through a crash.
    let debt = 1.0 - (liabilities / (assets + liabilities).max(1.0)).min(1.0);
    // Future earnings are a bond-like asset: the more of a household's wealth is still to be
    // earned, the more of what is saved can be in stocks.
    let future_earnings = amount(household.annual_income) * f64::from(years) * 0.5;
    let earnings_share = future_earnings / (future_earnings + assets).max(1.0);
    let capacity = (0.5 * horizon + 0.25 * debt + 0.25 * earnings_share).clamp(0.0, 1.0);
    let willingness = household.tolerance.score();
    let score = 0.6 * capacity.min(willingness) + 0.4 * (capacity + willingness) / 2.0;
    RiskProfile {
        capacity,
        willingness,
        score: score.clamp(0.0, 1.0),
        years_to_retirement: years,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn household() -> Household {
        Household {
            age: 35,
            retirement_age: 65,
            annual_income: 120_000.0,
            assets: 100_000.0,
            liabilities: 20_000.0,
            tolerance: Tolerance::Moderate,
        }
    }

    #[test]
    fn a_longer_horizon_means_more_capacity() {
        let young = assess(&household());
        let near = assess(&Household {
            age: 62,
            ..household()
        });
        assert!(young.capacity > near.capacity);
    }

    #[test]
    fn debt_lowers_capacity() {
        let indebted = assess(&Household {
            liabilities: 90_000.0,
            ..household()
        });
        assert!(indebted.capacity < assess(&household()).capacity);
    }

    #[test]
    fn the_score_leans_toward_the_lower_of_capacity_and_willingness() {
        let retiree = assess(&Household {
            age: 70,
            retirement_age: 65,
            annual_income: 0.0,
            tolerance: Tolerance::Aggressive,
            ..household()
        });
        let mean = (retiree.capacity + retiree.willingness) / 2.0;
        assert!(retiree.score < mean);
        assert!(retiree.score >= retiree.capacity.min(retiree.willingness));
    }
}
