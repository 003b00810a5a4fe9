//! Uploads: a file goes to blob storage as it arrives, never whole in memory, and becomes a
//! document only once every file of the upload has arrived within its limits.
//!
//! Each file is first written under `uploads/` ([`Staging`]), hashed and counted on the way, and
//! cut off the moment it passes the size limit. Recording it ([`Documents::record`]) moves it to
//! its content-addressed place, `documents/{id}/{sha256}`, and writes the row and its `uploaded`
//! event in one transaction. A crash between the two leaves only a staged file, which nothing
//! refers to and [`Documents::sweep_staged`] removes at the next start.

use bytes::Bytes;
use chrono::Utc;
use futures::TryStreamExt;
use miyagi_domain::document::Document;
use miyagi_memory::extract::Format;
use object_store::{path::Path as BlobPath, WriteMultipart};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{invalid, Documents, DocumentsError};
use crate::store::Upload;

/// Where files wait between arriving and being recorded.
const STAGING: &str = "uploads";
/// Parts being written to the blob store at once, per file: with object_store's 5 MiB parts,
/// a file in flight holds at most about 15 MiB of memory whatever its size.
const PARTS_IN_FLIGHT: usize = 2;
/// A staged file older than this at start-up belongs to an upload that never finished.
const ABANDONED_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// One file being written to blob storage as its bytes arrive.
pub struct Staging {
    name: String,
    format: Format,
    path: BlobPath,
    writer: WriteMultipart,
    hasher: Sha256,
    size: usize,
    limit: usize,
}

/// A file that has arrived whole and within its limits, not yet a document.
pub struct Staged {
    name: String,
    format: Format,
    path: BlobPath,
    size: usize,
    sha256: String,
}

impl Staging {
    /// Appends the next piece of the file, waiting while the store catches up. Past the size
    /// limit the file is abandoned and the upload refused.
    pub async fn write(&mut self, piece: &[u8]) -> Result<(), DocumentsError> {
        self.size += piece.len();
        if self.size > self.limit {
            return Err(DocumentsError::TooLarge(format!(
                "{} is larger than allowed: the limit is {} bytes",
                self.name, self.limit
            )));
        }
        self.hasher.update(piece);
        self.writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        self.writer.write(piece);
        Ok(())
    }

    /// The file has arrived: completes it in the store.
    pub async fn finish(self) -> Result<Staged, DocumentsError> {
        if self.size == 0 {
            let empty = format!("{} is empty", self.name);
            self.abort().await;
            return Err(invalid("file", empty));
        }
        self.writer.finish().await?;
        Ok(Staged {
            name: self.name,
            format: self.format,
            path: self.path,
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }

    /// Drops what was written so far. Best effort: a leftover is swept at the next start.
    pub async fn abort(self) {
        if let Err(e) = self.writer.abort().await {
            tracing::warn!(error = %e, path = %self.path, "could not abort a staged upload");
        }
    }
}

impl Documents {
    /// Checks a file's name and type, before any of its content is read, and opens its place in
    /// blob storage.
    pub async fn stage(
        &self,
        name: &str,
        media_type: Option<&str>,
    ) -> Result<Staging, DocumentsError> {
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
        let path = BlobPath::from(format!("{STAGING}/{}", Uuid::now_v7()));
        let upload = self.blob.put_multipart(&path).await?;
        Ok(Staging {
            name: name.to_string(),
            format,
            path,
            writer: WriteMultipart::new(upload),
            hasher: Sha256::new(),
            size: 0,
            limit: self.limits.max_bytes,
        })
    }

    /// Makes a staged file a document in `collection` (a new version when the name exists
    /// there); ingestion follows from the `uploaded` event. Returns the document and the id of
    /// that event.
    pub async fn record(
        &self,
        owner: &str,
        collection: &str,
        file: &Staged,
    ) -> Result<(Document, String), DocumentsError> {
        let id = self
            .store
            .existing_id(owner, collection, &file.name)
            .await?
            .unwrap_or_else(Uuid::now_v7);
        // Content-addressed, so a failed upload can never overwrite a version in use.
        let blob_path = format!("documents/{id}/{}", file.sha256);
        self.blob
            .rename(&file.path, &BlobPath::from(blob_path.as_str()))
            .await?;
        let upload = Upload {
            owner: owner.to_string(),
            collection: collection.to_string(),
            name: file.name.clone(),
            media_type: file.format.media_type().to_string(),
            size_bytes: file.size as i64,
            sha256: file.sha256.clone(),
        };
        Ok(self.store.record_upload(id, &upload, &blob_path).await?)
    }

    /// Drops staged files of an upload that was refused after they arrived.
    pub async fn discard(&self, files: Vec<Staged>) {
        for file in files {
            if let Err(e) = self.blob.delete(&file.path).await {
                tracing::warn!(error = %e, path = %file.path, "could not delete a staged upload");
            }
        }
    }

    /// Stores a file held in memory (the bundled datasets) the way an upload is stored.
    pub async fn upload(
        &self,
        owner: &str,
        collection: &str,
        name: &str,
        media_type: Option<&str>,
        content: Bytes,
    ) -> Result<(Document, String), DocumentsError> {
        super::validate_collection(collection)?;
        let mut staging = self.stage(name, media_type).await?;
        if let Err(e) = staging.write(&content).await {
            staging.abort().await;
            return Err(e);
        }
        let file = staging.finish().await?;
        self.record(owner, collection, &file).await
    }

    /// Removes staged files left by uploads a crash or a dropped connection cut short; returns
    /// how many. Run at start-up, it leaves recent ones alone: another replica may be receiving
    /// them.
    pub async fn sweep_staged(&self) -> Result<usize, DocumentsError> {
        let cutoff = Utc::now() - ABANDONED_AFTER;
        let stale: Vec<_> = self
            .blob
            .list(Some(&BlobPath::from(STAGING)))
            .try_filter(|meta| futures::future::ready(meta.last_modified < cutoff))
            .try_collect()
            .await?;
        for meta in &stale {
            self.blob.delete(&meta.location).await?;
        }
        Ok(stale.len())
    }
}
