//! What the images service decides. An image is asked for (`request`: its row and its
//! `requested` event in one transaction, answered `202`), drawn off the request path from that
//! event (`draw_requested`), stored in blob storage under `images/{id}` and announced with
//! `miyagi.image.generated.v1`; or drawn in its request for OpenAI clients, which expect the
//! picture in the answer (`draw_now`). Either way the row says what was drawn and by which model.
//!
//! The coach's and the advisor's answers name cards of their figures on their events; `attach`
//! draws those with the card renderer and files them under the answer, and `delete_cards_in`
//! deletes them when what the answer lives in (its chat, or the profile advice was for) goes.
//!
//! Crash safety: the picture is put before its row is marked ready, so a ready row always has
//! its picture; a crash between the two redraws it on redelivery, overwriting the same key.

pub mod cards;

use std::sync::Arc;

use bytes::Bytes;
use miyagi_domain::image::{
    Card as AttachedCard, ImageDeleted, ImageFailed, ImageGenerated, ImageRequested,
};
use miyagi_kernel::{GeneratedImage, ImageModel, ImageRequest, ImageSize, KernelError};
use miyagi_platform::{blob::BlobStore, events::CloudEvent};
use object_store::path::Path as BlobPath;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    events,
    model::{Image, ImageModelInfo, ImageStatus},
    store::{Drawn, ImagesStore, NewImage, StoreError},
};

const FOLDER: &str = "images";

#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("blob storage failed: {0}")]
    Blob(#[from] object_store::Error),
    #[error(transparent)]
    Model(#[from] KernelError),
    /// The picture is asked for but not drawn (yet, or ever).
    #[error("the image is {0}, so it has no picture")]
    NotReady(&'static str),
}

#[derive(Clone)]
pub struct Images {
    store: ImagesStore,
    blob: BlobStore,
    model: Arc<dyn ImageModel>,
    /// Draws the cards attached to answers, whatever model draws what people ask for: an
    /// endpoint's picture of "a projection" would state none of the answer's numbers.
    cards: Arc<cards::CardRenderer>,
}

/// An answer that cards are drawn beside.
pub struct Answer {
    /// How the answer is named to the API (`chat-message:{id}`, `advice:{id}`).
    pub name: String,
    /// What it lives in: its cards are deleted when that is.
    pub home: AnswerHome,
}

impl Answer {
    pub fn chat_message(chat: Uuid, message: Uuid) -> Self {
        Self {
            name: format!("chat-message:{message}"),
            home: AnswerHome::Chat(chat),
        }
    }

    pub fn advice(profile: Uuid, advice: Uuid) -> Self {
        Self {
            name: format!("advice:{advice}"),
            home: AnswerHome::Profile(profile),
        }
    }
}

/// A coach's message lives in its chat, and advice with the profile it was written for.
#[derive(Debug, Clone, Copy)]
pub enum AnswerHome {
    Chat(Uuid),
    Profile(Uuid),
}

impl std::fmt::Display for AnswerHome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Chat(id) => write!(f, "chat:{id}"),
            Self::Profile(id) => write!(f, "profile:{id}"),
        }
    }
}

fn blob_path(id: Uuid) -> BlobPath {
    BlobPath::from(format!("{FOLDER}/{id}"))
}

impl Images {
    pub fn new(
        store: ImagesStore,
        blob: BlobStore,
        model: Option<Arc<dyn ImageModel>>,
        cards: Arc<cards::CardRenderer>,
    ) -> Self {
        Self {
            store,
            blob,
            model: model.unwrap_or_else(|| cards.clone()),
            cards,
        }
    }

    pub fn store(&self) -> &ImagesStore {
        &self.store
    }

    pub fn model_info(&self) -> ImageModelInfo {
        let cards_only = self.model.model_id() == cards::MODEL;
        ImageModelInfo {
            model: self.model.model_id().into(),
            cards_only,
            suggestions: if cards_only {
                cards::SUGGESTIONS.iter().map(|s| s.to_string()).collect()
            } else {
                vec!["A calm lighthouse at dusk, in watercolour".into()]
            },
        }
    }

    /// Records the image and the event that has it drawn.
    pub async fn request(
        &self,
        owner: &str,
        prompt: &str,
        size: ImageSize,
    ) -> Result<Image, ImagesError> {
        let id = Uuid::now_v7();
        let event = events::requested(&ImageRequested {
            owner: owner.into(),
            image_id: id,
        });
        let size = size.to_string();
        Ok(self
            .store
            .request(&self.new_image(id, owner, prompt, &size), &event)
            .await?)
    }

    /// Draws an image its event asked for. Nothing to do when it is no longer pending (drawn on
    /// an earlier delivery, deleted, or gone with its owner). A prompt the model cannot draw
    /// fails the image, saying why; a model or store that is down is retried by the consumer.
    pub async fn draw_requested(&self, owner: &str, id: Uuid) -> Result<(), ImagesError> {
        let Some((prompt, size)) = self.store.pending(owner, id).await? else {
            return Ok(());
        };
        let size = ImageSize::parse(&size).unwrap_or(ImageSize {
            width: 1024,
            height: 1024,
        });
        match self.draw(owner, &prompt, size).await {
            Ok(image) => {
                let event = self.keep(owner, id, self.model.model_id(), &image).await?;
                self.store
                    .complete(owner, id, &drawn(&image), &event)
                    .await?;
                Ok(())
            }
            Err(e) if !e.is_transient() => self.give_up(owner, id, &failure(&e)).await,
            Err(e) => Err(e.into()),
        }
    }

    /// Marks a pending image failed with `reason`.
    pub async fn give_up(&self, owner: &str, id: Uuid, reason: &str) -> Result<(), ImagesError> {
        let event = events::failed(&ImageFailed {
            owner: owner.into(),
            image_id: id,
            reason: reason.into(),
        });
        Ok(self.store.fail(owner, id, reason, &event).await?)
    }

    /// Draws in the request and records the image as ready: its row, its picture, its event.
    pub async fn draw_now(
        &self,
        owner: &str,
        prompt: &str,
        size: ImageSize,
    ) -> Result<(Image, GeneratedImage), ImagesError> {
        let image = self.draw(owner, prompt, size).await?;
        let id = Uuid::now_v7();
        let event = self.keep(owner, id, self.model.model_id(), &image).await?;
        let row = self
            .store
            .record_drawn(
                &self.new_image(id, owner, prompt, &size.to_string()),
                &drawn(&image),
                &event,
            )
            .await?;
        Ok((row, image))
    }

    /// Draws the cards an answer's event names and attaches them to it. Each card's id is
    /// derived from the answer and its place, so a redelivered event finds the cards it drew and
    /// draws only what is missing; a crash after a picture is put redraws it over the same key.
    pub async fn attach(
        &self,
        owner: &str,
        answer: &Answer,
        attached: &[AttachedCard],
    ) -> Result<(), ImagesError> {
        let home = answer.home.to_string();
        for (place, card) in attached.iter().enumerate() {
            let id = card_id(&answer.name, place);
            match self.store.image(owner, id).await {
                Ok(_) => continue,
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            let image = self.cards.draw_attached(owner, card, ATTACHED_SIZE).await?;
            let event = self.keep(owner, id, cards::MODEL, &image).await?;
            let prompt = image.revised_prompt.clone().unwrap_or_default();
            self.store
                .record_drawn(
                    &NewImage {
                        id,
                        owner,
                        prompt: &prompt,
                        size: &ATTACHED_SIZE.to_string(),
                        model: cards::MODEL,
                        attached_to: Some(&answer.name),
                        answer_home: Some(&home),
                    },
                    &drawn(&image),
                    &event,
                )
                .await?;
        }
        Ok(())
    }

    /// The picture of a ready image, with its media type.
    pub async fn content(&self, owner: &str, id: Uuid) -> Result<(String, Bytes), ImagesError> {
        let image = self.store.image(owner, id).await?;
        if image.status != ImageStatus::Ready {
            return Err(ImagesError::NotReady(image.status.as_str()));
        }
        let bytes = self.blob.get(&blob_path(id)).await?.bytes().await?;
        Ok((
            image.media_type.unwrap_or_else(|| "image/png".into()),
            bytes,
        ))
    }

    /// Deletes an image: its picture, then its row with its event.
    pub async fn delete(&self, owner: &str, id: Uuid) -> Result<(), ImagesError> {
        self.store.image(owner, id).await?;
        self.delete_picture(id).await?;
        let event = events::deleted(&ImageDeleted {
            owner: owner.into(),
            image_id: id,
        });
        if !self.store.delete(owner, id, &event).await? {
            return Err(StoreError::NotFound.into());
        }
        Ok(())
    }

    /// Deletes the cards beside answers that lived in `home`, now deleted, each as `delete`
    /// would; how many. A card already gone (an earlier delivery) is skipped.
    pub async fn delete_cards_in(
        &self,
        owner: &str,
        home: AnswerHome,
    ) -> Result<usize, ImagesError> {
        let ids = self.store.image_ids(owner, Some(&home.to_string())).await?;
        for &id in &ids {
            match self.delete(owner, id).await {
                Ok(()) | Err(ImagesError::Store(StoreError::NotFound)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ids.len())
    }

    /// Deletes everything of a deleted account's: pictures first, so a retry after a crash
    /// still finds the rows that name them.
    pub async fn delete_account(&self, owner: &str) -> Result<u64, ImagesError> {
        for id in self.store.image_ids(owner, None).await? {
            self.delete_picture(id).await?;
        }
        Ok(self.store.delete_account(owner).await?)
    }

    async fn draw(
        &self,
        owner: &str,
        prompt: &str,
        size: ImageSize,
    ) -> Result<GeneratedImage, KernelError> {
        let mut images = self
            .model
            .generate(&ImageRequest {
                prompt: prompt.into(),
                n: 1,
                size,
                user: owner.into(),
            })
            .await?;
        images
            .pop()
            .ok_or_else(|| KernelError::BadResponse("the model drew no image".into()))
    }

    /// Puts a drawn picture in blob storage; the event that announces it, for its row's write.
    async fn keep(
        &self,
        owner: &str,
        id: Uuid,
        model: &str,
        image: &GeneratedImage,
    ) -> Result<CloudEvent, ImagesError> {
        self.blob
            .put(&blob_path(id), Bytes::from(image.bytes.clone()).into())
            .await?;
        Ok(events::generated(&ImageGenerated {
            owner: owner.into(),
            image_id: id,
            model: model.into(),
            media_type: image.media_type.clone(),
            bytes: image.bytes.len() as u64,
        }))
    }

    async fn delete_picture(&self, id: Uuid) -> Result<(), object_store::Error> {
        match self.blob.delete(&blob_path(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn new_image<'a>(
        &'a self,
        id: Uuid,
        owner: &'a str,
        prompt: &'a str,
        size: &'a str,
    ) -> NewImage<'a> {
        NewImage {
            id,
            owner,
            prompt,
            size,
            model: self.model.model_id(),
            attached_to: None,
            answer_home: None,
        }
    }
}

/// Cards beside an answer are square, as the cards are laid out, and half the gallery's size:
/// shown at a chat bubble's width, they are read without zooming.
const ATTACHED_SIZE: ImageSize = ImageSize {
    width: 768,
    height: 768,
};

/// The id of the card in `place` of an answer's: the same for every delivery of its event.
fn card_id(answer: &str, place: usize) -> Uuid {
    let digest = Sha256::digest(format!("{answer}#{place}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn drawn(image: &GeneratedImage) -> Drawn<'_> {
    Drawn {
        media_type: &image.media_type,
        bytes: image.bytes.len() as u64,
        revised_prompt: image.revised_prompt.as_deref(),
    }
}

/// What a person is told when their image cannot be made.
fn failure(e: &KernelError) -> String {
    match e {
        KernelError::Unsupported(why) => why.clone(),
        KernelError::ContentFilter(why) => {
            format!("The images endpoint's safety system refused the prompt: {why}")
        }
        other => format!("The image could not be made: {other}"),
    }
}
