//! The service's decisions: importing (fingerprint, file, store), correcting and learning from
//! it, the model's turn for payees nothing else recognised, and budgets checked as money moves.

mod asking;
mod catalogue;
pub mod categorise;
pub mod csv_file;
mod file_import;
pub mod insights;
pub mod merchants;
pub mod ofx_file;
pub mod payee;
pub mod question;
pub mod synthetic;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Utc};
use miyagi_domain::expenses::{
    category, BudgetAtRisk, SpendingSummarised, TransactionRecategorised, TransactionsImported,
};
use miyagi_kernel::{
    ChatMessage, ChatRequest, EmbeddingModel, ExecutionSettings, Kernel, KernelError,
};
use miyagi_platform::blob::BlobStore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::events;
use crate::model::{BudgetStatus, ImportReport, NewTransaction, Recategorised, Rule};
use crate::store::{Batch, ExpensesStore, Filable, StoreError};
use catalogue::Catalogue;
use categorise::{Example, ExampleKind, Filed, Nearest};
pub use file_import::{read_file, FileFormat, Reading};

/// Corrections of one payee to one category that make a rule.
pub const LEARN_AFTER: i64 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ExpensesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the embedding model failed: {0}")]
    Model(#[from] KernelError),
    #[error("`{0}` is not a category; GET /api/v1/expenses/categories lists them")]
    UnknownCategory(String),
    #[error("blob storage failed: {0}")]
    Blob(#[from] object_store::Error),
}

#[derive(Clone)]
pub struct Expenses {
    pub store: ExpensesStore,
    /// Statement files between arriving and being imported.
    blob: BlobStore,
    embedder: Arc<dyn EmbeddingModel>,
    /// What chooses a category when nothing cheaper could; `None`: such payees stay uncategorised.
    kernel: Option<Kernel>,
    catalogue: Arc<tokio::sync::OnceCell<Catalogue>>,
}

impl Expenses {
    pub fn new(
        store: ExpensesStore,
        blob: BlobStore,
        embedder: Arc<dyn EmbeddingModel>,
        kernel: Option<Kernel>,
    ) -> Self {
        Self {
            store,
            blob,
            embedder,
            kernel,
            catalogue: Arc::default(),
        }
    }

    /// Files and stores `rows` for `owner` as a new import; rows stored by an earlier import are
    /// skipped. Payees nothing recognised are filed by the model after this returns (the import's
    /// event starts it).
    pub async fn import(
        &self,
        owner: &str,
        account: &str,
        source: &str,
        rows: Vec<NewTransaction>,
    ) -> Result<ImportReport, ExpensesError> {
        let batch = Batch {
            owner,
            id: Uuid::now_v7(),
            account,
            source,
        };
        self.import_batch(&batch, rows).await
    }

    /// [`Expenses::import`] under the batch's import id: a received file's, or a new one.
    async fn import_batch(
        &self,
        batch: &Batch<'_>,
        rows: Vec<NewTransaction>,
    ) -> Result<ImportReport, ExpensesError> {
        let Batch {
            owner,
            id: import_id,
            account,
            ..
        } = *batch;
        let rules = self.store.rules(owner).await?;
        let mut filable = Vec::with_capacity(rows.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut unknown: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, transaction) in rows.into_iter().enumerate() {
            let payee = payee::key(&transaction.description);
            let base = fingerprint(account, &transaction);
            // The n-th identical row of a file is the n-th on every re-import of it too: two
            // coffees of the same price on one day are two rows, and stay two.
            let nth = seen
                .entry(base.clone())
                .and_modify(|n| *n += 1)
                .or_insert(0);
            let filed =
                categorise::by_rules(&transaction.description, &payee, transaction.mcc, &rules);
            // A description without letters ("#1234") has no payee to compare: it stays unknown.
            if filed.is_none() && !payee.is_empty() {
                unknown.entry(payee.clone()).or_default().push(i);
            }
            filable.push(Filable {
                fingerprint: format!("{base}:{nth}"),
                payee,
                filed: filed.unwrap_or_else(Filed::unknown),
                shortlist: None,
                transaction,
            });
        }
        if !unknown.is_empty() {
            let examples = self.examples(owner).await?;
            let keys: Vec<String> = unknown.keys().cloned().collect();
            let vectors = self.embedder.embed(&keys).await?;
            for (key, vector) in keys.iter().zip(vectors) {
                let decided = categorise::nearest(&vector, &examples);
                for &i in &unknown[key] {
                    match &decided {
                        Nearest::Filed(filed) => filable[i].filed = filed.clone(),
                        Nearest::Shortlist(list) if self.kernel.is_some() => {
                            filable[i].shortlist = Some(list.clone())
                        }
                        Nearest::Shortlist(_) => {}
                    }
                }
            }
        }
        let stored = self
            .store
            .import(batch, &filable, |imported, duplicates| {
                events::imported(&TransactionsImported {
                    owner: owner.into(),
                    import_id,
                    imported: imported.len(),
                    duplicates,
                    pending: imported
                        .iter()
                        .filter(|&&i| filable[i].shortlist.is_some())
                        .count(),
                })
            })
            .await?;
        let mut filed_by = BTreeMap::new();
        for &i in &stored.imported {
            let stage = if filable[i].shortlist.is_some() {
                "pending"
            } else {
                filable[i].filed.by.as_str()
            };
            *filed_by.entry(stage.to_string()).or_insert(0) += 1;
        }
        self.check_budgets(owner, Utc::now().date_naive()).await?;
        self.publish_summary(owner, Utc::now().date_naive()).await?;
        Ok(ImportReport {
            import_id,
            imported: stored.imported.len(),
            duplicates: stored.duplicates,
            filed_by,
        })
    }

    /// The model's turn: each payee of the import still waiting is filed under the category the
    /// model picks from its shortlist (the categories nearest in meaning), once per payee.
    pub async fn file_pending(&self, owner: &str, import_id: Uuid) -> Result<usize, ExpensesError> {
        let Some(kernel) = &self.kernel else {
            return Ok(0);
        };
        let pending = self.store.pending(owner, import_id).await?;
        let mut decided: HashMap<String, Filed> = HashMap::new();
        for (id, description, payee, amount, shortlist) in &pending {
            if !decided.contains_key(payee) {
                let filed = match catalogue::choose(
                    &kernel.for_user(owner),
                    description,
                    *amount,
                    shortlist,
                )
                .await
                {
                    Ok(filed) => filed,
                    Err(error) => {
                        tracing::warn!(%error, "the model could not file a payee; it stays uncategorised");
                        Filed::unknown()
                    }
                };
                decided.insert(payee.clone(), filed);
            }
            self.store.file(owner, *id, &decided[payee]).await?;
        }
        Ok(pending.len())
    }

    /// Files one transaction where the person says; see [`ExpensesStore::recategorise`].
    pub async fn recategorise(
        &self,
        owner: &str,
        id: Uuid,
        to: &str,
    ) -> Result<Recategorised, ExpensesError> {
        if category(to).is_none() {
            return Err(ExpensesError::UnknownCategory(to.into()));
        }
        let before = self.store.transaction(owner, id).await?;
        let text = if before.payee.is_empty() {
            before.description.clone()
        } else {
            before.payee.clone()
        };
        let vector = self.embedder.embed(&[text]).await?.remove(0);
        let (transaction, learned_rule, refiled) = self
            .store
            .recategorise(owner, id, to, &vector, LEARN_AFTER, |t, learned_rule| {
                events::recategorised(&TransactionRecategorised {
                    owner: owner.into(),
                    transaction_id: t.id,
                    payee_key: t.payee.clone(),
                    from: before.category.clone(),
                    to: to.into(),
                    learned_rule,
                })
            })
            .await?;
        Ok(Recategorised {
            transaction,
            learned_rule,
            refiled: refiled as usize,
        })
    }

    pub async fn add_rule(
        &self,
        owner: &str,
        pattern: &str,
        to: &str,
    ) -> Result<Rule, ExpensesError> {
        if category(to).is_none() {
            return Err(ExpensesError::UnknownCategory(to.into()));
        }
        let rule = Rule {
            id: Uuid::now_v7(),
            pattern: payee::upper(pattern)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            category: to.into(),
            learned: false,
            created_at: Utc::now(),
        };
        self.store.add_rule(owner, &rule).await?;
        Ok(rule)
    }

    /// Every budget's month containing `day`, with the pace as of `today`.
    pub async fn budgets(
        &self,
        owner: &str,
        day: NaiveDate,
        today: NaiveDate,
    ) -> Result<Vec<BudgetStatus>, ExpensesError> {
        let budgets = self.store.budgets(owner).await?;
        if budgets.is_empty() {
            return Ok(vec![]);
        }
        let first = day.with_day(1).expect("day 1");
        let last = first + chrono::Months::new(1) - chrono::Duration::days(1);
        let month = self
            .store
            .transactions(owner, first, last, None, i64::MAX, 0)
            .await?;
        Ok(budgets
            .into_iter()
            .map(|(category, limit)| {
                let spent: f64 = month
                    .iter()
                    .filter(|t| t.category == category)
                    .map(|t| -t.amount)
                    .sum();
                insights::budget(&category, limit, spent.max(0.0), first, today)
            })
            .collect())
    }

    /// Publishes an alert for each budget this month's pace overshoots, once per month.
    pub async fn check_budgets(&self, owner: &str, today: NaiveDate) -> Result<(), ExpensesError> {
        let month = insights::month_of(today);
        for status in self.budgets(owner, today, today).await? {
            if status.status == "ok" {
                continue;
            }
            let event = events::budget_at_risk(&BudgetAtRisk {
                owner: owner.into(),
                category: status.category.clone(),
                month: month.clone(),
                limit: status.monthly_limit,
                spent: status.spent,
                projected: status.projected,
            });
            self.store
                .alert_once(owner, &status.category, &month, &event)
                .await?;
        }
        Ok(())
    }

    /// Publishes the person's usual month: income and spending averaged over the last (up to)
    /// three full months before `today`'s that hold transactions. Nothing when none do.
    pub async fn publish_summary(
        &self,
        owner: &str,
        today: NaiveDate,
    ) -> Result<(), ExpensesError> {
        let this_month = today.with_day(1).expect("day 1");
        let from = this_month - chrono::Months::new(3);
        let before = this_month - chrono::Duration::days(1);
        let transactions = self
            .store
            .transactions(owner, from, before, None, i64::MAX, 0)
            .await?;
        let months = insights::months(&transactions);
        if months.is_empty() {
            return Ok(());
        }
        let count = months.len() as f64;
        let summary = SpendingSummarised {
            owner: owner.into(),
            monthly_income: (months.iter().map(|m| m.income).sum::<f64>() / count * 100.0).round()
                / 100.0,
            monthly_spending: (months.iter().map(|m| m.spending).sum::<f64>() / count * 100.0)
                .round()
                / 100.0,
            months: months.len() as u32,
            as_of: Utc::now(),
        };
        self.store
            .publish(&events::spending_summarised(&summary))
            .await?;
        Ok(())
    }

    /// After an account's erasure: a summary of nothing, so whoever kept a copy forgets it.
    pub async fn publish_forgotten(&self, owner: &str) -> Result<(), ExpensesError> {
        let nothing = SpendingSummarised {
            owner: owner.into(),
            monthly_income: 0.0,
            monthly_spending: 0.0,
            months: 0,
            as_of: Utc::now(),
        };
        self.store
            .publish(&events::spending_summarised(&nothing))
            .await?;
        Ok(())
    }

    /// Stage 5's examples: the person's own filed payees, then what Miyagi knows.
    async fn examples(&self, owner: &str) -> Result<Vec<Example>, ExpensesError> {
        let catalogue = self
            .catalogue
            .get_or_try_init(|| Catalogue::embed(self.embedder.as_ref()))
            .await?;
        let mut examples: Vec<Example> = self
            .store
            .examples(owner)
            .await?
            .into_iter()
            .map(|(text, category, vector)| Example {
                text,
                category,
                kind: ExampleKind::Person,
                vector,
            })
            .collect();
        examples.extend(catalogue.examples.iter().cloned());
        Ok(examples)
    }
}

/// Asks the model, from `messages` (worked examples first), for one JSON field shaped as
/// `property`, written deterministically under that schema: the field's value.
async fn one_field(
    kernel: &Kernel,
    messages: Vec<ChatMessage>,
    max_tokens: u32,
    field: &str,
    property: serde_json::Value,
) -> Result<serde_json::Value, KernelError> {
    let request = ChatRequest {
        messages,
        settings: ExecutionSettings {
            max_tokens: Some(max_tokens),
            temperature: Some(0.0),
            ..ExecutionSettings::default()
        },
        ..ChatRequest::default()
    };
    let schema = serde_json::json!({
        "type": "object",
        "properties": {field: property},
        "required": [field],
        "additionalProperties": false
    });
    let mut answer = kernel.structured_value(request, field, schema, 2).await?;
    Ok(answer[field].take())
}

/// Account, day, cents and the description as written: the same bank row gives the same hash.
fn fingerprint(account: &str, t: &NewTransaction) -> String {
    let mut hash = Sha256::new();
    for part in [
        account,
        &t.date.to_string(),
        &((t.amount * 100.0).round() as i64).to_string(),
        t.description.trim(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0x1f]);
    }
    hex::encode(&hash.finalize()[..16])
}
