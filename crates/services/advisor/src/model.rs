//! The advisor's request and response, as the original Miyagi UI sent and read them, with the
//! rules a request must pass before any number is computed.

use chrono::{DateTime, Utc};
use miyagi_domain::{
    advice::AdviceTrigger,
    user::{RiskTolerance, MAX_AMOUNT},
};
use miyagi_finance::{
    allocation::{Action, Allocation, AssetClass, Drift},
    projection::Projection,
    risk::{RiskProfile, Tolerance},
    stocks::StockSleeve,
};
use miyagi_memory::cite::Citation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

/// The most stocks one piece of advice speaks of.
pub const MAX_STOCKS: u64 = 50;

/// The request the original Miyagi UI sent; profile fields left out are taken from the stored
/// profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonalizeRequest {
    #[validate(nested)]
    pub user_info: UserInfo,
    /// Current holdings by asset class (Stocks, Bonds, Cash, RealEstate/HomeEquity), in any
    /// unit: percent, fractions or money.
    #[serde(default)]
    #[validate(length(max = 20, message = "at most 20 holdings"), nested)]
    #[schema(max_items = 20)]
    pub portfolio: Vec<AssetHolding>,
    #[serde(default)]
    #[validate(length(max = MAX_STOCKS, message = "at most 50 stocks"), nested)]
    #[schema(max_items = 50)]
    pub stocks: Vec<StockHolding>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    /// The profile (from the users service) the advice is for.
    pub user_id: Uuid,
    #[validate(range(min = 18, max = 120, message = "must be between 18 and 120"))]
    #[schema(minimum = 18, maximum = 120)]
    pub age: Option<u32>,
    pub risk_level: Option<RiskTolerance>,
    #[validate(range(min = 0.0, max = MAX_AMOUNT, message = "must be between 0 and 1e12"))]
    #[schema(minimum = 0, maximum = 1e12)]
    pub annual_household_income: Option<f64>,
    #[validate(
        length(max = 200, message = "must be at most 200 characters"),
        custom(function = "miyagi_domain::text::printable")
    )]
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub favorite_book: Option<String>,
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "miyagi_domain::text::printable")
    )]
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub favorite_advisor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetHolding {
    /// The class, in any case and spacing (`real estate` is `RealEstate`).
    #[validate(custom(function = "asset_class"))]
    #[schema(schema_with = asset_class_schema)]
    pub name: String,
    #[validate(range(min = 0.0, max = MAX_AMOUNT, message = "must be between 0 and 1e12"))]
    #[schema(minimum = 0, maximum = 1e12)]
    pub allocation: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockHolding {
    #[validate(custom(function = "ticker"))]
    #[schema(pattern = r"^[A-Za-z0-9.^-]{1,12}$", example = "MSFT")]
    pub symbol: String,
    #[validate(range(min = 0.0, max = MAX_AMOUNT, message = "must be between 0 and 1e12"))]
    #[schema(minimum = 0, maximum = 1e12)]
    pub allocation: f64,
    /// Daily closes, oldest first; gives the stock's volatility.
    #[serde(default)]
    #[validate(length(max = 2000, message = "at most 2000 prices"))]
    #[schema(max_items = 2000)]
    pub prices: Vec<f64>,
}

/// An asset class as the OpenAPI document states it: one of the spellings it is read from.
fn asset_class_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(AssetClass::SPELLINGS.map(|(spelling, _)| spelling)))
        .examples([serde_json::json!("Stocks")])
        .build()
}

fn asset_class(name: &str) -> Result<(), ValidationError> {
    AssetClass::parse(name).map(|_| ()).ok_or_else(|| {
        ValidationError::new("asset_class")
            .with_message("must be one of Stocks, Bonds, Cash, RealEstate (or HomeEquity)".into())
    })
}

fn ticker(symbol: &str) -> Result<(), ValidationError> {
    let ok = (1..=12).contains(&symbol.len())
        && symbol
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '^'));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("ticker")
            .with_message("must be 1 to 12 letters, digits, '.', '-' or '^'".into()))
    }
}

/// Advice as stored and returned: the original UI's two lists, the engine's numbers behind
/// them, and the narrative with its citations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Advice {
    pub id: Uuid,
    pub user_id: Uuid,
    pub trigger: AdviceTrigger,
    pub created_at: DateTime<Utc>,
    /// True when this answer was served from an identical earlier request.
    #[serde(default)]
    pub cached: bool,
    /// The chat model that wrote the narrative.
    pub model: String,
    pub assets: AssetsAdvice,
    pub investments: InvestmentsAdvice,
    pub engine: EngineResult,
    pub narrative: String,
    pub citations: Vec<Citation>,
    /// Citations the model made that the verifier refused, with the reason.
    pub rejected_citations: Vec<String>,
    /// Which words are the model's, and what of its answer was left out.
    #[serde(default)]
    pub writing: Writing,
}

/// How the advice's words came to be, so a reader can tell the model's from the engine's. The
/// narrative always opens with the person's own figures, written by the code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Writing {
    /// Times the model was asked: 2 when its first answer failed the checks for sense.
    pub attempts: u32,
    /// Who wrote the narrative after its opening.
    pub narrative_by: NarrativeAuthor,
    /// Why the model's narrative was left out after its retry, when it was.
    pub refused: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NarrativeAuthor {
    #[default]
    Model,
    /// Sentences built from the engine's numbers, used where the model's failed twice.
    Template,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssetsAdvice {
    pub portfolio: Vec<AssetRecommendation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvestmentsAdvice {
    pub portfolio: Vec<StockRecommendation>,
    /// Where the stocks came from: the request, or (when it named none) the person's paper
    /// trading account.
    #[serde(default)]
    pub stocks_from: StocksFrom,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetRecommendation {
    pub name: String,
    pub action: Action,
    /// Share of the portfolio now (absent when no holdings were given) and at target.
    pub current: Option<f64>,
    pub target: f64,
    /// The engine's action, the person's share against the target, and the gap between them.
    pub gpt_recommendation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockRecommendation {
    pub symbol: String,
    pub action: Action,
    pub gpt_recommendation: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StocksFrom {
    #[default]
    Request,
    /// The positions of the person's paper trading account, valued at the market.
    PaperAccount,
}

/// Everything the finance engine computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EngineResult {
    pub household: HouseholdSummary,
    pub risk: RiskProfile,
    pub target: Allocation,
    pub current: Option<Allocation>,
    pub drift: Vec<Drift>,
    pub stocks: StockSleeve,
    pub projection: Projection,
}

/// The inputs the engine used, after merging the request with the stored profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HouseholdSummary {
    pub age: u32,
    pub retirement_age: u32,
    pub annual_income: f64,
    pub assets: f64,
    pub liabilities: f64,
    pub tolerance: Tolerance,
    /// Profile version the advice was computed from; `None` when no profile was stored.
    pub profile_version: Option<i64>,
    /// What the projection assumes is saved each year: income less spending when the person's
    /// transactions tell both, else a fixed share of income.
    pub annual_savings: f64,
    /// The emergency reserve the cash target holds, in dollars.
    pub cash_reserve: f64,
    /// The usual month from the person's transactions, when the expenses service knows it;
    /// `null`: the reserve and savings are estimated from income.
    pub cash_flow: Option<CashFlow>,
}

/// A person's usual month from their transactions (the expenses service's summary).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CashFlow {
    pub monthly_income: f64,
    pub monthly_spending: f64,
    /// How many full months it averages.
    pub months: u32,
}

/// A request every unit test can start from: a moderate 40-year-old heavy in stocks, holding MSFT.
#[cfg(test)]
pub mod fixtures {
    use super::*;

    pub fn request() -> PersonalizeRequest {
        PersonalizeRequest {
            user_info: UserInfo {
                user_id: Uuid::nil(),
                age: Some(40),
                risk_level: Some(RiskTolerance::Moderate),
                annual_household_income: Some(150_000.0),
                favorite_book: None,
                favorite_advisor: None,
            },
            portfolio: vec![
                AssetHolding {
                    name: "Stocks".into(),
                    allocation: 80.0,
                },
                AssetHolding {
                    name: "Bonds".into(),
                    allocation: 10.0,
                },
                AssetHolding {
                    name: "Cash".into(),
                    allocation: 10.0,
                },
            ],
            stocks: vec![StockHolding {
                symbol: "MSFT".into(),
                allocation: 100.0,
                prices: vec![],
            }],
        }
    }
}
