//! The copilot's copy of each person's latest advice, kept from `miyagi.advice.generated.v1`
//! (which carries the advice's words), so the coach can speak of it without calling the advisor.

use miyagi_domain::advice::AdviceGenerated;
use miyagi_platform::db::timestamp;
use uuid::Uuid;

use super::{CopilotStore, StoreError};

impl CopilotStore {
    /// Keeps the owner's newest advice; an older or repeated event changes nothing, so events
    /// arriving out of order across profiles leave the latest in place.
    pub async fn upsert_advice(&self, advice: &AdviceGenerated) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO advice (owner, advice_id, user_id, body, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (owner) DO UPDATE SET advice_id = excluded.advice_id,
                 user_id = excluded.user_id, body = excluded.body, created_at = excluded.created_at
             WHERE advice.created_at < excluded.created_at",
        )
        .bind(&advice.owner)
        .bind(advice.advice_id.to_string())
        .bind(advice.user_id.to_string())
        .bind(serde_json::to_string(advice)?)
        .bind(timestamp(advice.created_at))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn latest_advice(&self, owner: &str) -> Result<Option<AdviceGenerated>, StoreError> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM advice WHERE owner = $1")
            .bind(owner)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// Forgets the advice given for a deleted profile.
    pub async fn delete_advice_for(&self, owner: &str, profile: Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM advice WHERE owner = $1 AND user_id = $2")
            .bind(owner)
            .bind(profile.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
