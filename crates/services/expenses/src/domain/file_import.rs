//! Statement files go through blob storage and an event, the way documents do: the request
//! reads the file and checks every row (a bad row refuses the file at once, naming it), stores
//! the file under `expense-imports/{id}` and answers `202` with the import; the import's
//! `received` event has the importer (`handlers.rs`) read the file again, file and store its
//! rows. Filing a file of never-seen payees takes minutes (MiniLM, one payee at a time), which
//! no request should wait for, and a crash between the two halves loses nothing: the file and
//! its event were written before the answer, and importing is idempotent by fingerprint.
//!
//! The file is deleted once imported or given up on, and with the person's account.

use bytes::Bytes;
use miyagi_domain::expenses::ImportReceived;
use object_store::path::Path as BlobPath;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{csv_file, ofx_file, Expenses, ExpensesError};
use crate::events;
use crate::model::{ImportJob, NewTransaction, RowError};
use crate::store::Batch;

const FOLDER: &str = "expense-imports";

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Ofx,
}

impl FileFormat {
    fn source(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ofx => "ofx",
        }
    }
}

/// How a file is read: its format and, for CSV, the person's column choices. Kept with the
/// import so the importer reads the file exactly as the request did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reading {
    pub format: FileFormat,
    #[serde(default)]
    pub mapping: csv_file::Mapping,
}

/// What a file holds, as `reading` reads it: its transactions, and every row that cannot be read.
pub fn read_file(
    bytes: &[u8],
    reading: &Reading,
) -> Result<(Vec<NewTransaction>, Vec<RowError>), csv_file::FileError> {
    match reading.format {
        FileFormat::Ofx => ofx_file::read(bytes),
        FileFormat::Csv => csv_file::read(bytes, &reading.mapping).map(|r| (r.rows, r.errors)),
    }
}

fn blob_path(id: Uuid) -> BlobPath {
    BlobPath::from(format!("{FOLDER}/{id}"))
}

impl Expenses {
    /// Stores a file already read whole without a bad row, and records its import with the
    /// event that has it imported.
    pub async fn receive(
        &self,
        owner: &str,
        account: &str,
        reading: &Reading,
        rows: usize,
        file: Bytes,
    ) -> Result<ImportJob, ExpensesError> {
        let id = Uuid::now_v7();
        // The file first: an import row whose file is missing would fail; a file whose row
        // never got written is only an orphan under a fresh id.
        self.blob.put(&blob_path(id), file.into()).await?;
        let batch = Batch {
            owner,
            id,
            account,
            source: reading.format.source(),
        };
        let event = events::import_received(&ImportReceived {
            owner: owner.into(),
            import_id: id,
        });
        let reading = serde_json::to_string(reading).expect("a reading serializes");
        Ok(self.store.receive(&batch, &reading, rows, &event).await?)
    }

    /// Imports a received file. Nothing to do when it is done already (a redelivered event), or
    /// gone with its owner's account.
    pub async fn import_received(&self, owner: &str, id: Uuid) -> Result<(), ExpensesError> {
        let Some((account, source, reading)) = self.store.pending_file(owner, id).await? else {
            return Ok(());
        };
        let file = self.blob.get(&blob_path(id)).await?.bytes().await?;
        let read = serde_json::from_str::<Reading>(&reading)
            .map_err(|e| e.to_string())
            .and_then(|reading| read_file(&file, &reading).map_err(|e| e.to_string()));
        match read {
            Ok((rows, errors)) if errors.is_empty() => {
                let batch = Batch {
                    owner,
                    id,
                    account: &account,
                    source: &source,
                };
                self.import_batch(&batch, rows).await?;
            }
            // The request read the same bytes the same way, so this is a file changed in storage
            // or a reader changed by an upgrade: said, not retried.
            Ok((_, errors)) => {
                let why = format!(
                    "{} rows cannot be read, so nothing was imported",
                    errors.len()
                );
                self.store.fail_import(owner, id, &why).await?;
            }
            Err(why) => self.store.fail_import(owner, id, &why).await?,
        }
        self.discard_file(id).await;
        Ok(())
    }

    /// Records that a received file could not be imported, after the importer gave up on it.
    pub async fn give_up(&self, owner: &str, id: Uuid, why: &str) -> Result<(), ExpensesError> {
        self.store.fail_import(owner, id, why).await?;
        self.discard_file(id).await;
        Ok(())
    }

    /// Deletes the files of a person's imports not yet done, before their rows go: a statement
    /// must not outlive its owner's account, so a failure here is retried, not logged.
    pub async fn erase_files(&self, owner: &str) -> Result<(), ExpensesError> {
        for id in self.store.received_imports(owner).await? {
            self.delete_file(id).await?;
        }
        Ok(())
    }

    /// After an import is done either way; a file left behind is never read again (its import
    /// is no longer `received`) and goes with the account.
    async fn discard_file(&self, id: Uuid) {
        if let Err(e) = self.delete_file(id).await {
            tracing::warn!(error = %e, import = %id, "could not delete an imported file");
        }
    }

    async fn delete_file(&self, id: Uuid) -> Result<(), object_store::Error> {
        match self.blob.delete(&blob_path(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
