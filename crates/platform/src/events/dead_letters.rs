//! Dead letters kept where an operator can read them and send them again.
//!
//! Parking an event on `<topic>.dlq` keeps it from being lost, but a topic is no place to look
//! things up: a person asking "why is my document still pending?" needs the event, the error and
//! a way to retry once the cause is fixed. So the consumer also records each dead letter in its
//! service's database (`miyagi_dead_letters`), and [`redrive`] publishes the original event again
//! through that database's outbox, in the same transaction that marks the letter redriven.
//!
//! A redriven event reaches every group on its topic again, which is safe: it keeps its id, so
//! the groups that handled it the first time find it in their inbox and do nothing. It arrives
//! after newer events of the same key; redriving is an operator's decision to accept that.

use serde::Serialize;
use sqlx::{any::AnyRow, Row};

use super::{outbox, CloudEvent, Delivery};
use crate::db::{parse_timestamp, timestamp, Db};

/// One dead-lettered record and what became of it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub id: String,
    pub group: String,
    pub topic: String,
    pub partition: i64,
    pub offset: i64,
    pub key: String,
    /// The envelope's id and type; absent when the record was not a CloudEvent at all.
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub error: String,
    pub attempts: i64,
    pub dead_at: chrono::DateTime<chrono::Utc>,
    pub redriven_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The record as it was read (JSON when it was JSON, else its text).
    pub record: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error("no such dead letter")]
    NotFound,
    #[error("the record is not a CloudEvent, so it cannot be published again: {0}")]
    NotAnEvent(String),
    #[error("this event is already waiting in the outbox to be published again")]
    AlreadyQueued,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Records `delivery`'s failure; recording the same delivery again (a redelivery after a crash
/// between recording and committing) keeps the first record.
pub(super) async fn record(
    db: &Db,
    group: &str,
    delivery: &Delivery,
    error: &str,
    attempts: u32,
) -> Result<(), sqlx::Error> {
    let event = CloudEvent::from_bytes(&delivery.payload).ok();
    sqlx::query(
        "INSERT INTO miyagi_dead_letters (id, consumer_group, topic, partition_no, log_offset, record_key, \
         event_id, event_type, record, error, attempts, dead_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (consumer_group, topic, partition_no, log_offset) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(group)
    .bind(&delivery.topic)
    .bind(i64::from(delivery.partition))
    .bind(delivery.offset)
    .bind(&delivery.key)
    .bind(event.as_ref().map(|e| e.id.clone()))
    .bind(event.as_ref().map(|e| e.event_type.clone()))
    .bind(String::from_utf8_lossy(&delivery.payload).into_owned())
    .bind(error)
    .bind(i64::from(attempts))
    .bind(timestamp(chrono::Utc::now()))
    .execute(db.pool())
    .await?;
    Ok(())
}

const COLUMNS: &str = "id, consumer_group, topic, partition_no, log_offset, record_key, event_id, \
                       event_type, record, error, attempts, dead_at, redriven_at";

/// The newest `limit` dead letters first.
pub async fn list(db: &Db, limit: i64) -> Result<Vec<DeadLetter>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM miyagi_dead_letters ORDER BY dead_at DESC, id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(from_row)
    .collect()
}

pub async fn get(db: &Db, id: &str) -> Result<Option<DeadLetter>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM miyagi_dead_letters WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Queues the letter's event for publishing again and marks the letter redriven, together.
pub async fn redrive(db: &Db, id: &str) -> Result<DeadLetter, RedriveError> {
    let letter = get(db, id).await?.ok_or(RedriveError::NotFound)?;
    let event = serde_json::from_value::<CloudEvent>(letter.record.clone())
        .map_err(|e| RedriveError::NotAnEvent(e.to_string()))?;
    let now = chrono::Utc::now();
    let mut tx = db.begin().await?;
    match outbox::enqueue(&mut tx, &letter.topic, &event).await {
        Ok(()) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(RedriveError::AlreadyQueued)
        }
        Err(e) => return Err(e.into()),
    }
    sqlx::query("UPDATE miyagi_dead_letters SET redriven_at = $1 WHERE id = $2")
        .bind(timestamp(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    outbox::commit(db, tx).await?;
    Ok(DeadLetter {
        redriven_at: Some(now),
        ..letter
    })
}

fn from_row(row: &AnyRow) -> Result<DeadLetter, sqlx::Error> {
    let record: String = row.try_get("record")?;
    Ok(DeadLetter {
        id: row.try_get("id")?,
        group: row.try_get("consumer_group")?,
        topic: row.try_get("topic")?,
        partition: row.try_get("partition_no")?,
        offset: row.try_get("log_offset")?,
        key: row.try_get("record_key")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        error: row.try_get("error")?,
        attempts: row.try_get("attempts")?,
        dead_at: parse_timestamp(&row.try_get::<String, _>("dead_at")?)?,
        redriven_at: row
            .try_get::<Option<String>, _>("redriven_at")?
            .as_deref()
            .map(parse_timestamp)
            .transpose()?,
        record: serde_json::from_str(&record).unwrap_or(serde_json::Value::String(record)),
    })
}
