use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use tokio::sync::RwLock;
use uuid::Uuid;

use super::{check_dimensions, dot, normalised, Entry, Filter, Hit, IndexError, VectorIndex};

/// Brute-force search over every selected vector: always right, linear in the collection.
pub struct ExactIndex {
    dimensions: usize,
    entries: RwLock<HashMap<Uuid, Entry>>,
}

impl ExactIndex {
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            entries: RwLock::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl VectorIndex for ExactIndex {
    fn name(&self) -> &'static str {
        "exact"
    }

    async fn upsert(&self, entries: Vec<Entry>) -> Result<(), IndexError> {
        for e in &entries {
            check_dimensions(self.dimensions, &e.vector)?;
        }
        let mut held = self.entries.write().await;
        for mut e in entries {
            e.vector = normalised(e.vector);
            held.insert(e.id, e);
        }
        Ok(())
    }

    async fn remove(&self, ids: &[Uuid]) -> Result<(), IndexError> {
        let mut held = self.entries.write().await;
        for id in ids {
            held.remove(id);
        }
        Ok(())
    }

    async fn search(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        check_dimensions(self.dimensions, query)?;
        let query = normalised(query.to_vec());
        let held = self.entries.read().await;
        let mut hits: Vec<Hit> = held
            .values()
            .filter(|e| filter.matches(&e.owner, &e.collection, &e.metadata))
            .map(|e| Hit {
                id: e.id,
                score: dot(&e.vector, &query),
            })
            .collect();
        let k = k.min(hits.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        hits.select_nth_unstable_by(k - 1, |a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(hits)
    }

    async fn ids(&self) -> Result<HashSet<Uuid>, IndexError> {
        Ok(self.entries.read().await.keys().copied().collect())
    }
}
