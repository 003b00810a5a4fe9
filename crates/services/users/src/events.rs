//! The events this service publishes, all on topic `miyagi.user.profile`, keyed by profile id.

use miyagi_domain::{
    events::{topics, types},
    user::{UserProfile, UserProfileDeleted},
};
use miyagi_platform::events::CloudEvent;

pub const SOURCE: &str = "/miyagi/users";
pub const TOPIC: &str = topics::USER_PROFILE;

pub fn created(profile: &UserProfile) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::USER_PROFILE_CREATED,
        profile.id.to_string(),
        profile,
    )
}

pub fn updated(profile: &UserProfile) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::USER_PROFILE_UPDATED,
        profile.id.to_string(),
        profile,
    )
}

pub fn deleted(profile: &UserProfile) -> CloudEvent {
    let payload = UserProfileDeleted {
        id: profile.id,
        owner: profile.owner.clone(),
    };
    CloudEvent::new(
        SOURCE,
        types::USER_PROFILE_DELETED,
        profile.id.to_string(),
        &payload,
    )
}
