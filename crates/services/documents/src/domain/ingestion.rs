//! Ingestion: an uploaded version becomes searchable chunks (extract → chunk → embed → index →
//! store), once per `uploaded` event.
//!
//! The order is chosen so a crash anywhere loses nothing and leaves nothing visible that should
//! not be: new vectors go into the index first (an orphan vector is harmless: search only
//! returns chunks the store has), then the store swaps chunks in one transaction with the inbox
//! claim and the `indexed` event, then the old vectors go. On restart `Documents::reconcile`
//! removes orphans and restores anything missing.

use miyagi_domain::document::Document;
use miyagi_memory::{
    extract::{extract, Format},
    index::IndexError,
};
use miyagi_platform::events::{inbox, HandlerError};
use object_store::path::Path as BlobPath;
use uuid::Uuid;

use super::{Documents, EMBED_BATCH, INGESTION};

/// How long extracting and chunking one file may take.
const EXTRACT_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);
use crate::store::{entry, Applied, EmbeddedChunk, StoreError};

impl Documents {
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
        let reading = tokio::task::spawn_blocking(move || {
            extract(format, &content).map(|text| chunker.chunk(&text, format.is_markdown()))
        });
        // A file crafted to make the PDF reader loop would otherwise hold up every document of
        // its partition. The thread cannot be stopped and finishes on its own; the document
        // fails now.
        let Ok(chunks) = tokio::time::timeout(EXTRACT_TIME_LIMIT, reading).await else {
            let reason = format!(
                "reading the file took longer than {}s",
                EXTRACT_TIME_LIMIT.as_secs()
            );
            return self.fail(event_id, document, &reason).await;
        };
        let chunks = match chunks.map_err(|e| transient(&e))? {
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

    /// Shows the owner that ingestion gave up on a version (its `uploaded` event was
    /// dead-lettered with `reason`): the document becomes `failed` with the reason, and can be
    /// retried ([`Documents::retry`]) or its event redriven once the cause is fixed.
    pub async fn gave_up(&self, document: &Document, reason: &str) -> Result<(), HandlerError> {
        let reason = format!("ingestion gave up: {reason}");
        tracing::warn!(document = %document.id, %reason, "ingestion gave up");
        let applied = self
            .store
            .mark_given_up(document, &reason)
            .await
            .map_err(store_error)?;
        self.forget_vectors(&applied).await
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
        self.forget_vectors(&applied).await?;
        Ok(applied)
    }

    /// Removes the vectors of the chunks a failed version dropped.
    async fn forget_vectors(&self, applied: &Applied) -> Result<(), HandlerError> {
        if let Applied::Replaced { old } = applied {
            let transient = |e: IndexError| HandlerError::Transient(e.into());
            self.index.remove(old).await.map_err(transient)?;
            self.index.persist().await.map_err(transient)?;
        }
        Ok(())
    }
}

fn store_error(e: StoreError) -> HandlerError {
    match e {
        StoreError::Database(e) => HandlerError::from(e),
        e @ (StoreError::NotFound | StoreError::NotRetryable(_)) => {
            HandlerError::Permanent(e.into())
        }
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
