//! The inbox: a consumer records each event id it processes, in the same transaction as the
//! effect. A redelivered event finds its id already there and has no second effect.

use sqlx::AnyConnection;

use crate::db::timestamp;

/// Claims `event_id` for `consumer` inside the effect's transaction. `false` means it was
/// processed before: skip the effect and let the transaction roll back.
pub async fn claim(conn: &mut AnyConnection, consumer: &str, event_id: &str) -> Result<bool, sqlx::Error> {
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
