//! The users service against real databases (SQLite and the machine's PostgreSQL) and through
//! its real HTTP stack.

mod api;
mod store;

use miyagi_domain::user::{RiskTolerance, UserProfileInput};

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
