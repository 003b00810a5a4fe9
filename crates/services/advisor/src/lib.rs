//! The advisor service: personalized allocation and advice.
//!
//! - [`api`]: `POST /api/v1/personalize` (and its halves `/assets` and `/investments`), and
//!   the advice history under `/api/v1/advice`.
//! - [`domain`]: the finance engine's numbers, explained by the chat model in the voice of the
//!   person's favourite advisor, grounded in the investing library.
//! - [`store`]: the advisor's copy of profiles, and every piece of advice given.
//! - [`events`]: what it publishes, `miyagi.advice.generated.v1`.
//! - [`prompts`]: the Semantic Kernel prompt files the advice is written with.
//! - [`progress`]: stages and the narrative as it is written, for `/personalize/stream`.
//!
//! The service consumes `miyagi.user.profile.*`: it keeps its own copy of each profile (so it
//! never reads the users service's tables) and, when a profile is updated, refreshes that
//! person's advice in the background.

pub mod api;
pub mod domain;
pub mod events;
pub mod progress;
pub mod prompts;
pub mod store;

use std::sync::Arc;

use async_trait::async_trait;
use miyagi_domain::{
    advice::AdviceTrigger,
    events::{topics, types},
    user::{UserProfile, UserProfileDeleted},
};
use miyagi_kernel::{Kernel, KernelError};
use miyagi_memory::retrieve::Retriever;
use miyagi_platform::{
    db::Db,
    events::{inbox, CloudEvent, Consumer, EventHandler, HandlerError},
    Service, ServiceContext,
};
use utoipa_axum::router::OpenApiRouter;

pub use domain::{Advice, Advisor, AdvisorError, PersonalizeRequest};
pub use store::AdviceStore;

pub const NAME: &str = "advisor";
/// The consumer group that follows profiles.
pub const PROFILES: &str = "advisor-profiles";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct AdvisorService {
    advisor: Arc<Advisor>,
}

impl AdvisorService {
    /// `kernel` writes the advice (`None`: personalize answers 503); `library` supplies the
    /// passages it cites.
    pub async fn start(
        context: &ServiceContext,
        kernel: Option<Kernel>,
        library: Arc<dyn Retriever>,
    ) -> anyhow::Result<Self> {
        let db = Db::open(&context.config, NAME, &MIGRATOR).await?;
        let prompts = prompts::Prompts::new(context.config.advisor.prompts_dir.clone());
        // Fail at start, not on the first request, if the prompt does not load.
        prompts.personalize()?;
        Ok(Self {
            advisor: Arc::new(Advisor::new(
                AdviceStore::new(db),
                context.cache.clone(),
                kernel,
                library,
                prompts,
            )),
        })
    }

    pub fn advisor(&self) -> &Arc<Advisor> {
        &self.advisor
    }
}

impl Service for AdvisorService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn routes(&self) -> OpenApiRouter {
        api::routes(self.advisor.clone())
    }

    fn database(&self) -> Option<&Db> {
        Some(self.advisor.store().db())
    }

    fn consumers(&self) -> Vec<Consumer> {
        vec![Consumer::new(
            PROFILES,
            &[topics::USER_PROFILE],
            Arc::new(ProfileFollower(self.advisor.clone())),
        )]
    }
}

/// Keeps the advisor's copy of profiles current and refreshes advice when one changes.
struct ProfileFollower(Arc<Advisor>);

#[async_trait]
impl EventHandler for ProfileFollower {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        let store = self.0.store();
        match event.event_type.as_str() {
            types::USER_PROFILE_CREATED => store
                .upsert_profile(&event.data_as::<UserProfile>()?)
                .await
                .map_err(transient),
            types::USER_PROFILE_UPDATED => {
                let profile: UserProfile = event.data_as()?;
                store.upsert_profile(&profile).await.map_err(transient)?;
                self.0.forget(&profile.owner, profile.id).await;
                // A redelivered event skips the model call; the claim in `record` is the guarantee.
                if inbox::seen(store.db(), PROFILES, &event.id).await? {
                    return Ok(());
                }
                // The person's last request, re-asked with the new profile: the profile fields
                // it overrode are dropped so the profile now speaks for itself.
                let last = store
                    .latest_request(&profile.owner, profile.id)
                    .await
                    .map_err(transient)?;
                let (portfolio, stocks, favorite_book, favorite_advisor) = match last {
                    Some(r) => (
                        r.portfolio,
                        r.stocks,
                        r.user_info.favorite_book,
                        r.user_info.favorite_advisor,
                    ),
                    None => Default::default(),
                };
                let request = PersonalizeRequest {
                    user_info: domain::UserInfo {
                        user_id: profile.id,
                        age: None,
                        risk_level: None,
                        annual_household_income: None,
                        favorite_book,
                        favorite_advisor,
                    },
                    portfolio,
                    stocks,
                };
                match self
                    .0
                    .personalize(
                        &profile.owner,
                        &request,
                        AdviceTrigger::ProfileUpdated,
                        Some((PROFILES, &event.id)),
                    )
                    .await
                {
                    Ok(_) => Ok(()),
                    // Without a model there is nothing to refresh; the profile copy is current.
                    Err(AdvisorError::NoModel) => Ok(()),
                    // Neither a profile missing what advice needs nor a model that keeps
                    // answering off-schema will change on a retry: dead-letter with the reason.
                    Err(AdvisorError::Invalid { field, message }) => Err(HandlerError::Permanent(
                        anyhow::anyhow!("{field}: {message}"),
                    )),
                    Err(
                        e @ AdvisorError::Kernel(
                            KernelError::BadResponse(_) | KernelError::Schema { .. },
                        ),
                    ) => Err(HandlerError::Permanent(e.into())),
                    Err(e) => Err(transient(e)),
                }
            }
            types::USER_PROFILE_DELETED => {
                let deleted: UserProfileDeleted = event.data_as()?;
                store
                    .delete_profile(&deleted.owner, deleted.id)
                    .await
                    .map_err(transient)?;
                self.0.forget(&deleted.owner, deleted.id).await;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn transient(e: impl Into<anyhow::Error>) -> HandlerError {
    HandlerError::Transient(e.into())
}
