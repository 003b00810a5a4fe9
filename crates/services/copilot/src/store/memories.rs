//! The `memories` table: what the copilot remembers of a person, each with its embedding (so
//! forgetting a memory forgets its vector in the same statement). Memories are written by the
//! extraction consumer together with its inbox claim, so a redelivered message is not
//! remembered twice.

use chrono::Utc;
use miyagi_domain::{chat::MemoryKind, events::types};
use miyagi_platform::{
    db::{parse_timestamp, parse_uuid, timestamp, vector_bytes, vector_from_bytes},
    events::{inbox, outbox, CloudEvent},
};
use sqlx::{any::AnyRow, AnyConnection, Row};
use uuid::Uuid;

use super::{parse_kind, CopilotStore, StoreError};
use crate::{events, model::Memory};

const COLUMNS: &str = "id, chat_id, kind, body, embedding, created_at, updated_at";

pub struct NewMemory {
    pub kind: MemoryKind,
    pub text: String,
    pub embedding: Vec<f32>,
}

impl CopilotStore {
    /// The owner's memories, newest first; only those said in `chat` when given.
    pub async fn memories(
        &self,
        owner: &str,
        chat: Option<Uuid>,
    ) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM memories WHERE owner = $1 AND ($2 IS NULL OR chat_id = $2)
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(owner)
        .bind(chat.map(|c| c.to_string()))
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| from_row(r).map(|(m, _)| m))
            .collect::<Result<_, _>>()?)
    }

    /// What a reply in `chat` may recall: the owner's long-term memories and the chat's working
    /// memory, with their embeddings.
    pub async fn recallable(
        &self,
        owner: &str,
        chat: Uuid,
    ) -> Result<Vec<(Memory, Vec<f32>)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM memories WHERE owner = $1 AND (kind <> $2 OR chat_id = $3)"
        ))
        .bind(owner)
        .bind(MemoryKind::Context.as_str())
        .bind(chat.to_string())
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Stores `memories` from a message of `chat`, claiming `event_id` for `consumer` in the
    /// same transaction. `None`: the event was handled before and nothing was written.
    pub async fn remember(
        &self,
        consumer: &str,
        event_id: &str,
        owner: &str,
        chat: Uuid,
        message: Uuid,
        memories: Vec<NewMemory>,
    ) -> Result<Option<Vec<Memory>>, StoreError> {
        let mut tx = self.db.begin().await?;
        if !inbox::claim(&mut tx, consumer, event_id).await? {
            return Ok(None);
        }
        let now = Utc::now();
        let mut stored = Vec::with_capacity(memories.len());
        for m in memories {
            let memory = Memory {
                id: Uuid::now_v7(),
                kind: m.kind,
                text: m.text,
                chat_id: Some(chat),
                long_term: m.kind.is_long_term(),
                created_at: now,
                updated_at: now,
            };
            sqlx::query(
                "INSERT INTO memories (id, owner, chat_id, source_message_id, kind, body, embedding, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(memory.id.to_string())
            .bind(owner)
            .bind(chat.to_string())
            .bind(message.to_string())
            .bind(memory.kind.as_str())
            .bind(&memory.text)
            .bind(vector_bytes(&m.embedding))
            .bind(timestamp(now))
            .bind(timestamp(now))
            .execute(&mut *tx)
            .await?;
            let event = changed(types::MEMORY_EXTRACTED, owner, &memory);
            enqueue(&mut tx, &event).await?;
            stored.push(memory);
        }
        outbox::commit(&self.db, tx).await?;
        Ok(Some(stored))
    }

    /// Corrects a memory: its text (with the text's new embedding) and/or its kind.
    pub async fn update_memory(
        &self,
        owner: &str,
        id: Uuid,
        text: Option<(&str, &[f32])>,
        kind: Option<MemoryKind>,
    ) -> Result<Memory, StoreError> {
        let mut tx = self.db.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE memories SET body = COALESCE($1, body), embedding = COALESCE($2, embedding),
                 kind = COALESCE($3, kind), updated_at = $4
             WHERE id = $5 AND owner = $6 RETURNING {COLUMNS}"
        ))
        .bind(text.map(|(t, _)| t))
        .bind(text.map(|(_, e)| vector_bytes(e)))
        .bind(kind.map(MemoryKind::as_str))
        .bind(timestamp(Utc::now()))
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("memory"))?;
        let (memory, _) = from_row(&row)?;
        enqueue(&mut tx, &changed(types::MEMORY_UPDATED, owner, &memory)).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(memory)
    }

    /// Forgets a memory, its vector with it.
    pub async fn delete_memory(&self, owner: &str, id: Uuid) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        let row = sqlx::query(&format!(
            "DELETE FROM memories WHERE id = $1 AND owner = $2 RETURNING {COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("memory"))?;
        let (memory, _) = from_row(&row)?;
        enqueue(&mut tx, &changed(types::MEMORY_DELETED, owner, &memory)).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(())
    }
}

/// A deleted chat's working memory goes with it; its long-term memories stay, unattached.
pub(super) async fn forget_chat(
    conn: &mut AnyConnection,
    owner: &str,
    chat: Uuid,
) -> Result<(), StoreError> {
    let rows = sqlx::query(&format!(
        "DELETE FROM memories WHERE owner = $1 AND chat_id = $2 AND kind = $3 RETURNING {COLUMNS}"
    ))
    .bind(owner)
    .bind(chat.to_string())
    .bind(MemoryKind::Context.as_str())
    .fetch_all(&mut *conn)
    .await?;
    announce_deleted(conn, owner, &rows).await?;
    sqlx::query("UPDATE memories SET chat_id = NULL WHERE owner = $1 AND chat_id = $2")
        .bind(owner)
        .bind(chat.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn delete_all(conn: &mut AnyConnection, owner: &str) -> Result<(), StoreError> {
    let rows = sqlx::query(&format!(
        "DELETE FROM memories WHERE owner = $1 RETURNING {COLUMNS}"
    ))
    .bind(owner)
    .fetch_all(&mut *conn)
    .await?;
    announce_deleted(conn, owner, &rows).await
}

async fn announce_deleted(
    conn: &mut AnyConnection,
    owner: &str,
    rows: &[AnyRow],
) -> Result<(), StoreError> {
    for row in rows {
        let (memory, _) = from_row(row)?;
        enqueue(conn, &changed(types::MEMORY_DELETED, owner, &memory)).await?;
    }
    Ok(())
}

fn changed(event_type: &str, owner: &str, memory: &Memory) -> CloudEvent {
    events::memory(event_type, owner, memory.id, memory.kind, memory.chat_id)
}

async fn enqueue(conn: &mut AnyConnection, event: &CloudEvent) -> Result<(), StoreError> {
    Ok(outbox::enqueue(conn, events::MEMORY_TOPIC, event).await?)
}

fn from_row(row: &AnyRow) -> Result<(Memory, Vec<f32>), sqlx::Error> {
    let kind = parse_kind(&row.try_get::<String, _>("kind")?)?;
    Ok((
        Memory {
            id: parse_uuid(&row.try_get::<String, _>("id")?)?,
            kind,
            text: row.try_get("body")?,
            chat_id: row
                .try_get::<Option<String>, _>("chat_id")?
                .map(|c| parse_uuid(&c))
                .transpose()?,
            long_term: kind.is_long_term(),
            created_at: parse_timestamp(&row.try_get::<String, _>("created_at")?)?,
            updated_at: parse_timestamp(&row.try_get::<String, _>("updated_at")?)?,
        },
        vector_from_bytes(&row.try_get::<Vec<u8>, _>("embedding")?),
    ))
}
