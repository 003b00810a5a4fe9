//! The copilot's copy of each person's usual month, kept from
//! `miyagi.expenses.spending.summarised.v1`, so the coach can speak of what they spend without
//! calling the expenses service.

use miyagi_domain::expenses::SpendingSummarised;
use miyagi_platform::db::timestamp;

use super::{CopilotStore, StoreError};

impl CopilotStore {
    /// Keeps the owner's newest usual month, forgetting it when the expenses service no longer
    /// knows one (`months` 0); an older or repeated event changes nothing.
    pub async fn upsert_spending(&self, month: &SpendingSummarised) -> Result<(), StoreError> {
        let as_of = timestamp(month.as_of);
        if month.months == 0 {
            sqlx::query("DELETE FROM spending WHERE owner = $1 AND as_of <= $2")
                .bind(&month.owner)
                .bind(&as_of)
                .execute(self.db.pool())
                .await?;
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO spending (owner, body, as_of) VALUES ($1, $2, $3)
             ON CONFLICT (owner) DO UPDATE SET body = excluded.body, as_of = excluded.as_of
             WHERE spending.as_of < excluded.as_of",
        )
        .bind(&month.owner)
        .bind(serde_json::to_string(month)?)
        .bind(&as_of)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn spending(&self, owner: &str) -> Result<Option<SpendingSummarised>, StoreError> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM spending WHERE owner = $1")
            .bind(owner)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }
}
