//! The inbox: a consumer records each event id it processes, in the same transaction as the
//! effect. A redelivered event finds its id already there and has no second effect.

use futures::future::BoxFuture;
use sqlx::AnyConnection;

use crate::db::{timestamp, Db};

/// Claims `event_id` for `consumer` inside the effect's transaction. `false` means it was
/// processed before: skip the effect and let the transaction roll back.
pub async fn claim(
    conn: &mut AnyConnection,
    consumer: &str,
    event_id: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO miyagi_inbox (consumer, event_id, processed_at) VALUES ($1, $2, $3)
         ON CONFLICT (consumer, event_id) DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .bind(timestamp(chrono::Utc::now()))
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Runs `effect` at most once per (`consumer`, `event_id`): the claim and the effect share one
/// transaction. Returns `false` (and changes nothing) for an event processed before.
pub async fn apply_once<F>(
    db: &Db,
    consumer: &str,
    event_id: &str,
    effect: F,
) -> Result<bool, sqlx::Error>
where
    F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<(), sqlx::Error>>,
{
    let mut tx = db.begin().await?;
    if !claim(&mut tx, consumer, event_id).await? {
        return Ok(false);
    }
    effect(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// Whether `consumer` already processed `event_id`. Lets a handler skip expensive work for a
/// redelivered event up front; the claim inside the effect's transaction stays the guarantee.
pub async fn seen(db: &Db, consumer: &str, event_id: &str) -> Result<bool, sqlx::Error> {
    let found: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM miyagi_inbox WHERE consumer = $1 AND event_id = $2",
    )
    .bind(consumer)
    .bind(event_id)
    .fetch_one(db.pool())
    .await?;
    Ok(found > 0)
}

/// Forgets ids processed before `before`. Safe once the log can no longer deliver events that
/// old again (the runtime keeps ids twice as long as the log keeps records); returns how many.
pub async fn prune(db: &Db, before: chrono::DateTime<chrono::Utc>) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM miyagi_inbox WHERE processed_at < $1")
        .bind(timestamp(before))
        .execute(db.pool())
        .await?;
    Ok(deleted.rows_affected())
}
