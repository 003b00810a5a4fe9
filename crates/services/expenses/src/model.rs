//! What the API takes and gives: transactions, imports, rules, budgets and insights. Money is in
//! dollars on the wire (negative: money out) and in cents in the tables.

use chrono::{DateTime, NaiveDate, Utc};
use miyagi_domain::expenses::CategorySource;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

/// A transaction as it came from the bank, before Miyagi filed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTransaction {
    /// The day it was posted, `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date, example = "2026-11-03")]
    pub date: NaiveDate,
    /// The bank's description of the payee, as on the statement.
    #[validate(length(min = 1, max = 200))]
    #[schema(
        min_length = 1,
        max_length = 200,
        example = "POS PURCHASE KROGER #1234 CINCINNATI OH"
    )]
    pub description: String,
    /// Dollars: negative for money out, positive for money in.
    #[validate(range(min = -1_000_000_000.0, max = 1_000_000_000.0))]
    #[schema(minimum = -1_000_000_000.0, maximum = 1_000_000_000.0, example = -54.21)]
    pub amount: f64,
    /// The merchant category code (ISO 18245), when the bank sends one.
    #[validate(range(max = 9999))]
    #[schema(maximum = 9999, example = 5411)]
    pub mcc: Option<u16>,
}

/// Transactions sent as JSON, for one of the person's accounts.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTransactions {
    /// The account they belong to (default `checking`).
    #[validate(length(min = 1, max = 60))]
    #[schema(min_length = 1, max_length = 60)]
    pub account: Option<String>,
    #[validate(length(min = 1, max = 10000), nested)]
    #[schema(min_items = 1, max_items = 10000)]
    pub transactions: Vec<NewTransaction>,
}

/// A transaction as Miyagi filed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub id: Uuid,
    pub account: String,
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    pub description: String,
    /// The payee as Miyagi recognises it across statements.
    pub payee: String,
    pub amount: f64,
    pub mcc: Option<u16>,
    pub category: String,
    pub filed: Filing,
    pub import_id: Uuid,
}

/// Why a transaction is where it is: which stage filed it, how sure it was, in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Filing {
    pub by: CategorySource,
    /// 0–1.
    pub confidence: f64,
    pub because: String,
    /// Waiting for the model, which files it shortly after the import.
    pub pending: bool,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub import_id: Uuid,
    /// New transactions stored.
    pub imported: usize,
    /// Transactions already stored by an earlier import, skipped.
    pub duplicates: usize,
    /// How many of the new ones each stage filed (`rule`, `merchant`, `similar`, …); `pending`
    /// ones are filed by the model after the answer.
    pub filed_by: std::collections::BTreeMap<String, usize>,
}

/// Where a statement file's import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Read, found sound and stored; its transactions are being filed and stored.
    Received,
    Completed,
    /// It could not be imported (`failure` says why); nothing of it was stored.
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Received, Self::Completed, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A statement file's import: answered as soon as the file is stored, completed from its event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportJob {
    pub id: Uuid,
    pub account: String,
    /// `csv`, `ofx`, `api` or `synthetic`.
    pub source: String,
    pub status: ImportStatus,
    /// Rows the file holds.
    pub rows: Option<usize>,
    /// New transactions stored, once completed.
    pub imported: usize,
    /// Rows already stored by an earlier import, skipped.
    pub duplicates: usize,
    /// How many of the new ones each stage has filed so far (`pending`: the model's, shortly).
    pub filed_by: std::collections::BTreeMap<String, usize>,
    /// Why a failed import failed.
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// How a CSV file's columns were read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CsvLayout {
    pub has_header: bool,
    pub date: String,
    pub description: String,
    /// One signed amount column, or `debit` and `credit`.
    pub amount: Option<String>,
    pub debit: Option<String>,
    pub credit: Option<String>,
    pub mcc: Option<String>,
    /// `YYYY-MM-DD`, `MM/DD/YYYY`, `DD/MM/YYYY`, `MM/DD/YY` or `DD.MM.YYYY`.
    pub date_format: String,
}

/// A look at a CSV file before importing it: how its columns were read and its first rows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CsvPreview {
    pub layout: CsvLayout,
    pub rows: usize,
    pub first: Vec<NewTransaction>,
    pub errors: Vec<RowError>,
}

/// A row the import could not read; nothing of the file is imported while any remain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RowError {
    /// The line in the file, from 1 (the header is line 1 when there is one).
    pub line: usize,
    pub column: String,
    pub message: String,
}

/// A person's rule: descriptions that mention `pattern` go to `category`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: Uuid,
    /// Upper case words matched whole and in order in the description.
    pub pattern: String,
    pub category: String,
    /// Learned from the person's corrections rather than written by them.
    pub learned: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRule {
    #[validate(length(min = 2, max = 80))]
    #[schema(min_length = 2, max_length = 80, example = "UBER EATS")]
    pub pattern: String,
    #[schema(schema_with = miyagi_domain::expenses::category_schema)]
    pub category: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Recategorise {
    #[schema(schema_with = miyagi_domain::expenses::category_schema)]
    pub category: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recategorised {
    pub transaction: Transaction,
    /// The rule learned from this correction and the earlier ones of the same payee, if any.
    pub learned_rule: Option<Rule>,
    /// Other transactions of the payee the learned rule re-filed.
    pub refiled: usize,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryInfo {
    pub id: &'static str,
    pub primary: &'static str,
    pub label: &'static str,
    pub about: &'static str,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BudgetInput {
    /// Dollars a month.
    #[validate(range(min = 1.0, max = 10_000_000.0))]
    #[schema(minimum = 1.0, maximum = 10_000_000.0, example = 600.0)]
    pub monthly_limit: f64,
}

/// A budget's month so far and where its pace leads.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetStatus {
    pub category: String,
    pub label: String,
    pub monthly_limit: f64,
    pub spent: f64,
    pub remaining: f64,
    /// At this month's pace, what the month ends at.
    pub projected: f64,
    /// `ok`, `atRisk` (the pace overshoots) or `over` (already overspent).
    pub status: &'static str,
}

/// One month's money: what came in, what went out, by category.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonthSummary {
    /// `YYYY-MM`.
    pub month: String,
    pub income: f64,
    pub spending: f64,
    /// (income − spending) / income; `null` in a month without income.
    pub savings_rate: Option<f64>,
    pub by_category: Vec<CategoryTotal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryTotal {
    pub category: String,
    pub label: String,
    pub spent: f64,
}

/// A spend far from the person's usual for its category.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Anomaly {
    pub transaction: Transaction,
    /// Robust z-score: how many scaled median absolute deviations from the median.
    pub score: f64,
    /// The category's median spend, dollars.
    pub usual: f64,
    pub because: String,
}

/// A payment that comes back on a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recurring {
    pub payee: String,
    pub category: String,
    /// `weekly`, `monthly` or `yearly`.
    pub every: &'static str,
    /// Dollars per payment (the median), negative for money out.
    pub amount: f64,
    pub occurrences: usize,
    #[schema(value_type = String, format = Date)]
    pub last: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub next: NaiveDate,
}

/// A month ahead, projected from the last three full months' habits.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForecastMonth {
    /// `YYYY-MM`.
    pub month: String,
    pub income: f64,
    /// Recurring payments falling due in the month.
    pub recurring: f64,
    /// Other spending, at its recent monthly median.
    pub other_spending: f64,
    /// income − recurring − other spending.
    pub net: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Insights {
    pub anomalies: Vec<Anomaly>,
    pub recurring: Vec<Recurring>,
    /// The next three months.
    pub forecast: Vec<ForecastMonth>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Question {
    #[validate(length(min = 3, max = 300))]
    #[schema(
        min_length = 3,
        max_length = 300,
        example = "How much did I spend on restaurants in March compared to February?"
    )]
    pub question: String,
}

/// Transactions every unit test can build from.
#[cfg(test)]
pub mod fixtures {
    use super::*;

    pub fn day(text: &str) -> NaiveDate {
        text.parse().expect("a YYYY-MM-DD date")
    }

    /// A filed transaction of `amount` dollars at `payee` on `date`.
    pub fn spend(date: &str, payee: &str, amount: f64, category: &str) -> Transaction {
        Transaction {
            id: Uuid::new_v4(),
            account: "checking".into(),
            date: day(date),
            description: payee.into(),
            payee: payee.into(),
            amount,
            mcc: None,
            category: category.into(),
            filed: Filing {
                by: CategorySource::Merchant,
                confidence: 0.9,
                because: String::new(),
                pending: false,
            },
            import_id: Uuid::nil(),
        }
    }
}
