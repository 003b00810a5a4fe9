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

/// Dot product in eight independent lanes: a plain `zip().sum()` is one serial chain of float
/// adds that the compiler may not reorder, so it can't use SIMD; eight lanes it can.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_body, b_body) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_body
        .remainder()
        .iter()
        .zip(b_body.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_body.zip(b_body) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
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

#[cfg(test)]
mod tests {
    use super::dot;

    #[test]
    fn dot_agrees_with_the_plain_sum_for_lengths_around_its_lane_width() {
        for len in [0, 1, 7, 8, 9, 384] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "length {len}");
        }
    }
}
