//! What the users service consumes: its own `miyagi.user.profile.deleted.v1`, which it answers
//! by erasing the person's data from the event log. Their profile's row is gone already; what
//! remains are the `created` and `updated` events, whose payloads are the whole profile. Done
//! here, after the deletion has come through the log, every earlier event of the profile has
//! been relayed, so none can reappear behind the erasure.

use std::sync::Arc;

use async_trait::async_trait;
use miyagi_domain::events::types;
use miyagi_platform::{
    db::Db,
    events::{erasure, CloudEvent, EventBus, EventHandler, HandlerError},
};

use crate::events::TOPIC;

/// The consumer group that erases deleted profiles' events.
pub const ERASURE: &str = "users-erasure";

pub struct Erasure {
    pub bus: Arc<dyn EventBus>,
    /// The service's database, whose dead letters and parked outbox records are erased too.
    pub db: Db,
}

#[async_trait]
impl EventHandler for Erasure {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != types::USER_PROFILE_DELETED {
            return Ok(());
        }
        let erased = self
            .bus
            .erase(TOPIC, &event.subject, &event.id)
            .await
            .map_err(|e| HandlerError::Transient(e.into()))?;
        let kept = erasure::erase_kept_copies(&self.db, TOPIC, &event.subject, &event.id).await?;
        tracing::info!(profile = %event.subject, erased, kept, "a deleted profile's events are tombstones now");
        Ok(())
    }
}
