//! Retention: neither the event log nor the inboxes grow for ever.
//!
//! Every hour the runtime drops log records older than `bus.retention_hours` that every consumer
//! group has consumed (a record still unread by some group stays, however old), and inbox ids
//! older than twice that: an event the log no longer holds cannot be delivered again, and the
//! margin covers a group that was stopped for a while. Dead letters are kept until an operator
//! deals with them. A Kafka broker applies its own topic retention; only the inboxes are pruned
//! there. `retention_hours = 0` keeps everything.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{inbox, EventBus};
use crate::db::Db;

const EVERY: Duration = Duration::from_secs(3600);

/// What one pass removed.
#[derive(Debug, PartialEq, Eq)]
pub struct Pruned {
    pub records: u64,
    pub inbox_ids: u64,
}

/// Prunes once an hour until `shutdown`.
pub(crate) async fn run(
    bus: std::sync::Arc<dyn EventBus>,
    dbs: Vec<Db>,
    retention: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
        match prune(&*bus, &dbs, retention, chrono::Utc::now()).await {
            Ok(pruned) => tracing::info!(?pruned, "retention pass"),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "retention pass failed; next hour retries")
            }
        }
    }
}

/// One pass as of `now`.
pub async fn prune(
    bus: &dyn EventBus,
    dbs: &[Db],
    retention: Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Pruned> {
    let records = bus.prune(now - retention).await?;
    let mut inbox_ids = 0;
    for db in dbs {
        inbox_ids += inbox::prune(db, now - retention * 2).await?;
    }
    Ok(Pruned { records, inbox_ids })
}
