//! What Miyagi knows without asking anyone: merchant category codes (ISO 18245) and merchants
//! well known by name.
//!
//! The codes and their names are ISO's list as the `iso18245` package carries it, with the codes
//! Visa and Mastercard added (`data/iso18245.csv`, made by `scripts/iso18245-table.sh`). Which
//! category a code files under is a judgement, made here: codes a household meets map to the
//! detailed category it would file them under; the rest (wholesale, freight, business services)
//! tell nothing, and the next stage decides.

use std::sync::LazyLock;

/// `(first, last, name)`: a code, or a range of them the card schemes share out.
static CODES: LazyLock<Vec<(u16, u16, String)>> = LazyLock::new(|| {
    csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(include_str!("../../data/iso18245.csv").as_bytes())
        .records()
        .map(|record| {
            let record = record.expect("the committed table is CSV");
            let code = |i: usize| record[i].parse().expect("codes are numbers");
            (code(0), code(1), record[2].to_string())
        })
        .collect()
});

/// A code's name in ISO 18245 (or the card scheme that added it); `None` for a code no list has.
pub fn code_name(code: u16) -> Option<&'static str> {
    CODES
        .iter()
        .find(|(first, last, _)| (*first..=*last).contains(&code))
        .map(|(_, _, name)| name.as_str())
}

/// The category a merchant category code files under, with the code's name.
pub fn by_mcc(code: u16) -> Option<(&'static str, &'static str)> {
    Some((category_of(code)?, code_name(code)?))
}

fn category_of(code: u16) -> Option<&'static str> {
    Some(match code {
        742 => "MEDICAL_VETERINARY_SERVICES",
        780 | 1520 | 1711 | 1731 | 1740 | 1750 | 1761 | 1771 | 1799 => {
            "HOME_IMPROVEMENT_REPAIR_AND_MAINTENANCE"
        }
        3000..=3350 | 4511 => "TRAVEL_FLIGHTS",
        3351..=3500 | 7512 | 7513 | 7519 => "TRAVEL_RENTAL_CARS",
        3501..=3999 | 7011 | 7012 => "TRAVEL_LODGING",
        4411 | 4722 | 4723 => "TRAVEL_OTHER_TRAVEL",
        4011 | 4111 | 4112 | 4131 => "TRANSPORTATION_PUBLIC_TRANSIT",
        4121 => "TRANSPORTATION_TAXIS_AND_RIDE_SHARES",
        4784 => "TRANSPORTATION_TOLLS",
        7523 => "TRANSPORTATION_PARKING",
        5940 => "TRANSPORTATION_BIKES_AND_SCOOTERS",
        4789 | 5552 => "TRANSPORTATION_OTHER_TRANSPORTATION",
        5541 | 5542 => "TRANSPORTATION_GAS",
        4215 | 9402 => "GENERAL_SERVICES_POSTAGE_AND_SHIPPING",
        4225 => "GENERAL_SERVICES_STORAGE",
        4812..=4815 => "RENT_AND_UTILITIES_TELEPHONE",
        4816 | 4899 => "RENT_AND_UTILITIES_INTERNET_AND_CABLE",
        4900 => "RENT_AND_UTILITIES_GAS_AND_ELECTRICITY",
        5983 => "RENT_AND_UTILITIES_OTHER_UTILITIES",
        4829 => "TRANSFER_OUT_ACCOUNT_TRANSFER",
        6010 | 6011 => "TRANSFER_OUT_WITHDRAWAL",
        6211 => "TRANSFER_OUT_INVESTMENT_AND_RETIREMENT_FUNDS",
        5200 | 5211 | 5231 | 5251 | 5261 => "HOME_IMPROVEMENT_HARDWARE",
        5712 | 5713 | 5714 | 5718 | 5719 => "HOME_IMPROVEMENT_FURNITURE",
        7393 => "HOME_IMPROVEMENT_SECURITY",
        5996 | 7342 => "HOME_IMPROVEMENT_OTHER_HOME_IMPROVEMENT",
        5262 | 5964 => "GENERAL_MERCHANDISE_ONLINE_MARKETPLACES",
        5300 | 5399 => "GENERAL_MERCHANDISE_SUPERSTORES",
        5310 | 5331 => "GENERAL_MERCHANDISE_DISCOUNT_STORES",
        5311 => "GENERAL_MERCHANDISE_DEPARTMENT_STORES",
        5611 | 5621 | 5631 | 5641 | 5651 | 5655 | 5661 | 5681 | 5691 | 5697 | 5698 | 5699
        | 5931 | 5944 | 5948 => "GENERAL_MERCHANDISE_CLOTHING_AND_ACCESSORIES",
        5045 | 5722 | 5732 | 5734 | 5946 => "GENERAL_MERCHANDISE_ELECTRONICS",
        5942 | 5994 => "GENERAL_MERCHANDISE_BOOKSTORES_AND_NEWSSTANDS",
        5943 | 5978 => "GENERAL_MERCHANDISE_OFFICE_SUPPLIES",
        5947 | 5992 => "GENERAL_MERCHANDISE_GIFTS_AND_NOVELTIES",
        5941 => "GENERAL_MERCHANDISE_SPORTING_GOODS",
        5993 => "GENERAL_MERCHANDISE_TOBACCO_AND_VAPE",
        5995 => "GENERAL_MERCHANDISE_PET_SUPPLIES",
        5945 | 5949 | 5970 | 5972 => "GENERAL_MERCHANDISE_OTHER_GENERAL_MERCHANDISE",
        5411 | 5422 | 5451 | 5499 => "FOOD_AND_DRINK_GROCERIES",
        5462 => "FOOD_AND_DRINK_COFFEE",
        5441 => "FOOD_AND_DRINK_OTHER_FOOD_AND_DRINK",
        5811 | 5812 => "FOOD_AND_DRINK_RESTAURANT",
        5813 | 5921 => "FOOD_AND_DRINK_BEER_WINE_AND_LIQUOR",
        5814 => "FOOD_AND_DRINK_FAST_FOOD",
        5815 | 7832 | 7841 => "ENTERTAINMENT_TV_AND_MOVIES",
        5735 | 7922 | 7929 => "ENTERTAINMENT_MUSIC_AND_AUDIO",
        5816 => "ENTERTAINMENT_VIDEO_GAMES",
        7800 | 7801 | 7802 | 7995 | 9406 => "ENTERTAINMENT_CASINOS_AND_GAMBLING",
        7941 | 7991 | 7992 | 7996 | 7998 => {
            "ENTERTAINMENT_SPORTING_EVENTS_AMUSEMENT_PARKS_AND_MUSEUMS"
        }
        7911 | 7932 | 7933 | 7994 => "ENTERTAINMENT_OTHER_ENTERTAINMENT",
        5912 => "MEDICAL_PHARMACIES_AND_SUPPLEMENTS",
        8011 | 8031 | 8041 | 8049 | 8062 | 8099 => "MEDICAL_PRIMARY_CARE",
        8021 => "MEDICAL_DENTAL_CARE",
        8042 | 8043 => "MEDICAL_EYE_CARE",
        8050 => "MEDICAL_NURSING_CARE",
        4119 | 5975 | 5976 | 8071 => "MEDICAL_OTHER_MEDICAL",
        7997 => "PERSONAL_CARE_GYMS_AND_FITNESS_CENTERS",
        5977 | 7230 | 7298 => "PERSONAL_CARE_HAIR_AND_BEAUTY",
        7210 | 7211 | 7216 => "PERSONAL_CARE_LAUNDRY_AND_DRY_CLEANING",
        7297 => "PERSONAL_CARE_OTHER_PERSONAL_CARE",
        7276 | 8931 => "GENERAL_SERVICES_ACCOUNTING_AND_FINANCIAL_PLANNING",
        5531..=5533 | 7531 | 7534 | 7535 | 7538 | 7542 | 7549 => "GENERAL_SERVICES_AUTOMOTIVE",
        8111 => "GENERAL_SERVICES_CONSULTING_AND_LEGAL",
        8211 | 8220 | 8241 | 8244 | 8249 | 8299 => "GENERAL_SERVICES_EDUCATION",
        8351 => "GENERAL_SERVICES_CHILDCARE",
        5960 | 6300 => "GENERAL_SERVICES_INSURANCE",
        5817 | 7217 | 7349 | 7372 => "GENERAL_SERVICES_OTHER_GENERAL_SERVICES",
        8398 | 8651 | 8661 => "GOVERNMENT_AND_NON_PROFIT_DONATIONS",
        9211 | 9399 | 9405 => "GOVERNMENT_AND_NON_PROFIT_GOVERNMENT_DEPARTMENTS_AND_AGENCIES",
        9222 | 9223 => "GOVERNMENT_AND_NON_PROFIT_OTHER_GOVERNMENT_AND_NON_PROFIT",
        9311 => "GOVERNMENT_AND_NON_PROFIT_TAX_PAYMENT",
        _ => return None,
    })
}

/// Merchants known by name, longest names first where one contains another ("UBER EATS"
/// before "UBER"). Matched as whole words in the description.
pub const MERCHANTS: &[(&str, &str)] = &[
    ("PAYROLL", "INCOME_WAGES"),
    ("DIVIDEND", "INCOME_DIVIDENDS"),
    ("INTEREST PAYMENT", "INCOME_INTEREST_EARNED"),
    ("IRS TREAS TAX REF", "INCOME_TAX_REFUND"),
    ("VENMO", "TRANSFER_OUT_ACCOUNT_TRANSFER"),
    ("ZELLE", "TRANSFER_OUT_ACCOUNT_TRANSFER"),
    ("VANGUARD", "TRANSFER_OUT_INVESTMENT_AND_RETIREMENT_FUNDS"),
    ("FIDELITY", "TRANSFER_OUT_INVESTMENT_AND_RETIREMENT_FUNDS"),
    ("AUTOPAY CREDIT CARD", "LOAN_PAYMENTS_CREDIT_CARD_PAYMENT"),
    ("NAVIENT", "LOAN_PAYMENTS_STUDENT_LOAN_PAYMENT"),
    ("SALLIE MAE", "LOAN_PAYMENTS_STUDENT_LOAN_PAYMENT"),
    ("ROCKET MORTGAGE", "LOAN_PAYMENTS_MORTGAGE_PAYMENT"),
    ("TOYOTA FINANCIAL", "LOAN_PAYMENTS_CAR_PAYMENT"),
    ("ATM FEE", "BANK_FEES_ATM_FEES"),
    ("OVERDRAFT", "BANK_FEES_OVERDRAFT_FEES"),
    ("MONTHLY SERVICE FEE", "BANK_FEES_OTHER_BANK_FEES"),
    ("NETFLIX", "ENTERTAINMENT_TV_AND_MOVIES"),
    ("HULU", "ENTERTAINMENT_TV_AND_MOVIES"),
    ("DISNEY PLUS", "ENTERTAINMENT_TV_AND_MOVIES"),
    ("AMC THEATRES", "ENTERTAINMENT_TV_AND_MOVIES"),
    ("SPOTIFY", "ENTERTAINMENT_MUSIC_AND_AUDIO"),
    ("AUDIBLE", "ENTERTAINMENT_MUSIC_AND_AUDIO"),
    (
        "TICKETMASTER",
        "ENTERTAINMENT_SPORTING_EVENTS_AMUSEMENT_PARKS_AND_MUSEUMS",
    ),
    ("STEAM", "ENTERTAINMENT_VIDEO_GAMES"),
    ("PLAYSTATION", "ENTERTAINMENT_VIDEO_GAMES"),
    ("NINTENDO", "ENTERTAINMENT_VIDEO_GAMES"),
    ("WHOLE FOODS", "FOOD_AND_DRINK_GROCERIES"),
    ("TRADER JOES", "FOOD_AND_DRINK_GROCERIES"),
    ("KROGER", "FOOD_AND_DRINK_GROCERIES"),
    ("SAFEWAY", "FOOD_AND_DRINK_GROCERIES"),
    ("PUBLIX", "FOOD_AND_DRINK_GROCERIES"),
    ("ALDI", "FOOD_AND_DRINK_GROCERIES"),
    ("WEGMANS", "FOOD_AND_DRINK_GROCERIES"),
    ("UBER EATS", "FOOD_AND_DRINK_RESTAURANT"),
    ("DOORDASH", "FOOD_AND_DRINK_RESTAURANT"),
    ("GRUBHUB", "FOOD_AND_DRINK_RESTAURANT"),
    ("OLIVE GARDEN", "FOOD_AND_DRINK_RESTAURANT"),
    ("MCDONALDS", "FOOD_AND_DRINK_FAST_FOOD"),
    ("CHIPOTLE", "FOOD_AND_DRINK_FAST_FOOD"),
    ("TACO BELL", "FOOD_AND_DRINK_FAST_FOOD"),
    ("WENDYS", "FOOD_AND_DRINK_FAST_FOOD"),
    ("BURGER KING", "FOOD_AND_DRINK_FAST_FOOD"),
    ("DOMINOS", "FOOD_AND_DRINK_FAST_FOOD"),
    ("STARBUCKS", "FOOD_AND_DRINK_COFFEE"),
    ("DUNKIN", "FOOD_AND_DRINK_COFFEE"),
    ("PEETS", "FOOD_AND_DRINK_COFFEE"),
    ("TOTAL WINE", "FOOD_AND_DRINK_BEER_WINE_AND_LIQUOR"),
    ("AMAZON", "GENERAL_MERCHANDISE_ONLINE_MARKETPLACES"),
    ("AMZN", "GENERAL_MERCHANDISE_ONLINE_MARKETPLACES"),
    ("EBAY", "GENERAL_MERCHANDISE_ONLINE_MARKETPLACES"),
    ("ETSY", "GENERAL_MERCHANDISE_ONLINE_MARKETPLACES"),
    ("WALMART", "GENERAL_MERCHANDISE_SUPERSTORES"),
    ("TARGET", "GENERAL_MERCHANDISE_SUPERSTORES"),
    ("COSTCO", "GENERAL_MERCHANDISE_SUPERSTORES"),
    ("OLD NAVY", "GENERAL_MERCHANDISE_CLOTHING_AND_ACCESSORIES"),
    ("NORDSTROM", "GENERAL_MERCHANDISE_CLOTHING_AND_ACCESSORIES"),
    ("ZARA", "GENERAL_MERCHANDISE_CLOTHING_AND_ACCESSORIES"),
    ("BEST BUY", "GENERAL_MERCHANDISE_ELECTRONICS"),
    ("APPLE STORE", "GENERAL_MERCHANDISE_ELECTRONICS"),
    ("PETCO", "GENERAL_MERCHANDISE_PET_SUPPLIES"),
    ("PETSMART", "GENERAL_MERCHANDISE_PET_SUPPLIES"),
    ("CHEWY", "GENERAL_MERCHANDISE_PET_SUPPLIES"),
    (
        "BARNES & NOBLE",
        "GENERAL_MERCHANDISE_BOOKSTORES_AND_NEWSSTANDS",
    ),
    ("HOME DEPOT", "HOME_IMPROVEMENT_HARDWARE"),
    ("LOWES", "HOME_IMPROVEMENT_HARDWARE"),
    ("IKEA", "HOME_IMPROVEMENT_FURNITURE"),
    ("WAYFAIR", "HOME_IMPROVEMENT_FURNITURE"),
    ("CVS", "MEDICAL_PHARMACIES_AND_SUPPLEMENTS"),
    ("WALGREENS", "MEDICAL_PHARMACIES_AND_SUPPLEMENTS"),
    ("PLANET FITNESS", "PERSONAL_CARE_GYMS_AND_FITNESS_CENTERS"),
    ("EQUINOX", "PERSONAL_CARE_GYMS_AND_FITNESS_CENTERS"),
    ("GREAT CLIPS", "PERSONAL_CARE_HAIR_AND_BEAUTY"),
    ("GEICO", "GENERAL_SERVICES_INSURANCE"),
    ("STATE FARM", "GENERAL_SERVICES_INSURANCE"),
    ("PROGRESSIVE", "GENERAL_SERVICES_INSURANCE"),
    ("RED CROSS", "GOVERNMENT_AND_NON_PROFIT_DONATIONS"),
    ("IRS", "GOVERNMENT_AND_NON_PROFIT_TAX_PAYMENT"),
    ("SHELL", "TRANSPORTATION_GAS"),
    ("CHEVRON", "TRANSPORTATION_GAS"),
    ("EXXONMOBIL", "TRANSPORTATION_GAS"),
    ("EXXON", "TRANSPORTATION_GAS"),
    ("UBER", "TRANSPORTATION_TAXIS_AND_RIDE_SHARES"),
    ("LYFT", "TRANSPORTATION_TAXIS_AND_RIDE_SHARES"),
    ("MTA", "TRANSPORTATION_PUBLIC_TRANSIT"),
    ("CLIPPER", "TRANSPORTATION_PUBLIC_TRANSIT"),
    ("DELTA AIR", "TRAVEL_FLIGHTS"),
    ("UNITED AIRLINES", "TRAVEL_FLIGHTS"),
    ("AMERICAN AIRLINES", "TRAVEL_FLIGHTS"),
    ("SOUTHWEST AIRLINES", "TRAVEL_FLIGHTS"),
    ("MARRIOTT", "TRAVEL_LODGING"),
    ("HILTON", "TRAVEL_LODGING"),
    ("AIRBNB", "TRAVEL_LODGING"),
    ("HERTZ", "TRAVEL_RENTAL_CARS"),
    ("AVIS", "TRAVEL_RENTAL_CARS"),
    ("PG&E", "RENT_AND_UTILITIES_GAS_AND_ELECTRICITY"),
    ("CON EDISON", "RENT_AND_UTILITIES_GAS_AND_ELECTRICITY"),
    ("DUKE ENERGY", "RENT_AND_UTILITIES_GAS_AND_ELECTRICITY"),
    ("COMCAST", "RENT_AND_UTILITIES_INTERNET_AND_CABLE"),
    ("XFINITY", "RENT_AND_UTILITIES_INTERNET_AND_CABLE"),
    ("SPECTRUM", "RENT_AND_UTILITIES_INTERNET_AND_CABLE"),
    ("VERIZON", "RENT_AND_UTILITIES_TELEPHONE"),
    ("AT&T", "RENT_AND_UTILITIES_TELEPHONE"),
    ("T MOBILE", "RENT_AND_UTILITIES_TELEPHONE"),
];

/// The known merchant this description names, if any.
pub fn by_name(description_upper: &str) -> Option<(&'static str, &'static str)> {
    MERCHANTS
        .iter()
        .find(|(name, _)| super::payee::mentions(description_upper, name))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use miyagi_domain::expenses::category;

    #[test]
    fn every_category_named_here_exists() {
        for (_, id) in MERCHANTS {
            assert!(category(id).is_some(), "{id}");
        }
        for code in 0..10_000 {
            if let Some(id) = category_of(code) {
                assert!(category(id).is_some(), "{code} → {id}");
            }
        }
    }

    #[test]
    fn the_longer_merchant_name_wins() {
        assert_eq!(
            by_name("UBER EATS ORDER").unwrap().1,
            "FOOD_AND_DRINK_RESTAURANT"
        );
        assert_eq!(
            by_name("UBER TRIP HELP.UBER.COM").unwrap().1,
            "TRANSPORTATION_TAXIS_AND_RIDE_SHARES"
        );
    }

    #[test]
    fn a_grocery_code_files_under_groceries_by_its_iso_name() {
        assert_eq!(
            by_mcc(5411),
            Some(("FOOD_AND_DRINK_GROCERIES", "Groceries and supermarkets"))
        );
        assert_eq!(by_mcc(1), None);
    }

    #[test]
    fn every_code_filed_is_one_the_lists_name() {
        let invented: Vec<u16> = (0..10_000)
            .filter(|&code| category_of(code).is_some() && code_name(code).is_none())
            .collect();
        assert_eq!(invented, Vec::<u16>::new());
    }

    #[test]
    fn the_scheme_ranges_and_added_codes_are_listed() {
        assert_eq!(code_name(3058), Some("Airlines"));
        assert_eq!(
            by_mcc(5815).map(|(id, _)| id),
            Some("ENTERTAINMENT_TV_AND_MOVIES")
        );
    }
}
