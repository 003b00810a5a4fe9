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
