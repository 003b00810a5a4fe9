//! The finance engine, adapted to the advisor: a request and the stored profile become the
//! engine's `Household`, and the engine's answer is kept whole as an `EngineResult`. Every number
//! and action in advice comes from here; nothing here calls a model.

use miyagi_domain::user::{RiskTolerance, UserProfile};
use miyagi_finance::{
    allocation::{self, Action, Allocation, AssetClass},
    projection::{self, ProjectionInput},
    risk::{self, Household, Tolerance},
    stocks::{self, Holding},
};
use sha2::{Digest, Sha256};

use crate::{
    error::AdvisorError,
    model::{CashFlow, EngineResult, HouseholdSummary, PersonalizeRequest, UserInfo},
};

/// Retirement age assumed when neither the request nor a stored profile gives one.
const DEFAULT_RETIREMENT_AGE: u32 = 65;

/// The request's profile fields, completed from the stored profile. Age, income and risk
/// tolerance must come from one or the other.
pub fn household(
    info: &UserInfo,
    profile: Option<&UserProfile>,
) -> Result<Household, AdvisorError> {
    let stored = profile.map(|p| &p.profile);
    let missing = |field: &str| AdvisorError::Invalid {
        field: format!("userInfo.{field}"),
        message: "not given, and no stored profile for this userId has it".into(),
    };
    let tolerance = match info.risk_level.or(stored.map(|p| p.risk_tolerance)) {
        Some(RiskTolerance::Conservative) => Tolerance::Conservative,
        Some(RiskTolerance::Moderate) => Tolerance::Moderate,
        Some(RiskTolerance::Aggressive) => Tolerance::Aggressive,
        None => return Err(missing("riskLevel")),
    };
    Ok(Household {
        age: info
            .age
            .or(stored.map(|p| p.age))
            .ok_or_else(|| missing("age"))?,
        retirement_age: stored.map_or(DEFAULT_RETIREMENT_AGE, |p| p.retirement_age),
        annual_income: info
            .annual_household_income
            .or(stored.map(|p| p.annual_household_income))
            .ok_or_else(|| missing("annualHouseholdIncome"))?,
        assets: stored.map_or(0.0, |p| p.assets),
        liabilities: stored.map_or(0.0, |p| p.liabilities),
        tolerance,
    })
}

/// The finance engine's whole answer for a household and its holdings; `profile_version` is
/// the stored profile's, recorded with the numbers it produced. With the person's usual month
/// (`cash_flow`, from their transactions) the emergency reserve is months of what they spend
/// and the projection saves what they actually save; without, both are estimated from income.
pub fn compute(
    household: &Household,
    request: &PersonalizeRequest,
    profile_version: Option<i64>,
    cash_flow: Option<CashFlow>,
) -> EngineResult {
    let risk = risk::assess(household);
    let current = Allocation::from_holdings(
        request
            .portfolio
            .iter()
            .filter_map(|h| AssetClass::parse(&h.name).map(|c| (c, h.allocation))),
    );
    let investable = allocation::investable(household.assets, current.as_ref());
    let cash_reserve = cash_flow.map_or(
        household.annual_income / 12.0 * allocation::RESERVE_MONTHS,
        |flow| flow.monthly_spending * allocation::RESERVE_MONTHS,
    );
    let annual_savings = cash_flow.map_or(
        household.annual_income * projection::ASSUMED_SAVINGS_RATE,
        |flow| ((flow.monthly_income - flow.monthly_spending) * 12.0).max(0.0),
    );
    let target = allocation::target_with_reserve(&risk, current.as_ref(), investable, cash_reserve);
    let drift = current
        .map(|c| allocation::drift(&c, &target))
        .unwrap_or_default();
    let stock_action = drift
        .iter()
        .find(|d| d.class == AssetClass::Stocks)
        .map_or(Action::Buy, |d| d.action);
    let holdings: Vec<Holding> = request
        .stocks
        .iter()
        .map(|s| Holding {
            symbol: s.symbol.clone(),
            allocation: s.allocation,
            prices: s.prices.clone(),
        })
        .collect();
    let stock_share = current.map_or(target.stocks, |c| c.stocks);
    let sleeve = stocks::analyse(&holdings, stock_share, stock_action, risk.score);
    let seed_source = serde_json::to_vec(&(household, request)).expect("serializes");
    let seed = u64::from_le_bytes(
        Sha256::digest(&seed_source)[..8]
            .try_into()
            .expect("8 bytes"),
    );
    let projection = projection::project(&ProjectionInput {
        starting_wealth: investable,
        annual_savings,
        years: household.years_to_retirement(),
        allocation: target,
        paths: projection::DEFAULT_PATHS,
        seed,
    });
    EngineResult {
        household: HouseholdSummary {
            age: household.age,
            retirement_age: household.retirement_age,
            annual_income: household.annual_income,
            assets: household.assets,
            liabilities: household.liabilities,
            tolerance: household.tolerance,
            profile_version,
            annual_savings,
            cash_reserve,
            cash_flow,
        },
        risk,
        target,
        current,
        drift,
        stocks: sleeve,
        projection,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::request;

    #[test]
    fn a_known_usual_month_sizes_the_reserve_on_spending_and_the_savings_on_what_is_left() {
        let request = request();
        let household = household(&request.user_info, None).unwrap();
        let flow = CashFlow {
            monthly_income: 6000.0,
            monthly_spending: 4000.0,
            months: 3,
        };
        let known = compute(&household, &request, None, Some(flow));
        assert_eq!(
            (known.household.cash_reserve, known.household.annual_savings),
            (24_000.0, 24_000.0)
        );
        let guessed = compute(&household, &request, None, None);
        assert_eq!(
            guessed.household.annual_savings,
            household.annual_income * projection::ASSUMED_SAVINGS_RATE
        );
    }

    #[test]
    fn request_fields_win_and_the_rest_must_come_from_somewhere() {
        let mut info = request().user_info;
        assert_eq!(household(&info, None).unwrap().age, 40);
        info.age = None;
        let err = household(&info, None).unwrap_err();
        assert!(
            matches!(err, AdvisorError::Invalid { ref field, .. } if field == "userInfo.age"),
            "{err}"
        );
    }
}
