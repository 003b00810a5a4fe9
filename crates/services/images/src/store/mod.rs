//! The images service's tables: each image a person asked for (this file) and the copies cards
//! are drawn from (`copies.rs`). An image's every change is written with its event in one
//! transaction, and every read and write is scoped to its owner.

mod copies;

use chrono::Utc;
use miyagi_platform::{
    db::{parse_timestamp, parse_uuid, timestamp, Db},
    events::{outbox, CloudEvent},
};
use sqlx::{any::AnyRow, AnyConnection, Row};
use uuid::Uuid;

use crate::{
    events,
    model::{Image, ImageStatus},
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Absent, or owned by someone else: the two are indistinguishable on purpose.
    #[error("image not found")]
    NotFound,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// An image about to be recorded.
pub struct NewImage<'a> {
    pub id: Uuid,
    pub owner: &'a str,
    pub prompt: &'a str,
    pub size: &'a str,
    pub model: &'a str,
    /// The answer a card is drawn for (`chat-message:{id}`, `advice:{id}`).
    pub attached_to: Option<&'a str>,
    /// What that answer lives in (`chat:{id}`, `profile:{id}`): the card goes when it goes.
    pub answer_home: Option<&'a str>,
}

/// What a drawn image is, as stored beside it.
pub struct Drawn<'a> {
    pub media_type: &'a str,
    pub bytes: u64,
    pub revised_prompt: Option<&'a str>,
}

#[derive(Clone)]
pub struct ImagesStore {
    db: Db,
}

const COLUMNS: &str = "id, prompt, size, model, status, media_type, bytes, revised_prompt, failure, created_at, finished_at, attached_to";

impl ImagesStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Records an image asked for, with the event that has it drawn.
    pub async fn request(
        &self,
        image: &NewImage<'_>,
        event: &CloudEvent,
    ) -> Result<Image, StoreError> {
        let mut tx = self.db.begin().await?;
        insert(&mut tx, image, ImageStatus::Pending, None).await?;
        enqueue(&mut tx, event).await?;
        outbox::commit(&self.db, tx).await?;
        self.image(image.owner, image.id).await
    }

    /// Records an image drawn in its request (the OpenAI route), with its event.
    pub async fn record_drawn(
        &self,
        image: &NewImage<'_>,
        drawn: &Drawn<'_>,
        event: &CloudEvent,
    ) -> Result<Image, StoreError> {
        let mut tx = self.db.begin().await?;
        insert(&mut tx, image, ImageStatus::Ready, Some(drawn)).await?;
        enqueue(&mut tx, event).await?;
        outbox::commit(&self.db, tx).await?;
        self.image(image.owner, image.id).await
    }

    /// The prompt and size of an image still waiting to be drawn; `None` once it is drawn,
    /// failed or deleted (a redelivered event then does nothing).
    pub async fn pending(
        &self,
        owner: &str,
        id: Uuid,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT prompt, size FROM images WHERE id = $1 AND owner = $2 AND status = 'pending'",
        )
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|r| Ok((r.try_get("prompt")?, r.try_get("size")?)))
            .transpose()
    }

    /// Marks a pending image drawn, with its event; false when it was no longer pending.
    pub async fn complete(
        &self,
        owner: &str,
        id: Uuid,
        drawn: &Drawn<'_>,
        event: &CloudEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let changed = sqlx::query(
            "UPDATE images SET status = 'ready', media_type = $3, bytes = $4, revised_prompt = $5, finished_at = $6
             WHERE id = $1 AND owner = $2 AND status = 'pending'",
        )
        .bind(id.to_string())
        .bind(owner)
        .bind(drawn.media_type)
        .bind(drawn.bytes as i64)
        .bind(drawn.revised_prompt)
        .bind(timestamp(Utc::now()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        enqueue(&mut tx, event).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(true)
    }

    /// Marks a pending image failed, saying why, with its event.
    pub async fn fail(
        &self,
        owner: &str,
        id: Uuid,
        reason: &str,
        event: &CloudEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        let changed = sqlx::query(
            "UPDATE images SET status = 'failed', failure = $3, finished_at = $4
             WHERE id = $1 AND owner = $2 AND status = 'pending'",
        )
        .bind(id.to_string())
        .bind(owner)
        .bind(reason)
        .bind(timestamp(Utc::now()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed > 0 {
            enqueue(&mut tx, event).await?;
        }
        outbox::commit(&self.db, tx).await?;
        Ok(())
    }

    pub async fn image(&self, owner: &str, id: Uuid) -> Result<Image, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM images WHERE id = $1 AND owner = $2"
        ))
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(image(&row)?)
    }

    /// The owner's images, newest first; only those drawn for `attached_to` when given.
    pub async fn images(
        &self,
        owner: &str,
        limit: u32,
        attached_to: Option<&str>,
    ) -> Result<Vec<Image>, StoreError> {
        let attached = match attached_to {
            Some(_) => "AND attached_to = $3",
            None => "",
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM images WHERE owner = $1 {attached}
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let mut query = sqlx::query(&sql).bind(owner).bind(i64::from(limit));
        if let Some(answer) = attached_to {
            query = query.bind(answer);
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        Ok(rows.iter().map(image).collect::<Result<_, _>>()?)
    }

    /// Deletes one image's row with its event; false when there was none of the owner's.
    pub async fn delete(
        &self,
        owner: &str,
        id: Uuid,
        event: &CloudEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let deleted = sqlx::query("DELETE FROM images WHERE id = $1 AND owner = $2")
            .bind(id.to_string())
            .bind(owner)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        enqueue(&mut tx, event).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(true)
    }

    /// The owner's image ids, for their pictures to be deleted before their rows: all of them,
    /// or only the cards beside answers that live in `home` (`chat:{id}`, `profile:{id}`).
    pub async fn image_ids(
        &self,
        owner: &str,
        home: Option<&str>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let ids: Vec<String> = match home {
            None => sqlx::query_scalar("SELECT id FROM images WHERE owner = $1").bind(owner),
            Some(home) => {
                sqlx::query_scalar("SELECT id FROM images WHERE owner = $1 AND answer_home = $2")
                    .bind(owner)
                    .bind(home)
            }
        }
        .fetch_all(self.db.pool())
        .await?;
        Ok(ids
            .iter()
            .map(|id| parse_uuid(id))
            .collect::<Result<_, _>>()?)
    }

    /// Deletes every row of the owner's: images and copies. How many images there were.
    pub async fn delete_account(&self, owner: &str) -> Result<u64, StoreError> {
        let mut tx = self.db.begin().await?;
        let images = sqlx::query("DELETE FROM images WHERE owner = $1")
            .bind(owner)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for table in ["profile_copies", "position_copies", "spending_copies"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE owner = $1"))
                .bind(owner)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(images)
    }
}

async fn insert(
    conn: &mut AnyConnection,
    image: &NewImage<'_>,
    status: ImageStatus,
    drawn: Option<&Drawn<'_>>,
) -> Result<(), sqlx::Error> {
    let now = timestamp(Utc::now());
    sqlx::query(
        "INSERT INTO images (id, owner, prompt, size, model, status, media_type, bytes, revised_prompt, created_at, finished_at, attached_to, answer_home)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(image.id.to_string())
    .bind(image.owner)
    .bind(image.prompt)
    .bind(image.size)
    .bind(image.model)
    .bind(status.as_str())
    .bind(drawn.map(|d| d.media_type))
    .bind(drawn.map(|d| d.bytes as i64))
    .bind(drawn.and_then(|d| d.revised_prompt))
    .bind(&now)
    .bind(drawn.map(|_| now.clone()))
    .bind(image.attached_to)
    .bind(image.answer_home)
    .execute(conn)
    .await?;
    Ok(())
}

async fn enqueue(conn: &mut AnyConnection, event: &CloudEvent) -> Result<(), sqlx::Error> {
    outbox::enqueue(conn, events::TOPIC, event).await
}

fn image(row: &AnyRow) -> Result<Image, sqlx::Error> {
    let id = parse_uuid(&row.try_get::<String, _>("id")?)?;
    let status: String = row.try_get("status")?;
    let status = ImageStatus::parse(&status)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown image status {status:?}").into()))?;
    let finished: Option<String> = row.try_get("finished_at")?;
    Ok(Image {
        id,
        prompt: row.try_get("prompt")?,
        size: row.try_get("size")?,
        model: row.try_get("model")?,
        status,
        media_type: row.try_get("media_type")?,
        bytes: row.try_get::<Option<i64>, _>("bytes")?.map(|b| b as u64),
        revised_prompt: row.try_get("revised_prompt")?,
        failure: row.try_get("failure")?,
        created_at: parse_timestamp(&row.try_get::<String, _>("created_at")?)?,
        finished_at: finished.as_deref().map(parse_timestamp).transpose()?,
        content_url: (status == ImageStatus::Ready).then(|| format!("/api/v1/images/{id}/content")),
        attached_to: row.try_get("attached_to")?,
    })
}
