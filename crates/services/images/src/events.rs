//! The events this service publishes, all on `miyagi.image`, keyed by image id. Ids, the model
//! and the size of the picture only: prompts and pictures stay in the service.

use miyagi_domain::{
    events::{topics, types},
    image::{ImageDeleted, ImageFailed, ImageGenerated, ImageRequested},
};
use miyagi_platform::events::CloudEvent;

pub const SOURCE: &str = "/miyagi/images";
pub const TOPIC: &str = topics::IMAGE;

pub fn requested(payload: &ImageRequested) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::IMAGE_REQUESTED,
        payload.image_id.to_string(),
        payload,
    )
}

pub fn generated(payload: &ImageGenerated) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::IMAGE_GENERATED,
        payload.image_id.to_string(),
        payload,
    )
}

pub fn failed(payload: &ImageFailed) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::IMAGE_FAILED,
        payload.image_id.to_string(),
        payload,
    )
}

pub fn deleted(payload: &ImageDeleted) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::IMAGE_DELETED,
        payload.image_id.to_string(),
        payload,
    )
}
