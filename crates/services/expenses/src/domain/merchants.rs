//! What Miyagi knows without asking anyone: merchant category codes (ISO 18245) and merchants
//! well known by name.
//!
//! The code table is derived by hand from ISO 18245's groups (the list the `iso18245` package
//! carries): a range of codes maps to the detailed category a household would file it under.
//! Codes not listed tell nothing, and the next stage decides.

/// The category an ISO 18245 merchant category code files under, with the code group's name.
pub fn by_mcc(code: u16) -> Option<(&'static str, &'static str)> {
    let category = match code {
        3000..=3299 | 4511 => ("TRAVEL_FLIGHTS", "airlines"),
        3351..=3441 | 7512 | 7513 => ("TRAVEL_RENTAL_CARS", "car rental"),
        3501..=3999 | 7011 | 7012 => ("TRAVEL_LODGING", "lodging"),
        4111 | 4112 | 4131 => ("TRANSPORTATION_PUBLIC_TRANSIT", "passenger transport"),
        4121 => (
            "TRANSPORTATION_TAXIS_AND_RIDE_SHARES",
            "taxicabs and limousines",
        ),
        4784 | 7523 => ("TRANSPORTATION_PARKING", "tolls and parking"),
        4812 | 4814 => ("RENT_AND_UTILITIES_TELEPHONE", "telecommunication services"),
        4899 => (
            "RENT_AND_UTILITIES_INTERNET_AND_CABLE",
            "cable and pay television",
        ),
        4900 => ("RENT_AND_UTILITIES_GAS_AND_ELECTRICITY", "utilities"),
        5200 | 5211 | 5231 | 5251 | 5261 => {
            ("HOME_IMPROVEMENT_HARDWARE", "home supply and hardware")
        }
        5712 | 5713 | 5714 | 5719 => ("HOME_IMPROVEMENT_FURNITURE", "furniture and furnishings"),
        5262 | 5964 => (
            "GENERAL_MERCHANDISE_ONLINE_MARKETPLACES",
            "marketplaces and direct marketing",
        ),
        5300 | 5310 | 5311 | 5331 | 5399 => (
            "GENERAL_MERCHANDISE_SUPERSTORES",
            "department and discount stores",
        ),
        5411 | 5422 | 5499 => (
            "FOOD_AND_DRINK_GROCERIES",
            "grocery stores and food markets",
        ),
        5462 => ("FOOD_AND_DRINK_COFFEE", "bakeries"),
        5541 | 5542 | 5983 => ("TRANSPORTATION_GAS", "service stations and fuel"),
        5611..=5699 | 5931 | 5948 => (
            "GENERAL_MERCHANDISE_CLOTHING_AND_ACCESSORIES",
            "clothing and accessories",
        ),
        5045 | 5732 | 5734 => (
            "GENERAL_MERCHANDISE_ELECTRONICS",
            "electronics and computers",
        ),
        5812 => ("FOOD_AND_DRINK_RESTAURANT", "eating places and restaurants"),
        5813 | 5921 => (
            "FOOD_AND_DRINK_BEER_WINE_AND_LIQUOR",
            "bars and package stores",
        ),
        5814 => ("FOOD_AND_DRINK_FAST_FOOD", "fast food restaurants"),
        5815 | 7832 | 7841 => ("ENTERTAINMENT_TV_AND_MOVIES", "digital media and cinemas"),
        5816 => ("ENTERTAINMENT_VIDEO_GAMES", "digital games"),
        5912 => (
            "MEDICAL_PHARMACIES_AND_SUPPLEMENTS",
            "drug stores and pharmacies",
        ),
        5942 | 5994 => (
            "GENERAL_MERCHANDISE_BOOKSTORES_AND_NEWSSTANDS",
            "book stores and news dealers",
        ),
        5995 => ("GENERAL_MERCHANDISE_PET_SUPPLIES", "pet shops"),
        5960 | 6300 => ("GENERAL_SERVICES_INSURANCE", "insurance"),
        7210..=7217 | 7349 | 7372 => (
            "GENERAL_SERVICES_OTHER_GENERAL_SERVICES",
            "cleaning and other services",
        ),
        7230 | 7298 => ("PERSONAL_CARE_HAIR_AND_BEAUTY", "beauty and barber shops"),
        7922 | 7929 => ("ENTERTAINMENT_MUSIC_AND_AUDIO", "concerts and bands"),
        7941 | 7991 | 7996 | 7998 => (
            "ENTERTAINMENT_SPORTING_EVENTS_AMUSEMENT_PARKS_AND_MUSEUMS",
            "sports, attractions and amusement parks",
        ),
        7997 => (
            "PERSONAL_CARE_GYMS_AND_FITNESS_CENTERS",
            "clubs and fitness",
        ),
        8011 | 8031 | 8041 | 8042 | 8049 | 8050 | 8062 | 8071 | 8099 => {
            ("MEDICAL_PRIMARY_CARE", "medical services")
        }
        8021 => ("MEDICAL_DENTAL_CARE", "dentists and orthodontists"),
        8211 | 8220 | 8241 | 8244 | 8249 | 8299 => {
            ("GENERAL_SERVICES_EDUCATION", "schools and education")
        }
        8351 => ("GENERAL_SERVICES_CHILDCARE", "child care services"),
        8398 => (
            "GOVERNMENT_AND_NON_PROFIT_DONATIONS",
            "charitable organisations",
        ),
        9311 => ("GOVERNMENT_AND_NON_PROFIT_TAX_PAYMENT", "tax payments"),
        _ => return None,
    };
    Some(category)
}

/// Merchants known by name, longest names first where one contains another ("UBER EATS"
/// before "UBER"). Matched as whole words in the description.
pub const MERCHANTS: &[(&str, &str)] = &[
    ("PAYROLL", "INCOME_WAGES"),
    ("DIVIDEND", "INCOME_DIVIDENDS"),
    ("INTEREST PAYMENT", "INCOME_INTEREST_EARNED"),
    ("IRS TREAS TAX REF", "INCOME_OTHER_INCOME"),
    ("VENMO", "TRANSFER_OUT_ACCOUNT_TRANSFER"),
    ("ZELLE", "TRANSFER_OUT_ACCOUNT_TRANSFER"),
    ("VANGUARD", "TRANSFER_OUT_SAVINGS"),
    ("FIDELITY", "TRANSFER_OUT_SAVINGS"),
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
            if let Some((id, _)) = by_mcc(code) {
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
    fn a_grocery_code_files_under_groceries() {
        assert_eq!(by_mcc(5411).unwrap().0, "FOOD_AND_DRINK_GROCERIES");
        assert_eq!(by_mcc(1), None);
    }
}
