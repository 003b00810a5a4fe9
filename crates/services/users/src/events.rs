//! The events this service publishes: a profile's on topic `miyagi.user.profile`, keyed by
//! profile id; an account's deletion on `miyagi.user.account`, keyed by user id.

use miyagi_domain::{
    events::{topics, types},
    user::{AccountDeleted, UserProfile, UserProfileDeleted},
};
use miyagi_platform::events::CloudEvent;

pub const SOURCE: &str = "/miyagi/users";
pub const TOPIC: &str = topics::USER_PROFILE;
pub const ACCOUNT_TOPIC: &str = topics::USER_ACCOUNT;

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

pub fn account_deleted(user: &str) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::USER_ACCOUNT_DELETED,
        user,
        &AccountDeleted { user: user.into() },
    )
}
