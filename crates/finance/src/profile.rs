//! A person's profile as the finance engine reads it: the one translation from the users
//! service's contract to the engine's inputs, so every service that states a person's figures
//! (the coach, the image cards) states the same ones.

use miyagi_domain::user::{RiskTolerance, UserProfile};

use crate::{
    allocation::{self, Allocation},
    projection::{self, Projection, ProjectionInput, ASSUMED_SAVINGS_RATE, DEFAULT_PATHS},
    risk::{self, Household, RiskProfile, Tolerance},
};

/// What the finance engine makes of a profile.
pub struct Reading {
    pub household: Household,
    pub risk: RiskProfile,
    pub target: Allocation,
}

pub fn read(profile: &UserProfile) -> Reading {
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
    Reading {
        household,
        risk,
        target,
    }
}

/// The same simulated markets for every projection: two answers then differ only by what was
/// asked (years, savings), never by the luck of the draw.
const MARKETS_SEED: u64 = 0x6d69_7961_6769;

/// A person's wealth projected with the engine's target mix for them.
pub struct PlannedProjection {
    pub projection: Projection,
    pub years: u32,
    pub annual_savings: f64,
    pub reading: Reading,
}

/// Projects from the person's assets, saving `annual_savings` a year (by default the engine's
/// assumed share of their income) for `years` (by default until they retire, at least one).
pub fn project(
    profile: &UserProfile,
    years: Option<u32>,
    annual_savings: Option<f64>,
) -> PlannedProjection {
    let p = &profile.profile;
    let reading = read(profile);
    let years = years
        .unwrap_or(reading.household.years_to_retirement())
        .clamp(1, 80);
    let annual_savings = annual_savings.unwrap_or(p.annual_household_income * ASSUMED_SAVINGS_RATE);
    let projection = projection::project(&ProjectionInput {
        starting_wealth: p.assets,
        annual_savings,
        years,
        allocation: reading.target,
        paths: DEFAULT_PATHS,
        seed: MARKETS_SEED,
    });
    PlannedProjection {
        projection,
        years,
        annual_savings,
        reading,
    }
}
