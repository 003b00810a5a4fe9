//! Documents: files a person gives Miyagi to remember, and the state of their ingestion.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The owner of the documents every user's advice may cite (the bundled investing corpus). No
/// caller can act as it: the platform refuses principals under [`crate::RESERVED_PREFIX`].
pub const LIBRARY_OWNER: &str = concat!(reserved_prefix!(), "library");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    /// Stored; waiting for (or going through) ingestion.
    Pending,
    /// Chunked, embedded and searchable.
    Indexed,
    /// Ingestion gave up; `error` says why.
    Failed,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Indexed => "indexed",
            Self::Failed => "failed",
        }
    }
}

impl std::str::FromStr for DocumentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Pending, Self::Indexed, Self::Failed]
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| format!("unknown document status {s:?}"))
    }
}

/// A document and where its ingestion stands. Also the payload of every document event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub id: Uuid,
    pub owner: String,
    /// A named group of documents searched together (`default`, `investing-principles`).
    pub collection: String,
    /// The file name it was uploaded as; unique within the owner's collection.
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub status: DocumentStatus,
    /// Why ingestion failed, for `failed` documents.
    pub error: Option<String>,
    pub chunk_count: i64,
    /// Goes up by one on every re-upload; ingestion of an older version is skipped.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Payload of `miyagi.document.deleted.v2`: which document went, and nothing of what it held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentDeleted {
    pub id: Uuid,
    pub owner: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_owner_is_reserved_for_the_system() {
        assert!(LIBRARY_OWNER.starts_with(crate::RESERVED_PREFIX));
    }
}
