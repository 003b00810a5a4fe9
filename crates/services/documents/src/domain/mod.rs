//! What the documents service does, independent of HTTP and of the event loop: accept uploads,
//! search, answer questions with citations, delete; ingestion (`ingestion`) and bundled
//! datasets (`datasets`) in their own files.

mod datasets;
mod ingestion;
mod upload;

pub use datasets::DatasetStatus;
pub use upload::Staged;

use std::{collections::HashMap, sync::Arc};

use futures::TryStreamExt;
use miyagi_domain::document::{Document, DocumentStatus};
use miyagi_kernel::{EmbeddingModel, Kernel, KernelError};
use miyagi_memory::{
    ask,
    chunk::Chunker,
    cite::{quotable_sentences, Citation, GroundedAnswer, Passage},
    index::{reconcile, Filter, IndexError, VectorIndex},
    retrieve::{cosine, reciprocal_rank_fusion, select, Mode, RetrievalSettings, Retriever},
    summarise::{self, Summary},
};
use miyagi_platform::blob::BlobStore;
use object_store::path::Path as BlobPath;
use uuid::Uuid;

use crate::store::{DocumentStore, StoreError};

/// Tokens of a document a summary reads at a time: with the prompt and the answer, inside a small
/// local model's context.
const SUMMARY_BUDGET: u32 = 900;

/// The consumer group that ingests uploads; also the inbox name for ingestion effects.
pub const INGESTION: &str = "documents-ingestion";

/// Texts per embedding call: bounds memory and lets other requests interleave.
const EMBED_BATCH: usize = 32;

#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_bytes: usize,
    pub max_files: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentsError {
    #[error("document not found")]
    NotFound,
    #[error("dataset not found")]
    NoDataset,
    #[error("no chat model is configured (set `models.local = true` or an OpenAI endpoint)")]
    NoModel,
    /// The client sent something unacceptable; `field` names what.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    TooLarge(String),
    /// The request does not fit the document's state (retrying one that is not failed).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnsupportedType(String),
    #[error(transparent)]
    Store(StoreError),
    #[error("blob storage: {0}")]
    Blob(#[from] object_store::Error),
    #[error("embedding model: {0}")]
    Embedding(#[from] KernelError),
    #[error("chat model: {0}")]
    Answer(KernelError),
    #[error("vector index: {0}")]
    Index(#[from] IndexError),
}

impl From<StoreError> for DocumentsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            e @ StoreError::NotRetryable(_) => {
                Self::Conflict(format!("{e}: only a failed document can be retried"))
            }
            e => Self::Store(e),
        }
    }
}

impl From<sqlx::Error> for DocumentsError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(e))
    }
}

fn invalid(field: &str, message: impl Into<String>) -> DocumentsError {
    DocumentsError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// A search hit: the passage, where it comes from, and how it ranked.
#[derive(Debug, Clone)]
pub struct Found {
    pub passage: Passage,
    pub citation: Citation,
    /// Reciprocal-rank-fusion score (or the single ranking's, outside hybrid mode).
    pub rank_score: f32,
}

pub struct Documents {
    store: DocumentStore,
    blob: BlobStore,
    index: Arc<dyn VectorIndex>,
    embedder: Arc<dyn EmbeddingModel>,
    chunker: Chunker,
    limits: UploadLimits,
    /// Writes grounded answers; `None` when no chat model is configured.
    kernel: Option<Kernel>,
}

impl Documents {
    pub fn new(
        store: DocumentStore,
        blob: BlobStore,
        index: Arc<dyn VectorIndex>,
        embedder: Arc<dyn EmbeddingModel>,
        chunker: Chunker,
        limits: UploadLimits,
        kernel: Option<Kernel>,
    ) -> Self {
        Self {
            store,
            blob,
            index,
            embedder,
            chunker,
            limits,
            kernel,
        }
    }

    pub fn store(&self) -> &DocumentStore {
        &self.store
    }

    pub fn limits(&self) -> UploadLimits {
        self.limits
    }

    /// Queues a failed document for ingestion again, for when its cause has been fixed.
    pub async fn retry(&self, owner: &str, id: Uuid) -> Result<Document, DocumentsError> {
        Ok(self.store.retry(owner, id).await?)
    }

    /// Deletes a document, its chunks, its vectors and its files.
    pub async fn delete(&self, owner: &str, id: Uuid) -> Result<Document, DocumentsError> {
        let (document, chunks) = self.store.delete(owner, id).await?;
        self.index.remove(&chunks).await?;
        self.index.persist().await?;
        self.delete_blobs(id, None).await;
        Ok(document)
    }

    /// Deletes every document of `owner` as [`Documents::delete`] does, for an account's
    /// deletion; how many went. Safe to repeat: a document already gone is skipped.
    pub async fn delete_all(&self, owner: &str) -> Result<usize, DocumentsError> {
        let mut deleted = 0;
        loop {
            let page = self.store.list(owner, None, 200, 0).await?;
            if page.is_empty() {
                return Ok(deleted);
            }
            for document in page {
                match self.delete(owner, document.id).await {
                    Ok(_) => deleted += 1,
                    Err(DocumentsError::NotFound) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// Removes a document's stored files except `keep`. Best effort: a leftover file is
    /// unreachable garbage, never visible data.
    async fn delete_blobs(&self, id: Uuid, keep: Option<&str>) {
        let prefix = BlobPath::from(format!("documents/{id}"));
        let listed: Result<Vec<_>, _> = self.blob.list(Some(&prefix)).try_collect().await;
        match listed {
            Ok(objects) => {
                for object in objects {
                    if Some(object.location.as_ref()) != keep {
                        if let Err(e) = self.blob.delete(&object.location).await {
                            tracing::warn!(error = %e, path = %object.location, "could not delete an old document file");
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, document = %id, "could not list document files"),
        }
    }

    /// Finds the owner's passages for `query`: keyword and/or vector rankings fused, then the
    /// relevance threshold, limit and token budget applied.
    pub async fn search(
        &self,
        owner: &str,
        query: &str,
        collection: Option<&str>,
        document: Option<Uuid>,
        settings: &RetrievalSettings,
    ) -> Result<Vec<Found>, DocumentsError> {
        let candidates = settings.candidates();
        let query_vector = self
            .embedder
            .embed(&[query.to_string()])
            .await?
            .pop()
            .ok_or_else(|| KernelError::BadResponse("no embedding for the query".into()))?;
        let vector_ids: Vec<Uuid> = if settings.mode == Mode::Keyword {
            Vec::new()
        } else {
            let mut filter = Filter::owner(owner);
            filter.collection = collection.map(str::to_string);
            if let Some(d) = document {
                filter.metadata.insert("document".into(), d.to_string());
            }
            self.index
                .search(&query_vector, &filter, candidates)
                .await?
                .into_iter()
                .map(|h| h.id)
                .collect()
        };
        let keyword_ids = if settings.mode == Mode::Vector {
            Vec::new()
        } else {
            self.store
                .keyword_search(owner, collection, document, query, candidates)
                .await?
        };
        let fused = reciprocal_rank_fusion(&[&vector_ids, &keyword_ids]);
        let ids: Vec<Uuid> = fused.iter().map(|f| f.id).collect();
        let mut loaded: HashMap<Uuid, _> = self
            .store
            .candidates(owner, &ids)
            .await?
            .into_iter()
            .map(|c| (c.passage.chunk_id, c))
            .collect();
        let ordered: Vec<(Passage, f32)> = fused
            .iter()
            .filter_map(|f| {
                let mut c = loaded.remove(&f.id)?;
                c.passage.relevance = cosine(&query_vector, &c.embedding);
                Some((c.passage, f.score))
            })
            .collect();
        Ok(select(
            ordered,
            settings,
            |(p, _)| p.relevance,
            |(p, _)| p.tokens as usize,
        )
        .into_iter()
        .map(|(passage, rank_score)| Found {
            citation: Citation::of(&passage, best_snippet(&passage.text, query)),
            passage,
            rank_score,
        })
        .collect())
    }

    /// Answers `question` from the owner's passages (`passages` of them, from `collection` when
    /// given), citing them; every citation is verified against the retrieved text.
    pub async fn ask(
        &self,
        owner: &str,
        question: &str,
        collection: Option<&str>,
        passages: usize,
    ) -> Result<GroundedAnswer, DocumentsError> {
        let kernel = self.kernel.as_ref().ok_or(DocumentsError::NoModel)?;
        let settings = RetrievalSettings {
            limit: passages,
            // Keeps the prompt inside a small model's context.
            token_budget: Some(900),
            ..Default::default()
        };
        let found = self
            .search(owner, question, collection, None, &settings)
            .await?;
        let passages: Vec<_> = found.into_iter().map(|f| f.passage).collect();
        ask::answer(&kernel.for_user(owner), question, &passages)
            .await
            .map_err(DocumentsError::Answer)
    }

    /// A summary of one of the owner's indexed documents, read in batches the model's context
    /// holds, citing its sentences; `focus` narrows it (a stock, a question).
    pub async fn summarise(
        &self,
        owner: &str,
        id: Uuid,
        focus: Option<&str>,
    ) -> Result<Summary, DocumentsError> {
        let kernel = self.kernel.as_ref().ok_or(DocumentsError::NoModel)?;
        let document = self.store.get(owner, id).await?;
        if document.status != DocumentStatus::Indexed {
            return Err(DocumentsError::Conflict(format!(
                "the document is {}: only an indexed one can be summarised",
                document.status.as_str()
            )));
        }
        let passages = self.store.passages_of(owner, id).await?;
        summarise::summarise(&kernel.for_user(owner), &passages, SUMMARY_BUDGET, focus)
            .await
            .map_err(DocumentsError::Answer)
    }

    /// Makes the vector index agree with the store (after a crash, or a new index).
    pub async fn reconcile(&self) -> Result<(usize, usize), DocumentsError> {
        let stored = self.store.chunk_ids().await?;
        let store = self.store.clone();
        let (added, removed) = reconcile(self.index.as_ref(), stored, |missing| async move {
            store
                .index_entries(&missing)
                .await
                .map_err(|e| IndexError::Storage(e.to_string()))
        })
        .await?;
        if added + removed > 0 {
            tracing::info!(
                added,
                removed,
                index = self.index.name(),
                "vector index reconciled with the store"
            );
        }
        Ok((added, removed))
    }
}

/// The sentence of `text` sharing the most words with `query`; the start of the text when none
/// does. Always a verbatim piece of `text`.
fn best_snippet(text: &str, query: &str) -> String {
    let words: Vec<String> = crate::store::search_words(query);
    let score = |s: &str| {
        let lower = s.to_lowercase();
        words.iter().filter(|w| lower.contains(w.as_str())).count()
    };
    quotable_sentences(text)
        .into_iter()
        .filter(|s| text.contains(s.as_str()))
        .max_by_key(|s| score(s))
        .filter(|s| score(s) > 0)
        .unwrap_or_else(|| text.chars().take(200).collect())
}

/// Collections are names users pick: short, URL-safe.
#[async_trait::async_trait]
impl Retriever for Documents {
    async fn retrieve(
        &self,
        owner: &str,
        query: &str,
        collection: Option<&str>,
        settings: &RetrievalSettings,
    ) -> anyhow::Result<Vec<Passage>> {
        let found = self
            .search(owner, query, collection, None, settings)
            .await?;
        Ok(found.into_iter().map(|f| f.passage).collect())
    }
}

pub fn validate_collection(collection: &str) -> Result<(), DocumentsError> {
    let ok = (1..=64).contains(&collection.len())
        && collection
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "collection",
            "must be 1 to 64 characters of a-z, 0-9, '-' and '_'",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snippet_is_the_sentence_that_matches_the_query() {
        let text =
            "Bonds pay interest every year. Fees of one percent compound against you over decades.";
        assert_eq!(
            best_snippet(text, "what do fees cost"),
            "Fees of one percent compound against you over decades."
        );
    }

    #[test]
    fn collections_are_url_safe_names() {
        assert!(validate_collection("investing-principles").is_ok());
        assert!(validate_collection("").is_err());
        assert!(validate_collection("../etc").is_err());
        assert!(validate_collection("Taxes").is_err());
    }
}
