//! The expenses tables. Every change is written with its outbox event in one transaction, and
//! every read and write is scoped to the owner. Imports and their jobs are in `imports.rs`.

mod imports;

use chrono::{NaiveDate, Utc};
use miyagi_domain::expenses::CategorySource;
use miyagi_platform::{
    db::{parse_timestamp, timestamp, Db},
    events::{outbox, CloudEvent},
};
use sqlx::{any::AnyRow, AnyConnection, Row};
use uuid::Uuid;

use crate::domain::categorise::Filed;
use crate::events;
use crate::model::{Filing, Rule, Transaction};

const COLUMNS: &str = "id, account, import_id, posted_on, description, payee, amount_cents, mcc, category, filed_by, confidence, because, shortlist";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Absent, or someone else's: the two are indistinguishable on purpose.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub use imports::{Batch, Filable};

#[derive(Clone)]
pub struct ExpensesStore {
    db: Db,
}

impl ExpensesStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn transaction(&self, owner: &str, id: Uuid) -> Result<Transaction, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM expense_transactions WHERE id = $1 AND owner = $2"
        ))
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|r| from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound("transaction"))
    }

    /// The owner's transactions posted in `from..=to`, newest first, optionally of one category.
    pub async fn transactions(
        &self,
        owner: &str,
        from: NaiveDate,
        to: NaiveDate,
        category: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Transaction>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM expense_transactions
             WHERE owner = $1 AND posted_on >= $2 AND posted_on <= $3 AND category = COALESCE($4, category)
             ORDER BY posted_on DESC, id DESC LIMIT $5 OFFSET $6"
        ))
        .bind(owner)
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(category)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Files a transaction where the person put it: the correction is recorded, the payee
    /// becomes one of the person's examples, and the `times`-th correction of the payee to the
    /// same category becomes a learned rule that re-files the payee's other transactions the
    /// person has not filed themselves. The event is written with it.
    pub async fn recategorise(
        &self,
        owner: &str,
        id: Uuid,
        category: &str,
        vector: &[f32],
        times: i64,
        event: impl FnOnce(&Transaction, bool) -> CloudEvent,
    ) -> Result<(Transaction, Option<Rule>, u64), StoreError> {
        let mut tx = self.db.begin().await?;
        let because = "you filed it here";
        let row = sqlx::query(&format!(
            "UPDATE expense_transactions SET category = $1, filed_by = $2, confidence = 1.0, because = $3, shortlist = NULL
             WHERE id = $4 AND owner = $5 RETURNING {COLUMNS}"
        ))
        .bind(category)
        .bind(CategorySource::Person.as_str())
        .bind(because)
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?;
        let transaction = from_row(&row.ok_or(StoreError::NotFound("transaction"))?)?;
        let payee = transaction.payee.clone();
        sqlx::query("INSERT INTO expense_corrections (owner, payee, category, transaction_id, corrected_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(owner)
            .bind(&payee)
            .bind(category)
            .bind(id.to_string())
            .bind(timestamp(Utc::now()))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO expense_payee_examples (owner, payee, category, vector) VALUES ($1, $2, $3, $4)
             ON CONFLICT (owner, payee) DO UPDATE SET category = excluded.category, vector = excluded.vector",
        )
        .bind(owner)
        .bind(&payee)
        .bind(category)
        .bind(serde_json::to_string(vector).expect("floats serialize"))
        .execute(&mut *tx)
        .await?;
        let corrections: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM expense_corrections WHERE owner = $1 AND payee = $2 AND category = $3")
            .bind(owner)
            .bind(&payee)
            .bind(category)
            .fetch_one(&mut *tx)
            .await?;
        let mut learned = None;
        let mut refiled = 0;
        if corrections >= times && !payee.is_empty() {
            let rule = Rule {
                id: Uuid::now_v7(),
                pattern: payee.clone(),
                category: category.into(),
                learned: true,
                created_at: Utc::now(),
            };
            sqlx::query(
                "DELETE FROM expense_rules WHERE owner = $1 AND pattern = $2 AND learned = 1",
            )
            .bind(owner)
            .bind(&payee)
            .execute(&mut *tx)
            .await?;
            insert_rule(&mut tx, owner, &rule).await?;
            refiled = sqlx::query(
                "UPDATE expense_transactions SET category = $1, filed_by = $2, confidence = 0.98, because = $3, shortlist = NULL
                 WHERE owner = $4 AND payee = $5 AND filed_by NOT IN ('person', 'rule') AND category <> $1",
            )
            .bind(category)
            .bind(CategorySource::Learned.as_str())
            .bind(format!("you filed {payee} here {corrections} times"))
            .bind(owner)
            .bind(&payee)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            learned = Some(rule);
        }
        enqueue(&mut tx, &event(&transaction, learned.is_some())).await?;
        outbox::commit(&self.db, tx).await?;
        Ok((transaction, learned, refiled))
    }

    /// The import's transactions still waiting for the model: id, description, amount, shortlist.
    pub async fn pending(
        &self,
        owner: &str,
        import_id: Uuid,
    ) -> Result<Vec<(Uuid, String, String, f64, Vec<String>)>, StoreError> {
        let rows = sqlx::query("SELECT id, description, payee, amount_cents, shortlist FROM expense_transactions WHERE import_id = $1 AND owner = $2 AND shortlist IS NOT NULL")
            .bind(import_id.to_string())
            .bind(owner)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let shortlist: String = r.try_get("shortlist")?;
                Ok((
                    uuid_of(r, "id")?,
                    r.try_get("description")?,
                    r.try_get("payee")?,
                    from_cents(r.try_get("amount_cents")?),
                    serde_json::from_str(&shortlist).map_err(|e| sqlx::Error::Decode(e.into()))?,
                ))
            })
            .collect()
    }

    /// Files a transaction the model decided, unless the person filed it meanwhile.
    pub async fn file(&self, owner: &str, id: Uuid, filed: &Filed) -> Result<(), StoreError> {
        sqlx::query("UPDATE expense_transactions SET category = $1, filed_by = $2, confidence = $3, because = $4, shortlist = NULL WHERE id = $5 AND owner = $6 AND shortlist IS NOT NULL")
            .bind(&filed.category)
            .bind(filed.by.as_str())
            .bind(filed.confidence)
            .bind(&filed.because)
            .bind(id.to_string())
            .bind(owner)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn rules(&self, owner: &str) -> Result<Vec<Rule>, StoreError> {
        let rows = sqlx::query("SELECT id, pattern, category, learned, created_at FROM expense_rules WHERE owner = $1 ORDER BY created_at, id")
            .bind(owner)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Rule {
                    id: uuid_of(r, "id")?,
                    pattern: r.try_get("pattern")?,
                    category: r.try_get("category")?,
                    learned: r.try_get::<i64, _>("learned")? == 1,
                    created_at: parse_timestamp(&r.try_get::<String, _>("created_at")?)?,
                })
            })
            .collect()
    }

    pub async fn add_rule(&self, owner: &str, rule: &Rule) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM expense_rules WHERE owner = $1 AND pattern = $2 AND learned = 0")
            .bind(owner)
            .bind(&rule.pattern)
            .execute(&mut *tx)
            .await?;
        insert_rule(&mut tx, owner, rule).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_rule(&self, owner: &str, id: Uuid) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM expense_rules WHERE id = $1 AND owner = $2")
            .bind(id.to_string())
            .bind(owner)
            .execute(self.db.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("rule"));
        }
        Ok(())
    }

    /// The payees the person filed themselves, with their embeddings.
    pub async fn examples(
        &self,
        owner: &str,
    ) -> Result<Vec<(String, String, Vec<f32>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT payee, category, vector FROM expense_payee_examples WHERE owner = $1",
        )
        .bind(owner)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let vector: String = r.try_get("vector")?;
                Ok((
                    r.try_get("payee")?,
                    r.try_get("category")?,
                    serde_json::from_str(&vector).map_err(|e| sqlx::Error::Decode(e.into()))?,
                ))
            })
            .collect()
    }

    /// The owner's budgets: category → monthly limit in dollars.
    pub async fn budgets(&self, owner: &str) -> Result<Vec<(String, f64)>, StoreError> {
        let rows = sqlx::query("SELECT category, monthly_limit_cents FROM expense_budgets WHERE owner = $1 ORDER BY category")
            .bind(owner)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("category")?,
                    from_cents(r.try_get("monthly_limit_cents")?),
                ))
            })
            .collect()
    }

    pub async fn set_budget(
        &self,
        owner: &str,
        category: &str,
        limit: f64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO expense_budgets (owner, category, monthly_limit_cents) VALUES ($1, $2, $3)
             ON CONFLICT (owner, category) DO UPDATE SET monthly_limit_cents = excluded.monthly_limit_cents",
        )
        .bind(owner)
        .bind(category)
        .bind(to_cents(limit))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn delete_budget(&self, owner: &str, category: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM expense_budgets WHERE owner = $1 AND category = $2")
            .bind(owner)
            .bind(category)
            .execute(self.db.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("budget"));
        }
        Ok(())
    }

    /// Publishes a budget's at-risk alert, once per budget and month: false if it was already.
    pub async fn alert_once(
        &self,
        owner: &str,
        category: &str,
        month: &str,
        event: &CloudEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let done = sqlx::query("INSERT INTO expense_budget_alerts (owner, category, month) VALUES ($1, $2, $3) ON CONFLICT (owner, category, month) DO NOTHING")
            .bind(owner)
            .bind(category)
            .bind(month)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        enqueue(&mut tx, event).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(true)
    }

    /// Publishes an event on its own: one derived from what is stored, not a change of it.
    pub async fn publish(&self, event: &CloudEvent) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        enqueue(&mut tx, event).await?;
        outbox::commit(&self.db, tx).await?;
        Ok(())
    }

    /// Deletes everything held of `owner`.
    pub async fn erase(&self, owner: &str) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        for table in [
            "expense_transactions",
            "expense_imports",
            "expense_rules",
            "expense_corrections",
            "expense_payee_examples",
            "expense_budgets",
            "expense_budget_alerts",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE owner = $1"))
                .bind(owner)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_rule(
    conn: &mut AnyConnection,
    owner: &str,
    rule: &Rule,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO expense_rules (id, owner, pattern, category, learned, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(rule.id.to_string())
        .bind(owner)
        .bind(&rule.pattern)
        .bind(&rule.category)
        .bind(i64::from(rule.learned))
        .bind(timestamp(rule.created_at))
        .execute(conn)
        .await?;
    Ok(())
}

async fn enqueue(conn: &mut AnyConnection, event: &CloudEvent) -> Result<(), sqlx::Error> {
    outbox::enqueue(conn, events::TOPIC, event).await
}

fn to_cents(dollars: f64) -> i64 {
    (dollars * 100.0).round() as i64
}

fn from_cents(cents: i64) -> f64 {
    cents as f64 / 100.0
}

fn uuid_of(row: &AnyRow, column: &str) -> Result<Uuid, sqlx::Error> {
    row.try_get::<String, _>(column)?
        .parse()
        .map_err(|e: uuid::Error| sqlx::Error::Decode(e.into()))
}

fn from_row(row: &AnyRow) -> Result<Transaction, sqlx::Error> {
    let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
    let by: String = row.try_get("filed_by")?;
    Ok(Transaction {
        id: uuid_of(row, "id")?,
        account: row.try_get("account")?,
        date: row
            .try_get::<String, _>("posted_on")?
            .parse()
            .map_err(|e: chrono::ParseError| decode(e.into()))?,
        description: row.try_get("description")?,
        payee: row.try_get("payee")?,
        amount: from_cents(row.try_get("amount_cents")?),
        mcc: row
            .try_get::<Option<i64>, _>("mcc")?
            .and_then(|m| u16::try_from(m).ok()),
        category: row.try_get("category")?,
        filed: Filing {
            by: CategorySource::parse(&by)
                .ok_or_else(|| decode(format!("unknown filing stage {by}").into()))?,
            confidence: row.try_get("confidence")?,
            because: row.try_get("because")?,
            pending: row.try_get::<Option<String>, _>("shortlist")?.is_some(),
        },
        import_id: uuid_of(row, "import_id")?,
    })
}
