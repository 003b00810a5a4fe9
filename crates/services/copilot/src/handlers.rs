//! What the copilot consumes:
//! - its own `miyagi.chat.message.created.v1`: a person's message is read for memories here,
//!   off the request path, so remembering never slows a reply;
//! - `miyagi.user.profile.*`: its copy of each profile (the persona's voice, the figures);
//! - `miyagi.advice.generated.v1`: its copy of each person's latest advice, for the coach's
//!   advice tool;
//! - `miyagi.expenses.spending.summarised.v1`: its copy of each person's usual month, for the
//!   coach's spending tool;
//! - `miyagi.user.account.deleted.v1`: every chat, message, memory and profile copy of that
//!   person is deleted.

use std::sync::Arc;

use async_trait::async_trait;
use miyagi_domain::{
    advice::AdviceGenerated,
    chat::{Author, ChatMessageCreated},
    events::{topics, types},
    expenses::SpendingSummarised,
    user::{UserProfile, UserProfileDeleted},
};
use miyagi_kernel::KernelError;
use miyagi_platform::events::{erasure, inbox, CloudEvent, EventHandler, HandlerError};

use crate::{domain::Copilot, error::CopilotError, store::StoreError};

/// The consumer group that reads messages for memories.
pub const MEMORY: &str = "copilot-memory";
/// The consumer group that follows profiles, advice and accounts.
pub const PEOPLE: &str = "copilot-people";

pub struct MemoryExtraction(pub Arc<Copilot>);

#[async_trait]
impl EventHandler for MemoryExtraction {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::CHAT_MESSAGE_CREATED {
            return Ok(());
        }
        let created: ChatMessageCreated = event.data_as()?;
        if created.author != Author::User {
            return Ok(());
        }
        let store = self.0.store();
        // A redelivered event skips the model call; the claim stored with the memories is the
        // guarantee.
        if inbox::seen(store.db(), MEMORY, &event.id).await? {
            return Ok(());
        }
        let Some(message) = store
            .message(&created.owner, created.message_id)
            .await
            .map_err(from_store)?
        else {
            return Ok(()); // its chat was deleted meanwhile: nothing left to remember
        };
        match self
            .0
            .extract_memories(MEMORY, &event.id, &created.owner, &message)
            .await
        {
            Ok(stored) => {
                let count = stored.map_or(0, |s| s.len());
                tracing::debug!(chat = %created.chat_id, count, "memories extracted");
                Ok(())
            }
            // Without a model there is nothing to extract with; the message itself is kept.
            Err(CopilotError::NoModel) => Ok(()),
            // Waiting for the person's quota would hold up every message behind this one.
            Err(CopilotError::Kernel(KernelError::UsageLimit { detail, .. })) => {
                tracing::info!(owner = %created.owner, %detail, "memories not extracted: the owner is over a model limit");
                Ok(())
            }
            Err(
                e @ CopilotError::Kernel(KernelError::BadResponse(_) | KernelError::Schema { .. }),
            ) => Err(HandlerError::Permanent(e.into())),
            Err(CopilotError::Store(e)) => Err(from_store(e)),
            Err(e) => Err(HandlerError::Transient(e.into())),
        }
    }
}

pub struct PeopleFollower(pub Arc<Copilot>);

#[async_trait]
impl EventHandler for PeopleFollower {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        let store = self.0.store();
        match event.event_type.as_str() {
            types::USER_PROFILE_CREATED | types::USER_PROFILE_UPDATED => store
                .upsert_profile(&event.data_as::<UserProfile>()?)
                .await
                .map_err(from_store),
            types::USER_PROFILE_DELETED => {
                let deleted: UserProfileDeleted = event.data_as()?;
                store
                    .delete_profile(&deleted.owner, deleted.id)
                    .await
                    .map_err(from_store)?;
                store
                    .delete_advice_for(&deleted.owner, deleted.id)
                    .await
                    .map_err(from_store)?;
                // The profile's events this service dead-lettered hold the whole profile, and
                // its advice events (keyed by the same profile id) the advice's words.
                for topic in [topics::USER_PROFILE, topics::ADVICE] {
                    erasure::erase_kept_copies(store.db(), topic, &event.subject, &event.id)
                        .await?;
                }
                Ok(())
            }
            types::ADVICE_GENERATED => store
                .upsert_advice(&event.data_as::<AdviceGenerated>()?)
                .await
                .map_err(from_store),
            types::EXPENSES_SPENDING_SUMMARISED => store
                .upsert_spending(&event.data_as::<SpendingSummarised>()?)
                .await
                .map_err(from_store),
            types::USER_ACCOUNT_DELETED => {
                let user = erasure::deleted_account(event, "chats")?;
                let chats = store.delete_account(&user).await.map_err(from_store)?;
                tracing::info!(chats, "deleted the chats and memories of a deleted account");
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn from_store(e: StoreError) -> HandlerError {
    match e {
        StoreError::Database(e) => HandlerError::from(e),
        other => HandlerError::Permanent(other.into()),
    }
}
