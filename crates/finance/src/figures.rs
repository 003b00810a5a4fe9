//! A person's figures as a model is given them: their profile and what the finance engine
//! computes from it (risk score, target mix), a projection, a rebalancing check. The coach's
//! prompt says these are the only numbers it may state, so an answer's figures come from the
//! engine, not from the model's memory; the coach's tools and the eval runner's finance
//! functions answer with them.

use miyagi_domain::user::UserProfile;

use crate::{
    allocation::{self, Action, Allocation, AssetClass},
    profile::{self, read, Reading},
    projection::DEFAULT_PATHS,
    words::{count, money, percent},
};

/// A mix as a person reads it: "Stocks 60%, Bonds 30%, Cash 10%", leaving out what is zero.
pub fn mix(allocation: &Allocation) -> String {
    AssetClass::ALL
        .into_iter()
        .filter(|c| allocation.get(*c) > 0.0)
        .map(|c| format!("{} {}", class_name(c), percent(allocation.get(c))))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn class_name(class: AssetClass) -> &'static str {
    match class {
        AssetClass::RealEstate => "Real estate",
        other => other.as_str(),
    }
}

/// The profile and the engine's reading of it, in plain sentences.
pub fn describe(profile: &UserProfile) -> String {
    let p = &profile.profile;
    let Reading {
        household,
        risk,
        target,
    } = read(profile);
    let mut lines = vec![
        format!(
            "{}, {} years old, plans to retire at {} ({} years from now).",
            p.name,
            p.age,
            p.retirement_age,
            household.years_to_retirement()
        ),
        format!(
            "Household income {} a year; assets {}; liabilities {}; net worth {}.",
            money(p.annual_household_income),
            money(p.assets),
            money(p.liabilities),
            money(profile.net_worth())
        ),
        format!(
            "Stated risk tolerance {}; the finance engine's risk score is {:.2} (capacity {:.2}, willingness {:.2}).",
            p.risk_tolerance.as_str(),
            risk.score,
            risk.capacity,
            risk.willingness
        ),
        format!("The engine's target mix for them: {}.", mix(&target)),
    ];
    if !p.goals.is_empty() {
        lines.push(format!("Goals on their profile: {}.", p.goals.join("; ")));
    }
    lines.join("\n")
}

/// Wealth projected from the person's assets, saving `annual_savings` a year (by default the
/// engine's assumed share of their income) for `years` (by default until they retire), with the
/// engine's target mix. The first line is written for the person to read (an answer opens with
/// it); the second says how it was made.
pub fn projection(
    profile: &UserProfile,
    years: Option<u32>,
    annual_savings: Option<f64>,
) -> String {
    let p = &profile.profile;
    let planned = profile::project(profile, years, annual_savings);
    let until_retirement = planned.reading.household.years_to_retirement();
    let (years, savings, result) = (planned.years, planned.annual_savings, planned.projection);
    let end = result.at_retirement();
    let at = if years == until_retirement {
        format!(" (at {})", p.retirement_age)
    } else {
        String::new()
    };
    format!(
        "In {years} years{at}, the middle of {} simulated markets ends at {} in \
         today's money; 1 in 10 ends below {} and 1 in 10 above {}.\n\
         Projected by Miyagi's finance engine from {} of assets, saving {} a year, with the \
         target mix ({}): an expected real return of {} a year, with a volatility of {}.",
        count(DEFAULT_PATHS),
        money(end.p50),
        money(end.p10),
        money(end.p90),
        money(p.assets),
        money(savings),
        mix(&planned.reading.target),
        percent(result.expected_return),
        percent(result.volatility),
    )
}

/// How far `current` is from the engine's target for the person, class by class, and what to
/// do about each: on one line for the person to read, then the rule it follows.
pub fn rebalance(profile: &UserProfile, current: &Allocation) -> String {
    let p = &profile.profile;
    let reading = read(profile);
    let investable = allocation::investable(p.assets, Some(current));
    let target = allocation::target(
        &reading.risk,
        Some(current),
        investable,
        p.annual_household_income,
    );
    let classes: Vec<String> = allocation::drift(current, &target)
        .into_iter()
        .filter(|d| d.current > 0.0 || d.target > 0.0)
        .map(|d| {
            let points = (d.drift.abs() * 100.0).round();
            let what = match d.action {
                Action::Buy => format!("buy ({points:.0} points under)"),
                Action::Sell => format!("sell ({points:.0} points over)"),
                Action::Hold => "hold".into(),
            };
            format!(
                "{} {} now, {} target: {what}",
                class_name(d.class),
                percent(d.current),
                percent(d.target)
            )
        })
        .collect();
    format!(
        "Against the finance engine's target mix: {}.\n\
         Miyagi's finance engine moves a class more than 5 points from its target and holds the rest.",
        classes.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::{self, Household, Tolerance};
    use chrono::Utc;
    use miyagi_domain::user::{RiskTolerance, UserProfileInput};
    use uuid::Uuid;

    fn profile() -> UserProfile {
        UserProfile {
            id: Uuid::from_u128(1),
            owner: "ada".into(),
            profile: UserProfileInput {
                name: "Ada".into(),
                age: 40,
                annual_household_income: 120_000.0,
                assets: 300_000.0,
                liabilities: 50_000.0,
                risk_tolerance: RiskTolerance::Moderate,
                retirement_age: 60,
                goals: vec!["pay for college".into()],
                favorite_advisor: None,
                favorite_book: None,
                hobbies: vec![],
            },
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_figures_are_the_engines_own() {
        let text = describe(&profile());
        let p = profile().profile;
        let household = Household {
            age: 40,
            retirement_age: 60,
            annual_income: p.annual_household_income,
            assets: p.assets,
            liabilities: p.liabilities,
            tolerance: Tolerance::Moderate,
        };
        let risk = risk::assess(&household);
        let target = allocation::target(&risk, None, p.assets, p.annual_household_income);
        assert!(text.contains("20 years from now"), "{text}");
        assert!(text.contains("net worth $250k"), "{text}");
        assert!(
            text.contains(&format!("risk score is {:.2}", risk.score)),
            "{text}"
        );
        assert!(
            text.contains(&format!("Stocks {}", percent(target.stocks))),
            "{text}"
        );
        assert!(text.contains("pay for college"), "{text}");
    }

    #[test]
    fn a_projection_states_the_engines_percentiles_over_the_years_asked() {
        let text = projection(&profile(), Some(10), None);
        assert!(
            text.starts_with("In 10 years, the middle of 2,000 simulated markets"),
            "{text}"
        );
        assert!(text.contains("saving $18k a year"), "{text}");
        let again = projection(&profile(), Some(10), None);
        assert_eq!(text, again, "the same question gets the same projection");
        let until_retirement = projection(&profile(), None, None);
        assert!(
            until_retirement.starts_with("In 20 years (at 60)"),
            "{until_retirement}"
        );
    }

    #[test]
    fn a_mix_heavy_in_stocks_is_told_to_sell_stocks_and_buy_bonds() {
        let current =
            Allocation::from_holdings([(AssetClass::Stocks, 95.0), (AssetClass::Bonds, 5.0)])
                .unwrap();
        let text = rebalance(&profile(), &current);
        let classes: Vec<&str> = text.lines().next().unwrap().split("; ").collect();
        assert!(
            classes[0].contains("Stocks 95% now") && classes[0].contains("sell"),
            "{text}"
        );
        assert!(
            classes[1].starts_with("Bonds") && classes[1].contains("buy"),
            "{text}"
        );
    }
}
