//! The copilot's tables: chats and their messages (this file), memories (`memories.rs`) and its
//! copies of profiles (`profiles.rs`) and of the latest advice (`advice.rs`). Every change is written with its event in one transaction
//! (transactional outbox), and every read and write is scoped to the owner.

mod advice;
mod memories;
mod profiles;
mod spending;

use chrono::Utc;
use miyagi_domain::{
    chat::{Author, MemoryKind},
    events::types,
};
use miyagi_memory::cite::Citation;
use miyagi_platform::{
    db::{parse_timestamp, parse_uuid, timestamp, Db},
    events::{outbox, CloudEvent},
};
use sqlx::{any::AnyRow, AnyConnection, Row};
use uuid::Uuid;

use crate::{
    events,
    model::{AnswerDetails, Chat, ChatExport, Message, MessagePage},
};

pub use memories::NewMemory;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Absent, or owned by someone else: the two are indistinguishable on purpose.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A message about to be added to a chat.
pub struct NewMessage<'a> {
    pub author: Author,
    pub content: &'a str,
    pub citations: &'a [Citation],
    pub details: Option<&'a AnswerDetails>,
}

#[derive(Clone, Debug)]
pub struct CopilotStore {
    db: Db,
}

const CHAT_COLUMNS: &str = "id, title, persona, memory_balance, created_at, updated_at";
const MESSAGE_COLUMNS: &str = "id, chat_id, seq, author, content, citations, details, created_at";

impl CopilotStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn create_chat(
        &self,
        owner: &str,
        title: &str,
        persona: &str,
        memory_balance: f64,
    ) -> Result<Chat, StoreError> {
        let mut tx = self.db.begin().await?;
        let chat = insert_chat(&mut tx, owner, title, persona, memory_balance).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(chat)
    }

    /// The owner's chats, the most recently active first.
    pub async fn chats(&self, owner: &str, limit: u32) -> Result<Vec<Chat>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CHAT_COLUMNS} FROM chats WHERE owner = $1 ORDER BY updated_at DESC, id DESC LIMIT $2"
        ))
        .bind(owner)
        .bind(i64::from(limit))
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.iter().map(chat_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn chat(&self, owner: &str, id: Uuid) -> Result<Chat, StoreError> {
        sqlx::query(&format!(
            "SELECT {CHAT_COLUMNS} FROM chats WHERE id = $1 AND owner = $2"
        ))
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(self.db.pool())
        .await?
        .map(|r| chat_from_row(&r))
        .transpose()?
        .ok_or(StoreError::NotFound("chat"))
    }

    /// Replaces the given fields of a chat.
    pub async fn update_chat(
        &self,
        owner: &str,
        id: Uuid,
        title: Option<&str>,
        persona: Option<&str>,
        memory_balance: Option<f64>,
    ) -> Result<Chat, StoreError> {
        let mut tx = self.db.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE chats SET title = COALESCE($1, title), persona = COALESCE($2, persona),
                 memory_balance = COALESCE($3, memory_balance), updated_at = $4
             WHERE id = $5 AND owner = $6 RETURNING {CHAT_COLUMNS}"
        ))
        .bind(title)
        .bind(persona)
        .bind(memory_balance)
        .bind(timestamp(Utc::now()))
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("chat"))?;
        let chat = chat_from_row(&row)?;
        enqueue_chat(&mut tx, &events::chat(types::CHAT_UPDATED, owner, id)).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(chat)
    }

    /// Deletes a chat with its messages and its working memory. Long-term memories said in it
    /// stay (they are the person's, listed and deleted on their own) but no longer name it.
    pub async fn delete_chat(&self, owner: &str, id: Uuid) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        delete_chat_in(&mut tx, owner, id).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(())
    }

    /// Adds a message at the end of a chat, with its `chat.message.created` event.
    pub async fn add_message(
        &self,
        owner: &str,
        chat_id: Uuid,
        message: NewMessage<'_>,
    ) -> Result<Message, StoreError> {
        let mut tx = self.db.begin().await?;
        let touched = sqlx::query("UPDATE chats SET updated_at = $1 WHERE id = $2 AND owner = $3")
            .bind(timestamp(Utc::now()))
            .bind(chat_id.to_string())
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        if touched.rows_affected() == 0 {
            return Err(StoreError::NotFound("chat"));
        }
        let seq: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM chat_messages WHERE chat_id = $1",
        )
        .bind(chat_id.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let stored = insert_message(&mut tx, owner, chat_id, seq, message, Utc::now()).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(stored)
    }

    /// Up to `limit` messages before `before` (a `seq`; the newest when absent), oldest first.
    pub async fn messages(
        &self,
        owner: &str,
        chat_id: Uuid,
        before: Option<i64>,
        limit: u32,
    ) -> Result<MessagePage, StoreError> {
        self.chat(owner, chat_id).await?;
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages
             WHERE chat_id = $1 AND owner = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4"
        ))
        .bind(chat_id.to_string())
        .bind(owner)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit) + 1)
        .fetch_all(self.db.pool())
        .await?;
        let mut messages: Vec<Message> = rows
            .iter()
            .take(limit as usize)
            .map(message_from_row)
            .collect::<Result<_, _>>()?;
        let more = rows.len() > limit as usize;
        messages.reverse();
        Ok(MessagePage {
            next_cursor: more.then(|| messages[0].seq),
            messages,
        })
    }

    /// One message of the owner's, wherever it is.
    pub async fn message(&self, owner: &str, id: Uuid) -> Result<Option<Message>, StoreError> {
        sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE id = $1 AND owner = $2"
        ))
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(self.db.pool())
        .await?
        .map(|r| message_from_row(&r))
        .transpose()
    }

    /// A new chat holding `export`'s messages, all in one transaction with their events.
    pub async fn import_chat(&self, owner: &str, export: &ChatExport) -> Result<Chat, StoreError> {
        let mut tx = self.db.begin().await?;
        let chat = insert_chat(
            &mut tx,
            owner,
            &export.title,
            &export.persona,
            export.memory_balance,
        )
        .await?;
        for (i, m) in export.messages.iter().enumerate() {
            let message = NewMessage {
                author: m.author,
                content: &m.content,
                citations: &m.citations,
                details: None,
            };
            insert_message(&mut tx, owner, chat.id, i as i64 + 1, message, m.created_at).await?;
        }
        outbox::commit(&self.db, tx).await?;
        Ok(chat)
    }

    /// Deletes every chat, memory and profile copy of `owner`; returns how many chats went.
    pub async fn delete_account(&self, owner: &str) -> Result<usize, StoreError> {
        let mut tx = self.db.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM chats WHERE owner = $1")
            .bind(owner)
            .fetch_all(&mut *tx)
            .await?;
        for id in &ids {
            delete_chat_in(&mut tx, owner, parse_uuid(id)?).await?;
        }
        memories::delete_all(&mut tx, owner).await?;
        for table in ["profiles", "advice", "spending"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE owner = $1"))
                .bind(owner)
                .execute(&mut *tx)
                .await?;
        }
        outbox::commit(&self.db, tx).await?;
        Ok(ids.len())
    }
}

async fn insert_chat(
    conn: &mut AnyConnection,
    owner: &str,
    title: &str,
    persona: &str,
    memory_balance: f64,
) -> Result<Chat, StoreError> {
    let now = Utc::now();
    let chat = Chat {
        id: Uuid::now_v7(),
        title: title.into(),
        persona: persona.into(),
        memory_balance,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO chats (id, owner, title, persona, memory_balance, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(chat.id.to_string())
    .bind(owner)
    .bind(&chat.title)
    .bind(&chat.persona)
    .bind(chat.memory_balance)
    .bind(timestamp(now))
    .bind(timestamp(now))
    .execute(&mut *conn)
    .await?;
    enqueue_chat(conn, &events::chat(types::CHAT_CREATED, owner, chat.id)).await?;
    Ok(chat)
}

async fn insert_message(
    conn: &mut AnyConnection,
    owner: &str,
    chat_id: Uuid,
    seq: i64,
    message: NewMessage<'_>,
    at: chrono::DateTime<Utc>,
) -> Result<Message, StoreError> {
    let stored = Message {
        id: Uuid::now_v7(),
        chat_id,
        seq,
        author: message.author,
        content: message.content.into(),
        citations: message.citations.to_vec(),
        details: message.details.cloned(),
        created_at: at,
    };
    sqlx::query(&format!(
        "INSERT INTO chat_messages (owner, {MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(owner)
    .bind(stored.id.to_string())
    .bind(chat_id.to_string())
    .bind(seq)
    .bind(stored.author.as_str())
    .bind(&stored.content)
    .bind(serde_json::to_string(&stored.citations)?)
    .bind(stored.details.as_ref().map(serde_json::to_string).transpose()?)
    .bind(timestamp(at))
    .execute(&mut *conn)
    .await?;
    let event = events::message_created(owner, &stored);
    enqueue_chat(conn, &event).await?;
    Ok(stored)
}

async fn delete_chat_in(conn: &mut AnyConnection, owner: &str, id: Uuid) -> Result<(), StoreError> {
    let deleted = sqlx::query("DELETE FROM chats WHERE id = $1 AND owner = $2")
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut *conn)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(StoreError::NotFound("chat"));
    }
    sqlx::query("DELETE FROM chat_messages WHERE chat_id = $1 AND owner = $2")
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut *conn)
        .await?;
    memories::forget_chat(conn, owner, id).await?;
    enqueue_chat(conn, &events::chat(types::CHAT_DELETED, owner, id)).await
}

async fn enqueue_chat(conn: &mut AnyConnection, event: &CloudEvent) -> Result<(), StoreError> {
    Ok(outbox::enqueue(conn, events::CHAT_TOPIC, event).await?)
}

fn chat_from_row(row: &AnyRow) -> Result<Chat, sqlx::Error> {
    Ok(Chat {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        title: row.try_get("title")?,
        persona: row.try_get("persona")?,
        memory_balance: row.try_get("memory_balance")?,
        created_at: parse_timestamp(&row.try_get::<String, _>("created_at")?)?,
        updated_at: parse_timestamp(&row.try_get::<String, _>("updated_at")?)?,
    })
}

fn message_from_row(row: &AnyRow) -> Result<Message, StoreError> {
    let author: String = row.try_get("author")?;
    Ok(Message {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        chat_id: parse_uuid(&row.try_get::<String, _>("chat_id")?)?,
        seq: row.try_get("seq")?,
        author: Author::parse(&author).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown message author {author:?}").into())
        })?,
        content: row.try_get("content")?,
        citations: serde_json::from_str(&row.try_get::<String, _>("citations")?)?,
        details: row
            .try_get::<Option<String>, _>("details")?
            .map(|d| serde_json::from_str(&d))
            .transpose()?,
        created_at: parse_timestamp(&row.try_get::<String, _>("created_at")?)?,
    })
}

/// A memory kind as stored; an unknown one is a decode error, like any bad column.
fn parse_kind(kind: &str) -> Result<MemoryKind, sqlx::Error> {
    MemoryKind::parse(kind)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown memory kind {kind:?}").into()))
}
