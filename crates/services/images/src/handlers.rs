//! What the images service consumes:
//! - its own `miyagi.image.requested.v1`: the image is drawn, off the request path;
//! - `miyagi.chat.message.created.v1` and `miyagi.advice.generated.v1`: the cards an answer
//!   names are drawn and attached to it; `miyagi.chat.deleted.v1` and
//!   `miyagi.user.profile.deleted.v1`: the cards of the chat's answers, or of the profile's
//!   advice, are deleted;
//! - `miyagi.user.profile.*`, `miyagi.markets.positions.updated.v1` and
//!   `miyagi.expenses.spending.summarised.v1`: its copies of what cards are drawn from;
//! - `miyagi.user.account.deleted.v1`: every image, picture and copy of that person is deleted.

use async_trait::async_trait;
use miyagi_domain::{
    advice::AdviceGenerated,
    chat::{ChatChanged, ChatMessageCreated},
    events::{topics, types},
    expenses::SpendingSummarised,
    image::ImageRequested,
    markets::PositionsUpdated,
    user::{UserProfile, UserProfileDeleted},
};
use miyagi_platform::events::{erasure, CloudEvent, EventHandler, HandlerError};

use crate::{
    domain::{Answer, AnswerHome, Images, ImagesError},
    store::StoreError,
};

/// The consumer group that draws requested images.
pub const GENERATOR: &str = "images-generator";
/// The consumer group that keeps the copies and deletes accounts.
pub const PEOPLE: &str = "images-people";

pub struct Generator(pub Images);

#[async_trait]
impl EventHandler for Generator {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::IMAGE_REQUESTED {
            return Ok(());
        }
        let asked: ImageRequested = event.data_as()?;
        self.0
            .draw_requested(&asked.owner, asked.image_id)
            .await
            .map_err(to_handler)
    }

    async fn gave_up(&self, event: &CloudEvent, reason: &str) -> Result<(), HandlerError> {
        if event.event_type != types::IMAGE_REQUESTED {
            return Ok(());
        }
        let asked: ImageRequested = event.data_as()?;
        self.0
            .give_up(
                &asked.owner,
                asked.image_id,
                &format!("The image could not be made: {reason}"),
            )
            .await
            .map_err(to_handler)
    }
}

/// The consumer group that draws the cards answers name.
pub const ATTACHER: &str = "images-attacher";

/// Draws the cards a coach's answer (`miyagi.chat.message.created.v1`) or a piece of advice
/// (`miyagi.advice.generated.v1`) names, and deletes them with the chat or the profile. A card
/// drawn from a copy this service has not received yet (the profile the answer used) fails as a
/// transient error, and is drawn on a retry.
///
/// A chat's deletion follows its messages on the chat topic, so in this one group it is handled
/// after every card of the chat is drawn.
pub struct Attacher(pub Images);

#[async_trait]
impl EventHandler for Attacher {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        let (owner, answer, cards) = match event.event_type.as_str() {
            types::CHAT_MESSAGE_CREATED => {
                let message: ChatMessageCreated = event.data_as()?;
                let answer = Answer::chat_message(message.chat_id, message.message_id);
                (message.owner, answer, message.cards)
            }
            types::ADVICE_GENERATED => {
                let advice: AdviceGenerated = event.data_as()?;
                let answer = Answer::advice(advice.user_id, advice.advice_id);
                (advice.owner, answer, advice.cards)
            }
            types::CHAT_DELETED => {
                let chat: ChatChanged = event.data_as()?;
                return self
                    .delete_cards(&chat.owner, AnswerHome::Chat(chat.chat_id))
                    .await;
            }
            types::USER_PROFILE_DELETED => {
                let profile: UserProfileDeleted = event.data_as()?;
                return self
                    .delete_cards(&profile.owner, AnswerHome::Profile(profile.id))
                    .await;
            }
            _ => return Ok(()),
        };
        if cards.is_empty() {
            return Ok(());
        }
        self.0
            .attach(&owner, &answer, &cards)
            .await
            .map_err(to_handler)
    }
}

impl Attacher {
    async fn delete_cards(&self, owner: &str, home: AnswerHome) -> Result<(), HandlerError> {
        let cards = self
            .0
            .delete_cards_in(owner, home)
            .await
            .map_err(to_handler)?;
        tracing::debug!(cards, %home, "deleted the cards of deleted answers");
        Ok(())
    }
}

pub struct PeopleFollower(pub Images);

#[async_trait]
impl EventHandler for PeopleFollower {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        let store = self.0.store();
        let stored = match event.event_type.as_str() {
            types::USER_PROFILE_CREATED | types::USER_PROFILE_UPDATED => {
                store.upsert_profile(&event.data_as::<UserProfile>()?).await
            }
            types::USER_PROFILE_DELETED => {
                let deleted: UserProfileDeleted = event.data_as()?;
                store
                    .delete_profile(&deleted.owner, deleted.id)
                    .await
                    .map_err(|e| to_handler(e.into()))?;
                // A profile event this service dead-lettered holds the whole profile.
                erasure::erase_kept_copies(
                    store.db(),
                    topics::USER_PROFILE,
                    &event.subject,
                    &event.id,
                )
                .await?;
                Ok(())
            }
            types::MARKETS_POSITIONS_UPDATED => {
                store
                    .upsert_positions(&event.data_as::<PositionsUpdated>()?)
                    .await
            }
            types::EXPENSES_SPENDING_SUMMARISED => {
                store
                    .upsert_spending(&event.data_as::<SpendingSummarised>()?)
                    .await
            }
            types::USER_ACCOUNT_DELETED => {
                let user = erasure::deleted_account(event, "images")?;
                let images = self.0.delete_account(&user).await.map_err(to_handler)?;
                tracing::info!(images, "deleted the images of a deleted account");
                Ok(())
            }
            _ => Ok(()),
        };
        stored.map_err(|e| to_handler(e.into()))
    }
}

fn to_handler(e: ImagesError) -> HandlerError {
    match e {
        ImagesError::Store(StoreError::Database(e)) => HandlerError::from(e),
        ImagesError::Store(e @ StoreError::Json(_)) => HandlerError::Permanent(e.into()),
        other => HandlerError::Transient(other.into()),
    }
}
