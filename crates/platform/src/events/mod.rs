//! The event backbone: every state change is an event on a log, and services react to each
//! other's events.
//!
//! - [`CloudEvent`]: the envelope (CloudEvents 1.0, JSON, with W3C `traceparent`).
//! - [`EventBus`]: the seam between services and the log ([`embedded::EmbeddedLog`] in one
//!   process; Kafka in distributed mode).
//! - [`outbox`]: producers write events in the same transaction as their state; a relay publishes.
//! - [`inbox`]: consumers record each event id in the same transaction as its effect.
//! - [`consumer`]: the loop that polls, retries with backoff, dead-letters and commits offsets;
//!   [`EventHandler`] and [`HandlerError`] are what it calls and what it is told.
//! - [`dead_letters`]: the dead letters a service's consumers parked, to read and redrive.
//! - [`erasure`]: a person's events erased from the dead letters and parked outbox records too.
//! - [`retention`]: the log and the inboxes pruned by age (`bus.retention_hours`).
//! - `conformance` (feature `testing`): the promises every [`EventBus`] keeps, as a test suite.

mod bus;
#[cfg(feature = "testing")]
pub mod conformance;
pub mod consumer;
pub mod dead_letters;
pub mod embedded;
mod envelope;
pub mod erasure;
mod handler;
pub mod inbox;
pub mod outbox;
mod pause;
mod probe;
pub mod retention;

pub use bus::{BusError, Delivery, EventBus, PartitionLag, Record, Subscription, MAX_RECORD_BYTES};
pub use consumer::Consumer;
pub use envelope::{CloudEvent, EnvelopeError};
pub use handler::{is_storage_full, is_transient, EventHandler, HandlerError};
pub use pause::{PauseGate, Paused};
pub use probe::ConsumerProbe;
