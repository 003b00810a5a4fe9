//! What the advisor consumes: `miyagi.user.profile.*`, `miyagi.markets.positions.*` and
//! `miyagi.expenses.spending.summarised.v1`. It keeps its own copy of each profile, of each paper
//! account's positions and of each person's usual month (so it never reads another
//! service's tables) and, when a profile is updated, re-asks that person's last request so their
//! advice follows their profile.

use std::sync::Arc;

use async_trait::async_trait;
use miyagi_domain::{
    advice::AdviceTrigger,
    events::{topics, types},
    expenses::SpendingSummarised,
    markets::PositionsUpdated,
    user::{UserProfile, UserProfileDeleted},
};
use miyagi_kernel::KernelError;
use miyagi_platform::events::{erasure, inbox, CloudEvent, EventHandler, HandlerError};

use crate::{
    domain::Advisor,
    error::AdvisorError,
    model::{PersonalizeRequest, UserInfo},
};

/// The consumer group that follows profiles.
pub const PROFILES: &str = "advisor-profiles";
/// The consumer group that follows paper trading accounts.
pub const PAPER_ACCOUNTS: &str = "advisor-paper-accounts";
/// The consumer group that follows people's usual months from the expenses service.
pub const SPENDING: &str = "advisor-spending";

/// Keeps the advisor's copy of profiles current and refreshes advice when one changes.
pub struct ProfileFollower(pub Arc<Advisor>);

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
                    user_info: UserInfo {
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
                    // Waiting for the person's quota would hold up every profile behind this
                    // one; the refresh is skipped and their next request writes fresh advice.
                    Err(AdvisorError::Kernel(KernelError::UsageLimit { detail, .. })) => {
                        tracing::info!(owner = %profile.owner, %detail, "advice not refreshed: the owner is over a model limit");
                        Ok(())
                    }
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
                // The profile's events this service dead-lettered hold the whole profile.
                erasure::erase_kept_copies(
                    store.db(),
                    topics::USER_PROFILE,
                    &event.subject,
                    &event.id,
                )
                .await?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Keeps the advisor's copy of what each paper trading account holds. No advice is rewritten on
/// a fill (that would run the model on every trade); the next request is advised on the new
/// positions, since they are part of what makes a request identical to an earlier one.
pub struct PaperAccountFollower(pub Arc<Advisor>);

#[async_trait]
impl EventHandler for PaperAccountFollower {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::MARKETS_POSITIONS_UPDATED {
            return Ok(());
        }
        self.0
            .store()
            .upsert_paper_positions(&event.data_as::<PositionsUpdated>()?)
            .await
            .map_err(transient)
    }
}

/// Keeps the advisor's copy of each person's usual month (the expenses service's summary). As
/// with positions, advice is not rewritten on each import; the next request uses the new month,
/// which is part of what makes a request identical to an earlier one.
pub struct SpendingFollower(pub Arc<Advisor>);

#[async_trait]
impl EventHandler for SpendingFollower {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::EXPENSES_SPENDING_SUMMARISED {
            return Ok(());
        }
        self.0
            .store()
            .upsert_spending(&event.data_as::<SpendingSummarised>()?)
            .await
            .map_err(transient)
    }
}

fn transient(e: impl Into<anyhow::Error>) -> HandlerError {
    HandlerError::Transient(e.into())
}
