//! Bundled datasets in a person's collections: uploaded like any file (so ingestion follows
//! through the usual events) and followed by how far ingestion has got.

use bytes::Bytes;
use miyagi_domain::document::{DocumentStatus, LIBRARY_OWNER};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{validate_collection, Documents, DocumentsError};
use crate::datasets;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DatasetStatus {
    pub dataset: String,
    pub collection: String,
    pub documents: usize,
    /// Documents still waiting for ingestion; the dataset is ready when this is 0.
    pub pending: usize,
    pub indexed: usize,
    /// Chunks of the indexed documents.
    pub chunks: i64,
    /// Documents that could not be ingested, with the reason.
    pub failed: Vec<String>,
}

impl Documents {
    /// Uploads the files of bundled `dataset` into `owner`'s `collection`, skipping those whose
    /// content is already there; returns how many were uploaded. Safe to call at every start.
    pub async fn ensure_dataset(
        &self,
        owner: &str,
        dataset: &str,
        collection: &str,
    ) -> Result<usize, DocumentsError> {
        let files = datasets::files(dataset).ok_or(DocumentsError::NotFound)?;
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

    /// Uploads every file of bundled dataset `name` into `owner`'s `collection` (its name when
    /// `None`); running it again replaces the documents' chunks, never duplicates them.
    pub async fn ingest_dataset(
        &self,
        owner: &str,
        name: &str,
        collection: Option<&str>,
    ) -> Result<DatasetStatus, DocumentsError> {
        let files = datasets::files(name).ok_or(DocumentsError::NoDataset)?;
        let collection = collection.unwrap_or(name);
        for file in &files {
            self.upload(
                owner,
                collection,
                file.name,
                None,
                Bytes::from_static(file.content),
            )
            .await?;
        }
        self.dataset_status(owner, name, Some(collection)).await
    }

    /// How far ingestion of the shared investing library, which the service seeds at start,
    /// has got: answers grounded on it before it is ready cite only the pages already in.
    pub async fn library_status(&self) -> Result<DatasetStatus, DocumentsError> {
        self.dataset_status(LIBRARY_OWNER, datasets::DEFAULT, None)
            .await
    }

    /// How far ingestion of bundled dataset `name` into `owner`'s `collection` (its name when
    /// `None`) has got.
    pub async fn dataset_status(
        &self,
        owner: &str,
        name: &str,
        collection: Option<&str>,
    ) -> Result<DatasetStatus, DocumentsError> {
        // An unknown dataset is not found, whatever collection its name would make.
        let files = datasets::files(name).ok_or(DocumentsError::NoDataset)?;
        let collection = collection.unwrap_or(name);
        validate_collection(collection)?;
        let names: Vec<&str> = files.iter().map(|f| f.name).collect();
        let documents = self.store.list(owner, Some(collection), 200, 0).await?;
        let mut status = DatasetStatus {
            dataset: name.to_string(),
            collection: collection.to_string(),
            documents: files.len(),
            pending: files.len(),
            indexed: 0,
            chunks: 0,
            failed: Vec::new(),
        };
        for d in documents
            .iter()
            .filter(|d| names.contains(&d.name.as_str()))
        {
            match d.status {
                DocumentStatus::Pending => {}
                DocumentStatus::Indexed => {
                    status.pending -= 1;
                    status.indexed += 1;
                    status.chunks += d.chunk_count;
                }
                DocumentStatus::Failed => {
                    status.pending -= 1;
                    status.failed.push(format!(
                        "{}: {}",
                        d.name,
                        d.error.as_deref().unwrap_or("unknown")
                    ));
                }
            }
        }
        Ok(status)
    }
}
