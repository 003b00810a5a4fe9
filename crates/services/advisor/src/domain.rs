//! What the advisor decides: whether an identical earlier answer can be served, which profile
//! the request stands on, which library passages ground it, and that the advice is recorded
//! with its event. The numbers come from [`crate::engine`], the words from [`crate::writing`].

use std::sync::Arc;

use chrono::Utc;
use miyagi_domain::{advice::AdviceTrigger, document::LIBRARY_OWNER, user::UserProfile};
use miyagi_finance::{allocation::Action, risk::Household};
use miyagi_kernel::Kernel;
use miyagi_memory::{
    cite::Passage,
    retrieve::{RetrievalSettings, Retriever},
};
use miyagi_platform::cache::Cache;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    engine::{compute, household},
    error::AdvisorError,
    model::{
        Advice, AssetsAdvice, EngineResult, InvestmentsAdvice, PersonalizeRequest, StockHolding,
        StocksFrom, UserInfo, MAX_STOCKS,
    },
    progress::{Progress, Stage},
    prompts::Prompts,
    store::AdviceStore,
    writing::{self, asset_recommendations, stock_recommendations},
};

/// The library collection advice is grounded in.
const LIBRARY_COLLECTION: &str = "investing-principles";
/// How long a request naming a just-created profile waits for the profile's event to arrive.
const PROFILE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

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
        let asked = request;
        let (request, stocks_from) = &self.with_held_stocks(owner, asked).await?;
        let cash_flow = self.store.spending(owner).await?;
        let engine = compute(
            &household,
            request,
            profile.as_ref().map(|p| p.version),
            cash_flow,
        );
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
        let written = writing::write(
            &kernel.for_user(owner),
            &prompt,
            request,
            profile.as_ref(),
            &engine,
            &passages,
            progress,
        )
        .await?;
        let advice = Advice {
            id: Uuid::now_v7(),
            user_id: request.user_info.user_id,
            trigger,
            created_at: Utc::now(),
            cached: false,
            model,
            assets: AssetsAdvice {
                portfolio: asset_recommendations(request, &engine),
            },
            investments: InvestmentsAdvice {
                portfolio: stock_recommendations(&engine),
                stocks_from: *stocks_from,
            },
            engine,
            narrative: written.narrative,
            citations: written.citations,
            rejected_citations: written.rejected_citations,
            writing: written.writing,
        };
        stage(Stage::Saving);
        // What was asked, not what it was filled with: a later refresh re-asks it and takes
        // the account's positions as they are then.
        self.store
            .record(owner, asked, &key, &advice, event_id)
            .await?;
        self.remember(owner, &key, profile_id, &advice).await;
        Ok(advice)
    }

    /// The request, with the person's paper trading positions (valued at the market) as its
    /// stocks when it names none: advice is then about what they actually hold.
    async fn with_held_stocks(
        &self,
        owner: &str,
        request: &PersonalizeRequest,
    ) -> Result<(PersonalizeRequest, StocksFrom), AdvisorError> {
        if !request.stocks.is_empty() {
            return Ok((request.clone(), StocksFrom::Request));
        }
        let held = self.store.paper_positions(owner).await?;
        if held.is_empty() {
            return Ok((request.clone(), StocksFrom::Request));
        }
        let stocks = held
            .into_iter()
            .take(MAX_STOCKS as usize)
            .map(|position| StockHolding {
                symbol: position.symbol,
                allocation: position.market_value,
                prices: position.closes,
            })
            .collect();
        let filled = PersonalizeRequest {
            stocks,
            ..request.clone()
        };
        Ok((filled, StocksFrom::PaperAccount))
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
            .map(|d| format!("{} {}", d.action.as_str(), d.class.as_str()).to_lowercase())
            .collect();
        let query = format!(
            "asset allocation and rebalancing for a {} investor {} years from retirement; diversification; {}",
            household.tolerance.as_str(),
            household.years_to_retirement(),
            actions.join(", ")
        );
        // Two passages, as many as the advice may cite: the prompt's passages are most of its
        // ~1,100 tokens, and reading the prompt was ~3.5 s of a ~5 s answer (BENCHMARKS.md,
        // "Advice in one attempt").
        let settings = RetrievalSettings {
            limit: 2,
            token_budget: Some(350),
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
