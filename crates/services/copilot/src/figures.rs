//! The person's figures as the coach is given them: their profile and what the finance engine
//! computes from it (risk score, target mix). The prompt says these are the only numbers the
//! coach may state, so an answer's figures come from the engine, not from the model's memory.

use miyagi_domain::user::{RiskTolerance, UserProfile};
use miyagi_finance::{
    allocation::{self, AssetClass},
    risk::{self, Household, Tolerance},
    words::{money, percent},
};

/// The profile and the engine's reading of it, in plain sentences.
pub fn describe(profile: &UserProfile) -> String {
    let p = &profile.profile;
    let household = Household {
        age: p.age,
        retirement_age: p.retirement_age,
        annual_income: p.annual_household_income,
        assets: p.assets,
        liabilities: p.liabilities,
        tolerance: match p.risk_tolerance {
            RiskTolerance::Conservative => Tolerance::Conservative,
            RiskTolerance::Moderate => Tolerance::Moderate,
            RiskTolerance::Aggressive => Tolerance::Aggressive,
        },
    };
    let risk = risk::assess(&household);
    let target = allocation::target(&risk, None, p.assets, p.annual_household_income);
    let mix = AssetClass::ALL
        .into_iter()
        .filter(|c| target.get(*c) > 0.0)
        .map(|c| {
            let name = match c {
                AssetClass::RealEstate => "Real estate",
                other => other.as_str(),
            };
            format!("{name} {}", percent(target.get(c)))
        })
        .collect::<Vec<_>>()
        .join(", ");
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
        format!("The engine's target mix for them: {mix}."),
    ];
    if !p.goals.is_empty() {
        lines.push(format!("Goals on their profile: {}.", p.goals.join("; ")));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use miyagi_domain::user::UserProfileInput;
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
}
