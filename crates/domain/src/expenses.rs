//! Spending categories and the expenses service's event payloads.
//!
//! The categories are Plaid's personal-finance taxonomy, all 104 detailed categories under its 16
//! primary ones, named as Plaid names them so data categorised elsewhere maps over unchanged.
//! Each carries a plain description, in words of its own: it is what the embedding stage
//! compares payees with, what the keyword stage reads, and what the model is shown when it has
//! to choose.

use serde::{Deserialize, Serialize};

/// One detailed category: `id` is Plaid's detailed name, `primary` its primary category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    pub id: &'static str,
    pub primary: &'static str,
    /// What a person would call it, as it reads after "you spent $40 on".
    pub label: &'static str,
    /// What belongs here, in words a payee could resemble.
    pub about: &'static str,
}

/// What a transaction is filed under when nothing could tell.
pub const UNCATEGORISED: &str = "OTHER";

macro_rules! categories {
    ($($primary:literal => [$(($id:literal, $label:literal, $about:literal)),+ $(,)?]),+ $(,)?) => {
        pub const CATEGORIES: &[Category] = &[$($(Category { id: $id, primary: $primary, label: $label, about: $about }),+),+];
    };
}

categories! {
    "INCOME" => [
        ("INCOME_WAGES", "Salary", "payroll salary wages direct deposit from an employer"),
        ("INCOME_DIVIDENDS", "Dividends", "dividends paid by stocks and funds"),
        ("INCOME_INTEREST_EARNED", "Interest", "interest earned on savings"),
        ("INCOME_RETIREMENT_PENSION", "Pension", "pension and annuity payouts from a retirement plan"),
        ("INCOME_TAX_REFUND", "Tax refund", "tax refunds from the treasury or a state revenue department"),
        ("INCOME_UNEMPLOYMENT", "Unemployment benefits", "unemployment benefits and jobless claims"),
        ("INCOME_OTHER_INCOME", "Other income", "refunds, side income, alimony, child support, rental income and other money received"),
    ],
    "TRANSFER_IN" => [
        ("TRANSFER_IN_CASH_ADVANCES_AND_LOANS", "Loans received", "loan proceeds and cash advances deposited into the account"),
        ("TRANSFER_IN_DEPOSIT", "Deposits", "cash and cheque deposits at a branch"),
        ("TRANSFER_IN_INVESTMENT_AND_RETIREMENT_FUNDS", "From investments", "money withdrawn from a brokerage or retirement account"),
        ("TRANSFER_IN_SAVINGS", "From savings", "money moved back from a savings account"),
        ("TRANSFER_IN_ACCOUNT_TRANSFER", "Transfer in", "money moved in from your own other account"),
        ("TRANSFER_IN_OTHER_TRANSFER_IN", "Other transfers in", "other incoming transfers"),
    ],
    "TRANSFER_OUT" => [
        ("TRANSFER_OUT_INVESTMENT_AND_RETIREMENT_FUNDS", "Investing", "contributions to a brokerage, IRA or 401k, and investing apps"),
        ("TRANSFER_OUT_SAVINGS", "Savings", "money moved to a savings account"),
        ("TRANSFER_OUT_WITHDRAWAL", "Cash withdrawals", "cash taken out at a teller or a cash machine"),
        ("TRANSFER_OUT_ACCOUNT_TRANSFER", "Transfer out", "money sent to another account or person, Zelle, Venmo"),
        ("TRANSFER_OUT_OTHER_TRANSFER_OUT", "Other transfers out", "other outgoing transfers"),
    ],
    "LOAN_PAYMENTS" => [
        ("LOAN_PAYMENTS_CAR_PAYMENT", "Car loan", "auto loan or car lease payment"),
        ("LOAN_PAYMENTS_CREDIT_CARD_PAYMENT", "Credit card payment", "payment of a credit card balance"),
        ("LOAN_PAYMENTS_PERSONAL_LOAN_PAYMENT", "Personal loan", "personal loan instalments and buy now pay later plans such as Affirm and Klarna"),
        ("LOAN_PAYMENTS_MORTGAGE_PAYMENT", "Mortgage", "mortgage payment to a home loan servicer"),
        ("LOAN_PAYMENTS_STUDENT_LOAN_PAYMENT", "Student loan", "student loan payment"),
        ("LOAN_PAYMENTS_OTHER_PAYMENT", "Other debt payments", "other debt repayments"),
    ],
    "BANK_FEES" => [
        ("BANK_FEES_ATM_FEES", "ATM fees", "fees for cash withdrawals at an ATM"),
        ("BANK_FEES_FOREIGN_TRANSACTION_FEES", "Foreign transaction fees", "fees on card use abroad or in another currency"),
        ("BANK_FEES_INSUFFICIENT_FUNDS", "Insufficient funds fees", "returned item and non-sufficient funds fees"),
        ("BANK_FEES_INTEREST_CHARGE", "Interest charges", "interest charged on an unpaid card balance or a cash advance"),
        ("BANK_FEES_OVERDRAFT_FEES", "Overdraft fees", "overdraft fees when the balance goes below zero"),
        ("BANK_FEES_OTHER_BANK_FEES", "Bank fees", "monthly account maintenance and other bank fees"),
    ],
    "ENTERTAINMENT" => [
        ("ENTERTAINMENT_CASINOS_AND_GAMBLING", "Gambling", "casinos, lottery tickets and sports betting"),
        ("ENTERTAINMENT_MUSIC_AND_AUDIO", "Music and audio", "music streaming, audiobooks and concerts"),
        ("ENTERTAINMENT_SPORTING_EVENTS_AMUSEMENT_PARKS_AND_MUSEUMS", "Events and outings", "tickets for games, amusement parks, museums and zoos"),
        ("ENTERTAINMENT_TV_AND_MOVIES", "TV and movies", "streaming video subscriptions and cinema tickets"),
        ("ENTERTAINMENT_VIDEO_GAMES", "Video games", "video games and game stores"),
        ("ENTERTAINMENT_OTHER_ENTERTAINMENT", "Other entertainment", "nightlife, bowling, arcades and other entertainment"),
    ],
    "FOOD_AND_DRINK" => [
        ("FOOD_AND_DRINK_BEER_WINE_AND_LIQUOR", "Alcohol", "liquor stores, wine shops, bars and pubs"),
        ("FOOD_AND_DRINK_COFFEE", "Coffee", "coffee shop, cafe, espresso bar, bakery, tea house"),
        ("FOOD_AND_DRINK_FAST_FOOD", "Fast food", "fast food, burgers, fried chicken, tacos, drive thru, pizza chain"),
        ("FOOD_AND_DRINK_GROCERIES", "Groceries", "supermarket, grocery store, food market, farmers market, grocer"),
        ("FOOD_AND_DRINK_RESTAURANT", "Restaurants", "restaurant, grill, bistro, trattoria, diner, sushi bar, ramen, pizzeria, steakhouse, tavern, food delivery, eating out, dinner and lunch"),
        ("FOOD_AND_DRINK_VENDING_MACHINES", "Vending machines", "vending machines and snack kiosks"),
        ("FOOD_AND_DRINK_OTHER_FOOD_AND_DRINK", "Other food and drink", "delis, juice and smoothie shops, ice cream and desserts"),
    ],
    "GENERAL_MERCHANDISE" => [
        ("GENERAL_MERCHANDISE_BOOKSTORES_AND_NEWSSTANDS", "Books", "bookshop, bookstore, books, newspapers, magazines"),
        ("GENERAL_MERCHANDISE_CLOTHING_AND_ACCESSORIES", "Clothing", "clothes, shoes, jewellery and accessories"),
        ("GENERAL_MERCHANDISE_CONVENIENCE_STORES", "Convenience stores", "convenience stores and mini marts such as 7-Eleven"),
        ("GENERAL_MERCHANDISE_DEPARTMENT_STORES", "Department stores", "department stores such as Macy's and Kohl's"),
        ("GENERAL_MERCHANDISE_DISCOUNT_STORES", "Discount stores", "dollar stores, outlets and discount stores"),
        ("GENERAL_MERCHANDISE_ELECTRONICS", "Electronics", "computers, phones and electronics stores"),
        ("GENERAL_MERCHANDISE_GIFTS_AND_NOVELTIES", "Gifts and flowers", "florists, gift shops, greeting cards and photo prints"),
        ("GENERAL_MERCHANDISE_OFFICE_SUPPLIES", "Office supplies", "office supplies, stationery and printing"),
        ("GENERAL_MERCHANDISE_ONLINE_MARKETPLACES", "Online shopping", "online marketplaces such as Amazon, eBay and Etsy"),
        ("GENERAL_MERCHANDISE_PET_SUPPLIES", "Pet supplies", "pet store, pet supply, pet food"),
        ("GENERAL_MERCHANDISE_SPORTING_GOODS", "Sporting goods", "sporting goods, camping gear and outdoor equipment"),
        ("GENERAL_MERCHANDISE_SUPERSTORES", "Superstores", "superstores and wholesale warehouses selling a bit of everything"),
        ("GENERAL_MERCHANDISE_TOBACCO_AND_VAPE", "Tobacco and vape", "tobacco, cigarettes, cigars and vape shops"),
        ("GENERAL_MERCHANDISE_OTHER_GENERAL_MERCHANDISE", "Other merchandise", "toys, hobbies, crafts and other goods"),
    ],
    "HOME_IMPROVEMENT" => [
        ("HOME_IMPROVEMENT_FURNITURE", "Furniture", "furniture and home furnishings"),
        ("HOME_IMPROVEMENT_HARDWARE", "Hardware", "hardware store, home improvement, tools, lumber, garden center"),
        ("HOME_IMPROVEMENT_REPAIR_AND_MAINTENANCE", "Home repairs", "plumbers, electricians, roofers, landscaping and handyman services"),
        ("HOME_IMPROVEMENT_SECURITY", "Home security", "alarm systems and home security monitoring such as ADT"),
        ("HOME_IMPROVEMENT_OTHER_HOME_IMPROVEMENT", "Other home upkeep", "pest control, pools and other home upkeep"),
    ],
    "MEDICAL" => [
        ("MEDICAL_DENTAL_CARE", "Dental care", "dentist, dental group, orthodontist"),
        ("MEDICAL_EYE_CARE", "Eye care", "optometrist, glasses, contact lenses and eye exams"),
        ("MEDICAL_NURSING_CARE", "Nursing care", "nursing homes, carers and assisted living"),
        ("MEDICAL_PHARMACIES_AND_SUPPLEMENTS", "Pharmacy and medicine", "pharmacies, drugstores and prescriptions"),
        ("MEDICAL_PRIMARY_CARE", "Doctor visits", "doctor, medical clinic, hospital, urgent care, physician"),
        ("MEDICAL_VETERINARY_SERVICES", "Vet visits", "veterinarian, veterinary practice and animal care"),
        ("MEDICAL_OTHER_MEDICAL", "Other health", "labs, therapists, hearing aids and other care"),
    ],
    "PERSONAL_CARE" => [
        ("PERSONAL_CARE_GYMS_AND_FITNESS_CENTERS", "Gym and fitness", "gym, fitness club, yoga studio, crossfit, pilates"),
        ("PERSONAL_CARE_HAIR_AND_BEAUTY", "Hair and beauty", "barber shop, hair salon, nail salon, spa, beauty"),
        ("PERSONAL_CARE_LAUNDRY_AND_DRY_CLEANING", "Laundry", "laundromat, dry cleaner and laundry service"),
        ("PERSONAL_CARE_OTHER_PERSONAL_CARE", "Other personal care", "massage, tanning, tattoo and other personal care"),
    ],
    "GENERAL_SERVICES" => [
        ("GENERAL_SERVICES_ACCOUNTING_AND_FINANCIAL_PLANNING", "Accounting and advice", "accountants, tax preparation and financial advisers"),
        ("GENERAL_SERVICES_AUTOMOTIVE", "Car care", "mechanic, oil change, tyres, car wash and body shop"),
        ("GENERAL_SERVICES_CHILDCARE", "Childcare", "daycare, nannies and babysitting"),
        ("GENERAL_SERVICES_CONSULTING_AND_LEGAL", "Legal and consulting", "lawyers, attorneys, notaries and consultants"),
        ("GENERAL_SERVICES_EDUCATION", "Education", "tuition, courses and school fees"),
        ("GENERAL_SERVICES_INSURANCE", "Insurance", "car, home, life and health insurance premiums"),
        ("GENERAL_SERVICES_POSTAGE_AND_SHIPPING", "Postage and shipping", "post office, postage, couriers and parcels such as UPS and FedEx"),
        ("GENERAL_SERVICES_STORAGE", "Storage", "self storage units and moving"),
        ("GENERAL_SERVICES_OTHER_GENERAL_SERVICES", "Other services", "cleaning, software subscriptions and other services"),
    ],
    "GOVERNMENT_AND_NON_PROFIT" => [
        ("GOVERNMENT_AND_NON_PROFIT_DONATIONS", "Donations", "charities and donations"),
        ("GOVERNMENT_AND_NON_PROFIT_GOVERNMENT_DEPARTMENTS_AND_AGENCIES", "Government services", "licences, permits, passport, motor vehicle and court fees"),
        ("GOVERNMENT_AND_NON_PROFIT_TAX_PAYMENT", "Taxes", "tax payments to the IRS and state tax agencies"),
        ("GOVERNMENT_AND_NON_PROFIT_OTHER_GOVERNMENT_AND_NON_PROFIT", "Other government", "fines, penalties and other civic payments"),
    ],
    "TRANSPORTATION" => [
        ("TRANSPORTATION_BIKES_AND_SCOOTERS", "Bikes and scooters", "bicycle shops, bike hire and e-scooters"),
        ("TRANSPORTATION_GAS", "Fuel", "gas stations and fuel"),
        ("TRANSPORTATION_PARKING", "Parking", "parking garage, parking meter, parking lot"),
        ("TRANSPORTATION_PUBLIC_TRANSIT", "Public transit", "buses, subways, trains and transit passes"),
        ("TRANSPORTATION_TAXIS_AND_RIDE_SHARES", "Taxis and rides", "taxis and ride shares such as Uber and Lyft"),
        ("TRANSPORTATION_TOLLS", "Tolls", "road and bridge tolls, E-ZPass, FasTrak"),
        ("TRANSPORTATION_OTHER_TRANSPORTATION", "Other transport", "ferries and other ways of getting around"),
    ],
    "TRAVEL" => [
        ("TRAVEL_FLIGHTS", "Flights", "airlines and airfare"),
        ("TRAVEL_LODGING", "Lodging", "hotel, inn and suites, motel, resort, lodge, holiday rental"),
        ("TRAVEL_RENTAL_CARS", "Rental cars", "car rental companies"),
        ("TRAVEL_OTHER_TRAVEL", "Other travel", "cruises, travel agencies, luggage and tours"),
    ],
    "RENT_AND_UTILITIES" => [
        ("RENT_AND_UTILITIES_GAS_AND_ELECTRICITY", "Electricity and gas", "electric and gas utility bills"),
        ("RENT_AND_UTILITIES_INTERNET_AND_CABLE", "Internet and cable", "internet, broadband and cable TV providers"),
        ("RENT_AND_UTILITIES_RENT", "Rent", "rent, apartments, lofts, property management, landlord"),
        ("RENT_AND_UTILITIES_SEWAGE_AND_WASTE_MANAGEMENT", "Trash and sewer", "trash collection, recycling, waste management and sewer"),
        ("RENT_AND_UTILITIES_TELEPHONE", "Phone bills", "mobile and telephone bills"),
        ("RENT_AND_UTILITIES_WATER", "Water bills", "water utility and water bill"),
        ("RENT_AND_UTILITIES_OTHER_UTILITIES", "Other utilities", "heating oil, propane and other utilities"),
    ],
    "OTHER" => [
        ("OTHER", "Uncategorised", "anything that fits nowhere else"),
    ],
}

/// The category with this id, if there is one.
pub fn category(id: &str) -> Option<&'static Category> {
    CATEGORIES.iter().find(|c| c.id == id)
}

/// A category id as the OpenAPI document states it: one of [`CATEGORIES`], so generated clients
/// offer exactly the ids the service accepts.
#[cfg(feature = "openapi")]
pub fn category_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(CATEGORIES.iter().map(|c| c.id)))
        .examples([serde_json::json!("FOOD_AND_DRINK_GROCERIES")])
        .build()
}

/// Money that comes in or moves between a person's own accounts is not spending.
pub fn is_spending(id: &str) -> bool {
    category(id).is_some_and(|c| {
        !matches!(c.primary, "INCOME" | "TRANSFER_IN" | "TRANSFER_OUT")
            && c.id != "LOAN_PAYMENTS_CREDIT_CARD_PAYMENT"
    })
}

/// Which stage of the categoriser filed a transaction, first that answers wins, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum CategorySource {
    /// A rule the person wrote.
    Rule,
    /// A rule learned from the person's corrections of one payee.
    Learned,
    /// The merchant category code the bank sent (ISO 18245).
    Mcc,
    /// A merchant Miyagi knows by name.
    Merchant,
    /// A word of the payee's that one category's description names ("TRATTORIA", "BARBER").
    Keyword,
    /// The nearest already-categorised payees, by meaning.
    Similar,
    /// The local model, choosing from the category list.
    Model,
    /// The person chose it.
    Person,
    /// Nothing could tell.
    None,
}

impl CategorySource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rule => "rule",
            Self::Learned => "learned",
            Self::Mcc => "mcc",
            Self::Merchant => "merchant",
            Self::Keyword => "keyword",
            Self::Similar => "similar",
            Self::Model => "model",
            Self::Person => "person",
            Self::None => "none",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Rule,
            Self::Learned,
            Self::Mcc,
            Self::Merchant,
            Self::Keyword,
            Self::Similar,
            Self::Model,
            Self::Person,
            Self::None,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// `miyagi.expenses.import.received.v1`: a statement file was read, found sound, and stored in
/// blob storage; the service imports it from there. Ids only: the file's contents never enter
/// the shared log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReceived {
    pub owner: String,
    pub import_id: uuid::Uuid,
}

/// `miyagi.expenses.transactions.imported.v1`: a batch landed. Ids and counts only: the
/// transactions themselves (payees, amounts) stay in the service, out of the shared log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionsImported {
    pub owner: String,
    pub import_id: uuid::Uuid,
    pub imported: usize,
    pub duplicates: usize,
    /// How many of the imported wait for the model to file them.
    pub pending: usize,
}

/// `miyagi.expenses.transaction.recategorised.v1`: the person corrected a category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionRecategorised {
    pub owner: String,
    pub transaction_id: uuid::Uuid,
    pub payee_key: String,
    pub from: String,
    pub to: String,
    /// A rule for the payee learned from this and earlier corrections, if this one made it.
    pub learned_rule: bool,
}

/// `miyagi.expenses.budget.at_risk.v1`: at this month's pace a budget will be overspent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetAtRisk {
    pub owner: String,
    pub category: String,
    /// `YYYY-MM`.
    pub month: String,
    pub limit: f64,
    pub spent: f64,
    pub projected: f64,
}

/// `miyagi.expenses.spending.summarised.v1`: a person's usual month, from their last full months
/// of transactions, published after each change to them. The advisor sizes the emergency reserve
/// on the spending and projects savings from the difference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpendingSummarised {
    pub owner: String,
    /// Dollars a month, averaged over `months`.
    pub monthly_income: f64,
    pub monthly_spending: f64,
    /// How many full months it averages (up to 3); 0: nothing is known (the account was deleted).
    pub months: u32,
    /// A later summary replaces an earlier one, never the reverse.
    pub as_of: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_ids_are_unique_and_start_with_their_primary() {
        let mut ids: Vec<_> = CATEGORIES.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CATEGORIES.len());
        assert!(CATEGORIES.iter().all(|c| c.id.starts_with(c.primary)));
    }

    #[test]
    fn every_plaid_category_is_here_under_its_primary() {
        let detailed = CATEGORIES.iter().filter(|c| c.id != UNCATEGORISED);
        let mut primaries: Vec<_> = detailed.clone().map(|c| c.primary).collect();
        primaries.dedup();
        assert_eq!((detailed.count(), primaries.len()), (104, 16));
    }

    #[test]
    fn income_and_transfers_are_not_spending() {
        assert!(!is_spending("INCOME_WAGES"));
        assert!(!is_spending("TRANSFER_OUT_SAVINGS"));
        assert!(!is_spending("LOAN_PAYMENTS_CREDIT_CARD_PAYMENT"));
        assert!(is_spending("FOOD_AND_DRINK_GROCERIES"));
        assert!(is_spending("LOAN_PAYMENTS_MORTGAGE_PAYMENT"));
    }
}
