//! The copilot's copy of profiles, kept from `miyagi.user.profile.*` so it never reads the
//! users service's tables: the default persona's voice and the person's figures come from it.

use chrono::Utc;
use miyagi_domain::user::UserProfile;
use miyagi_platform::db::timestamp;
use uuid::Uuid;

use super::{CopilotStore, StoreError};

impl CopilotStore {
    /// Keeps the newest version of a profile; an older or repeated event changes nothing.
    pub async fn upsert_profile(&self, profile: &UserProfile) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO profiles (id, owner, version, body, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, version = excluded.version,
                 body = excluded.body, updated_at = excluded.updated_at
             WHERE profiles.version < excluded.version",
        )
        .bind(profile.id.to_string())
        .bind(&profile.owner)
        .bind(profile.version)
        .bind(serde_json::to_string(profile)?)
        .bind(timestamp(Utc::now()))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn delete_profile(&self, owner: &str, id: Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM profiles WHERE id = $1 AND owner = $2")
            .bind(id.to_string())
            .bind(owner)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The profile the coach speaks to: the owner's most recently changed one.
    pub async fn profile(&self, owner: &str) -> Result<Option<UserProfile>, StoreError> {
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body FROM profiles WHERE owner = $1 ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(owner)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }
}
