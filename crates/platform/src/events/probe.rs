//! What a consumer loop is doing, as readiness sees it.
//!
//! A consumer can fail without the process noticing: its task ends (a bug outside the handler),
//! or one event keeps it busy for ever (a handler retrying an outage that never clears). Both
//! leave the service answering HTTP while its events pile up unprocessed, so both must turn
//! `/readyz` red, with the group and the event named in the log.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::config::ConsumerConfig;

#[derive(Clone)]
pub struct ConsumerProbe {
    group: Arc<str>,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    stopped: bool,
    /// An event in hand this long is stuck: twice a handler's time limit.
    stuck_after: Duration,
    /// Event id → when it was taken, and its last failure.
    in_hand: HashMap<String, (Instant, Option<String>)>,
}

/// Held while the loop runs; dropping it (a return, or unwinding) marks the consumer stopped.
pub(super) struct Running(ConsumerProbe);

/// Held while an event is in hand.
pub(super) struct InHand(ConsumerProbe, String);

impl ConsumerProbe {
    pub(super) fn new(group: &str) -> Self {
        Self {
            group: group.into(),
            state: Arc::default(),
        }
    }

    pub(super) fn start(&self, settings: &ConsumerConfig) -> Running {
        let mut state = self.lock();
        state.stopped = false;
        state.stuck_after = Duration::from_secs(settings.handler_timeout_secs.saturating_mul(2));
        Running(self.clone())
    }

    pub(super) fn took(&self, event_id: &str) -> InHand {
        self.lock()
            .in_hand
            .insert(event_id.to_string(), (Instant::now(), None));
        InHand(self.clone(), event_id.to_string())
    }

    pub(super) fn failed(&self, event_id: &str, attempt: u32, reason: &str) {
        if let Some((_, last)) = self.lock().in_hand.get_mut(event_id) {
            *last = Some(format!("attempt {attempt}: {reason}"));
        }
    }

    /// `Ok` unless the loop has stopped or an event has been in hand too long; then what is wrong.
    pub fn check(&self) -> anyhow::Result<()> {
        let state = self.lock();
        if state.stopped {
            anyhow::bail!("consumer group {} has stopped", self.group);
        }
        let stuck = state
            .in_hand
            .iter()
            .find(|(_, (since, _))| since.elapsed() > state.stuck_after);
        if let Some((event, (since, last))) = stuck {
            anyhow::bail!(
                "consumer group {} has been on event {event} for {}s ({})",
                self.group,
                since.elapsed().as_secs(),
                last.as_deref().unwrap_or("no failure yet")
            );
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few plain fields, valid after any panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.stopped = true;
        state.in_hand.clear();
    }
}

impl Drop for InHand {
    fn drop(&mut self) {
        self.0.lock().in_hand.remove(&self.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(handler_timeout_secs: u64) -> ConsumerConfig {
        ConsumerConfig {
            handler_timeout_secs,
            ..ConsumerConfig::default()
        }
    }

    #[test]
    fn a_consumer_that_stopped_is_not_ready() {
        let probe = ConsumerProbe::new("g");
        let running = probe.start(&settings(60));
        assert!(probe.check().is_ok());
        drop(running);
        let error = probe.check().unwrap_err().to_string();
        assert!(error.contains("g has stopped"), "{error}");
    }

    #[test]
    fn an_event_in_hand_past_twice_the_handler_limit_is_reported_with_its_last_failure() {
        let probe = ConsumerProbe::new("g");
        let _running = probe.start(&settings(0));
        let _in_hand = probe.took("event-1");
        probe.failed("event-1", 3, "database is locked");
        std::thread::sleep(Duration::from_millis(5));
        let error = probe.check().unwrap_err().to_string();
        assert!(error.contains("event event-1"), "{error}");
        assert!(error.contains("attempt 3: database is locked"), "{error}");
    }

    #[test]
    fn a_finished_event_no_longer_counts() {
        let probe = ConsumerProbe::new("g");
        let _running = probe.start(&settings(0));
        drop(probe.took("event-1"));
        std::thread::sleep(Duration::from_millis(5));
        assert!(probe.check().is_ok());
    }
}
