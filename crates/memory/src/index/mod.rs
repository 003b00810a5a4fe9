//! Vector indexes behind one seam. Three implementations:
//! - [`ExactIndex`]: brute force; the recall oracle the others are measured against.
//! - [`HnswIndex`]: in-process HNSW graph that persists to a folder (embedded mode).
//! - [`PgVectorIndex`]: pgvector on PostgreSQL (distributed mode).
//!
//! Filters are applied inside the search, never to its results: asking for 10 of one owner's
//! vectors returns 10 of theirs even when other owners' vectors are nearer.
//!
//! The documents store is the source of truth; an index is derived from it. [`reconcile`] makes
//! an index agree with the store after a crash between the two.

mod exact;
mod hnsw;
mod pgvector;

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use exact::ExactIndex;
pub use hnsw::{HnswIndex, HnswSettings};
pub use pgvector::PgVectorIndex;

/// One vector and what filters can select it by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: Uuid,
    pub owner: String,
    pub collection: String,
    pub metadata: BTreeMap<String, String>,
    pub vector: Vec<f32>,
}

/// What a search may return. The owner is not optional: there is no cross-user search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    pub owner: String,
    pub collection: Option<String>,
    /// Every pair must match the entry's metadata.
    pub metadata: BTreeMap<String, String>,
}

impl Filter {
    pub fn owner(owner: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            ..Default::default()
        }
    }

    pub fn collection(mut self, collection: impl Into<String>) -> Self {
        self.collection = Some(collection.into());
        self
    }

    pub fn matches(
        &self,
        owner: &str,
        collection: &str,
        metadata: &BTreeMap<String, String>,
    ) -> bool {
        owner == self.owner
            && self.collection.as_deref().is_none_or(|c| c == collection)
            && self
                .metadata
                .iter()
                .all(|(k, v)| metadata.get(k) == Some(v))
    }
}

/// A search result: the entry's id and its cosine similarity to the query (1 is identical).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub id: Uuid,
    pub score: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("vector has {got} dimensions; the index holds {expected}")]
    Dimensions { expected: usize, got: usize },
    #[error("index storage: {0}")]
    Storage(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[async_trait]
pub trait VectorIndex: Send + Sync {
    fn name(&self) -> &'static str;
    /// Adds entries, replacing any with the same id.
    async fn upsert(&self, entries: Vec<Entry>) -> Result<(), IndexError>;
    async fn remove(&self, ids: &[Uuid]) -> Result<(), IndexError>;
    /// The `k` entries nearest to `query` among those `filter` selects, best first.
    async fn search(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> Result<Vec<Hit>, IndexError>;
    /// Every id held (used by [`reconcile`]).
    async fn ids(&self) -> Result<HashSet<Uuid>, IndexError>;
    /// Makes what is held durable; a no-op for indexes that write through.
    async fn persist(&self) -> Result<(), IndexError> {
        Ok(())
    }
}

/// Brings `index` in line with the store: adds what the store has and the index lacks, removes
/// what the index has and the store does not. Returns (added, removed).
pub async fn reconcile<F, Fut>(
    index: &dyn VectorIndex,
    stored_ids: HashSet<Uuid>,
    load: F,
) -> Result<(usize, usize), IndexError>
where
    F: FnOnce(Vec<Uuid>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Entry>, IndexError>>,
{
    let held = index.ids().await?;
    let stale: Vec<Uuid> = held.difference(&stored_ids).copied().collect();
    let missing: Vec<Uuid> = stored_ids.difference(&held).copied().collect();
    if !stale.is_empty() {
        index.remove(&stale).await?;
    }
    let added = if missing.is_empty() {
        0
    } else {
        let entries = load(missing).await?;
        let n = entries.len();
        index.upsert(entries).await?;
        n
    };
    if added > 0 || !stale.is_empty() {
        index.persist().await?;
    }
    Ok((added, stale.len()))
}

/// Scales `v` to unit length, so cosine similarity is a dot product.
pub fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn check_dimensions(expected: usize, vector: &[f32]) -> Result<(), IndexError> {
    if vector.len() == expected {
        Ok(())
    } else {
        Err(IndexError::Dimensions {
            expected,
            got: vector.len(),
        })
    }
}
