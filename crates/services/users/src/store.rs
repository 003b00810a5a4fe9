//! The `user_profiles` table. Every write enqueues its event in the same transaction
//! (transactional outbox), and every read and write is scoped to the owner.

use chrono::Utc;
use miyagi_domain::user::{UserProfile, UserProfileInput};
use miyagi_platform::{
    db::{parse_timestamp, timestamp, Columns, Db},
    events::{outbox, CloudEvent},
};
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::events;

const COLUMNS: &str = "id, owner, name, age, annual_household_income, assets, liabilities, risk_tolerance, \
                       retirement_age, goals, favorite_advisor, favorite_book, hobbies, version, created_at, updated_at";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Absent, or owned by someone else: the two are indistinguishable on purpose.
    #[error("profile not found")]
    NotFound,
    #[error("profile was changed concurrently: it is at version {current}")]
    VersionMismatch { current: i64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Clone, Debug)]
pub struct UserStore {
    db: Db,
}

impl UserStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn create(
        &self,
        owner: &str,
        input: UserProfileInput,
    ) -> Result<UserProfile, StoreError> {
        Ok(self.create_many(owner, vec![input]).await?.remove(0))
    }

    /// Creates several profiles atomically: all of them and their events, or none.
    pub async fn create_many(
        &self,
        owner: &str,
        inputs: Vec<UserProfileInput>,
    ) -> Result<Vec<UserProfile>, StoreError> {
        let mut tx = self.db.begin().await?;
        let mut created = Vec::with_capacity(inputs.len());
        for input in inputs {
            let now = Utc::now();
            let profile = UserProfile {
                id: Uuid::now_v7(),
                owner: owner.to_string(),
                profile: input,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            let insert = format!(
                "INSERT INTO user_profiles ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
            );
            bind_input(
                sqlx::query(&insert)
                    .bind(profile.id.to_string())
                    .bind(&profile.owner),
                &profile.profile,
            )
            .bind(profile.version)
            .bind(timestamp(profile.created_at))
            .bind(timestamp(profile.updated_at))
            .execute(&mut *tx)
            .await?;
            enqueue(&mut tx, &events::created(&profile)).await?;
            created.push(profile);
        }
        outbox::commit(&self.db, tx).await?;
        Ok(created)
    }

    /// One profile: the hot read of the API, so a point read (on SQLite, no thread hand-off).
    pub async fn get(&self, owner: &str, id: Uuid) -> Result<UserProfile, StoreError> {
        static SELECT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!("SELECT {COLUMNS} FROM user_profiles WHERE id = $1 AND owner = $2")
        });
        let id = id.to_string();
        self.db
            .fetch_point(&SELECT, &[&id, owner], from_row)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The owner's profiles, oldest first.
    pub async fn list(
        &self,
        owner: &str,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<UserProfile>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM user_profiles WHERE owner = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"
        ))
        .bind(owner)
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|row| from_row(row))
            .collect::<Result<_, _>>()?)
    }

    /// Replaces a profile. With `expected_version` the write only happens if nobody else wrote
    /// since the caller read it (optimistic concurrency through `If-Match`).
    pub async fn update(
        &self,
        owner: &str,
        id: Uuid,
        input: UserProfileInput,
        expected_version: Option<i64>,
    ) -> Result<UserProfile, StoreError> {
        let mut tx = self.db.begin().await?;
        let update = format!(
            "UPDATE user_profiles SET name = $1, age = $2, annual_household_income = $3, assets = $4, liabilities = $5,
                 risk_tolerance = $6, retirement_age = $7, goals = $8, favorite_advisor = $9, favorite_book = $10,
                 hobbies = $11, version = version + 1, updated_at = $12
             WHERE id = $13 AND owner = $14 AND version = COALESCE($15, version)
             RETURNING {COLUMNS}"
        );
        let row = bind_input(sqlx::query(&update), &input)
            .bind(timestamp(Utc::now()))
            .bind(id.to_string())
            .bind(owner)
            .bind(expected_version)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(self.why_unchanged(&mut tx, owner, id).await);
        };
        let profile = from_row(&row)?;
        enqueue(&mut tx, &events::updated(&profile)).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(profile)
    }

    pub async fn delete(
        &self,
        owner: &str,
        id: Uuid,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        let row = sqlx::query(&format!(
            "DELETE FROM user_profiles WHERE id = $1 AND owner = $2 AND version = COALESCE($3, version) RETURNING {COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(owner)
        .bind(expected_version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(self.why_unchanged(&mut tx, owner, id).await);
        };
        enqueue(&mut tx, &events::deleted(&from_row(&row)?)).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(())
    }

    /// Deletes every profile of `owner` and announces that the account is gone, so every other
    /// service deletes what it holds of them; the ids of the profiles deleted. Each profile's
    /// own deletion is published too, so what follows profiles needs nothing new.
    pub async fn delete_account(&self, owner: &str) -> Result<Vec<Uuid>, StoreError> {
        let mut tx = self.db.begin().await?;
        let rows = sqlx::query(&format!(
            "DELETE FROM user_profiles WHERE owner = $1 RETURNING {COLUMNS}"
        ))
        .bind(owner)
        .fetch_all(&mut *tx)
        .await?;
        let mut deleted = Vec::with_capacity(rows.len());
        for row in rows {
            let profile = from_row(&row)?;
            enqueue(&mut tx, &events::deleted(&profile)).await?;
            deleted.push(profile.id);
        }
        outbox::enqueue(
            &mut tx,
            events::ACCOUNT_TOPIC,
            &events::account_deleted(owner),
        )
        .await?;
        outbox::commit(&self.db, tx).await?;
        Ok(deleted)
    }

    /// A conditional write touched nothing: either the profile is not the caller's, or its version moved on.
    async fn why_unchanged(&self, conn: &mut AnyConnection, owner: &str, id: Uuid) -> StoreError {
        let current = sqlx::query_scalar::<_, i64>(
            "SELECT version FROM user_profiles WHERE id = $1 AND owner = $2",
        )
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(conn)
        .await;
        match current {
            Ok(Some(current)) => StoreError::VersionMismatch { current },
            Ok(None) => StoreError::NotFound,
            Err(e) => StoreError::Database(e),
        }
    }
}

async fn enqueue(conn: &mut AnyConnection, event: &CloudEvent) -> Result<(), sqlx::Error> {
    outbox::enqueue(conn, events::TOPIC, event).await
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds the profile's own fields, in `COLUMNS` order from `name` to `hobbies`.
fn bind_input<'q>(query: AnyQuery<'q>, p: &'q UserProfileInput) -> AnyQuery<'q> {
    query
        .bind(&p.name)
        .bind(i64::from(p.age))
        .bind(p.annual_household_income)
        .bind(p.assets)
        .bind(p.liabilities)
        .bind(p.risk_tolerance.as_str())
        .bind(i64::from(p.retirement_age))
        .bind(json(&p.goals))
        .bind(p.favorite_advisor.as_deref())
        .bind(p.favorite_book.as_deref())
        .bind(json(&p.hobbies))
}

fn json(items: &[String]) -> String {
    serde_json::to_string(items).expect("strings serialize")
}

/// A profile from its row, as the pool or a point read returns it.
fn from_row(row: &dyn Columns) -> Result<UserProfile, sqlx::Error> {
    let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
    let list = |column: &str| -> Result<Vec<String>, sqlx::Error> {
        serde_json::from_str(&row.text(column)?).map_err(|e| decode(e.into()))
    };
    let small = |column: &str| -> Result<u32, sqlx::Error> {
        u32::try_from(row.integer(column)?).map_err(|e| decode(e.into()))
    };
    Ok(UserProfile {
        id: row
            .text("id")?
            .parse()
            .map_err(|e: uuid::Error| decode(e.into()))?,
        owner: row.text("owner")?,
        profile: UserProfileInput {
            name: row.text("name")?,
            age: small("age")?,
            annual_household_income: row.real("annual_household_income")?,
            assets: row.real("assets")?,
            liabilities: row.real("liabilities")?,
            risk_tolerance: row
                .text("risk_tolerance")?
                .parse()
                .map_err(|e: String| decode(e.into()))?,
            retirement_age: small("retirement_age")?,
            goals: list("goals")?,
            favorite_advisor: row.optional_text("favorite_advisor")?,
            favorite_book: row.optional_text("favorite_book")?,
            hobbies: list("hobbies")?,
        },
        version: row.integer("version")?,
        created_at: parse_timestamp(&row.text("created_at")?)?,
        updated_at: parse_timestamp(&row.text("updated_at")?)?,
    })
}
