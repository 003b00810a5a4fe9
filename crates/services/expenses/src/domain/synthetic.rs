//! Synthetic households' bank statements, for demos, tests and the accuracy benchmark: a salary
//! twice a month, rent, utilities, subscriptions, weekly groceries, meals out, coffee, fuel,
//! seasonal spending (December gifts, a summer trip) and a few anomalies, each row with the
//! category a person would file it under kept aside as the truth.
//!
//! Half the payees are local businesses no dictionary knows, written the way banks write them
//! (processor prefixes, store numbers, towns): some say what they are ("MARIOS TRATTORIA"),
//! some do not ("LUCKY STAR", "SHEAR GENIUS"), so the benchmark measures the stages that have to
//! understand a payee, and what corrections teach, not only the ones that look it up.

use chrono::{Datelike, Duration, NaiveDate};
use rand::{rngs::StdRng, seq::IndexedRandom, Rng, SeedableRng};

use crate::model::NewTransaction;

/// A row and the category it truly belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub transaction: NewTransaction,
    pub truth: &'static str,
}

type Payees = &'static [(&'static str, &'static str)];

const GROCERIES: Payees = &[
    ("KROGER #{n} {town}", "FOOD_AND_DRINK_GROCERIES"),
    ("TRADER JOE'S #{n} {town}", "FOOD_AND_DRINK_GROCERIES"),
    ("WHOLE FOODS MKT {n} {town}", "FOOD_AND_DRINK_GROCERIES"),
    ("GREENLEAF FARMERS MARKET", "FOOD_AND_DRINK_GROCERIES"),
    ("SUNRISE GROCERY {town}", "FOOD_AND_DRINK_GROCERIES"),
    ("HOLLOWAYS #{n} {town}", "FOOD_AND_DRINK_GROCERIES"),
];
const MEALS: Payees = &[
    ("TST* MARIO'S TRATTORIA", "FOOD_AND_DRINK_RESTAURANT"),
    (
        "GOLDEN DRAGON RESTAURANT {town}",
        "FOOD_AND_DRINK_RESTAURANT",
    ),
    ("SQ *THE CORNER DINER", "FOOD_AND_DRINK_RESTAURANT"),
    ("SAKURA SUSHI BAR", "FOOD_AND_DRINK_RESTAURANT"),
    ("UBER EATS {n}", "FOOD_AND_DRINK_RESTAURANT"),
    ("CHIPOTLE {n}", "FOOD_AND_DRINK_FAST_FOOD"),
    ("MCDONALD'S F{n}", "FOOD_AND_DRINK_FAST_FOOD"),
    ("BURGER BARN DRIVE THRU", "FOOD_AND_DRINK_FAST_FOOD"),
    ("TST* LUCKY STAR", "FOOD_AND_DRINK_RESTAURANT"),
    ("THE GREEN ROOM {town}", "FOOD_AND_DRINK_RESTAURANT"),
];
const COFFEE: Payees = &[
    ("STARBUCKS STORE {n}", "FOOD_AND_DRINK_COFFEE"),
    ("SQ *BLUE BOTTLE COFFEE", "FOOD_AND_DRINK_COFFEE"),
    ("DAILY GRIND CAFE {town}", "FOOD_AND_DRINK_COFFEE"),
    ("SQ *MORNING RITUAL", "FOOD_AND_DRINK_COFFEE"),
];
const ERRANDS: Payees = &[
    ("SHELL OIL {n} {town}", "TRANSPORTATION_GAS"),
    ("CHEVRON {n}", "TRANSPORTATION_GAS"),
    (
        "UBER TRIP HELP.UBER.COM",
        "TRANSPORTATION_TAXIS_AND_RIDE_SHARES",
    ),
    ("LYFT RIDE {n}", "TRANSPORTATION_TAXIS_AND_RIDE_SHARES"),
    ("CITY PARKING GARAGE {n}", "TRANSPORTATION_PARKING"),
    ("CVS/PHARMACY #{n}", "MEDICAL_PHARMACIES_AND_SUPPLEMENTS"),
    (
        "AMAZON MKTPL*{n}",
        "GENERAL_MERCHANDISE_ONLINE_MARKETPLACES",
    ),
    ("TARGET 000{n}", "GENERAL_MERCHANDISE_SUPERSTORES"),
    ("HOME DEPOT #{n}", "HOME_IMPROVEMENT_HARDWARE"),
    ("MAIN STREET BARBER SHOP", "PERSONAL_CARE_HAIR_AND_BEAUTY"),
    ("SHEAR GENIUS {town}", "PERSONAL_CARE_HAIR_AND_BEAUTY"),
    (
        "PAWS AND CLAWS PET SUPPLY",
        "GENERAL_MERCHANDISE_PET_SUPPLIES",
    ),
    (
        "RIVERSIDE BOOKSHOP",
        "GENERAL_MERCHANDISE_BOOKSTORES_AND_NEWSSTANDS",
    ),
    (
        "OLD NAVY US {n}",
        "GENERAL_MERCHANDISE_CLOTHING_AND_ACCESSORIES",
    ),
    ("AMC THEATRES {n}", "ENTERTAINMENT_TV_AND_MOVIES"),
];
const TOWNS: &[&str] = &[
    "CINCINNATI OH",
    "AUSTIN TX",
    "PORTLAND OR",
    "DENVER CO",
    "RALEIGH NC",
];
const EMPLOYERS: &[&str] = &["ACME CORP", "GLOBEX INC", "INITECH", "UMBRELLA HEALTH"];
const LANDLORDS: &[&str] = &[
    "OAKWOOD APARTMENTS",
    "PARKSIDE PROPERTY MGMT",
    "MAPLE RIDGE LOFTS",
];

/// `months` of one household's transactions ending with `last_month` (any day in it), oldest
/// first; the same `seed` gives the same household.
pub fn household(seed: u64, months: u32, last_month: NaiveDate) -> Vec<Labelled> {
    let mut rng = StdRng::seed_from_u64(seed);
    let town = *TOWNS.choose(&mut rng).expect("towns");
    let employer = *EMPLOYERS.choose(&mut rng).expect("employers");
    let landlord = *LANDLORDS.choose(&mut rng).expect("landlords");
    let salary = (rng.random_range(2_200.0..5_500.0_f64) / 10.0).round() * 10.0;
    let rent = (salary * rng.random_range(0.45..0.7) / 5.0).round() * 5.0;
    let eating_out = rng.random_range(1.0..3.0);
    let first =
        last_month.with_day(1).expect("day 1") - chrono::Months::new(months.saturating_sub(1));
    let mut rows = Vec::new();
    // `store`: the number a bank prints after a chain's name, different at every till.
    let mut add = |date: NaiveDate,
                   template: &str,
                   amount: f64,
                   truth: &'static str,
                   mcc: Option<u16>,
                   store: u32| {
        let description = template
            .replace("{n}", &store.to_string())
            .replace("{town}", town);
        rows.push(Labelled {
            transaction: NewTransaction {
                date,
                description,
                amount: (amount * 100.0).round() / 100.0,
                mcc,
            },
            truth,
        });
    };
    for m in 0..months {
        let month = first + chrono::Months::new(m);
        let days = (month + chrono::Months::new(1) - month).num_days();
        let day = |d: i64| month + Duration::days(d.min(days) - 1);
        let december = month.month() == 12;
        let summer = month.month() == 7;
        for payday in [1, 15] {
            add(
                day(payday),
                &format!("PAYROLL DEPOSIT {employer}"),
                salary,
                "INCOME_WAGES",
                None,
                rng.random_range(100..9999),
            );
        }
        add(
            day(1),
            &format!("ACH DEBIT RENT {landlord}"),
            -rent,
            "RENT_AND_UTILITIES_RENT",
            None,
            rng.random_range(100..9999),
        );
        let power = rng.random_range(60.0..140.0) * if december || summer { 1.4 } else { 1.0 };
        add(
            day(8),
            "DUKE ENERGY PAYMENT",
            -power,
            "RENT_AND_UTILITIES_GAS_AND_ELECTRICITY",
            None,
            rng.random_range(100..9999),
        );
        add(
            day(12),
            "CITY WATER UTILITY BILLPAY",
            -rng.random_range(30.0..55.0),
            "RENT_AND_UTILITIES_WATER",
            None,
            rng.random_range(100..9999),
        );
        add(
            day(14),
            "COMCAST CABLE COMM",
            -79.99,
            "RENT_AND_UTILITIES_INTERNET_AND_CABLE",
            None,
            rng.random_range(100..9999),
        );
        add(
            day(18),
            "VERIZON WIRELESS PAYMENTS",
            -65.0,
            "RENT_AND_UTILITIES_TELEPHONE",
            None,
            rng.random_range(100..9999),
        );
        add(
            day(5),
            "NETFLIX.COM 866-579-7172 CA",
            -15.49,
            "ENTERTAINMENT_TV_AND_MOVIES",
            Some(5815),
            rng.random_range(100..9999),
        );
        add(
            day(9),
            "SPOTIFY USA",
            -11.99,
            "ENTERTAINMENT_MUSIC_AND_AUDIO",
            None,
            rng.random_range(100..9999),
        );
        add(
            day(3),
            "IRONWORKS FITNESS CLUB",
            -39.0,
            "PERSONAL_CARE_GYMS_AND_FITNESS_CENTERS",
            None,
            rng.random_range(100..9999),
        );
        add(
            day(20),
            "GEICO AUTO INSURANCE",
            -112.0,
            "GENERAL_SERVICES_INSURANCE",
            None,
            rng.random_range(100..9999),
        );
        add(
            day(16),
            "VANGUARD BROKERAGE CONTRIB",
            -(salary * 0.15).round(),
            "TRANSFER_OUT_INVESTMENT_AND_RETIREMENT_FUNDS",
            None,
            rng.random_range(100..9999),
        );
        for week in 0..4 {
            let (template, truth) = *GROCERIES.choose(&mut rng).expect("groceries");
            let mcc = rng.random_bool(0.3).then_some(5411);
            add(
                day(2 + week * 7 + rng.random_range(0..3)),
                template,
                -rng.random_range(45.0..140.0),
                truth,
                mcc,
                rng.random_range(100..9999),
            );
        }
        for _ in 0..(4.0 * eating_out) as usize {
            let (template, truth) = *MEALS.choose(&mut rng).expect("meals");
            add(
                day(rng.random_range(1..=days)),
                template,
                -rng.random_range(12.0..75.0),
                truth,
                None,
                rng.random_range(100..9999),
            );
        }
        for _ in 0..rng.random_range(4..10) {
            let (template, truth) = *COFFEE.choose(&mut rng).expect("coffee");
            add(
                day(rng.random_range(1..=days)),
                template,
                -rng.random_range(3.5..8.0),
                truth,
                None,
                rng.random_range(100..9999),
            );
        }
        for _ in 0..rng.random_range(5..10) {
            let (template, truth) = *ERRANDS.choose(&mut rng).expect("errands");
            add(
                day(rng.random_range(1..=days)),
                template,
                -rng.random_range(9.0..90.0),
                truth,
                None,
                rng.random_range(100..9999),
            );
        }
        if december {
            for _ in 0..6 {
                add(
                    day(rng.random_range(1..=22)),
                    "AMAZON MKTPL*{n}",
                    -rng.random_range(25.0..160.0),
                    "GENERAL_MERCHANDISE_ONLINE_MARKETPLACES",
                    None,
                    rng.random_range(100..9999),
                );
            }
        }
        if summer {
            add(
                day(2),
                "DELTA AIR LINES 006{n}",
                -rng.random_range(280.0..650.0),
                "TRAVEL_FLIGHTS",
                Some(3058),
                rng.random_range(100..9999),
            );
            add(
                day(10),
                "SEASIDE INN AND SUITES",
                -rng.random_range(400.0..900.0),
                "TRAVEL_LODGING",
                None,
                rng.random_range(100..9999),
            );
        }
        // An anomaly now and then: a blow-out dinner, a laptop.
        if rng.random_bool(0.25) {
            add(
                day(rng.random_range(1..=days)),
                "TST* MARIO'S TRATTORIA",
                -rng.random_range(380.0..600.0),
                "FOOD_AND_DRINK_RESTAURANT",
                None,
                rng.random_range(100..9999),
            );
        }
        if rng.random_bool(0.1) {
            add(
                day(rng.random_range(1..=days)),
                "BEST BUY 00{n}",
                -rng.random_range(900.0..1900.0),
                "GENERAL_MERCHANDISE_ELECTRONICS",
                Some(5732),
                rng.random_range(100..9999),
            );
        }
    }
    rows.sort_by_key(|r| r.transaction.date);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use miyagi_domain::expenses::category;
    use validator::Validate;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_household_is_reproducible_from_its_seed() {
        assert_eq!(
            household(7, 3, day("2026-11-01")),
            household(7, 3, day("2026-11-20"))
        );
        assert_ne!(
            household(7, 3, day("2026-11-01")),
            household(8, 3, day("2026-11-01"))
        );
    }

    #[test]
    fn every_row_is_valid_input_in_the_asked_months_with_a_real_category() {
        let rows = household(1, 6, day("2026-11-01"));
        assert!(rows.len() > 6 * 30, "{} rows", rows.len());
        for row in &rows {
            row.transaction.validate().unwrap();
            assert!(category(row.truth).is_some(), "{}", row.truth);
            assert!(
                row.transaction.date >= day("2026-06-01")
                    && row.transaction.date <= day("2026-11-30")
            );
        }
    }

    #[test]
    fn the_household_earns_more_than_it_spends() {
        let rows = household(3, 12, day("2026-12-01"));
        let balance: f64 = rows.iter().map(|r| r.transaction.amount).sum();
        assert!(balance > 0.0, "{balance}");
    }
}
