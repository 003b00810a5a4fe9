//! Reading the event log as a test checks it: every event on a topic, as the log holds it now.

use std::time::Duration;

use miyagi_domain::{
    events::{topics, types},
    user::AccountDeleted,
};
use miyagi_platform::events::{CloudEvent, EventBus, Record};

/// Every event on `topic`, in each partition's order, read by a consumer group of its own (so
/// nothing the services consume is disturbed).
pub async fn events_on(bus: &dyn EventBus, topic: &str) -> Vec<CloudEvent> {
    let group = format!("reader-{}", uuid::Uuid::new_v4());
    let mut subscription = bus.subscribe(&group, &[topic]).await.expect("a reader");
    let mut events = Vec::new();
    loop {
        let batch = subscription
            .poll(1000, Duration::from_millis(100))
            .await
            .expect("the log answers");
        if batch.is_empty() {
            return events;
        }
        events.extend(
            batch
                .iter()
                .map(|d| CloudEvent::from_bytes(&d.payload).expect("an envelope")),
        );
    }
}

/// The events on `topic` about `subject`, once `done` says the log holds what the test waits
/// for (events are relayed and erased in the background); fails after 30 s with what it holds.
pub async fn events_once(
    bus: &dyn EventBus,
    topic: &str,
    subject: &str,
    done: impl Fn(&[CloudEvent]) -> bool,
) -> Vec<CloudEvent> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut events = events_on(bus, topic).await;
        events.retain(|e| e.subject == subject);
        if done(&events) {
            return events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the log never came to hold what was expected about {subject}: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Publishes `user`'s account deletion as the users service announces it
/// (`DELETE /api/v1/account`), for a service's test of what it erases.
pub async fn announce_account_deletion(bus: &dyn EventBus, user: &str) {
    let deletion = CloudEvent::new(
        "/miyagi/users",
        types::USER_ACCOUNT_DELETED,
        user,
        &AccountDeleted { user: user.into() },
    );
    bus.publish(vec![Record::event(topics::USER_ACCOUNT, &deletion)])
        .await
        .expect("the log takes the deletion");
}
