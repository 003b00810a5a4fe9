//! The `documents` and `chunks` tables and the keyword index (its reads in `search`). Every state change enqueues its
//! event in the same transaction (transactional outbox); every read is scoped to the owner.
//!
//! Chunks keep their embeddings: the store is the source of truth the vector index is rebuilt
//! from, and the embeddings give every search candidate an absolute relevance score.

use chrono::Utc;
use miyagi_domain::document::{Document, DocumentStatus};
use miyagi_memory::{chunk::Chunk, cite::Passage};
use miyagi_platform::{
    db::{parse_timestamp, parse_uuid, timestamp, vector_bytes, Backend, Db},
    events::{inbox, outbox, CloudEvent},
};
use sqlx::{any::AnyRow, AnyConnection, Row};
use uuid::Uuid;

use crate::events;

mod search;

pub use search::{entry, search_words};

const COLUMNS: &str =
    "id, owner, collection, name, media_type, size_bytes, sha256, blob_path, status, error, \
                       chunk_count, version, created_at, updated_at";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Absent, or owned by someone else: the two are indistinguishable on purpose.
    #[error("document not found")]
    NotFound,
    /// Only a failed document can be queued again.
    #[error("the document is {}, not failed", .0.as_str())]
    NotRetryable(DocumentStatus),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A new upload, before it has an id.
#[derive(Debug, Clone)]
pub struct Upload {
    pub owner: String,
    pub collection: String,
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
}

/// A chunk ready to store: its text, place and embedding.
#[derive(Debug, Clone)]
pub struct EmbeddedChunk {
    pub id: Uuid,
    pub chunk: Chunk,
    pub embedding: Vec<f32>,
}

/// What became of an ingestion result.
#[derive(Debug, PartialEq)]
pub enum Applied {
    /// The document now has these chunks; the ids of the chunks they replaced are returned.
    Replaced { old: Vec<Uuid> },
    /// This event was processed before.
    AlreadyDone,
    /// The document was deleted or re-uploaded meanwhile; a newer event carries the work.
    Superseded,
}

/// A passage with its stored embedding.
pub struct Candidate {
    pub passage: Passage,
    pub embedding: Vec<f32>,
}

#[derive(Clone, Debug)]
pub struct DocumentStore {
    db: Db,
}

impl DocumentStore {
    /// Wraps a migrated database and creates the backend's keyword index if absent.
    pub async fn open(db: Db) -> anyhow::Result<Self> {
        let ddl = match db.backend() {
            // Porter stemming, like PostgreSQL's `english` configuration, so both backends find
            // "bonds" for "bond" (the two stemmers differ on rarer suffixes).
            Backend::Sqlite => {
                "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
                     chunk_id UNINDEXED, owner UNINDEXED, collection UNINDEXED, document_id UNINDEXED,
                     body, tokenize = 'porter unicode61')"
            }
            Backend::Postgres => {
                "CREATE INDEX IF NOT EXISTS chunks_fts ON chunks USING gin (to_tsvector('english', body))"
            }
        };
        sqlx::query(ddl).execute(db.pool()).await?;
        Ok(Self { db })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The id a document of this name already has, if any: a re-upload keeps it.
    /// The SHA-256 of the current version of a document, if there is one.
    pub async fn current_sha256(
        &self,
        owner: &str,
        collection: &str,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT sha256 FROM documents WHERE owner = $1 AND collection = $2 AND name = $3",
        )
        .bind(owner)
        .bind(collection)
        .bind(name)
        .fetch_optional(self.db.pool())
        .await?)
    }

    pub async fn existing_id(
        &self,
        owner: &str,
        collection: &str,
        name: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM documents WHERE owner = $1 AND collection = $2 AND name = $3",
        )
        .bind(owner)
        .bind(collection)
        .bind(name)
        .fetch_optional(self.db.pool())
        .await?;
        id.map(|id| parse_uuid(&id)).transpose().map_err(Into::into)
    }

    /// Records an upload whose content is already at `blob_path`: a new document, or a new
    /// version of the one with the same name. Emits `document.uploaded` and returns its id with
    /// the document.
    pub async fn record_upload(
        &self,
        id: Uuid,
        upload: &Upload,
        blob_path: &str,
    ) -> Result<(Document, String), StoreError> {
        let now = timestamp(Utc::now());
        let mut tx = self.db.begin().await?;
        let updated = sqlx::query(&format!(
            "UPDATE documents SET media_type = $1, size_bytes = $2, sha256 = $3, blob_path = $4, status = 'pending',
                 error = NULL, version = version + 1, updated_at = $5
             WHERE id = $6 AND owner = $7 RETURNING {COLUMNS}"
        ))
        .bind(&upload.media_type)
        .bind(upload.size_bytes)
        .bind(&upload.sha256)
        .bind(blob_path)
        .bind(&now)
        .bind(id.to_string())
        .bind(&upload.owner)
        .fetch_optional(&mut *tx)
        .await?;
        let row = match updated {
            Some(row) => row,
            None => {
                sqlx::query(&format!(
                    "INSERT INTO documents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', NULL, 0, 1, $9, $9)
                     RETURNING {COLUMNS}"
                ))
                .bind(id.to_string())
                .bind(&upload.owner)
                .bind(&upload.collection)
                .bind(&upload.name)
                .bind(&upload.media_type)
                .bind(upload.size_bytes)
                .bind(&upload.sha256)
                .bind(blob_path)
                .bind(&now)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        let document = from_row(&row)?;
        let event = events::uploaded(&document);
        enqueue(&mut tx, &event).await?;
        outbox::commit(&self.db, tx).await?;
        Ok((document, event.id))
    }

    pub async fn get(&self, owner: &str, id: Uuid) -> Result<Document, StoreError> {
        self.find(owner, id).await?.ok_or(StoreError::NotFound)
    }

    async fn find(&self, owner: &str, id: Uuid) -> Result<Option<Document>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM documents WHERE id = $1 AND owner = $2"
        ))
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(|r| from_row(&r)).transpose()?)
    }

    /// Where the content of a document's current version is.
    pub async fn blob_path(&self, owner: &str, id: Uuid) -> Result<String, StoreError> {
        sqlx::query_scalar("SELECT blob_path FROM documents WHERE id = $1 AND owner = $2")
            .bind(id.to_string())
            .bind(owner)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The owner's documents, newest first, optionally in one collection.
    pub async fn list(
        &self,
        owner: &str,
        collection: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Document>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM documents WHERE owner = $1 AND ($2 IS NULL OR collection = $2)
             ORDER BY updated_at DESC, id LIMIT $3 OFFSET $4"
        ))
        .bind(owner)
        .bind(collection)
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Deletes a document and its chunks; returns it and the ids of the chunks removed, whose
    /// vectors the caller removes from the index. Emits `document.deleted`.
    pub async fn delete(&self, owner: &str, id: Uuid) -> Result<(Document, Vec<Uuid>), StoreError> {
        let mut tx = self.db.begin().await?;
        let row = sqlx::query(&format!(
            "DELETE FROM documents WHERE id = $1 AND owner = $2 RETURNING {COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let document = from_row(&row)?;
        let removed = self.delete_chunks(&mut tx, id).await?;
        enqueue(&mut tx, &events::deleted(&document)).await?;
        outbox::commit(&self.db, tx).await?;
        Ok((document, removed))
    }

    async fn delete_chunks(
        &self,
        conn: &mut AnyConnection,
        document: Uuid,
    ) -> Result<Vec<Uuid>, sqlx::Error> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM chunks WHERE document_id = $1")
            .bind(document.to_string())
            .fetch_all(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM chunks WHERE document_id = $1")
            .bind(document.to_string())
            .execute(&mut *conn)
            .await?;
        if self.db.backend() == Backend::Sqlite {
            sqlx::query("DELETE FROM chunks_fts WHERE document_id = $1")
                .bind(document.to_string())
                .execute(&mut *conn)
                .await?;
        }
        ids.iter().map(|id| parse_uuid(id)).collect()
    }

    /// Replaces the chunks of `version` of a document with `chunks`, at most once per event
    /// (inbox), and only if that version is still current. Emits `document.indexed`.
    pub async fn replace_chunks(
        &self,
        consumer: &str,
        event_id: &str,
        document: &Document,
        chunks: &[EmbeddedChunk],
    ) -> Result<Applied, StoreError> {
        let mut tx = self.db.begin().await?;
        if !inbox::claim(&mut tx, consumer, event_id).await? {
            return Ok(Applied::AlreadyDone);
        }
        let current: Option<i64> =
            sqlx::query_scalar("SELECT version FROM documents WHERE id = $1 AND owner = $2")
                .bind(document.id.to_string())
                .bind(&document.owner)
                .fetch_optional(&mut *tx)
                .await?;
        if current != Some(document.version) {
            tx.commit().await?;
            return Ok(Applied::Superseded);
        }
        let old = self.delete_chunks(&mut tx, document.id).await?;
        for c in chunks {
            sqlx::query(
                "INSERT INTO chunks (id, document_id, owner, collection, position, section, body, tokens, embedding)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(c.id.to_string())
            .bind(document.id.to_string())
            .bind(&document.owner)
            .bind(&document.collection)
            .bind(i64::from(c.chunk.position))
            .bind(c.chunk.section.as_deref())
            .bind(&c.chunk.text)
            .bind(i64::from(c.chunk.tokens))
            .bind(vector_bytes(&c.embedding))
            .execute(&mut *tx)
            .await?;
            if self.db.backend() == Backend::Sqlite {
                sqlx::query(
                    "INSERT INTO chunks_fts (chunk_id, owner, collection, document_id, body) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(c.id.to_string())
                .bind(&document.owner)
                .bind(&document.collection)
                .bind(document.id.to_string())
                .bind(&c.chunk.text)
                .execute(&mut *tx)
                .await?;
            }
        }
        let row = sqlx::query(&format!(
            "UPDATE documents SET status = 'indexed', error = NULL, chunk_count = $1, updated_at = $2
             WHERE id = $3 RETURNING {COLUMNS}"
        ))
        .bind(chunks.len() as i64)
        .bind(timestamp(Utc::now()))
        .bind(document.id.to_string())
        .fetch_one(&mut *tx)
        .await?;
        enqueue(&mut tx, &events::indexed(&from_row(&row)?)).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(Applied::Replaced { old })
    }

    /// Marks `version` of a document failed with `reason`, once per event, and drops the chunks
    /// of earlier versions (the document no longer says what they say). Emits
    /// `document.failed`.
    pub async fn mark_failed(
        &self,
        consumer: &str,
        event_id: &str,
        document: &Document,
        reason: &str,
    ) -> Result<Applied, StoreError> {
        let mut tx = self.db.begin().await?;
        if !inbox::claim(&mut tx, consumer, event_id).await? {
            return Ok(Applied::AlreadyDone);
        }
        self.fail_in(tx, document, reason, "").await
    }

    /// Marks `version` of a document failed because ingestion gave up on its event (it was
    /// dead-lettered), so it shows why instead of staying `pending`. The inbox is left alone:
    /// the same event, redriven, is still ingested. Emits `document.failed`.
    pub async fn mark_given_up(
        &self,
        document: &Document,
        reason: &str,
    ) -> Result<Applied, StoreError> {
        let tx = self.db.begin().await?;
        self.fail_in(tx, document, reason, " AND status = 'pending'")
            .await
    }

    async fn fail_in(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        document: &Document,
        reason: &str,
        condition: &str,
    ) -> Result<Applied, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE documents SET status = 'failed', error = $1, updated_at = $2
             WHERE id = $3 AND owner = $4 AND version = $5{condition} RETURNING {COLUMNS}"
        ))
        .bind(reason)
        .bind(timestamp(Utc::now()))
        .bind(document.id.to_string())
        .bind(&document.owner)
        .bind(document.version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(Applied::Superseded);
        };
        let old = self.delete_chunks(&mut tx, document.id).await?;
        sqlx::query("UPDATE documents SET chunk_count = 0 WHERE id = $1")
            .bind(document.id.to_string())
            .execute(&mut *tx)
            .await?;
        let mut failed = from_row(&row)?;
        failed.chunk_count = 0;
        enqueue(&mut tx, &events::failed(&failed)).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(Applied::Replaced { old })
    }

    /// Queues a failed document for ingestion again: `pending`, and a new `uploaded` event for
    /// the version it has. Only a failed document can be retried; another status is returned
    /// as [`StoreError::NotRetryable`].
    pub async fn retry(&self, owner: &str, id: Uuid) -> Result<Document, StoreError> {
        let mut tx = self.db.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE documents SET status = 'pending', error = NULL, updated_at = $1
             WHERE id = $2 AND owner = $3 AND status = 'failed' RETURNING {COLUMNS}"
        ))
        .bind(timestamp(Utc::now()))
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            let status = self.get(owner, id).await?.status;
            return Err(StoreError::NotRetryable(status));
        };
        let document = from_row(&row)?;
        enqueue(&mut tx, &events::uploaded(&document)).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(document)
    }
}

async fn enqueue(conn: &mut AnyConnection, event: &CloudEvent) -> Result<(), sqlx::Error> {
    outbox::enqueue(conn, events::TOPIC, event).await
}

fn from_row(row: &AnyRow) -> Result<Document, sqlx::Error> {
    Ok(Document {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        owner: row.try_get("owner")?,
        collection: row.try_get("collection")?,
        name: row.try_get("name")?,
        media_type: row.try_get("media_type")?,
        size_bytes: row.try_get("size_bytes")?,
        sha256: row.try_get("sha256")?,
        status: row
            .try_get::<String, _>("status")?
            .parse::<DocumentStatus>()
            .map_err(|e| sqlx::Error::Decode(e.into()))?,
        error: row.try_get("error")?,
        chunk_count: row.try_get("chunk_count")?,
        version: row.try_get("version")?,
        created_at: parse_timestamp(&row.try_get::<String, _>("created_at")?)?,
        updated_at: parse_timestamp(&row.try_get::<String, _>("updated_at")?)?,
    })
}
