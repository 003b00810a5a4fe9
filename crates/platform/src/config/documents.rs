use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentsConfig {
    /// Where chunk vectors are searched: `hnsw` (in-process, snapshots in the data dir),
    /// `exact` (brute force) or `pgvector` (needs `documents.pgvector_url`).
    pub index: VectorIndexKind,
    /// A PostgreSQL database with the pgvector extension, for `index = "pgvector"`.
    pub pgvector_url: Option<Secret>,
    /// Chunk size and overlap, in the embedding model's tokens.
    pub chunk_tokens: usize,
    pub chunk_overlap: usize,
    /// Largest file accepted by an upload.
    pub max_upload_bytes: usize,
    pub max_files_per_upload: usize,
    /// Ingest the bundled investing library (what the advisor cites) at start; files already
    /// ingested are skipped.
    pub library: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VectorIndexKind {
    Hnsw,
    Exact,
    Pgvector,
}

impl DocumentsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(16..=512).contains(&self.chunk_tokens) {
            return Err(ConfigError::expected(
                "documents.chunk_tokens",
                "a number of tokens between 16 and 512",
            ));
        }
        if self.chunk_overlap >= self.chunk_tokens {
            return Err(ConfigError::expected(
                "documents.chunk_overlap",
                "fewer tokens than documents.chunk_tokens",
            ));
        }
        if self.max_upload_bytes == 0 || self.max_files_per_upload == 0 {
            return Err(ConfigError::expected(
                "documents.max_upload_bytes",
                "limits of at least 1 (and documents.max_files_per_upload too)",
            ));
        }
        if self.index == VectorIndexKind::Pgvector && self.pgvector_url.is_none() {
            return Err(ConfigError::expected(
                "documents.pgvector_url",
                "a postgres:// URL of a database with pgvector when documents.index = \"pgvector\"",
            ));
        }
        Ok(())
    }
}
