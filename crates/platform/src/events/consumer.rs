//! The consumer loop: poll a batch, hand each event to its handler, and commit offsets only after
//! the effects are durable. Handlers make their effects idempotent with the [`super::inbox`].
//!
//! Failures are of two kinds. Transient ones (a database restarting, a network blip) are retried
//! with capped exponential backoff for as long as they last: the partition waits rather than
//! losing effects to the dead letters during an outage. Permanent ones (a payload that can never
//! be processed) are parked on the dead-letter topic with the error, and the partition moves on.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use rand::Rng;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{bus::Record, envelope::EnvelopeError, CloudEvent, Delivery, EventBus};
use crate::config::ConsumerConfig;

/// Type of the envelope that carries a dead-lettered record.
pub const DEAD_LETTER_TYPE: &str = "miyagi.deadletter.v1";

/// The dead-letter topic for records of `topic`.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying until it clears: a database or network outage.
    #[error("{0:#}")]
    Transient(anyhow::Error),
    /// Retrying cannot help (the payload or the data is wrong): dead-letter at once.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl From<sqlx::Error> for HandlerError {
    /// The database rejecting the statement (a constraint, a bad value) will reject it again;
    /// failing to reach the database will not last.
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::TypeNotFound { .. } => Self::Permanent(e.into()),
            _ => Self::Transient(e.into()),
        }
    }
}

impl From<EnvelopeError> for HandlerError {
    fn from(e: EnvelopeError) -> Self {
        Self::Permanent(e.into())
    }
}

#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError>;
}

/// A consumer group: which topics it reads and what it does with each event.
#[derive(Clone)]
pub struct Consumer {
    pub group: String,
    pub topics: Vec<String>,
    pub handler: Arc<dyn EventHandler>,
}

enum Outcome {
    Handled,
    DeadLettered,
    /// Shutdown arrived mid-retry: leave the event uncommitted for the next run.
    Interrupted,
}

impl Consumer {
    pub fn new(group: &str, topics: &[&str], handler: Arc<dyn EventHandler>) -> Self {
        Self {
            group: group.into(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            handler,
        }
    }

    /// Consumes until `shutdown`; the event in hand is finished and committed before returning.
    pub async fn run(
        self,
        bus: Arc<dyn EventBus>,
        settings: ConsumerConfig,
        shutdown: CancellationToken,
    ) {
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        let mut subscription = loop {
            match bus.subscribe(&self.group, &topics).await {
                Ok(s) => break s,
                Err(e) => {
                    tracing::warn!(group = %self.group, error = %e, "cannot subscribe; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.cancelled() => return,
                    }
                }
            }
        };
        while !shutdown.is_cancelled() {
            let batch = tokio::select! {
                polled = subscription.poll(settings.batch_size, Duration::from_secs(1)) => polled,
                _ = shutdown.cancelled() => break,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(group = %self.group, error = %e, "poll failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            let mut done = Vec::with_capacity(batch.len());
            for delivery in batch {
                match self.process(&delivery, &*bus, &settings, &shutdown).await {
                    Outcome::Handled | Outcome::DeadLettered => done.push(delivery),
                    Outcome::Interrupted => break,
                }
            }
            if done.is_empty() {
                continue;
            }
            fail::fail_point!("consumer.before_commit");
            // A failed commit only means redelivery, which the inbox absorbs.
            if let Err(e) = subscription.commit(&done).await {
                tracing::warn!(group = %self.group, error = %e, "offset commit failed; events will be redelivered");
            }
        }
    }

    async fn process(
        &self,
        delivery: &Delivery,
        bus: &dyn EventBus,
        settings: &ConsumerConfig,
        shutdown: &CancellationToken,
    ) -> Outcome {
        let event = match CloudEvent::from_bytes(&delivery.payload) {
            Ok(event) => event,
            Err(e) => {
                return self
                    .dead_letter(delivery, &e.to_string(), 0, bus, shutdown)
                    .await
            }
        };
        let span = tracing::info_span!(
            "event.consume",
            consumer.group = %self.group,
            event.id = %event.id,
            event.type = %event.event_type,
            otel.kind = "consumer",
        );
        crate::telemetry::continue_trace(&span, event.traceparent.as_deref());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.handler.handle(&event).instrument(span.clone()).await {
                Ok(()) => {
                    metrics::counter!("events_consumed_total", "group" => self.group.clone(), "outcome" => "handled").increment(1);
                    return Outcome::Handled;
                }
                Err(e) => e,
            };
            if matches!(error, HandlerError::Permanent(_)) {
                let reason = format!("{error}");
                span.in_scope(|| tracing::error!(attempt, %reason, "event dead-lettered"));
                return self
                    .dead_letter(delivery, &reason, attempt, bus, shutdown)
                    .await;
            }
            let delay = backoff(settings, attempt);
            span.in_scope(|| tracing::warn!(attempt, error = %error, ?delay, "event handler failed transiently; retrying"));
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.cancelled() => return Outcome::Interrupted,
            }
        }
    }

    /// Parks the record on its dead-letter topic with the reason, retrying until the bus takes it:
    /// the record must not be committed (and so lost) before it is parked.
    async fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: &str,
        attempts: u32,
        bus: &dyn EventBus,
        shutdown: &CancellationToken,
    ) -> Outcome {
        let original = serde_json::from_slice::<serde_json::Value>(&delivery.payload)
            .unwrap_or_else(|_| json!(String::from_utf8_lossy(&delivery.payload)));
        let letter = CloudEvent::new(
            &format!("/miyagi/consumers/{}", self.group),
            DEAD_LETTER_TYPE,
            delivery.key.clone(),
            &json!({
                "group": self.group,
                "topic": delivery.topic,
                "partition": delivery.partition,
                "offset": delivery.offset,
                "attempts": attempts,
                "error": reason,
                "record": original,
            }),
        );
        let record = Record::event(&dead_letter_topic(&delivery.topic), &letter);
        loop {
            match bus.publish(vec![record.clone()]).await {
                Ok(()) => {
                    metrics::counter!("events_consumed_total", "group" => self.group.clone(), "outcome" => "dead_lettered").increment(1);
                    return Outcome::DeadLettered;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot publish to the dead-letter topic; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.cancelled() => return Outcome::Interrupted,
            }
        }
    }
}

/// Exponential backoff with full jitter, capped.
fn backoff(settings: &ConsumerConfig, attempt: u32) -> Duration {
    let exp = settings
        .backoff_initial_ms
        .saturating_mul(1u64 << attempt.min(20).saturating_sub(1));
    let capped = exp.min(settings.backoff_max_ms).max(1);
    Duration::from_millis(rand::rng().random_range(capped / 2..=capped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let settings = ConsumerConfig {
            backoff_initial_ms: 100,
            backoff_max_ms: 1000,
            batch_size: 1,
        };
        assert!(backoff(&settings, 1) <= Duration::from_millis(100));
        assert!(backoff(&settings, 3) >= Duration::from_millis(200));
        assert!(backoff(&settings, 15) <= Duration::from_millis(1000));
    }
}
