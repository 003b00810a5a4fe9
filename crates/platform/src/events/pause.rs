//! Holding the event backbone still, for a consistent backup of an embedded data dir.
//!
//! Each SQLite file can be copied consistently on its own (one read transaction), but the files
//! depend on each other: the log's committed offsets on the effects in the consumers' databases,
//! the log's events on the state in their producers'. With every relay and consumer paused
//! between two units of work, the log stands still and no effect is half-applied, so copies taken
//! one after another still agree: what a request changes meanwhile keeps its event in its own
//! database's outbox, to be published after a restore as it would have been.

use std::{sync::Arc, time::Duration};

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// Shared by a process's relays and consumers: each holds [`PauseGate::working`] for one unit of
/// work (a batch polled, handled and committed; an outbox batch published); [`PauseGate::pause`]
/// waits for those in flight and holds the next ones back until its guard is dropped.
#[derive(Clone, Default)]
pub struct PauseGate(Arc<RwLock<()>>);

/// The backbone is still while this is held.
pub struct Paused {
    _guard: OwnedRwLockWriteGuard<()>,
}

/// Held by a worker during one unit of work.
pub(super) struct Working {
    _guard: OwnedRwLockReadGuard<()>,
}

impl PauseGate {
    pub(super) async fn working(&self) -> Working {
        Working {
            _guard: self.0.clone().read_owned().await,
        }
    }

    /// Pauses every worker, or says which way it failed: a worker busy with one event (a model
    /// call, an outage being retried) for longer than `within` keeps the backbone moving.
    pub async fn pause(&self, within: Duration) -> anyhow::Result<Paused> {
        tokio::time::timeout(within, self.0.clone().write_owned())
            .await
            .map(|guard| Paused { _guard: guard })
            .map_err(|_| {
                anyhow::anyhow!(
                    "a consumer or relay stayed busy for over {}s; retry shortly",
                    within.as_secs()
                )
            })
    }
}
