//! The copies cards are drawn from, each kept from its owner's events so this service never
//! reads another's tables: profiles (`miyagi.user.profile.*`), paper positions
//! (`miyagi.markets.positions.updated.v1`) and the usual month
//! (`miyagi.expenses.spending.summarised.v1`). An older or repeated event changes nothing.

use miyagi_domain::{expenses::SpendingSummarised, markets::PositionsUpdated, user::UserProfile};
use miyagi_platform::db::timestamp;
use uuid::Uuid;

use super::{ImagesStore, StoreError};

impl ImagesStore {
    pub async fn upsert_profile(&self, profile: &UserProfile) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO profile_copies (id, owner, version, body, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, body = excluded.body,
                 updated_at = excluded.updated_at
             WHERE profile_copies.version < excluded.version",
        )
        .bind(profile.id.to_string())
        .bind(&profile.owner)
        .bind(profile.version)
        .bind(serde_json::to_string(profile)?)
        .bind(timestamp(profile.updated_at))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn delete_profile(&self, owner: &str, id: Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM profile_copies WHERE id = $1 AND owner = $2")
            .bind(id.to_string())
            .bind(owner)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The profile a card is drawn from: the owner's most recently changed one.
    pub async fn profile(&self, owner: &str) -> Result<Option<UserProfile>, StoreError> {
        self.body(
            "SELECT body FROM profile_copies WHERE owner = $1 ORDER BY updated_at DESC LIMIT 1",
            owner,
        )
        .await
    }

    pub async fn upsert_positions(&self, held: &PositionsUpdated) -> Result<(), StoreError> {
        self.upsert_latest(
            "position_copies",
            &held.owner,
            serde_json::to_string(held)?,
            held.as_of,
        )
        .await
    }

    pub async fn positions(&self, owner: &str) -> Result<Option<PositionsUpdated>, StoreError> {
        self.body("SELECT body FROM position_copies WHERE owner = $1", owner)
            .await
    }

    pub async fn upsert_spending(&self, month: &SpendingSummarised) -> Result<(), StoreError> {
        self.upsert_latest(
            "spending_copies",
            &month.owner,
            serde_json::to_string(month)?,
            month.as_of,
        )
        .await
    }

    pub async fn spending(&self, owner: &str) -> Result<Option<SpendingSummarised>, StoreError> {
        self.body("SELECT body FROM spending_copies WHERE owner = $1", owner)
            .await
    }

    /// Keeps `body` as the owner's copy in `table` unless a later one is there already.
    async fn upsert_latest(
        &self,
        table: &'static str,
        owner: &str,
        body: String,
        as_of: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO {table} (owner, body, as_of) VALUES ($1, $2, $3)
             ON CONFLICT (owner) DO UPDATE SET body = excluded.body, as_of = excluded.as_of
             WHERE {table}.as_of < excluded.as_of"
        ))
        .bind(owner)
        .bind(body)
        .bind(timestamp(as_of))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    async fn body<T: serde::de::DeserializeOwned>(
        &self,
        sql: &'static str,
        owner: &str,
    ) -> Result<Option<T>, StoreError> {
        let body: Option<String> = sqlx::query_scalar(sql)
            .bind(owner)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }
}
