//! What the advisor decides. The finance engine computes every number and action; the language
//! model, given those and passages from the investing library, writes the explanation and a note
//! per asset class and stock in the voice of the person's favourite advisor. The model's reply
//! is constrained to a JSON schema built for this request (the class names and symbols are the
//! only keys it may use, the library's sentences the only quotes), so it is always usable.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Utc};
use miyagi_domain::{
    advice::AdviceTrigger,
    document::LIBRARY_OWNER,
    user::{RiskTolerance, UserProfile, MAX_AMOUNT},
};
use miyagi_finance::{
    allocation::{self, Action, Allocation, AssetClass, Drift},
    projection::{self, Projection, ProjectionInput},
    risk::{self, Household, RiskProfile, Tolerance},
    stocks::{self, Holding, StockSleeve},
};
use miyagi_kernel::{structured::TextWatcher, Kernel, KernelError};
use miyagi_memory::{
    cite::{self, Citation, Passage, RawCitation},
    retrieve::{RetrievalSettings, Retriever},
};
use miyagi_platform::cache::Cache;

use crate::progress::{NarrativeTap, Progress, Stage};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::{prompts::Prompts, store::AdviceStore};

/// The library collection advice is grounded in.
pub const LIBRARY_COLLECTION: &str = "investing-principles";
/// Retirement age assumed when neither the request nor a stored profile gives one.
pub const DEFAULT_RETIREMENT_AGE: u32 = 65;
/// Share of income assumed saved each year, for the projection.
pub const SAVINGS_RATE: f64 = 0.15;
const PROJECTION_PATHS: usize = 2_000;
/// Stocks the model writes a note for (the rest get the engine's reason alone): each note costs
/// decoding time, and the constrained decoder bounds arrays at this length anyway.
const MAX_STOCK_NOTES: usize = 8;
/// How long a request naming a just-created profile waits for the profile's event to arrive.
const PROFILE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
const DEFAULT_ADVISOR: &str = "a patient, plain-spoken fiduciary financial planner";

#[derive(Debug, thiserror::Error)]
pub enum AdvisorError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("no chat model is configured (set `models.local = true` or an OpenAI endpoint)")]
    NoModel,
    #[error("advice not found")]
    NotFound,
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

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
    pub portfolio: Vec<AssetHolding>,
    #[serde(default)]
    #[validate(length(max = 50, message = "at most 50 stocks"), nested)]
    pub stocks: Vec<StockHolding>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    /// The profile (from the users service) the advice is for.
    pub user_id: Uuid,
    #[validate(range(min = 18, max = 120, message = "must be between 18 and 120"))]
    pub age: Option<u32>,
    pub risk_level: Option<RiskTolerance>,
    #[validate(range(min = 0.0, max = MAX_AMOUNT, message = "must be between 0 and 1e12"))]
    pub annual_household_income: Option<f64>,
    #[validate(
        length(max = 200, message = "must be at most 200 characters"),
        custom(function = "printable")
    )]
    pub favorite_book: Option<String>,
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "printable")
    )]
    pub favorite_advisor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetHolding {
    #[validate(custom(function = "asset_class"))]
    pub name: String,
    #[validate(range(min = 0.0, max = MAX_AMOUNT, message = "must be between 0 and 1e12"))]
    pub allocation: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockHolding {
    #[validate(custom(function = "ticker"))]
    pub symbol: String,
    #[validate(range(min = 0.0, max = MAX_AMOUNT, message = "must be between 0 and 1e12"))]
    pub allocation: f64,
    /// Daily closes, oldest first; gives the stock's volatility.
    #[serde(default)]
    #[validate(length(max = 2000, message = "at most 2000 prices"))]
    pub prices: Vec<f64>,
}

fn printable(text: &str) -> Result<(), ValidationError> {
    if text.chars().any(char::is_control) {
        return Err(ValidationError::new("control_character")
            .with_message("must not contain control characters".into()));
    }
    Ok(())
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssetsAdvice {
    pub portfolio: Vec<AssetRecommendation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InvestmentsAdvice {
    pub portfolio: Vec<StockRecommendation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetRecommendation {
    pub name: String,
    pub action: Action,
    /// Share of the portfolio now (absent when no holdings were given) and at target.
    pub current: Option<f64>,
    pub target: f64,
    /// The engine's action and numbers, then the model's note.
    pub gpt_recommendation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockRecommendation {
    pub symbol: String,
    pub action: Action,
    pub gpt_recommendation: String,
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
}

/// The model's part of the advice, in the shape the request's schema forces.
#[derive(Debug, Deserialize)]
struct Written {
    narrative: String,
    assets: Vec<Note>,
    #[serde(default)]
    stocks: Vec<Note>,
    #[serde(default)]
    citations: Vec<RawCitation>,
}

#[derive(Debug, Deserialize)]
struct Note {
    #[serde(alias = "symbol")]
    name: String,
    note: String,
}

pub struct Advisor {
    store: AdviceStore,
    /// In front of the advice table: answers a repeated request without a database round trip,
    /// shared by every replica when it is Redis.
    cache: Arc<dyn Cache>,
    kernel: Option<Kernel>,
    library: Arc<dyn Retriever>,
    prompts: Prompts,
}

impl Advisor {
    pub fn new(
        store: AdviceStore,
        cache: Arc<dyn Cache>,
        kernel: Option<Kernel>,
        library: Arc<dyn Retriever>,
        prompts: Prompts,
    ) -> Self {
        Self {
            store,
            cache,
            kernel,
            library,
            prompts,
        }
    }

    pub fn store(&self) -> &AdviceStore {
        &self.store
    }

    /// Drops the cached advice given for one profile: called when its profile event arrives,
    /// so advice from a changed or deleted profile is never served from the cache.
    pub async fn forget(&self, owner: &str, profile: Uuid) {
        if let Err(e) = self.cache.invalidate(&profile_tag(owner, profile)).await {
            tracing::warn!(error = %format!("{e:#}"), "cannot invalidate cached advice; it expires with its TTL");
        }
    }

    /// An identical earlier answer: from the cache, else from the advice table (then cached).
    async fn earlier(
        &self,
        owner: &str,
        key: &str,
        profile: Uuid,
    ) -> Result<Option<Advice>, AdvisorError> {
        let cache_key = advice_cache_key(owner, key);
        match self.cache.get(&cache_key).await {
            Ok(Some(bytes)) => match serde_json::from_slice::<Advice>(&bytes) {
                Ok(advice) => return Ok(Some(advice)),
                // Written by another version of the service: fall through to the store.
                Err(e) => tracing::debug!(error = %e, "cached advice does not parse; ignored"),
            },
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "advice cache unavailable; reading the store")
            }
        }
        let found = self.store.find_by_key(owner, key).await?;
        if let Some(advice) = &found {
            self.remember(owner, key, profile, advice).await;
        }
        Ok(found)
    }

    async fn remember(&self, owner: &str, key: &str, profile: Uuid, advice: &Advice) {
        let bytes = serde_json::to_vec(advice).expect("advice serializes");
        let (key, tag) = (advice_cache_key(owner, key), profile_tag(owner, profile));
        if let Err(e) = self.cache.put(&key, &bytes, &tag).await {
            tracing::warn!(error = %format!("{e:#}"), "cannot cache advice");
        }
    }

    /// Advice for `request`, answered from an identical earlier request when there is one.
    /// `event_id` is set when an event caused this (the inbox then makes it happen once).
    pub async fn personalize(
        &self,
        owner: &str,
        request: &PersonalizeRequest,
        trigger: AdviceTrigger,
        event_id: Option<(&str, &str)>,
    ) -> Result<Advice, AdvisorError> {
        self.run(owner, request, trigger, event_id, None).await
    }

    /// [`Advisor::personalize`] for a person's request, telling `progress` each stage and the
    /// narrative as the model writes it.
    pub async fn personalize_watched(
        &self,
        owner: &str,
        request: &PersonalizeRequest,
        progress: &Progress,
    ) -> Result<Advice, AdvisorError> {
        self.run(owner, request, AdviceTrigger::Request, None, Some(progress))
            .await
    }

    async fn run(
        &self,
        owner: &str,
        request: &PersonalizeRequest,
        trigger: AdviceTrigger,
        event_id: Option<(&str, &str)>,
        progress: Option<&Progress>,
    ) -> Result<Advice, AdvisorError> {
        let stage = |stage: Stage| {
            if let Some(progress) = progress {
                progress.stage(stage);
            }
        };
        let kernel = self.kernel.as_ref().ok_or(AdvisorError::NoModel)?;
        stage(Stage::Engine);
        let profile = self.profile(owner, &request.user_info).await?;
        let household = household(&request.user_info, profile.as_ref())?;
        let engine = compute(&household, request, profile.as_ref().map(|p| p.version));
        let prompt = self.prompts.personalize()?;
        let model = kernel.chat_model()?.model_id().to_string();
        let key = cache_key(&[
            &serde_json::to_value(&engine.household).expect("serializes"),
            &serde_json::to_value(request).expect("serializes"),
            &json!(prompt.fingerprint()),
            &json!(model),
        ]);
        let profile_id = request.user_info.user_id;
        if trigger == AdviceTrigger::Request {
            if let Some(mut advice) = self.earlier(owner, &key, profile_id).await? {
                advice.cached = true;
                return Ok(advice);
            }
        }
        stage(Stage::Library);
        let passages = self.ground(&household, &engine).await;
        stage(Stage::Writing);
        let written = self
            .write(
                &prompt,
                request,
                profile.as_ref(),
                &engine,
                &passages,
                progress,
            )
            .await?;
        let (citations, rejected_citations) = cite::resolve(written.citations, &passages);
        let advice = Advice {
            id: Uuid::now_v7(),
            user_id: request.user_info.user_id,
            trigger,
            created_at: Utc::now(),
            cached: false,
            model,
            assets: AssetsAdvice {
                portfolio: asset_recommendations(request, &engine, &written.assets),
            },
            investments: InvestmentsAdvice {
                portfolio: stock_recommendations(&engine, &written.stocks),
            },
            engine,
            narrative: written.narrative,
            citations,
            rejected_citations,
        };
        stage(Stage::Saving);
        self.store
            .record(owner, request, &key, &advice, event_id)
            .await?;
        self.remember(owner, &key, profile_id, &advice).await;
        Ok(advice)
    }

    /// The stored profile the request names. A profile created a moment ago reaches the advisor
    /// by event, so when the request cannot stand on its own the advisor waits briefly for it.
    async fn profile(
        &self,
        owner: &str,
        info: &UserInfo,
    ) -> Result<Option<UserProfile>, AdvisorError> {
        let complete = info.age.is_some()
            && info.risk_level.is_some()
            && info.annual_household_income.is_some();
        let deadline = tokio::time::Instant::now() + PROFILE_WAIT;
        loop {
            let profile = self.store.profile(owner, info.user_id).await?;
            if profile.is_some() || complete || tokio::time::Instant::now() >= deadline {
                return Ok(profile);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Passages from the library about this household's situation. Advice without sources is
    /// still advice, so a retrieval failure is logged and the advice goes ahead uncited.
    async fn ground(&self, household: &Household, engine: &EngineResult) -> Vec<Passage> {
        let actions: Vec<String> = engine
            .drift
            .iter()
            .filter(|d| d.action != Action::Hold)
            .map(|d| format!("{:?} {:?}", d.action, d.class).to_lowercase())
            .collect();
        let query = format!(
            "asset allocation and rebalancing for a {:?} investor {} years from retirement; diversification; {}",
            household.tolerance,
            household.years_to_retirement(),
            actions.join(", ")
        );
        let settings = RetrievalSettings {
            limit: 3,
            // Keeps the prompt inside a small model's context.
            token_budget: Some(600),
            ..Default::default()
        };
        match self
            .library
            .retrieve(LIBRARY_OWNER, &query, Some(LIBRARY_COLLECTION), &settings)
            .await
        {
            Ok(passages) => passages,
            Err(e) => {
                tracing::warn!(error = %e, "library retrieval failed; advice goes uncited");
                Vec::new()
            }
        }
    }

    async fn write(
        &self,
        prompt: &crate::prompts::Prompt,
        request: &PersonalizeRequest,
        profile: Option<&UserProfile>,
        engine: &EngineResult,
        passages: &[Passage],
        progress: Option<&Progress>,
    ) -> Result<Written, AdvisorError> {
        let kernel = self.kernel.as_ref().ok_or(AdvisorError::NoModel)?;
        let advisor = request
            .user_info
            .favorite_advisor
            .clone()
            .or_else(|| profile.and_then(|p| p.profile.favorite_advisor.clone()))
            .unwrap_or_else(|| DEFAULT_ADVISOR.to_string());
        let book = request
            .user_info
            .favorite_book
            .clone()
            .or_else(|| profile.and_then(|p| p.profile.favorite_book.clone()))
            .unwrap_or_default();
        let args: BTreeMap<String, Value> = [
            ("advisor", advisor),
            ("book", book),
            ("profile", describe_household(&engine.household)),
            ("facts", describe_engine(engine)),
            ("sources", cite::sources_block(passages)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v)))
        .collect();
        let chat = prompt.function.request(kernel, args).await?;
        let schema = written_schema(engine, passages);
        let value = match progress {
            None => kernel.structured_value(chat, "advice", schema, 2).await?,
            Some(progress) => {
                let (tap, progress) = (Mutex::new(NarrativeTap::default()), progress.clone());
                let watch: TextWatcher = Arc::new(move |piece: &str| {
                    progress.narrative(tap.lock().expect("tap lock").feed(piece));
                });
                kernel
                    .structured_value_watched(chat, "advice", schema, 2, watch)
                    .await?
            }
        };
        serde_json::from_value(value)
            .map_err(|e| KernelError::BadResponse(format!("advice: {e}")).into())
    }
}

/// The request's profile fields, completed from the stored profile. Age, income and risk
/// tolerance must come from one or the other.
fn household(info: &UserInfo, profile: Option<&UserProfile>) -> Result<Household, AdvisorError> {
    let stored = profile.map(|p| &p.profile);
    let missing = |field: &str| AdvisorError::Invalid {
        field: format!("userInfo.{field}"),
        message: "not given, and no stored profile for this userId has it".into(),
    };
    let tolerance = match info.risk_level.or(stored.map(|p| p.risk_tolerance)) {
        Some(RiskTolerance::Conservative) => Tolerance::Conservative,
        Some(RiskTolerance::Moderate) => Tolerance::Moderate,
        Some(RiskTolerance::Aggressive) => Tolerance::Aggressive,
        None => return Err(missing("riskLevel")),
    };
    Ok(Household {
        age: info
            .age
            .or(stored.map(|p| p.age))
            .ok_or_else(|| missing("age"))?,
        retirement_age: stored.map_or(DEFAULT_RETIREMENT_AGE, |p| p.retirement_age),
        annual_income: info
            .annual_household_income
            .or(stored.map(|p| p.annual_household_income))
            .ok_or_else(|| missing("annualHouseholdIncome"))?,
        assets: stored.map_or(0.0, |p| p.assets),
        liabilities: stored.map_or(0.0, |p| p.liabilities),
        tolerance,
    })
}

/// The finance engine's whole answer for a household and its holdings; `profile_version` is
/// the stored profile's, recorded with the numbers it produced.
pub fn compute(
    household: &Household,
    request: &PersonalizeRequest,
    profile_version: Option<i64>,
) -> EngineResult {
    let risk = risk::assess(household);
    let current = Allocation::from_holdings(
        request
            .portfolio
            .iter()
            .filter_map(|h| AssetClass::parse(&h.name).map(|c| (c, h.allocation))),
    );
    let investable = household.assets * (1.0 - current.map_or(0.0, |c| c.real_estate));
    let target = allocation::target(&risk, current.as_ref(), investable, household.annual_income);
    let drift = current
        .map(|c| allocation::drift(&c, &target))
        .unwrap_or_default();
    let stock_action = drift
        .iter()
        .find(|d| d.class == AssetClass::Stocks)
        .map_or(Action::Buy, |d| d.action);
    let holdings: Vec<Holding> = request
        .stocks
        .iter()
        .map(|s| Holding {
            symbol: s.symbol.clone(),
            allocation: s.allocation,
            prices: s.prices.clone(),
        })
        .collect();
    let stock_share = current.map_or(target.stocks, |c| c.stocks);
    let sleeve = stocks::analyse(&holdings, stock_share, stock_action, risk.score);
    let seed_source = serde_json::to_vec(&(household, request)).expect("serializes");
    let seed = u64::from_le_bytes(
        Sha256::digest(&seed_source)[..8]
            .try_into()
            .expect("8 bytes"),
    );
    let projection = projection::project(&ProjectionInput {
        starting_wealth: investable,
        annual_savings: household.annual_income * SAVINGS_RATE,
        years: household.years_to_retirement(),
        allocation: target,
        paths: PROJECTION_PATHS,
        seed,
    });
    EngineResult {
        household: HouseholdSummary {
            age: household.age,
            retirement_age: household.retirement_age,
            annual_income: household.annual_income,
            assets: household.assets,
            liabilities: household.liabilities,
            tolerance: household.tolerance,
            profile_version,
        },
        risk,
        target,
        current,
        drift,
        stocks: sleeve,
        projection,
    }
}

fn advice_cache_key(owner: &str, key: &str) -> String {
    format!("advisor:advice:{owner}:{key}")
}

/// Everything cached for one profile, so its events can drop it at once.
pub fn profile_tag(owner: &str, profile: Uuid) -> String {
    format!("advisor:profile:{owner}:{profile}")
}

fn cache_key(parts: &[&Value]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(serde_json::to_vec(part).expect("serializes"));
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

fn money(amount: f64) -> String {
    match amount.abs() {
        a if a >= 1e6 => format!("${:.1}M", amount / 1e6),
        a if a >= 1e3 => format!("${:.0}k", amount / 1e3),
        _ => format!("${amount:.0}"),
    }
}

fn class_name(class: AssetClass) -> &'static str {
    match class {
        AssetClass::Stocks => "Stocks",
        AssetClass::Bonds => "Bonds",
        AssetClass::Cash => "Cash",
        AssetClass::RealEstate => "RealEstate",
    }
}

fn describe_household(h: &HouseholdSummary) -> String {
    format!(
        "{} years old, retiring at {}, household income {} a year, assets {}, liabilities {}, {:?} risk tolerance.",
        h.age,
        h.retirement_age,
        money(h.annual_income),
        money(h.assets),
        money(h.liabilities),
        h.tolerance
    )
}

fn describe_engine(engine: &EngineResult) -> String {
    let mut lines = vec![format!(
        "Risk score {:.2} (capacity {:.2}, willingness {:.2}), {} years to retirement.",
        engine.risk.score,
        engine.risk.capacity,
        engine.risk.willingness,
        engine.risk.years_to_retirement
    )];
    for class in AssetClass::ALL {
        let target = engine.target.get(class);
        let line = match engine.drift.iter().find(|d| d.class == class) {
            Some(d) => format!(
                "{}: now {}, target {} -> {:?}.",
                class_name(class),
                percent(d.current),
                percent(target),
                d.action
            ),
            None => format!(
                "{}: target {} -> Buy toward it.",
                class_name(class),
                percent(target)
            ),
        };
        lines.push(line);
    }
    for s in &engine.stocks.holdings {
        lines.push(format!(
            "{}: {} of the portfolio -> {:?} ({}).",
            s.symbol,
            percent(s.portfolio_weight),
            s.action,
            s.reason
        ));
    }
    let end = engine.projection.at_retirement();
    lines.push(format!(
        "Projected wealth at retirement in today's money: median {}, 1 in 10 chance below {}, 1 in 10 above {}.",
        money(end.p50),
        money(end.p10),
        money(end.p90)
    ));
    lines.join("\n")
}

/// The shape the model must answer in for this request.
fn written_schema(engine: &EngineResult, passages: &[Passage]) -> Value {
    let notes = |key: &str, names: Vec<String>| {
        if names.is_empty() {
            return json!({"type": "array", "maxItems": 0});
        }
        json!({
            "type": "array",
            "minItems": names.len(),
            "maxItems": names.len(),
            "items": {
                "type": "object",
                "properties": {
                    key: {"type": "string", "enum": names},
                    "note": {"type": "string", "minLength": 1, "maxLength": 90}
                },
                "required": [key, "note"],
                "additionalProperties": false
            }
        })
    };
    let classes = AssetClass::ALL
        .iter()
        .map(|c| class_name(*c).to_string())
        .collect();
    let symbols = engine
        .stocks
        .holdings
        .iter()
        .take(MAX_STOCK_NOTES)
        .map(|s| s.symbol.clone())
        .collect();
    json!({
        "type": "object",
        "properties": {
            "narrative": {"type": "string", "minLength": 1, "maxLength": 360},
            "assets": notes("name", classes),
            "stocks": notes("symbol", symbols),
            "citations": cite::citations_schema(passages, 2)
        },
        "required": ["narrative", "assets", "stocks", "citations"],
        "additionalProperties": false
    })
}

fn note_for<'a>(notes: &'a [Note], name: &str) -> &'a str {
    notes
        .iter()
        .find(|n| n.name.eq_ignore_ascii_case(name))
        .map_or("", |n| n.note.trim())
}

fn asset_recommendations(
    request: &PersonalizeRequest,
    engine: &EngineResult,
    notes: &[Note],
) -> Vec<AssetRecommendation> {
    AssetClass::ALL
        .iter()
        .map(|&class| {
            // Answer in the caller's words ("HomeEquity") where they used their own.
            let name = request
                .portfolio
                .iter()
                .find(|h| AssetClass::parse(&h.name) == Some(class))
                .map_or_else(|| class_name(class).to_string(), |h| h.name.clone());
            let target = engine.target.get(class);
            let drift = engine.drift.iter().find(|d| d.class == class);
            let (action, numbers) = match drift {
                Some(d) => (
                    d.action,
                    format!(
                        "{} of your portfolio against a {} target",
                        percent(d.current),
                        percent(target)
                    ),
                ),
                None => (
                    Action::Buy,
                    format!("build toward a {} target", percent(target)),
                ),
            };
            let note = note_for(notes, class_name(class));
            AssetRecommendation {
                name,
                action,
                current: drift.map(|d| d.current),
                target,
                gpt_recommendation: format!("{action:?}: {numbers}. {note}").trim().to_string(),
            }
        })
        .collect()
}

fn stock_recommendations(engine: &EngineResult, notes: &[Note]) -> Vec<StockRecommendation> {
    engine
        .stocks
        .holdings
        .iter()
        .map(|s| StockRecommendation {
            symbol: s.symbol.clone(),
            action: s.action,
            gpt_recommendation: format!(
                "{:?}: {}. {}",
                s.action,
                s.reason,
                note_for(notes, &s.symbol)
            )
            .trim()
            .to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> PersonalizeRequest {
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

    #[test]
    fn request_fields_win_and_the_rest_must_come_from_somewhere() {
        let mut info = request().user_info;
        assert_eq!(household(&info, None).unwrap().age, 40);
        info.age = None;
        let err = household(&info, None).unwrap_err();
        assert!(
            matches!(err, AdvisorError::Invalid { ref field, .. } if field == "userInfo.age"),
            "{err}"
        );
    }

    #[test]
    fn the_written_schema_allows_exactly_the_requests_classes_and_symbols() {
        let r = request();
        let engine = compute(&household(&r.user_info, None).unwrap(), &r, None);
        let schema = written_schema(&engine, &[]);
        let validator = jsonschema::validator_for(&schema).unwrap();
        let answer = |symbol: &str| {
            json!({"narrative": "Stay the course.",
                   "assets": [{"name": "Stocks", "note": "a"}, {"name": "Bonds", "note": "b"},
                              {"name": "Cash", "note": "c"}, {"name": "RealEstate", "note": "d"}],
                   "stocks": [{"symbol": symbol, "note": "e"}],
                   "citations": []})
        };
        assert!(validator.is_valid(&answer("MSFT")));
        assert!(!validator.is_valid(&answer("GME")));
    }

    #[test]
    fn recommendations_carry_the_engines_action_before_the_models_note() {
        let r = request();
        let engine = compute(&household(&r.user_info, None).unwrap(), &r, None);
        let notes = vec![Note {
            name: "Stocks".into(),
            note: "Trim gently.".into(),
        }];
        let recs = asset_recommendations(&r, &engine, &notes);
        let stocks = recs.iter().find(|a| a.name == "Stocks").unwrap();
        let drift = engine
            .drift
            .iter()
            .find(|d| d.class == AssetClass::Stocks)
            .unwrap();
        assert_eq!(stocks.action, drift.action);
        assert!(stocks
            .gpt_recommendation
            .starts_with(&format!("{:?}:", drift.action)));
        assert!(stocks.gpt_recommendation.ends_with("Trim gently."));
    }
}
