//! The image model that needs no weights: it draws a person's own figures as a card, from the
//! copies this service keeps of their profile, paper positions and usual month. The prompt only
//! chooses the card (`choice`); every number on it comes from the finance engine or the
//! person's own events, and the card says so in its footer and its caption.

mod choice;
mod draw;
mod raster;

use std::sync::Arc;

use async_trait::async_trait;
use miyagi_domain::{image::Card as AttachedCard, user::UserProfile};
use miyagi_finance::allocation::{Allocation, AssetClass};
use miyagi_kernel::{
    EmbeddingModel, GeneratedImage, ImageModel, ImageRequest, ImageSize, KernelError,
};
use tokio::sync::OnceCell;

use crate::store::{ImagesStore, StoreError};
use choice::Card;

/// A store that cannot answer is a model that is down: the consumer tries again.
fn store_down(e: StoreError) -> KernelError {
    KernelError::Network(e.to_string())
}

/// The name this model answers to.
pub const MODEL: &str = "miyagi-cards";

/// What to ask the card renderer for.
pub const SUGGESTIONS: [&str; 4] = [
    "A card of my target mix",
    "My retirement projection",
    "My paper positions",
    "My usual month of spending",
];

pub struct CardRenderer {
    store: ImagesStore,
    /// Reads prompts whose words name several cards or none; without it those are refused.
    embedder: Option<Arc<dyn EmbeddingModel>>,
    /// The cards' meanings, embedded on first use.
    meanings: OnceCell<Vec<Vec<f32>>>,
}

impl CardRenderer {
    pub fn new(store: ImagesStore, embedder: Option<Arc<dyn EmbeddingModel>>) -> Self {
        Self {
            store,
            embedder,
            meanings: OnceCell::new(),
        }
    }

    async fn choose(&self, prompt: &str) -> Result<Card, KernelError> {
        let chosen = match (choice::by_words(prompt), &self.embedder) {
            (Some(card), _) => Some(card),
            (None, Some(embedder)) => {
                let meanings = self
                    .meanings
                    .get_or_try_init(|| choice::meanings(embedder.as_ref()))
                    .await?;
                choice::by_meaning(embedder.as_ref(), meanings, prompt).await?
            }
            (None, None) => None,
        };
        chosen.ok_or_else(|| {
            KernelError::Unsupported(format!(
                "Miyagi draws cards of your own figures: your target mix, your retirement projection, your paper positions or your usual month. “{}” does not ask for one of them; an images endpoint (`models.image_endpoint`) draws other pictures.",
                prompt.trim()
            ))
        })
    }

    /// A card an answer asked for by its event, drawn from the figures the event carries (an
    /// advice's own mix) or from the same copies and engine the answer used.
    pub async fn draw_attached(
        &self,
        owner: &str,
        card: &AttachedCard,
        size: ImageSize,
    ) -> Result<GeneratedImage, KernelError> {
        let drawing = match card {
            AttachedCard::TargetMix { shares } => {
                let mix = Allocation::from_holdings(
                    shares
                        .iter()
                        .filter_map(|s| AssetClass::parse(&s.class).map(|c| (c, s.share))),
                )
                .ok_or_else(|| {
                    KernelError::Unsupported("the advice names no asset class".into())
                })?;
                let profile = self.store.profile(owner).await.map_err(store_down)?;
                draw::advised_mix(profile.as_ref().map(|p| p.profile.name.as_str()), &mix)
            }
            AttachedCard::Projection {
                years,
                annual_savings,
            } => {
                let profile = self.profile(owner).await?;
                let p = &profile.profile;
                draw::projection(
                    &p.name,
                    p.retirement_age,
                    p.age,
                    &miyagi_finance::profile::project(&profile, *years, *annual_savings),
                )
            }
            AttachedCard::UsualMonth => self.drawing(Card::Spending, owner).await?,
        };
        render(drawing, size).await
    }

    async fn profile(&self, owner: &str) -> Result<UserProfile, KernelError> {
        self.store.profile(owner).await.map_err(store_down)?.ok_or_else(|| {
            KernelError::Unsupported(
                "This card is drawn from your profile, and you have none yet: create one on the Profile page, then ask again.".into(),
            )
        })
    }

    async fn drawing(&self, card: Card, owner: &str) -> Result<draw::Drawing, KernelError> {
        Ok(match card {
            Card::Allocation | Card::Projection { .. } => {
                let profile = self.profile(owner).await?;
                let p = &profile.profile;
                match card {
                    Card::Projection { years } => draw::projection(
                        &p.name,
                        p.retirement_age,
                        p.age,
                        &miyagi_finance::profile::project(&profile, years, None),
                    ),
                    _ => draw::allocation(&p.name, &miyagi_finance::profile::read(&profile)),
                }
            }
            Card::Positions => {
                let held = self.store.positions(owner).await.map_err(store_down)?;
                match held {
                    Some(held) if !held.positions.is_empty() => draw::positions(&held.positions),
                    _ => {
                        return Err(KernelError::Unsupported(
                            "Your paper account holds no stocks yet: buy some on the Trade page, then ask again.".into(),
                        ))
                    }
                }
            }
            Card::Spending => {
                let month = self.store.spending(owner).await.map_err(store_down)?;
                match month {
                    Some(month) if month.months > 0 => draw::spending(&month),
                    _ => {
                        return Err(KernelError::Unsupported(
                            "Your usual month needs at least one full month of transactions: import a statement on the Spending page, then ask again.".into(),
                        ))
                    }
                }
            }
        })
    }
}

#[async_trait]
impl ImageModel for CardRenderer {
    fn model_id(&self) -> &str {
        MODEL
    }

    async fn generate(&self, request: &ImageRequest) -> Result<Vec<GeneratedImage>, KernelError> {
        if request.n != 1 {
            return Err(KernelError::Unsupported(
                "Miyagi draws one card a request.".into(),
            ));
        }
        let card = self.choose(&request.prompt).await?;
        let drawing = self.drawing(card, &request.user).await?;
        Ok(vec![render(drawing, request.size).await?])
    }
}

/// The card as a PNG, captioned.
async fn render(drawing: draw::Drawing, size: ImageSize) -> Result<GeneratedImage, KernelError> {
    let svg = draw::svg(&drawing, size);
    let png = tokio::task::spawn_blocking(move || raster::png(&svg, size))
        .await
        .map_err(|e| KernelError::BadResponse(format!("the card renderer stopped: {e}")))??;
    Ok(GeneratedImage {
        bytes: png,
        media_type: "image/png".into(),
        revised_prompt: Some(drawing.caption),
    })
}
