//! The transactional outbox: an event is written to the `miyagi_outbox` table in the same
//! transaction as the state change it describes, so either both happen or neither does. The
//! [`Relay`] then publishes rows to the bus and deletes them; a crash between publishing and
//! deleting republishes, which consumers absorb through their inbox.
//!
//! An event the bus refuses for good (over its size limit, say) would hold every later event of
//! its database back for ever if it stayed at the head of the outbox. The relay parks it instead
//! in `miyagi_outbox_parked` with the bus's reason, logs an error, counts it in
//! `outbox_parked_total`, and goes on with the rest.

use std::{sync::Arc, time::Duration};

use sqlx::{any::AnyRow, Any, AnyConnection, Row, Transaction};
use tokio_util::sync::CancellationToken;

use super::{bus::Record, pause::PauseGate, BusError, CloudEvent, EventBus};
use crate::db::{timestamp, Backend, Db};

/// Adds `event` for `topic` to the outbox inside the caller's transaction.
pub async fn enqueue(
    conn: &mut AnyConnection,
    topic: &str,
    event: &CloudEvent,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO miyagi_outbox (event_id, topic, record_key, event, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&event.id)
    .bind(topic)
    .bind(&event.subject)
    .bind(serde_json::to_string(event).expect("envelopes serialize"))
    .bind(timestamp(event.time))
    .execute(conn)
    .await?;
    Ok(())
}

/// Commits a transaction that enqueued events and wakes the relay, so events leave promptly.
pub async fn commit(db: &Db, tx: Transaction<'static, Any>) -> Result<(), sqlx::Error> {
    tx.commit().await?;
    fail::fail_point!("outbox.after_commit");
    db.outbox_written();
    Ok(())
}

/// Publishes a database's outbox to the bus, in commit order.
pub struct Relay {
    db: Db,
    bus: Arc<dyn EventBus>,
    batch_size: usize,
    gate: PauseGate,
}

impl Relay {
    pub fn new(db: Db, bus: Arc<dyn EventBus>) -> Self {
        Self {
            db,
            bus,
            batch_size: 256,
            gate: PauseGate::default(),
        }
    }

    /// Lets `gate` hold this relay still between batches (the runtime shares one per process).
    pub fn paused_by(self, gate: PauseGate) -> Self {
        Self { gate, ..self }
    }

    /// Relays until `shutdown`, then drains what is left once more before returning.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        loop {
            let working = self.gate.working().await;
            let published = self.publish_batch().await;
            drop(working);
            match published {
                Ok(0) => failures = 0,
                Ok(_) => {
                    failures = 0;
                    continue;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %format!("{e:#}"), failures, "outbox relay failed; retrying");
                }
            }
            if shutdown.is_cancelled() {
                break;
            }
            let backoff = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
            tokio::select! {
                _ = self.db.outbox_signal().notified(), if failures == 0 => {}
                _ = tokio::time::sleep(if failures == 0 { Duration::from_secs(1) } else { backoff }) => {}
                _ = shutdown.cancelled() => {}
            }
        }
        while let Ok(n) = self.publish_batch().await {
            if n == 0 {
                break;
            }
        }
    }

    /// Publishes up to one batch; returns how many events left the outbox.
    pub async fn publish_batch(&self) -> anyhow::Result<usize> {
        match self.db.backend() {
            // Several replicas may relay one PostgreSQL outbox: row locks make them take turns,
            // which keeps events in commit order.
            Backend::Postgres => {
                let mut tx = self.db.begin().await?;
                let rows = sqlx::query(
                    "SELECT seq, topic, record_key, event FROM miyagi_outbox ORDER BY seq LIMIT $1 FOR UPDATE",
                )
                .bind(self.batch_size as i64)
                .fetch_all(&mut *tx)
                .await?;
                let n = self.forward(&rows, &mut tx).await?;
                tx.commit().await?;
                Ok(n)
            }
            // Embedded mode has one relay per database, so no locking is needed (or possible).
            Backend::Sqlite => {
                let rows = sqlx::query(
                    "SELECT seq, topic, record_key, event FROM miyagi_outbox ORDER BY seq LIMIT $1",
                )
                .bind(self.batch_size as i64)
                .fetch_all(self.db.pool())
                .await?;
                let mut conn = self.db.pool().acquire().await?;
                self.forward(&rows, &mut conn).await
            }
        }
    }

    async fn forward(&self, rows: &[AnyRow], conn: &mut AnyConnection) -> anyhow::Result<usize> {
        if rows.is_empty() {
            return Ok(0);
        }
        let mut seqs = Vec::with_capacity(rows.len());
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            seqs.push(row.try_get::<i64, _>(0)?);
            records.push(Record {
                topic: row.try_get(1)?,
                key: row.try_get(2)?,
                payload: row.try_get::<String, _>(3)?.into_bytes(),
            });
        }
        match self.bus.publish(records).await {
            Ok(()) => {}
            Err(BusError::Rejected { index, reason }) => {
                park(conn, seqs[index], &reason).await?;
                return Ok(1);
            }
            Err(e) => return Err(e.into()),
        }
        fail::fail_point!("relay.after_publish");
        let placeholders = (1..=seqs.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!("DELETE FROM miyagi_outbox WHERE seq IN ({placeholders})");
        let mut delete = sqlx::query(&sql);
        for seq in &seqs {
            delete = delete.bind(*seq);
        }
        delete.execute(conn).await?;
        Ok(seqs.len())
    }
}

/// Moves the outbox row `seq` aside with the bus's reason. Written to be repeatable: a crash
/// between the two statements leaves a row that the next attempt parks again harmlessly.
async fn park(conn: &mut AnyConnection, seq: i64, reason: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO miyagi_outbox_parked (seq, event_id, topic, record_key, event, created_at, reason, parked_at) \
         SELECT seq, event_id, topic, record_key, event, created_at, $1, $2 FROM miyagi_outbox WHERE seq = $3 \
         ON CONFLICT (seq) DO NOTHING",
    )
    .bind(reason)
    .bind(timestamp(chrono::Utc::now()))
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM miyagi_outbox WHERE seq = $1")
        .bind(seq)
        .execute(&mut *conn)
        .await?;
    metrics::counter!("outbox_parked_total").increment(1);
    tracing::error!(seq, %reason, "the event bus refused an outbox event for good; parked it in miyagi_outbox_parked");
    Ok(())
}

/// Events still waiting in the outbox (for readiness detail and tests).
pub async fn pending(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM miyagi_outbox")
        .fetch_one(db.pool())
        .await
}
