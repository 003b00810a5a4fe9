//! Imports: the rows of a batch stored once each, and the import's own row, which for a
//! statement file exists from the moment the file is stored (`received`) and says how far it got.
//!
//! Rows go in as multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING fingerprint` statements:
//! one statement per [`ROWS_PER_INSERT`] rows instead of one a row, and the fingerprints
//! returned are exactly the rows that were new.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use miyagi_platform::{
    db::{parse_timestamp, timestamp},
    events::{outbox, CloudEvent},
};
use sqlx::{any::AnyRow, Row};
use uuid::Uuid;

use super::{enqueue, to_cents, ExpensesStore, StoreError, COLUMNS};
use crate::domain::categorise::Filed;
use crate::model::{ImportJob, ImportStatus, NewTransaction};

/// Rows a statement. Measured on 10,000-row imports (BENCHMARKS.md, "Expenses"): 20 stores them
/// 2.6× faster than one a statement on SQLite and 4.5× on PostgreSQL; 500 is faster still on
/// PostgreSQL but 2× slower than one a statement on SQLite (which takes `$N` for a named
/// parameter; looking names up, its cost likely grows with the square of their number).
const ROWS_PER_INSERT: usize = 20;

/// A transaction ready to store: the bank's row, its fingerprint and where it is filed.
pub struct Filable {
    pub transaction: NewTransaction,
    pub fingerprint: String,
    pub payee: String,
    pub filed: Filed,
    /// The model's choices when no earlier stage filed it.
    pub shortlist: Option<Vec<String>>,
}

/// What an import stored (positions in its rows) and skipped.
pub struct Stored {
    pub imported: Vec<usize>,
    pub duplicates: usize,
}

/// The import a batch belongs to.
#[derive(Clone, Copy)]
pub struct Batch<'a> {
    pub owner: &'a str,
    pub id: Uuid,
    pub account: &'a str,
    pub source: &'a str,
}

impl ExpensesStore {
    /// Stores the rows not stored before (by fingerprint), completes the import's row (creating
    /// it for a batch that did not come as a file) and writes its event, all or none; the
    /// positions of the rows stored. `event` is told how many were stored and skipped.
    pub async fn import(
        &self,
        batch: &Batch<'_>,
        rows: &[Filable],
        event: impl FnOnce(&[usize], usize) -> CloudEvent,
    ) -> Result<Stored, StoreError> {
        let mut tx = self.db.begin().await?;
        let position: HashMap<&str, usize> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| (row.fingerprint.as_str(), i))
            .collect();
        let mut imported = Vec::new();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let first = r * 15;
                    let marks: Vec<String> = (1..=15).map(|c| format!("${}", first + c)).collect();
                    format!("({})", marks.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO expense_transactions (owner, fingerprint, {COLUMNS}) VALUES {}
                 ON CONFLICT (owner, fingerprint) DO NOTHING RETURNING fingerprint",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                let t = &row.transaction;
                query = query
                    .bind(batch.owner)
                    .bind(&row.fingerprint)
                    .bind(Uuid::now_v7().to_string())
                    .bind(batch.account)
                    .bind(batch.id.to_string())
                    .bind(t.date.to_string())
                    .bind(&t.description)
                    .bind(&row.payee)
                    .bind(to_cents(t.amount))
                    .bind(t.mcc.map(i64::from))
                    .bind(&row.filed.category)
                    .bind(row.filed.by.as_str())
                    .bind(row.filed.confidence)
                    .bind(&row.filed.because)
                    .bind(
                        row.shortlist
                            .as_ref()
                            .map(|s| serde_json::to_string(s).expect("strings serialize")),
                    );
            }
            for stored in query.fetch_all(&mut *tx).await? {
                let fingerprint: String = stored.try_get("fingerprint")?;
                imported.extend(position.get(fingerprint.as_str()).copied());
            }
        }
        imported.sort_unstable();
        let duplicates = rows.len() - imported.len();
        let now = timestamp(Utc::now());
        sqlx::query(
            "INSERT INTO expense_imports (id, owner, account, source, imported, duplicates, created_at, status, rows_read, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'completed', $8, $7)
             ON CONFLICT (id) DO UPDATE SET status = 'completed', imported = excluded.imported,
                 duplicates = excluded.duplicates, finished_at = excluded.finished_at",
        )
        .bind(batch.id.to_string())
        .bind(batch.owner)
        .bind(batch.account)
        .bind(batch.source)
        .bind(imported.len() as i64)
        .bind(duplicates as i64)
        .bind(&now)
        .bind(rows.len() as i64)
        .execute(&mut *tx)
        .await?;
        enqueue(&mut tx, &event(&imported, duplicates)).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(Stored {
            imported,
            duplicates,
        })
    }

    /// Records a statement file stored for import, with how to read it again and the event that
    /// has it imported.
    pub async fn receive(
        &self,
        batch: &Batch<'_>,
        reading: &str,
        rows: usize,
        event: &CloudEvent,
    ) -> Result<ImportJob, StoreError> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO expense_imports (id, owner, account, source, imported, duplicates, created_at, status, reading, rows_read)
             VALUES ($1, $2, $3, $4, 0, 0, $5, 'received', $6, $7)",
        )
        .bind(batch.id.to_string())
        .bind(batch.owner)
        .bind(batch.account)
        .bind(batch.source)
        .bind(timestamp(Utc::now()))
        .bind(reading)
        .bind(rows as i64)
        .execute(&mut *tx)
        .await?;
        enqueue(&mut tx, event).await?;
        outbox::commit(&self.db, tx).await?;
        self.import_job(batch.owner, batch.id).await
    }

    /// An import as the person sees it, with how many of its rows each stage has filed so far.
    pub async fn import_job(&self, owner: &str, id: Uuid) -> Result<ImportJob, StoreError> {
        let row = sqlx::query(
            "SELECT id, account, source, status, rows_read, imported, duplicates, failure, created_at, finished_at
             FROM expense_imports WHERE id = $1 AND owner = $2",
        )
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(StoreError::NotFound("import"))?;
        let stages = sqlx::query(
            "SELECT CASE WHEN shortlist IS NULL THEN filed_by ELSE 'pending' END AS stage, COUNT(*) AS n
             FROM expense_transactions WHERE import_id = $1 AND owner = $2 GROUP BY 1",
        )
        .bind(id.to_string())
        .bind(owner)
        .fetch_all(self.db.pool())
        .await?;
        let mut filed_by = BTreeMap::new();
        for stage in &stages {
            filed_by.insert(
                stage.try_get("stage")?,
                stage.try_get::<i64, _>("n")? as usize,
            );
        }
        Ok(job_of(&row, filed_by)?)
    }

    /// How to read a received file again, and where it goes; `None` once it is imported or
    /// failed, or if it is not the owner's.
    pub async fn pending_file(
        &self,
        owner: &str,
        id: Uuid,
    ) -> Result<Option<(String, String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT account, source, reading FROM expense_imports WHERE id = $1 AND owner = $2 AND status = 'received'",
        )
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((
                    r.try_get("account")?,
                    r.try_get("source")?,
                    r.try_get::<Option<String>, _>("reading")?
                        .unwrap_or_default(),
                ))
            })
            .transpose()?)
    }

    /// Marks a received file's import failed, saying why.
    pub async fn fail_import(&self, owner: &str, id: Uuid, why: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE expense_imports SET status = 'failed', failure = $1, finished_at = $2
             WHERE id = $3 AND owner = $4 AND status = 'received'",
        )
        .bind(why)
        .bind(timestamp(Utc::now()))
        .bind(id.to_string())
        .bind(owner)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The owner's imports whose files are still stored, waiting to be imported.
    pub async fn received_imports(&self, owner: &str) -> Result<Vec<Uuid>, StoreError> {
        let rows =
            sqlx::query("SELECT id FROM expense_imports WHERE owner = $1 AND status = 'received'")
                .bind(owner)
                .fetch_all(self.db.pool())
                .await?;
        Ok(rows
            .iter()
            .map(|r| super::uuid_of(r, "id"))
            .collect::<Result<_, _>>()?)
    }
}

fn job_of(row: &AnyRow, filed_by: BTreeMap<String, usize>) -> Result<ImportJob, sqlx::Error> {
    let decode = |e: String| sqlx::Error::Decode(e.into());
    let status: String = row.try_get("status")?;
    Ok(ImportJob {
        id: super::uuid_of(row, "id")?,
        account: row.try_get("account")?,
        source: row.try_get("source")?,
        status: ImportStatus::parse(&status)
            .ok_or_else(|| decode(format!("unknown import status {status}")))?,
        rows: row
            .try_get::<Option<i64>, _>("rows_read")?
            .map(|n| n as usize),
        imported: row.try_get::<i64, _>("imported")? as usize,
        duplicates: row.try_get::<i64, _>("duplicates")? as usize,
        filed_by,
        failure: row.try_get("failure")?,
        created_at: parse_timestamp(&row.try_get::<String, _>("created_at")?)?,
        finished_at: row
            .try_get::<Option<String>, _>("finished_at")?
            .map(|t| parse_timestamp(&t))
            .transpose()?,
    })
}
