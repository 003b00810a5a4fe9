//! Target allocation, drift and Buy/Sell/Hold per asset class.
//!
//! The target is built from the outside in, so it always sums to 100%:
//! 1. **Real estate** (home equity) is illiquid: nobody sells a room of their house to
//!    rebalance. Its target is its current share, capped at [`MAX_REAL_ESTATE`]; above the cap
//!    the advice is to stop adding to it.
//! 2. **Cash** is an emergency reserve of [`RESERVE_MONTHS`] months of income, as a share of
//!    what remains, between 2% and 20%.
//! 3. **Stocks and bonds** split the rest. The stock share follows a glide path by years to
//!    retirement (90% at 25+ years, falling linearly to 40% at retirement, 30% after), tilted by
//!    the risk score (±20 points between a score of 0 and 1), kept within 10%–95%.

use serde::{Deserialize, Serialize};

use crate::risk::{amount, RiskProfile};

pub const MAX_REAL_ESTATE: f64 = 0.5;
pub const RESERVE_MONTHS: f64 = 6.0;
/// Drift (in percentage points of the whole portfolio) within which an asset class is held.
pub const DRIFT_THRESHOLD: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AssetClass {
    Stocks,
    Bonds,
    Cash,
    RealEstate,
}

impl AssetClass {
    pub const ALL: [AssetClass; 4] = [Self::Stocks, Self::Bonds, Self::Cash, Self::RealEstate];

    /// The names people and the original Miyagi UI give the classes, as the API documents them.
    pub const SPELLINGS: [(&'static str, AssetClass); 15] = [
        ("Stocks", Self::Stocks),
        ("Stock", Self::Stocks),
        ("Equities", Self::Stocks),
        ("Equity", Self::Stocks),
        ("Shares", Self::Stocks),
        ("Bonds", Self::Bonds),
        ("Bond", Self::Bonds),
        ("FixedIncome", Self::Bonds),
        ("Cash", Self::Cash),
        ("Savings", Self::Cash),
        ("MoneyMarket", Self::Cash),
        ("RealEstate", Self::RealEstate),
        ("HomeEquity", Self::RealEstate),
        ("Home", Self::RealEstate),
        ("Property", Self::RealEstate),
    ];

    /// Reads one of [`Self::SPELLINGS`], in any case and with any spacing or punctuation
    /// ("real estate", "Fixed-Income"), as a spreadsheet's column may have it.
    pub fn parse(name: &str) -> Option<Self> {
        let key = |text: &str| -> String {
            text.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase()
        };
        let wanted = key(name);
        Self::SPELLINGS
            .iter()
            .find(|(spelling, _)| key(spelling) == wanted)
            .map(|(_, class)| *class)
    }

    /// The class's name as the API and prompts spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stocks => "Stocks",
            Self::Bonds => "Bonds",
            Self::Cash => "Cash",
            Self::RealEstate => "RealEstate",
        }
    }
}

/// Shares of the whole portfolio by asset class; they sum to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    pub stocks: f64,
    pub bonds: f64,
    pub cash: f64,
    pub real_estate: f64,
}

impl Allocation {
    pub fn get(&self, class: AssetClass) -> f64 {
        match class {
            AssetClass::Stocks => self.stocks,
            AssetClass::Bonds => self.bonds,
            AssetClass::Cash => self.cash,
            AssetClass::RealEstate => self.real_estate,
        }
    }

    fn set(&mut self, class: AssetClass, value: f64) {
        match class {
            AssetClass::Stocks => self.stocks = value,
            AssetClass::Bonds => self.bonds = value,
            AssetClass::Cash => self.cash = value,
            AssetClass::RealEstate => self.real_estate = value,
        }
    }

    pub fn total(&self) -> f64 {
        AssetClass::ALL.iter().map(|c| self.get(*c)).sum()
    }

    /// [`Self::from_holdings`] with each class named as a person or a model wrote it; the error
    /// says which name is not a class, or that nothing is held, for the writer to correct.
    pub fn from_named<'a>(
        holdings: impl IntoIterator<Item = (&'a str, f64)>,
    ) -> Result<Self, String> {
        let holdings =
            holdings
                .into_iter()
                .map(|(name, amount)| {
                    AssetClass::parse(name).map(|class| (class, amount)).ok_or_else(|| {
                    format!("unknown asset class {name:?}: use Stocks, Bonds, Cash or RealEstate")
                })
                })
                .collect::<Result<Vec<_>, String>>()?;
        Self::from_holdings(holdings).ok_or_else(|| {
            "the current mix holds nothing: give at least one positive amount".into()
        })
    }

    /// The current mix from `(class, amount)` pairs in any unit (percent, fractions or money):
    /// repeated classes add up, and the result is scaled to sum to 1. `None` when nothing is held.
    pub fn from_holdings(holdings: impl IntoIterator<Item = (AssetClass, f64)>) -> Option<Self> {
        let mut mix = Self {
            stocks: 0.0,
            bonds: 0.0,
            cash: 0.0,
            real_estate: 0.0,
        };
        for (class, value) in holdings {
            mix.set(class, mix.get(class) + amount(value));
        }
        let total = mix.total();
        if !(total.is_finite() && total > 0.0) {
            return None;
        }
        for class in AssetClass::ALL {
            mix.set(class, mix.get(class) / total);
        }
        Some(mix)
    }
}

/// The stock share before the risk tilt, by years to retirement.
pub fn glide_path(years_to_retirement: u32) -> f64 {
    match years_to_retirement {
        0 => 0.3,
        y if y >= 25 => 0.9,
        y => 0.4 + 0.5 * f64::from(y) / 25.0,
    }
}

/// The part of `assets` a mix can move: real estate is held as it is (see the module notes),
/// so what sizes the cash reserve and the projection is what is left of it.
pub fn investable(assets: f64, current: Option<&Allocation>) -> f64 {
    assets * (1.0 - current.map_or(0.0, |c| c.real_estate))
}

/// The target mix for a risk profile. `current` supplies the real-estate share (see the module
/// notes); `investable` and `annual_income` size the cash reserve.
pub fn target(
    risk: &RiskProfile,
    current: Option<&Allocation>,
    investable: f64,
    annual_income: f64,
) -> Allocation {
    let reserve = amount(annual_income) * RESERVE_MONTHS / 12.0;
    target_with_reserve(risk, current, investable, reserve)
}

/// [`target`] with the emergency reserve in dollars given: [`RESERVE_MONTHS`] of what the
/// household actually spends, when its transactions say, rather than of its income.
pub fn target_with_reserve(
    risk: &RiskProfile,
    current: Option<&Allocation>,
    investable: f64,
    reserve: f64,
) -> Allocation {
    let reserve = amount(reserve);
    let real_estate = current
        .map(|c| c.real_estate)
        .filter(|r| r.is_finite())
        .unwrap_or(0.0)
        .clamp(0.0, MAX_REAL_ESTATE);
    let rest = 1.0 - real_estate;
    let cash_share = if amount(investable) > 0.0 {
        (reserve / investable).clamp(0.02, 0.2)
    } else {
        0.2
    };
    let cash = cash_share * rest;
    let stock_share =
        (glide_path(risk.years_to_retirement) + 0.4 * (risk.score - 0.5)).clamp(0.1, 0.95);
    let stocks = stock_share * (rest - cash);
    Allocation {
        stocks,
        bonds: rest - cash - stocks,
        cash,
        real_estate,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Action {
    Buy,
    Sell,
    Hold,
}

impl Action {
    /// The action as a person reads it, spelled out so renaming a variant cannot change advice.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "Buy",
            Self::Sell => "Sell",
            Self::Hold => "Hold",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub class: AssetClass,
    pub current: f64,
    pub target: f64,
    /// current − target, in shares of the whole portfolio.
    pub drift: f64,
    pub action: Action,
}

/// Drift of each asset class from target and what to do about it. Real estate above its cap is
/// a Sell only in the sense of "stop adding"; the narrative says so.
pub fn drift(current: &Allocation, target: &Allocation) -> Vec<Drift> {
    AssetClass::ALL
        .iter()
        .map(|&class| {
            let (now, want) = (current.get(class), target.get(class));
            let drift = now - want;
            let action = if drift > DRIFT_THRESHOLD {
                Action::Sell
            } else if drift < -DRIFT_THRESHOLD {
                Action::Buy
            } else {
                Action::Hold
            };
            Drift {
                class,
                current: now,
                target: want,
                drift,
                action,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::risk::{assess, Household, Tolerance};

    #[test]
    fn an_unknown_asset_class_is_refused_with_the_classes_there_are() {
        let err = Allocation::from_named([("Stocks", 60.0), ("crypto", 10.0)]).unwrap_err();
        assert!(err.contains("\"crypto\""), "{err}");
        assert!(err.contains("Stocks, Bonds, Cash or RealEstate"), "{err}");
    }

    #[test]
    fn named_holdings_in_any_spelling_make_the_same_mix() {
        let named = Allocation::from_named([("shares", 60.0), ("Fixed-Income", 40.0)]).unwrap();
        assert_eq!((named.stocks, named.bonds), (0.6, 0.4));
    }

    fn tolerance() -> impl Strategy<Value = Tolerance> {
        prop_oneof![
            Just(Tolerance::Conservative),
            Just(Tolerance::Moderate),
            Just(Tolerance::Aggressive)
        ]
    }

    fn money() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            0.0..1e12,
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-5.0)
        ]
    }

    fn household() -> impl Strategy<Value = Household> {
        (0u32..130, 0u32..130, money(), money(), money(), tolerance()).prop_map(
            |(age, retirement_age, annual_income, assets, liabilities, tolerance)| Household {
                age,
                retirement_age,
                annual_income,
                assets,
                liabilities,
                tolerance,
            },
        )
    }

    fn mix() -> impl Strategy<Value = Option<Allocation>> {
        proptest::collection::vec(0.0..100.0f64, 4)
            .prop_map(|v| Allocation::from_holdings(AssetClass::ALL.into_iter().zip(v)))
    }

    proptest! {
        #[test]
        fn a_target_is_a_valid_mix_for_any_input(h in household(), current in mix(), investable in money()) {
            let risk = assess(&h);
            let t = target(&risk, current.as_ref(), investable, h.annual_income);
            for class in AssetClass::ALL {
                let share = t.get(class);
                prop_assert!(share.is_finite() && (0.0..=1.0).contains(&share), "{class:?} = {share}");
            }
            prop_assert!((t.total() - 1.0).abs() < 1e-9, "total {}", t.total());
        }

        #[test]
        fn more_willingness_never_means_fewer_stocks(h in household(), current in mix()) {
            let investable = h.assets;
            let shares: Vec<f64> = [Tolerance::Conservative, Tolerance::Moderate, Tolerance::Aggressive]
                .into_iter()
                .map(|tolerance| {
                    let h = Household { tolerance, ..h.clone() };
                    target(&assess(&h), current.as_ref(), investable, h.annual_income).stocks
                })
                .collect();
            prop_assert!(shares[0] <= shares[1] + 1e-12 && shares[1] <= shares[2] + 1e-12, "{shares:?}");
        }

        #[test]
        fn a_longer_horizon_never_means_fewer_stocks(h in household(), extra in 1u32..40) {
            let later = Household { retirement_age: h.retirement_age.saturating_add(extra), ..h.clone() };
            let stocks = |h: &Household| target(&assess(h), None, h.assets, h.annual_income).stocks;
            prop_assert!(stocks(&later) + 1e-12 >= stocks(&h));
        }

        #[test]
        fn drift_is_hold_exactly_within_the_threshold(current in mix(), h in household()) {
            let current = current.unwrap_or(Allocation { stocks: 1.0, bonds: 0.0, cash: 0.0, real_estate: 0.0 });
            let t = target(&assess(&h), Some(&current), h.assets, h.annual_income);
            for d in drift(&current, &t) {
                prop_assert_eq!(d.action == Action::Hold, d.drift.abs() <= DRIFT_THRESHOLD);
            }
        }
    }

    #[test]
    fn the_original_ui_names_map_to_asset_classes() {
        assert_eq!(
            AssetClass::parse("HomeEquity"),
            Some(AssetClass::RealEstate)
        );
        assert_eq!(AssetClass::parse("Stocks"), Some(AssetClass::Stocks));
        assert_eq!(AssetClass::parse("fixed income"), Some(AssetClass::Bonds));
        assert_eq!(AssetClass::parse("Crypto"), None);
    }

    #[test]
    fn an_all_stock_portfolio_near_retirement_is_told_to_sell_stocks_and_buy_bonds() {
        let h = Household {
            age: 62,
            retirement_age: 65,
            annual_income: 80_000.0,
            assets: 900_000.0,
            liabilities: 0.0,
            tolerance: Tolerance::Moderate,
        };
        let current = Allocation {
            stocks: 1.0,
            bonds: 0.0,
            cash: 0.0,
            real_estate: 0.0,
        };
        let t = target(&assess(&h), Some(&current), h.assets, h.annual_income);
        let actions: Vec<(AssetClass, Action)> = drift(&current, &t)
            .iter()
            .map(|d| (d.class, d.action))
            .collect();
        assert!(actions.contains(&(AssetClass::Stocks, Action::Sell)));
        assert!(actions.contains(&(AssetClass::Bonds, Action::Buy)));
    }
}
