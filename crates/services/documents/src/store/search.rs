//! The reads behind search and the vector index: keyword matches, candidate passages with their
//! embeddings, a document's passages in order (to summarise it), and the entries the index is
//! rebuilt from.

use std::collections::HashSet;

use miyagi_memory::{cite::Passage, index::Entry};
use miyagi_platform::db::{parse_uuid, vector_from_bytes, Backend};
use sqlx::Row;
use uuid::Uuid;

use super::{Candidate, DocumentStore, StoreError};

impl DocumentStore {
    /// Best keyword matches (BM25 on SQLite, `ts_rank_cd` on PostgreSQL) among the owner's
    /// chunks, best first. Any word of the query may match.
    pub async fn keyword_search(
        &self,
        owner: &str,
        collection: Option<&str>,
        document: Option<Uuid>,
        query: &str,
        limit: usize,
    ) -> Result<Vec<Uuid>, StoreError> {
        let words = search_words(query);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, terms) = match self.db.backend() {
            Backend::Sqlite => (
                "SELECT chunk_id FROM chunks_fts
                 WHERE chunks_fts MATCH $1 AND owner = $2 AND ($3 IS NULL OR collection = $3)
                       AND ($4 IS NULL OR document_id = $4)
                 ORDER BY bm25(chunks_fts) LIMIT $5",
                words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" OR "),
            ),
            Backend::Postgres => (
                "SELECT id FROM chunks
                 WHERE to_tsvector('english', body) @@ to_tsquery('english', $1) AND owner = $2
                       AND ($3::text IS NULL OR collection = $3) AND ($4::text IS NULL OR document_id = $4)
                 ORDER BY ts_rank_cd(to_tsvector('english', body), to_tsquery('english', $1)) DESC LIMIT $5",
                words.join(" | "),
            ),
        };
        let ids: Vec<String> = sqlx::query_scalar(sql)
            .bind(terms)
            .bind(owner)
            .bind(collection)
            .bind(document.map(|d| d.to_string()))
            .bind(limit as i64)
            .fetch_all(self.db.pool())
            .await?;
        ids.iter()
            .map(|id| parse_uuid(id))
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }

    /// The owner's chunks with these ids, with their documents' names and their embeddings.
    /// Ids that are not the owner's (or no longer exist) are left out.
    pub async fn candidates(
        &self,
        owner: &str,
        ids: &[Uuid],
    ) -> Result<Vec<Candidate>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT c.id, c.document_id, d.name, c.position, c.section, c.body, c.tokens, c.embedding
             FROM chunks c JOIN documents d ON d.id = c.document_id
             WHERE c.owner = $1 AND c.id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(owner);
        for id in ids {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(Candidate {
                    passage: passage_of(r)?,
                    embedding: vector_from_bytes(&r.try_get::<Vec<u8>, _>("embedding")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// A document's passages in their order in it, if the document is the owner's.
    pub async fn passages_of(
        &self,
        owner: &str,
        document: Uuid,
    ) -> Result<Vec<Passage>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, c.document_id, d.name, c.position, c.section, c.body, c.tokens
             FROM chunks c JOIN documents d ON d.id = c.document_id
             WHERE c.owner = $1 AND c.document_id = $2 ORDER BY c.position",
        )
        .bind(owner)
        .bind(document.to_string())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(passage_of)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Every chunk id, to reconcile the vector index with.
    pub async fn chunk_ids(&self) -> Result<HashSet<Uuid>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM chunks")
            .fetch_all(self.db.pool())
            .await?;
        ids.iter()
            .map(|id| parse_uuid(id))
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }

    /// Index entries for these chunks (any owner: this feeds the index, not a user).
    pub async fn index_entries(&self, ids: &[Uuid]) -> Result<Vec<Entry>, StoreError> {
        let mut entries = Vec::with_capacity(ids.len());
        // Bounded IN lists keep each statement well under both backends' parameter limits.
        for batch in ids.chunks(500) {
            let placeholders: Vec<String> =
                (0..batch.len()).map(|i| format!("${}", i + 1)).collect();
            let sql = format!(
                "SELECT id, owner, collection, document_id, embedding FROM chunks WHERE id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in batch {
                query = query.bind(id.to_string());
            }
            for r in query.fetch_all(self.db.pool()).await? {
                entries.push(entry(
                    parse_uuid(&r.try_get::<String, _>("id")?)?,
                    r.try_get("owner")?,
                    r.try_get("collection")?,
                    parse_uuid(&r.try_get::<String, _>("document_id")?)?,
                    vector_from_bytes(&r.try_get::<Vec<u8>, _>("embedding")?),
                ));
            }
        }
        Ok(entries)
    }
}

/// The index entry of a chunk. The document id is filterable metadata.
pub fn entry(
    id: Uuid,
    owner: String,
    collection: String,
    document: Uuid,
    vector: Vec<f32>,
) -> Entry {
    Entry {
        id,
        owner,
        collection,
        metadata: [("document".to_string(), document.to_string())].into(),
        vector,
    }
}

/// The words of a free-text query, safe to splice into an FTS5 or tsquery expression: letters
/// and digits only, lower-cased, de-duplicated, at most 32.
pub fn search_words(query: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .filter(|w| seen.insert(w.clone()))
        .take(32)
        .collect()
}

fn passage_of(r: &sqlx::any::AnyRow) -> Result<Passage, sqlx::Error> {
    let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
    Ok(Passage {
        chunk_id: parse_uuid(&r.try_get::<String, _>("id")?)?,
        document_id: parse_uuid(&r.try_get::<String, _>("document_id")?)?,
        document_name: r.try_get("name")?,
        position: u32::try_from(r.try_get::<i64, _>("position")?).map_err(|e| decode(e.into()))?,
        section: r.try_get("section")?,
        text: r.try_get("body")?,
        tokens: u32::try_from(r.try_get::<i64, _>("tokens")?).map_err(|e| decode(e.into()))?,
        relevance: 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_cannot_inject_search_syntax() {
        assert_eq!(
            search_words("fees\" OR owner:* & (bonds) | NEAR fees"),
            vec!["fees", "or", "owner", "bonds", "near"]
        );
    }
}
