//! The consumer loop: poll a batch, hand each event to its handler, and commit offsets only after
//! the effects are durable. Handlers make their effects idempotent with the [`super::inbox`].
//!
//! Failures are of three kinds, and each has its own fate:
//! - transient ([`HandlerError::Transient`]: a database restarting, a network blip) are retried
//!   with capped exponential backoff for as long as they last: the partition waits rather than
//!   losing effects to the dead letters during an outage;
//! - permanent ([`HandlerError::Permanent`]: a payload that can never be processed) are parked on
//!   the dead-letter topic with the error at once (and recorded in the service's database, to be
//!   read and redriven: [`super::dead_letters`]), and the partition moves on;
//! - a handler that panics or runs past `consumer.handler_timeout_secs` may be a bug that every
//!   retry meets again, or a passing overload: it is retried with backoff, and dead-lettered
//!   after `consumer.max_attempts`. Either way the consumer task lives on.
//!
//! Each partition has a lane of its own ([`lanes`]), handled in order while the loop keeps
//! polling, so a slow key holds up only its own partition. [`ConsumerProbe`] reports to readiness
//! what the loop is doing: a consumer that stopped, or one that has had an event in hand for too
//! long, is not ready.

use std::{
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::FutureExt;
use rand::Rng;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

mod lanes;

use lanes::Lanes;

use super::{
    bus::Record, dead_letters, pause::PauseGate, probe::ConsumerProbe, BusError, CloudEvent,
    Delivery, EventBus, EventHandler, HandlerError, Subscription,
};
use crate::{config::ConsumerConfig, db::Db};

/// How soon what the lanes finish is committed while they work.
const COMMIT_EVERY: Duration = Duration::from_millis(100);
/// How often the group's lag is measured for `/metrics`: often enough to alert on, rarely
/// enough that asking the broker costs nothing noticeable.
const LAG_EVERY: Duration = Duration::from_secs(15);

/// Type of the envelope that carries a dead-lettered record.
pub const DEAD_LETTER_TYPE: &str = "miyagi.deadletter.v1";

/// The dead-letter topic for records of `topic`.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// A consumer group: which topics it reads and what it does with each event.
#[derive(Clone)]
pub struct Consumer {
    pub group: String,
    pub topics: Vec<String>,
    pub handler: Arc<dyn EventHandler>,
    probe: ConsumerProbe,
    /// The service's database, where dead letters are recorded for [`super::dead_letters`].
    dead_letters: Option<Db>,
    gate: PauseGate,
}

enum Outcome {
    Handled,
    DeadLettered,
    /// Shutdown arrived mid-retry: leave the event uncommitted for the next run.
    Interrupted,
}

/// Why one attempt at an event failed, sorted by what happens next.
enum Failure {
    Transient(String),
    Permanent(String),
    /// A panic or a time-out: retried up to `max_attempts`.
    Faulted(String),
}

impl Consumer {
    pub fn new(group: &str, topics: &[&str], handler: Arc<dyn EventHandler>) -> Self {
        Self {
            group: group.into(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            handler,
            probe: ConsumerProbe::new(group),
            dead_letters: None,
            gate: PauseGate::default(),
        }
    }

    /// Lets `gate` hold this consumer still between batches (the runtime shares one per process).
    pub fn paused_by(self, gate: PauseGate) -> Self {
        Self { gate, ..self }
    }

    /// Records this consumer's dead letters in `db` too (the runtime passes the service's own).
    pub fn keeping_dead_letters_in(self, db: Db) -> Self {
        Self {
            dead_letters: Some(db),
            ..self
        }
    }

    /// What this consumer is doing, for readiness; clones see the same loop.
    pub fn probe(&self) -> ConsumerProbe {
        self.probe.clone()
    }

    /// Consumes until `shutdown`; the events in hand are finished and committed before returning.
    pub async fn run(
        self,
        bus: Arc<dyn EventBus>,
        settings: ConsumerConfig,
        shutdown: CancellationToken,
    ) {
        // Marks the consumer stopped however this function ends, unwinding included.
        let _running = self.probe.start(&settings);
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
        // The lanes stop with the loop, whether it was shut down or broke.
        let lanes_stop = shutdown.child_token();
        let lane = Arc::new(LaneWork {
            consumer: self.clone(),
            bus: bus.clone(),
            settings: settings.clone(),
            shutdown: lanes_stop.clone(),
        });
        let work: lanes::Work = Arc::new(move |delivery| Box::pin(lane.clone().finish(delivery)));
        let mut lanes = Lanes::new(work, 2 * settings.batch_size);
        let mut lag_due = Instant::now();
        while !shutdown.is_cancelled() {
            let working = tokio::select! {
                working = self.gate.working() => working,
                _ = shutdown.cancelled() => break,
            };
            // Resumes the lanes that drained since the last poll and pauses the full ones
            // before asking for more.
            lanes.steer(&mut *subscription).await;
            // While lanes work, poll briefly so what they finish is committed promptly.
            let wait = if lanes.busy() {
                COMMIT_EVERY
            } else {
                Duration::from_secs(1)
            };
            let batch = tokio::select! {
                polled = subscription.poll(settings.batch_size, wait) => polled,
                _ = shutdown.cancelled() => break,
            };
            match batch {
                Ok(batch) => batch.into_iter().for_each(|d| lanes.dispatch(d)),
                Err(e) => {
                    tracing::warn!(group = %self.group, error = %e, "poll failed; retrying");
                    drop(working);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
            self.commit(&mut *subscription, lanes.finished()).await;
            if Instant::now() >= lag_due {
                self.report_lag(&mut *subscription).await;
                lag_due = Instant::now() + LAG_EVERY;
            }
            if let Some(why) = lanes.broken() {
                // Stopping turns readiness red; a restart redelivers what was not committed.
                tracing::error!(group = %self.group, %why, "a partition's lane failed; the consumer stops");
                lanes_stop.cancel();
                break;
            }
        }
        let finished = lanes.close().await;
        self.commit(&mut *subscription, finished).await;
    }

    /// Sets `event_consumer_lag_records{group, topic, partition}`. A failure to measure, or a
    /// broker slow to say, is only logged: the figure is for operators, and the loop does not
    /// wait more than a second for it before consuming on.
    async fn report_lag(&self, subscription: &mut dyn Subscription) {
        let measured = tokio::time::timeout(Duration::from_secs(1), subscription.lag()).await;
        match measured.unwrap_or_else(|_| Err(BusError::Unavailable("no answer within 1 s".into())))
        {
            Ok(lags) => {
                for lag in lags {
                    metrics::gauge!(
                        "event_consumer_lag_records",
                        "group" => self.group.clone(),
                        "topic" => lag.topic,
                        "partition" => lag.partition.to_string(),
                    )
                    .set(lag.records as f64);
                }
            }
            Err(e) => tracing::debug!(group = %self.group, error = %e, "cannot measure the lag"),
        }
    }

    async fn commit(&self, subscription: &mut dyn Subscription, done: Vec<Delivery>) {
        if done.is_empty() {
            return;
        }
        fail::fail_point!("consumer.before_commit");
        // A failed commit only means redelivery, which the inbox absorbs.
        if let Err(e) = subscription.commit(&done).await {
            tracing::warn!(group = %self.group, error = %e, "offset commit failed; events will be redelivered");
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
        if event.erased {
            // The person it was about is gone; there is nothing left in it to act on.
            metrics::counter!("events_consumed_total", "group" => self.group.clone(), "outcome" => "erased").increment(1);
            return Outcome::Handled;
        }
        let span = tracing::info_span!(
            "event.consume",
            consumer.group = %self.group,
            event.id = %event.id,
            event.type = %event.event_type,
            otel.kind = "consumer",
        );
        crate::telemetry::continue_trace(&span, event.traceparent.as_deref());
        let _in_hand = self.probe.took(&event.id);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self
                .attempt(&event, settings)
                .instrument(span.clone())
                .await
            {
                Ok(()) => {
                    metrics::counter!("events_consumed_total", "group" => self.group.clone(), "outcome" => "handled").increment(1);
                    return Outcome::Handled;
                }
                Err(failure) => failure,
            };
            let (reason, last) = match failure {
                Failure::Permanent(reason) => (reason, true),
                Failure::Faulted(reason) => (reason, attempt >= settings.max_attempts),
                Failure::Transient(reason) => (reason, false),
            };
            if last {
                span.in_scope(|| tracing::error!(attempt, %reason, "event dead-lettered"));
                let outcome = self
                    .dead_letter(delivery, &reason, attempt, bus, shutdown)
                    .await;
                if let Outcome::DeadLettered = outcome {
                    self.tell_gave_up(&event, &reason, settings)
                        .instrument(span.clone())
                        .await;
                }
                return outcome;
            }
            self.probe.failed(&event.id, attempt, &reason);
            let delay = backoff(settings, attempt);
            span.in_scope(|| tracing::warn!(attempt, error = %reason, ?delay, "event handler failed; retrying"));
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.cancelled() => return Outcome::Interrupted,
            }
        }
    }

    /// One call of the handler, under its time limit and with its panics caught. A handler cut
    /// off by the limit has its future dropped: effects written in a transaction roll back.
    async fn attempt(&self, event: &CloudEvent, settings: &ConsumerConfig) -> Result<(), Failure> {
        let limit = Duration::from_secs(settings.handler_timeout_secs);
        let call = AssertUnwindSafe(self.handler.handle(event)).catch_unwind();
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(HandlerError::Transient(e)))) => Err(Failure::Transient(format!("{e:#}"))),
            Ok(Ok(Err(HandlerError::Permanent(e)))) => Err(Failure::Permanent(format!("{e:#}"))),
            Ok(Err(panic)) => {
                metrics::counter!("event_handler_panics_total", "group" => self.group.clone())
                    .increment(1);
                Err(Failure::Faulted(format!(
                    "the handler panicked: {}",
                    panic_message(&*panic)
                )))
            }
            Err(_) => Err(Failure::Faulted(format!(
                "the handler took longer than its limit of {}s",
                settings.handler_timeout_secs
            ))),
        }
    }

    /// Tells the handler its event was dead-lettered, under the same time limit as a handling.
    async fn tell_gave_up(&self, event: &CloudEvent, reason: &str, settings: &ConsumerConfig) {
        let limit = Duration::from_secs(settings.handler_timeout_secs);
        let told = AssertUnwindSafe(self.handler.gave_up(event, reason)).catch_unwind();
        match tokio::time::timeout(limit, told).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                tracing::warn!(error = %e, "the handler could not record that its event was dead-lettered")
            }
            Ok(Err(_)) | Err(_) => {
                tracing::warn!(
                    "the handler panicked or hung recording that its event was dead-lettered"
                )
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
        if let Some(db) = &self.dead_letters {
            while let Err(e) =
                dead_letters::record(db, &self.group, delivery, reason, attempts).await
            {
                tracing::warn!(error = %e, "cannot record the dead letter; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.cancelled() => return Outcome::Interrupted,
                }
            }
        }
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

/// What a panic said, when it said it with a string (as `panic!` and `expect` do).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-text panic payload")
}

/// What a lane does with each of its deliveries.
struct LaneWork {
    consumer: Consumer,
    bus: Arc<dyn EventBus>,
    settings: ConsumerConfig,
    shutdown: CancellationToken,
}

impl LaneWork {
    /// What was polled is finished even after shutdown has fired, as the loop promises; only
    /// an event still being retried then is left for the next run.
    async fn finish(self: Arc<Self>, delivery: Delivery) -> Option<Delivery> {
        let _working = self.consumer.gate.working().await;
        let outcome = self
            .consumer
            .process(&delivery, &*self.bus, &self.settings, &self.shutdown)
            .await;
        match outcome {
            Outcome::Interrupted => None,
            Outcome::Handled | Outcome::DeadLettered => Some(delivery),
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
            ..ConsumerConfig::default()
        };
        assert!(backoff(&settings, 1) <= Duration::from_millis(100));
        assert!(backoff(&settings, 3) >= Duration::from_millis(200));
        assert!(backoff(&settings, 15) <= Duration::from_millis(1000));
    }
}
