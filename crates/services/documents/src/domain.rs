//! What the documents service does, independent of HTTP and of the event loop: accept uploads,
//! ingest them (extract → chunk → embed → index → store), search, delete.
//!
//! Ingestion order is chosen so a crash anywhere loses nothing and leaves nothing visible that
//! should not be: new vectors go into the index first (an orphan vector is harmless: search
//! only returns chunks the store has), then the store swaps chunks in one transaction with the
//! inbox claim and the `indexed` event, then the old vectors go. On restart [`Documents::reconcile`]
//! removes orphans and restores anything missing.

use std::{collections::HashMap, sync::Arc};

use bytes::Bytes;
use futures::TryStreamExt;
use miyagi_domain::document::Document;
use miyagi_kernel::{EmbeddingModel, KernelError};
use miyagi_memory::{
    chunk::Chunker,
    cite::{quotable_sentences, Citation, Passage},
    extract::{extract, Format},
    index::{reconcile, Filter, IndexError, VectorIndex},
    retrieve::{cosine, reciprocal_rank_fusion, select, Mode, RetrievalSettings, Retriever},
};
use miyagi_platform::{
    blob::BlobStore,
    events::{inbox, HandlerError},
};
use object_store::{path::Path as BlobPath, PutPayload};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::{entry, Applied, DocumentStore, EmbeddedChunk, StoreError, Upload};

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
    /// The client sent something unacceptable; `field` names what.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedType(String),
    #[error(transparent)]
    Store(StoreError),
    #[error("blob storage: {0}")]
    Blob(#[from] object_store::Error),
    #[error("embedding model: {0}")]
    Embedding(#[from] KernelError),
    #[error("vector index: {0}")]
    Index(#[from] IndexError),
}

impl From<StoreError> for DocumentsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
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
}

impl Documents {
    pub fn new(
        store: DocumentStore,
        blob: BlobStore,
        index: Arc<dyn VectorIndex>,
        embedder: Arc<dyn EmbeddingModel>,
        chunker: Chunker,
        limits: UploadLimits,
    ) -> Self {
        Self {
            store,
            blob,
            index,
            embedder,
            chunker,
            limits,
        }
    }

    pub fn store(&self) -> &DocumentStore {
        &self.store
    }

    pub fn limits(&self) -> UploadLimits {
        self.limits
    }

    /// Stores a file and records it; ingestion follows from the `uploaded` event. Uploading a
    /// name that exists in the collection makes a new version of that document. Returns the
    /// document and the id of its `uploaded` event.
    pub async fn upload(
        &self,
        owner: &str,
        collection: &str,
        name: &str,
        media_type: Option<&str>,
        content: Bytes,
    ) -> Result<(Document, String), DocumentsError> {
        validate_collection(collection)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(invalid(
                "file",
                "needs a file name of 1 to 200 printable characters",
            ));
        }
        let format = Format::detect(media_type, name).ok_or_else(|| {
            DocumentsError::UnsupportedType(format!(
                "{name}: only text, Markdown, HTML and PDF files can be ingested (.txt, .md, .html, .pdf)"
            ))
        })?;
        if content.len() > self.limits.max_bytes {
            return Err(DocumentsError::TooLarge(format!(
                "{name} is {} bytes; the limit is {} bytes",
                content.len(),
                self.limits.max_bytes
            )));
        }
        if content.is_empty() {
            return Err(invalid("file", format!("{name} is empty")));
        }
        let sha256 = hex::encode(Sha256::digest(&content));
        let id = self
            .store
            .existing_id(owner, collection, name)
            .await?
            .unwrap_or_else(Uuid::now_v7);
        // Content-addressed, so a failed upload can never overwrite a version in use.
        let blob_path = format!("documents/{id}/{sha256}");
        self.blob
            .put(
                &BlobPath::from(blob_path.as_str()),
                PutPayload::from_bytes(content.clone()),
            )
            .await?;
        let upload = Upload {
            owner: owner.to_string(),
            collection: collection.to_string(),
            name: name.to_string(),
            media_type: format.media_type().to_string(),
            size_bytes: content.len() as i64,
            sha256,
        };
        Ok(self.store.record_upload(id, &upload, &blob_path).await?)
    }

    /// Uploads the files of bundled `dataset` into `owner`'s `collection`, skipping those whose
    /// content is already there; returns how many were uploaded. Safe to call at every start.
    pub async fn ensure_dataset(
        &self,
        owner: &str,
        dataset: &str,
        collection: &str,
    ) -> Result<usize, DocumentsError> {
        let files = crate::datasets::files(dataset).ok_or(DocumentsError::NotFound)?;
        let mut uploaded = 0;
        for file in files {
            let sha256 = hex::encode(Sha256::digest(file.content));
            let current = self
                .store
                .current_sha256(owner, collection, file.name)
                .await?;
            if current.as_deref() != Some(sha256.as_str()) {
                self.upload(
                    owner,
                    collection,
                    file.name,
                    None,
                    Bytes::from_static(file.content),
                )
                .await?;
                uploaded += 1;
            }
        }
        Ok(uploaded)
    }

    /// Ingests the version of `document` that event `event_id` announced. Idempotent per event;
    /// a superseded version is skipped. Unreadable files are marked failed (with the reason and
    /// a `failed` event) rather than retried.
    pub async fn ingest(
        &self,
        event_id: &str,
        document: &Document,
    ) -> Result<Applied, HandlerError> {
        let transient = |e: &dyn std::fmt::Display| HandlerError::Transient(anyhow::anyhow!("{e}"));
        if inbox::seen(self.store.db(), INGESTION, event_id).await? {
            return Ok(Applied::AlreadyDone);
        }
        let blob_path = match self.store.get(&document.owner, document.id).await {
            Ok(current) if current.version == document.version => self
                .store
                .blob_path(&document.owner, document.id)
                .await
                .map_err(|e| transient(&e))?,
            Ok(_) | Err(StoreError::NotFound) => return Ok(Applied::Superseded),
            Err(e) => return Err(transient(&e)),
        };
        let content = match self.blob.get(&BlobPath::from(blob_path.as_str())).await {
            Ok(got) => got.bytes().await.map_err(|e| transient(&e))?,
            Err(object_store::Error::NotFound { .. }) => {
                return self
                    .fail(
                        event_id,
                        document,
                        "the uploaded file is missing from storage",
                    )
                    .await
            }
            Err(e) => return Err(transient(&e)),
        };
        let format =
            Format::detect(Some(&document.media_type), &document.name).ok_or_else(|| {
                HandlerError::Permanent(anyhow::anyhow!(
                    "unsupported media type {}",
                    document.media_type
                ))
            })?;
        let chunker = self.chunker.clone();
        let chunks = tokio::task::spawn_blocking(move || {
            extract(format, &content).map(|text| chunker.chunk(&text, format.is_markdown()))
        })
        .await
        .map_err(|e| transient(&e))?;
        let chunks = match chunks {
            Ok(chunks) => chunks,
            Err(e) => return self.fail(event_id, document, &e.to_string()).await,
        };
        let mut embedded = Vec::with_capacity(chunks.len());
        for batch in chunks.chunks(EMBED_BATCH) {
            let texts: Vec<String> = batch.iter().map(|c| embedding_text(document, c)).collect();
            let vectors = self
                .embedder
                .embed(&texts)
                .await
                .map_err(|e| transient(&e))?;
            embedded.extend(
                batch
                    .iter()
                    .zip(vectors)
                    .map(|(chunk, embedding)| EmbeddedChunk {
                        id: Uuid::now_v7(),
                        chunk: chunk.clone(),
                        embedding,
                    }),
            );
        }
        let entries = embedded
            .iter()
            .map(|c| {
                entry(
                    c.id,
                    document.owner.clone(),
                    document.collection.clone(),
                    document.id,
                    c.embedding.clone(),
                )
            })
            .collect();
        self.index
            .upsert(entries)
            .await
            .map_err(|e| transient(&e))?;
        let applied = self
            .store
            .replace_chunks(INGESTION, event_id, document, &embedded)
            .await
            .map_err(store_error)?;
        let stale: Vec<Uuid> = match &applied {
            Applied::Replaced { old } => old.clone(),
            // Someone else's work won: the vectors just added belong to nothing.
            Applied::AlreadyDone | Applied::Superseded => embedded.iter().map(|c| c.id).collect(),
        };
        self.index.remove(&stale).await.map_err(|e| transient(&e))?;
        self.index.persist().await.map_err(|e| transient(&e))?;
        if matches!(applied, Applied::Replaced { .. }) {
            self.delete_blobs(document.id, Some(&blob_path)).await;
        }
        Ok(applied)
    }

    async fn fail(
        &self,
        event_id: &str,
        document: &Document,
        reason: &str,
    ) -> Result<Applied, HandlerError> {
        tracing::warn!(document = %document.id, %reason, "ingestion failed");
        let applied = self
            .store
            .mark_failed(INGESTION, event_id, document, reason)
            .await
            .map_err(store_error)?;
        if let Applied::Replaced { old } = &applied {
            let transient = |e: IndexError| HandlerError::Transient(e.into());
            self.index.remove(old).await.map_err(transient)?;
            self.index.persist().await.map_err(transient)?;
        }
        Ok(applied)
    }

    /// Deletes a document, its chunks, its vectors and its files.
    pub async fn delete(&self, owner: &str, id: Uuid) -> Result<Document, DocumentsError> {
        let (document, chunks) = self.store.delete(owner, id).await?;
        self.index.remove(&chunks).await?;
        self.index.persist().await?;
        self.delete_blobs(id, None).await;
        Ok(document)
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

fn store_error(e: StoreError) -> HandlerError {
    match e {
        StoreError::Database(e) => HandlerError::from(e),
        StoreError::NotFound => HandlerError::Permanent(anyhow::anyhow!("document not found")),
    }
}

/// What gets embedded: the chunk prefixed by its document and headings, which tell the model
/// what a terse chunk ("It halves the cost.") is about.
fn embedding_text(document: &Document, chunk: &miyagi_memory::chunk::Chunk) -> String {
    match &chunk.section {
        Some(section) => format!("{} — {}\n{}", document.name, section, chunk.text),
        None => format!("{}\n{}", document.name, chunk.text),
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
