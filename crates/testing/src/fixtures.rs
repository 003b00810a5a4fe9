//! The people tests keep needing.

use miyagi_domain::user::{RiskTolerance, UserProfileInput};
use serde_json::{json, Value};

/// A moderate 36-year-old saving for a home: a complete, valid profile.
pub fn ada() -> UserProfileInput {
    UserProfileInput {
        name: "Ada Lovelace".into(),
        age: 36,
        annual_household_income: 150_000.0,
        assets: 80_000.0,
        liabilities: 20_000.0,
        risk_tolerance: RiskTolerance::Moderate,
        retirement_age: 65,
        goals: vec!["Buy a home".into()],
        favorite_advisor: Some("Jack Bogle".into()),
        favorite_book: Some("The Little Book of Common Sense Investing".into()),
        hobbies: vec!["Chess".into()],
    }
}

/// An aggressive investor of `age` retiring at 62, as the API's JSON body.
pub fn grace(age: u32) -> Value {
    json!({"name": "Grace", "age": age, "annualHouseholdIncome": 210000, "assets": 350000,
           "liabilities": 120000, "riskTolerance": "Aggressive", "retirementAge": 62,
           "favoriteAdvisor": "Peter Lynch", "favoriteBook": "One Up On Wall Street"})
}
