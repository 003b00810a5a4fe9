//! Hybrid retrieval: keyword and vector rankings fused with reciprocal rank fusion, then a
//! relevance threshold, a limit and a token budget.
//!
//! RRF uses ranks, not scores, because BM25 scores and cosine similarities live on unrelated
//! scales; a passage both rankings like rises to the top. The threshold, by contrast, needs an
//! absolute measure: it is the cosine similarity between the query and the passage's stored
//! embedding, computed for every candidate whichever ranking found it.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cite::Passage;

/// Where passages come from, as a service that grounds its answers sees it: the documents
/// service in process (embedded mode) or over HTTP (distributed mode).
#[async_trait]
pub trait Retriever: Send + Sync {
    /// `owner`'s passages for `query`, from `collection` when given, best first.
    async fn retrieve(
        &self,
        owner: &str,
        query: &str,
        collection: Option<&str>,
        settings: &RetrievalSettings,
    ) -> anyhow::Result<Vec<Passage>>;
}

/// The constant of reciprocal rank fusion (Cormack et al., 2009): 60 damps the weight of the
/// very first ranks so neither list dominates.
pub const RRF_K: f32 = 60.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Hybrid,
    Vector,
    Keyword,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetrievalSettings {
    pub mode: Mode,
    pub limit: usize,
    /// Minimum cosine similarity between query and passage, from -1 to 1.
    pub min_relevance: f32,
    /// Most tokens the returned passages may hold together.
    pub token_budget: Option<usize>,
}

impl Default for RetrievalSettings {
    fn default() -> Self {
        Self {
            mode: Mode::Hybrid,
            limit: 5,
            min_relevance: 0.0,
            token_budget: None,
        }
    }
}

impl RetrievalSettings {
    /// The settings a caller asked for, defaults where it left one out.
    pub fn or_defaults(
        mode: Option<Mode>,
        limit: Option<usize>,
        min_relevance: Option<f32>,
        token_budget: Option<usize>,
    ) -> Self {
        let defaults = Self::default();
        Self {
            mode: mode.unwrap_or(defaults.mode),
            limit: limit.unwrap_or(defaults.limit),
            min_relevance: min_relevance.unwrap_or(defaults.min_relevance),
            token_budget,
        }
    }

    /// How many candidates each ranking should supply: more than the limit, so fusion and the
    /// threshold have something to choose from.
    pub fn candidates(&self) -> usize {
        (self.limit * 4).max(20)
    }
}

/// A candidate's place after fusion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fused {
    pub id: Uuid,
    pub score: f32,
}

/// Reciprocal rank fusion of best-first rankings: each id scores Σ 1/(k + rank).
pub fn reciprocal_rank_fusion(rankings: &[&[Uuid]]) -> Vec<Fused> {
    let mut scores: HashMap<Uuid, f32> = HashMap::new();
    for ranking in rankings {
        for (rank, id) in ranking.iter().enumerate() {
            *scores.entry(*id).or_default() += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
    }
    let mut fused: Vec<Fused> = scores
        .into_iter()
        .map(|(id, score)| Fused { id, score })
        .collect();
    // Ties broken by id so the order is stable from run to run.
    fused.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    fused
}

/// Keeps candidates, in the given order, whose `relevance` reaches the threshold, until the
/// limit or the token budget is reached. A passage too big for what is left of the budget is
/// skipped, so a smaller one further down can still fit.
pub fn select<C>(
    ordered: Vec<C>,
    settings: &RetrievalSettings,
    relevance: impl Fn(&C) -> f32,
    tokens: impl Fn(&C) -> usize,
) -> Vec<C> {
    let mut spent = 0;
    let mut chosen = Vec::new();
    for candidate in ordered {
        if chosen.len() == settings.limit {
            break;
        }
        if relevance(&candidate) < settings.min_relevance {
            continue;
        }
        let cost = tokens(&candidate);
        if settings
            .token_budget
            .is_some_and(|budget| spent + cost > budget)
        {
            continue;
        }
        spent += cost;
        chosen.push(candidate);
    }
    chosen
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norms =
        a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norms == 0.0 {
        0.0
    } else {
        dot / norms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u128) -> Vec<Uuid> {
        (1..=n).map(Uuid::from_u128).collect()
    }

    #[test]
    fn a_passage_both_rankings_like_beats_one_that_tops_a_single_ranking() {
        let [a, b, c, d] = ids(4).try_into().unwrap();
        let keyword = [a, c, d];
        let vector = [b, c, d];
        let fused = reciprocal_rank_fusion(&[&keyword, &vector]);
        assert_eq!(fused[0].id, c, "{fused:?}");
        assert_eq!(fused.len(), 4);
    }

    #[test]
    fn selection_applies_threshold_limit_and_budget() {
        let settings = RetrievalSettings {
            limit: 3,
            min_relevance: 0.3,
            token_budget: Some(250),
            ..Default::default()
        };
        let picked = select(
            vec![
                (0.9, 100),
                (0.2, 10),
                (0.8, 200),
                (0.7, 100),
                (0.6, 40),
                (0.5, 10),
            ],
            &settings,
            |c: &(f32, usize)| c.0,
            |c| c.1,
        );
        // 0.2 is below the threshold; the 200-token passage does not fit after the first.
        assert_eq!(picked, vec![(0.9, 100), (0.7, 100), (0.6, 40)]);
    }
}
