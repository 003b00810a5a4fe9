//! Synthetic profiles: realistic, internally consistent people for demos, tests and load runs.
//!
//! Values are drawn so they hang together: income grows with age until late career, savings grow
//! with age and income, younger people lean to more risk, liabilities are mostly mortgages.

use fake::{faker::name::en::Name, Fake};
use miyagi_domain::user::{RiskTolerance, UserProfileInput};
use rand::{rngs::StdRng, seq::IndexedRandom, Rng, SeedableRng};

const ADVISORS: &[&str] = &[
    "Warren Buffett",
    "Jack Bogle",
    "Ray Dalio",
    "Peter Lynch",
    "Benjamin Graham",
    "Suze Orman",
    "Howard Marks",
];
const BOOKS: &[&str] = &[
    "The Intelligent Investor",
    "A Random Walk Down Wall Street",
    "The Little Book of Common Sense Investing",
    "One Up On Wall Street",
    "The Psychology of Money",
    "Principles",
    "Your Money or Your Life",
];
const GOALS: &[&str] = &[
    "Retire comfortably",
    "Buy a home",
    "Pay for children's college",
    "Build an emergency fund",
    "Pay off debt",
    "Start a business",
    "Travel the world",
    "Leave an inheritance",
];
const HOBBIES: &[&str] = &[
    "Hiking",
    "Cooking",
    "Reading",
    "Cycling",
    "Photography",
    "Gardening",
    "Chess",
    "Running",
    "Painting",
    "Music",
];

/// `count` synthetic profiles; the same `seed` always yields the same people.
pub fn synthetic_profiles(count: usize, seed: u64) -> Vec<UserProfileInput> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count).map(|_| synthetic_profile(&mut rng)).collect()
}

fn synthetic_profile(rng: &mut StdRng) -> UserProfileInput {
    let age: u32 = rng.random_range(22..=70);
    let career_years = f64::from(age.saturating_sub(22).min(35));
    // Log-normal-ish income around a median that rises through a career.
    let median_income = 45_000.0 + 2_500.0 * career_years;
    let income = round_to(
        median_income * (rng.random_range(-0.7..0.9_f64)).exp(),
        1_000.0,
    );
    let savings_rate = rng.random_range(0.02..0.25);
    let assets = round_to(
        income * savings_rate * career_years * rng.random_range(0.6..1.8),
        500.0,
    );
    let has_mortgage = age > 28 && rng.random_bool(0.6);
    let liabilities = if has_mortgage {
        round_to(
            income * rng.random_range(1.0..3.5) * (1.0 - career_years / 45.0),
            500.0,
        )
    } else {
        round_to(rng.random_range(0.0..30_000.0), 500.0)
    };
    let risk_tolerance = match (age, rng.random_range(0..10)) {
        (..=35, 0..=5) | (36..=50, 0..=2) => RiskTolerance::Aggressive,
        (51.., 0..=5) | (36..=50, 8..) => RiskTolerance::Conservative,
        _ => RiskTolerance::Moderate,
    };
    UserProfileInput {
        name: Name().fake_with_rng(rng),
        age,
        annual_household_income: income,
        assets,
        liabilities: liabilities.max(0.0),
        risk_tolerance,
        retirement_age: rng.random_range(60..=70).max(age),
        goals: pick(rng, GOALS, 1..=3),
        favorite_advisor: ADVISORS.choose(rng).map(|s| s.to_string()),
        favorite_book: BOOKS.choose(rng).map(|s| s.to_string()),
        hobbies: pick(rng, HOBBIES, 0..=3),
    }
}

fn pick(rng: &mut StdRng, from: &[&str], count: std::ops::RangeInclusive<usize>) -> Vec<String> {
    let n = rng.random_range(count);
    from.choose_multiple(rng, n)
        .map(|s| s.to_string())
        .collect()
}

fn round_to(value: f64, step: f64) -> f64 {
    (value / step).round() * step
}

#[cfg(test)]
mod tests {
    use super::*;
    use validator::Validate;

    #[test]
    fn synthetic_profiles_pass_the_same_validation_as_user_input() {
        for (i, p) in synthetic_profiles(500, 7).iter().enumerate() {
            assert!(
                p.validate().is_ok(),
                "profile {i} invalid: {p:?}: {:?}",
                p.validate()
            );
        }
    }

    #[test]
    fn synthetic_profiles_are_reproducible_from_their_seed() {
        assert_eq!(synthetic_profiles(5, 42), synthetic_profiles(5, 42));
        assert_ne!(synthetic_profiles(5, 42), synthetic_profiles(5, 43));
    }

    #[test]
    fn synthetic_values_stay_in_sane_ranges() {
        for p in synthetic_profiles(500, 1) {
            assert!((22..=70).contains(&p.age));
            assert!(
                (5_000.0..=1_000_000.0).contains(&p.annual_household_income),
                "{}",
                p.annual_household_income
            );
            assert!(p.retirement_age >= p.age.min(60));
            assert!(!p.goals.is_empty());
        }
    }
}
