//! The documents service: what a person gives Miyagi to remember, and search over it.
//!
//! - `api`: HTTP routes under `/api/v1/documents` and `/api/v1/datasets`.
//! - `domain`: upload, ingestion, search, grounded answers, bundled datasets and deletion, over
//!   the store, blob storage, the models and the vector index.
//! - `store`: the `documents` and `chunks` tables and the keyword index.
//! - `events`: the events the service publishes; `handlers`: the ones it consumes.
//! - `datasets`: documents bundled in the binary.
//!
//! An upload is stored and answered at once; the `miyagi.document.uploaded.v1` event it emits
//! is consumed by this same service, which ingests the file and emits `indexed` or `failed`.
//! A deleted account (`miyagi.user.account.deleted.v1`) takes every document of its owner.

mod api;
mod datasets;
mod domain;
mod events;
mod handlers;
mod store;

use std::sync::Arc;

use miyagi_domain::{document::LIBRARY_OWNER, events::topics};
use miyagi_kernel::{EmbeddingModel, Kernel};
use miyagi_memory::{
    chunk::{ChunkSettings, Chunker, TokenCounter},
    index::{ExactIndex, HnswIndex, HnswSettings, PgVectorIndex, VectorIndex},
};
use miyagi_platform::{
    config::VectorIndexKind,
    db::Db,
    events::{Consumer, EventBus},
    Service, ServiceContext,
};
use utoipa_axum::router::OpenApiRouter;

pub use domain::Documents;
pub use store::{Applied, DocumentStore, EmbeddedChunk, StoreError, Upload};

use crate::{
    domain::UploadLimits,
    handlers::{AccountErasure, Ingestion},
};

pub const NAME: &str = "documents";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The models the service works with.
pub struct Models {
    pub embedder: Arc<dyn EmbeddingModel>,
    /// Counts tokens as the embedder does, to size chunks.
    pub tokens: TokenCounter,
    /// Writes grounded answers; `None` disables `/documents/ask`.
    pub kernel: Option<Kernel>,
}

pub struct DocumentsService {
    documents: Arc<Documents>,
    bus: Arc<dyn EventBus>,
}

impl DocumentsService {
    pub async fn start(context: &ServiceContext, models: Models) -> anyhow::Result<Self> {
        let config = &context.config.documents;
        let db = Db::open(&context.config, NAME, &MIGRATOR).await?;
        let store = DocumentStore::open(db).await?;
        let dimensions = models.embedder.dimensions();
        let index: Arc<dyn VectorIndex> = match config.index {
            VectorIndexKind::Hnsw => Arc::new(HnswIndex::open(
                &context.config.data_dir.join("vector-index"),
                dimensions,
                HnswSettings::default(),
            )?),
            VectorIndexKind::Exact => Arc::new(ExactIndex::new(dimensions)),
            VectorIndexKind::Pgvector => {
                let url = config.pgvector_url.as_ref().ok_or_else(|| {
                    anyhow::anyhow!(
                        "key `documents.pgvector_url` is required with index = \"pgvector\""
                    )
                })?;
                Arc::new(
                    PgVectorIndex::connect(url.expose(), NAME, dimensions, HnswSettings::default())
                        .await
                        .map_err(|e| anyhow::anyhow!("key `documents.pgvector_url`: {e}"))?,
                )
            }
        };
        let chunker = Chunker::new(
            models.tokens,
            ChunkSettings {
                max_tokens: config.chunk_tokens,
                overlap_tokens: config.chunk_overlap,
            },
        )?;
        let documents = Documents::new(
            store,
            context.blob.clone(),
            index,
            models.embedder,
            chunker,
            UploadLimits {
                max_bytes: config.max_upload_bytes,
                max_files: config.max_files_per_upload,
            },
            models.kernel,
        );
        documents.reconcile().await?;
        let swept = documents.sweep_staged().await?;
        if swept > 0 {
            tracing::info!(
                files = swept,
                "removed files of uploads that never finished"
            );
        }
        if config.library {
            // The shared library the advisor grounds on; ingestion follows through the usual
            // events, in the background.
            let seeded = documents
                .ensure_dataset(LIBRARY_OWNER, datasets::DEFAULT, datasets::DEFAULT)
                .await?;
            if seeded > 0 {
                tracing::info!(files = seeded, "queued the investing library for ingestion");
            }
        }
        Ok(Self {
            documents: Arc::new(documents),
            bus: context.bus.clone(),
        })
    }

    pub fn documents(&self) -> &Arc<Documents> {
        &self.documents
    }
}

impl Service for DocumentsService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn routes(&self) -> OpenApiRouter {
        api::routes(self.documents.clone())
    }

    fn database(&self) -> Option<&Db> {
        Some(self.documents.store().db())
    }

    fn consumers(&self) -> Vec<Consumer> {
        vec![
            Consumer::new(
                domain::INGESTION,
                &[events::TOPIC],
                Arc::new(Ingestion {
                    documents: self.documents.clone(),
                    bus: self.bus.clone(),
                }),
            ),
            Consumer::new(
                handlers::ACCOUNT_ERASURE,
                &[topics::USER_ACCOUNT],
                Arc::new(AccountErasure(self.documents.clone())),
            ),
        ]
    }
}
