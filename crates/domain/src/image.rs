//! The images service's event payloads. Ids only: a person's prompt and the picture itself stay
//! in the service and its blob storage, out of the shared log.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `miyagi.image.requested.v1`: a person asked for an image; the images service generates it
/// from this event, off the request path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRequested {
    pub owner: String,
    pub image_id: Uuid,
}

/// `miyagi.image.generated.v1`: the image is in blob storage and can be shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageGenerated {
    pub owner: String,
    pub image_id: Uuid,
    /// The model that made it (`miyagi-cards` for the local card renderer).
    pub model: String,
    pub media_type: String,
    pub bytes: u64,
}

/// `miyagi.image.failed.v1`: the image could not be made; `reason` says why in words the person
/// can act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageFailed {
    pub owner: String,
    pub image_id: Uuid,
    pub reason: String,
}

/// `miyagi.image.deleted.v1`: a person deleted an image; its picture is gone from blob storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDeleted {
    pub owner: String,
    pub image_id: Uuid,
}

/// A card of a person's figures that an answer shows, carried on the answer's event
/// (`miyagi.chat.message.created.v1`, `miyagi.advice.generated.v1`); the images service draws it
/// and attaches it to the answer. A card carries what the answer's figures were made from, so
/// the picture states the same numbers as the words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Card {
    /// The mix the answer recommends, class by class (shares of 1).
    TargetMix { shares: Vec<ClassShare> },
    /// The retirement projection from the person's profile, as asked (`None`: the engine's
    /// defaults: until they retire, saving its assumed share of their income).
    Projection {
        years: Option<u32>,
        annual_savings: Option<f64>,
    },
    /// Their usual month of income and spending.
    UsualMonth,
}

/// One asset class's share of a mix, by the class's name (`Stocks`, `Bonds`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClassShare {
    pub class: String,
    pub share: f64,
}
