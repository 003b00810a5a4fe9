//! The advisor's tables: its copy of each profile (kept from the users service's events), of
//! each paper trading account's positions (from the markets service's), of each person's usual
//! month of income and spending (from the expenses service's), and every piece of
//! advice given. Advice is written together with its `advice.generated` event
//! (transactional outbox) and, when an event caused it, with that event's inbox claim, so a
//! redelivered event never produces a second piece of advice.

use chrono::Utc;
use miyagi_domain::{
    advice::AdviceTrigger,
    expenses::SpendingSummarised,
    markets::{PositionValue, PositionsUpdated},
    user::UserProfile,
};
use miyagi_platform::{
    db::{timestamp, Db},
    events::{inbox, outbox},
};
use sqlx::Row;
use uuid::Uuid;

use crate::{
    events,
    model::{Advice, CashFlow, PersonalizeRequest},
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// What recording advice did.
#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    Stored,
    /// The event that caused it was handled before; nothing was written.
    AlreadyDone,
}

#[derive(Clone, Debug)]
pub struct AdviceStore {
    db: Db,
}

impl AdviceStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Keeps the newest version of a profile; an older or repeated event changes nothing.
    pub async fn upsert_profile(&self, profile: &UserProfile) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO advisor_profiles (id, owner, version, profile, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, version = excluded.version,
                 profile = excluded.profile, updated_at = excluded.updated_at
             WHERE advisor_profiles.version < excluded.version",
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

    /// Forgets a deleted profile and the advice given for it.
    pub async fn delete_profile(&self, owner: &str, id: Uuid) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        for table in [
            "advisor_profiles WHERE id = $1",
            "advice WHERE user_id = $1",
        ] {
            sqlx::query(&format!("DELETE FROM {table} AND owner = $2"))
                .bind(id.to_string())
                .bind(owner)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The owner's profile `id`, as last heard from the users service.
    pub async fn profile(&self, owner: &str, id: Uuid) -> Result<Option<UserProfile>, StoreError> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT profile FROM advisor_profiles WHERE id = $1 AND owner = $2")
                .bind(id.to_string())
                .bind(owner)
                .fetch_optional(self.db.pool())
                .await?;
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    /// Keeps the newest positions of a paper account, forgetting an account that holds nothing;
    /// an older or repeated event changes nothing.
    pub async fn upsert_paper_positions(&self, held: &PositionsUpdated) -> Result<(), StoreError> {
        let as_of = timestamp(held.as_of);
        if held.positions.is_empty() {
            sqlx::query("DELETE FROM advisor_paper_positions WHERE owner = $1 AND as_of <= $2")
                .bind(&held.owner)
                .bind(&as_of)
                .execute(self.db.pool())
                .await?;
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO advisor_paper_positions (owner, positions, as_of) VALUES ($1, $2, $3)
             ON CONFLICT (owner) DO UPDATE SET positions = excluded.positions, as_of = excluded.as_of
             WHERE advisor_paper_positions.as_of < excluded.as_of",
        )
        .bind(&held.owner)
        .bind(serde_json::to_string(&held.positions)?)
        .bind(&as_of)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// What the owner's paper account holds (empty without one).
    pub async fn paper_positions(&self, owner: &str) -> Result<Vec<PositionValue>, StoreError> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT positions FROM advisor_paper_positions WHERE owner = $1")
                .bind(owner)
                .fetch_optional(self.db.pool())
                .await?;
        Ok(json
            .map(|j| serde_json::from_str(&j))
            .transpose()?
            .unwrap_or_default())
    }

    /// Keeps the newest usual month of a person, forgetting one the expenses service no longer
    /// knows (`months` 0); an older or repeated event changes nothing.
    pub async fn upsert_spending(&self, summary: &SpendingSummarised) -> Result<(), StoreError> {
        let as_of = timestamp(summary.as_of);
        if summary.months == 0 {
            sqlx::query("DELETE FROM advisor_spending WHERE owner = $1 AND as_of <= $2")
                .bind(&summary.owner)
                .bind(&as_of)
                .execute(self.db.pool())
                .await?;
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO advisor_spending (owner, monthly_income, monthly_spending, months, as_of) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (owner) DO UPDATE SET monthly_income = excluded.monthly_income,
                 monthly_spending = excluded.monthly_spending, months = excluded.months, as_of = excluded.as_of
             WHERE advisor_spending.as_of < excluded.as_of",
        )
        .bind(&summary.owner)
        .bind(summary.monthly_income)
        .bind(summary.monthly_spending)
        .bind(i64::from(summary.months))
        .bind(&as_of)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The owner's usual month, when their transactions tell it.
    pub async fn spending(&self, owner: &str) -> Result<Option<CashFlow>, StoreError> {
        let row = sqlx::query("SELECT monthly_income, monthly_spending, months FROM advisor_spending WHERE owner = $1")
            .bind(owner)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|r| {
            Ok(CashFlow {
                monthly_income: r.try_get("monthly_income")?,
                monthly_spending: r.try_get("monthly_spending")?,
                months: u32::try_from(r.try_get::<i64, _>("months")?).unwrap_or(0),
            })
        })
        .transpose()
    }

    /// Stores advice and its event in one transaction; with `event` (consumer, event id), only
    /// if that event was not handled before.
    pub async fn record(
        &self,
        owner: &str,
        request: &PersonalizeRequest,
        cache_key: &str,
        advice: &Advice,
        event: Option<(&str, &str)>,
    ) -> Result<Recorded, StoreError> {
        let mut tx = self.db.begin().await?;
        if let Some((consumer, event_id)) = event {
            if !inbox::claim(&mut tx, consumer, event_id).await? {
                return Ok(Recorded::AlreadyDone);
            }
        }
        sqlx::query(
            "INSERT INTO advice (id, owner, user_id, cache_key, trigger, request, result, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(advice.id.to_string())
        .bind(owner)
        .bind(advice.user_id.to_string())
        .bind(cache_key)
        .bind(advice.trigger.as_str())
        .bind(serde_json::to_string(request)?)
        .bind(serde_json::to_string(advice)?)
        .bind(timestamp(advice.created_at))
        .execute(&mut *tx)
        .await?;
        outbox::enqueue(&mut tx, events::TOPIC, &events::generated(owner, advice)).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(Recorded::Stored)
    }

    /// The newest advice answering an identical request.
    pub async fn find_by_key(
        &self,
        owner: &str,
        cache_key: &str,
    ) -> Result<Option<Advice>, StoreError> {
        let json: Option<String> = sqlx::query_scalar(
            "SELECT result FROM advice WHERE owner = $1 AND cache_key = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(owner)
        .bind(cache_key)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    pub async fn get(&self, owner: &str, id: Uuid) -> Result<Option<Advice>, StoreError> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT result FROM advice WHERE id = $1 AND owner = $2")
                .bind(id.to_string())
                .bind(owner)
                .fetch_optional(self.db.pool())
                .await?;
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    /// The owner's advice, newest first, optionally for one profile.
    pub async fn history(
        &self,
        owner: &str,
        user_id: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Advice>, StoreError> {
        let rows = sqlx::query(
            "SELECT result FROM advice WHERE owner = $1 AND ($2 IS NULL OR user_id = $2)
             ORDER BY created_at DESC, id DESC LIMIT $3",
        )
        .bind(owner)
        .bind(user_id.map(|u| u.to_string()))
        .bind(i64::from(limit))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| -> Result<Advice, StoreError> {
                Ok(serde_json::from_str(&r.try_get::<String, _>("result")?)?)
            })
            .collect()
    }

    /// The request behind the newest advice for a profile: what a background refresh re-asks.
    pub async fn latest_request(
        &self,
        owner: &str,
        user_id: Uuid,
    ) -> Result<Option<PersonalizeRequest>, StoreError> {
        let json: Option<String> = sqlx::query_scalar(
            "SELECT request FROM advice WHERE owner = $1 AND user_id = $2 AND trigger = $3
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(owner)
        .bind(user_id.to_string())
        .bind(AdviceTrigger::Request.as_str())
        .fetch_optional(self.db.pool())
        .await?;
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }
}
