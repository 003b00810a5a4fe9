//! The embedded log's one writer: appends and consumer groups' offset commits, written in
//! groups. Whoever holds the writer's turn writes everything waiting in one transaction, so
//! concurrent publishers and consumers share an fsync instead of queueing for one each.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Sqlite};
use tokio::sync::oneshot;

use super::{unavailable, EmbeddedLog};
use crate::events::bus::{BusError, Record};

/// Rows in one `INSERT`: six parameters each, well inside SQLite's 32,766, and one statement
/// for the outbox relay's largest batch (256).
const ROWS_PER_INSERT: usize = 256;

/// What waits for the writer's turn: a publish's records, or a consumer group's positions.
/// A consumer commits after every batch it handles, so with consumers running, offset commits
/// are as many as publishes; written in their own transactions they took every other fsync.
pub(super) enum Write {
    Append(Vec<Record>),
    Commit {
        group: String,
        /// (topic, partition, next offset to read).
        next: Vec<(String, u32, i64)>,
    },
}

/// A write waiting its turn, and where to say whether it was made.
pub(super) struct Waiting {
    write: Write,
    done: oneshot::Sender<Result<(), String>>,
}

impl EmbeddedLog {
    /// Queues `write` and waits until a group holding it commits (see `write_waiting`).
    pub(super) async fn write(&self, write: Write) -> Result<(), BusError> {
        // A write abandoned while it waits is still made with the next group: a publish at
        // least once, as the bus promises (consumers' inboxes drop the repeat), and a commit
        // that only ever moves a group's position forward.
        let (done, mut outcome) = oneshot::channel();
        self.inner
            .waiting
            .lock()
            .expect("the queue's lock is never held across a panic")
            .push(Waiting { write, done });
        let abandoned = || unavailable("the write was abandoned before it committed");
        let answered = {
            let mut next = self.inner.next_offsets.lock().await;
            match outcome.try_recv() {
                // Written with an earlier group: leave the turn to a write still waiting,
                // which by then has more company (writing now would write it alone).
                Ok(said) => Some(said),
                Err(oneshot::error::TryRecvError::Empty) => {
                    self.write_waiting(&mut next).await;
                    None
                }
                Err(oneshot::error::TryRecvError::Closed) => return Err(abandoned()),
            }
        };
        let said = match answered {
            Some(said) => said,
            None => outcome.await.map_err(|_| abandoned())?,
        };
        said.map_err(unavailable)
    }

    /// Group commit: whoever holds the writer's turn writes everything waiting, its own and
    /// what queued while the previous group was being written, in one transaction, so
    /// concurrent publishers and consumers share an fsync instead of queueing for one each.
    /// Each is answered only after the transaction that holds it commits; if it fails, all of
    /// them fail and nothing of theirs is written.
    async fn write_waiting(&self, next: &mut HashMap<(String, u32), i64>) {
        let group = std::mem::take(
            &mut *self
                .inner
                .waiting
                .lock()
                .expect("the queue's lock is never held across a panic"),
        );
        if group.is_empty() {
            return;
        }
        let mut records = Vec::new();
        let mut positions = Vec::new();
        for waiting in &group {
            match &waiting.write {
                Write::Append(batch) => records.extend(batch),
                Write::Commit { group, next } => positions.extend(
                    next.iter()
                        .map(|(topic, partition, offset)| (group, topic, *partition, *offset)),
                ),
            }
        }
        let outcome = self.append(next, &records, &positions).await;
        match &outcome {
            Ok(()) if !records.is_empty() => self
                .inner
                .appended
                .send_modify(|n| *n += records.len() as u64),
            Ok(()) => {}
            // Another writer may have appended to the same file; re-read offsets next time.
            Err(_) => next.clear(),
        }
        let said = outcome.map_err(|e| e.to_string());
        for waiting in group {
            let _ = waiting.done.send(said.clone());
        }
    }

    /// Writes `records` and groups' `positions` in one transaction, assigning offsets from
    /// `next`, which is advanced only once the transaction commits.
    async fn append(
        &self,
        next: &mut HashMap<(String, u32), i64>,
        records: &[&Record],
        positions: &[(&String, &String, u32, i64)],
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.inner.writer.begin().await?;
        let mut assigned: HashMap<(String, u32), i64> = HashMap::new();
        let mut rows = Vec::with_capacity(records.len());
        for record in records {
            let slot = (record.topic.clone(), self.partition_for(&record.key));
            let offset = match assigned.get(&slot).or_else(|| next.get(&slot)) {
                Some(o) => *o,
                None => {
                    sqlx::query_scalar::<_, i64>(
                        "SELECT COALESCE(MAX(log_offset) + 1, 0) FROM log_records WHERE topic = $1 AND partition_no = $2",
                    )
                    .bind(&slot.0)
                    .bind(slot.1)
                    .fetch_one(&mut *tx)
                    .await?
                }
            };
            rows.push((slot.1, offset, *record));
            assigned.insert(slot, offset + 1);
        }
        // Many rows a statement: each statement is a round trip to SQLite's connection thread,
        // which cost more than the rows themselves when they went one at a time.
        let now = chrono::Utc::now().timestamp_millis();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO log_records (topic, partition_no, log_offset, record_key, payload, appended_at) ",
            );
            insert.push_values(chunk, |mut row, (partition, offset, record)| {
                row.push_bind(record.topic.as_str())
                    .push_bind(*partition)
                    .push_bind(*offset)
                    .push_bind(record.key.as_str())
                    .push_bind(record.payload.as_slice())
                    .push_bind(now);
            });
            insert.build().execute(&mut *tx).await?;
        }
        for chunk in positions.chunks(ROWS_PER_INSERT) {
            let mut upsert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO log_group_offsets (group_id, topic, partition_no, next_offset) ",
            );
            upsert.push_values(chunk, |mut row, (group, topic, partition, offset)| {
                row.push_bind(group.as_str())
                    .push_bind(topic.as_str())
                    .push_bind(*partition)
                    .push_bind(*offset);
            });
            // A commit never moves a group back: a redelivered batch's late commit is a no-op.
            upsert.push(
                " ON CONFLICT (group_id, topic, partition_no)
                  DO UPDATE SET next_offset = MAX(next_offset, excluded.next_offset)",
            );
            upsert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        // Only after the commit: a failed append must not leave offsets that were never written.
        next.extend(assigned);
        Ok(())
    }
}
