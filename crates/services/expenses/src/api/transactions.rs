//! Imports (CSV and JSON), transactions, corrections and rules.

use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    Json,
};
use chrono::NaiveDate;
use miyagi_platform::{
    auth::Principal,
    http::{Problem, ValidJson},
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{invalid, TAG};
use crate::domain::{self, csv_file, synthetic, Expenses, FileFormat, Reading};
use crate::model::{
    CsvPreview, ImportJob, ImportReport, NewRule, NewTransactions, Recategorise, Recategorised,
    Rule, Transaction,
};

/// The largest CSV file taken in one request: years of one account's statements.
const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
const DEFAULT_ACCOUNT: &str = "checking";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Account {
    /// The account the file is from (default `checking`); re-importing a file into the same
    /// account skips what is already there.
    #[param(min_length = 1, max_length = 60, pattern = r"\S")]
    account: Option<String>,
}

impl Account {
    fn name(&self) -> Result<String, Problem> {
        let name = self.account.as_deref().unwrap_or(DEFAULT_ACCOUNT).trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(invalid("account", "must be 1 to 60 characters"));
        }
        Ok(name.to_string())
    }
}

/// Reads an uploaded file's bytes; a declared length over the limit is refused before any of
/// the body is read.
async fn file_bytes(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, Problem> {
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the file is larger than {} MiB; export a shorter date range",
                MAX_FILE_BYTES >> 20
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_FILE_BYTES) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_FILE_BYTES)
        .await
        .map_err(|_| too_large())
}

fn file_problem(e: csv_file::FileError) -> Problem {
    invalid("file", e.to_string())
}

/// An OFX or QFX statement, told by its type or its opening: banks send both as text/plain too.
fn is_ofx(headers: &HeaderMap, bytes: &[u8]) -> bool {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let opening = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_uppercase();
    declared.contains("ofx")
        || declared.contains("qfx")
        || opening.starts_with("OFXHEADER")
        || opening.contains("<OFX>")
}

/// Import a bank's CSV export or OFX / QFX statement (send the file as the body, `Content-Type:
/// text/csv` or `application/x-ofx`). CSV columns are found by their header names (date,
/// description, amount, or debit and credit) or, without a header, by what the cells hold; name
/// them with the query parameters when the guess is wrong. The file is read and checked whole
/// before anything is kept: any unreadable row refuses it, each bad row named by line and column,
/// so nothing is half-imported. A sound file is stored and answered at once with `202` and the
/// import (`Location` follows it); its rows are filed and stored from the import's event
/// (`miyagi.expenses.import.received.v1`), skipping rows already imported into the account, and
/// `miyagi.expenses.transactions.imported.v1` follows.
#[utoipa::path(post, path = "/api/v1/expenses/imports", tag = TAG, params(Account, csv_file::Mapping),
    request_body(content = String, content_type = "text/csv", description = "a CSV export, or an OFX / QFX statement (`application/x-ofx`)"),
    responses((status = 202, body = ImportJob, headers(("Location" = String, description = "the import"))),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn import_file(
    State(expenses): State<Expenses>,
    principal: Principal,
    Query(account): Query<Account>,
    Query(mapping): Query<csv_file::Mapping>,
    headers: HeaderMap,
    body: Body,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        Json<ImportJob>,
    ),
    Problem,
> {
    let account = account.name()?;
    let bytes = file_bytes(&headers, body).await?;
    let reading = Reading {
        format: if is_ofx(&headers, &bytes) {
            FileFormat::Ofx
        } else {
            FileFormat::Csv
        },
        mapping,
    };
    let (rows, errors) = domain::read_file(&bytes, &reading).map_err(file_problem)?;
    if !errors.is_empty() {
        let mut problem = Problem::invalid_fields(
            errors
                .iter()
                .map(|e| miyagi_platform::http::FieldError {
                    field: format!("line {}: {}", e.line, e.column),
                    message: e.message.clone(),
                })
                .collect(),
        );
        problem.detail = Some(format!(
            "{} rows cannot be read, so nothing was imported: {}",
            errors.len(),
            problem.detail.unwrap_or_default()
        ));
        return Err(problem);
    }
    let job = expenses
        .receive(&principal.user_id, &account, &reading, rows.len(), bytes)
        .await?;
    let location = format!("/api/v1/expenses/imports/{}", job.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(job),
    ))
}

/// One of your imports: `received` while its rows are being filed and stored, then `completed`
/// with what it stored (or `failed`, saying why). `filedBy` counts the rows each stage has filed
/// so far; `pending` ones wait for the model.
#[utoipa::path(get, path = "/api/v1/expenses/imports/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = ImportJob), (status = 404, body = Problem)))]
pub(super) async fn get_import(
    State(expenses): State<Expenses>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<ImportJob>, Problem> {
    Ok(Json(
        expenses.store.import_job(&principal.user_id, id).await?,
    ))
}

/// How a CSV file would be read, without importing it: the columns found, the date format, the
/// first ten rows and every row that cannot be read.
#[utoipa::path(post, path = "/api/v1/expenses/imports/preview", tag = TAG, params(csv_file::Mapping),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = CsvPreview), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn preview_csv(
    _principal: Principal,
    Query(mapping): Query<csv_file::Mapping>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<CsvPreview>, Problem> {
    let read =
        csv_file::read(&file_bytes(&headers, body).await?, &mapping).map_err(file_problem)?;
    Ok(Json(CsvPreview {
        layout: read.layout,
        rows: read.rows.len() + read.errors.len(),
        first: read.rows.into_iter().take(10).collect(),
        errors: read.errors,
    }))
}

/// Add transactions as JSON (from an aggregator or a script); same filing and de-duplication as
/// a CSV import.
#[utoipa::path(post, path = "/api/v1/expenses/transactions", tag = TAG, request_body = NewTransactions,
    responses((status = 201, body = ImportReport), (status = 422, body = Problem)))]
pub(super) async fn add_transactions(
    State(expenses): State<Expenses>,
    principal: Principal,
    ValidJson(input): ValidJson<NewTransactions>,
) -> Result<(StatusCode, Json<ImportReport>), Problem> {
    let account = Account {
        account: input.account,
    }
    .name()?;
    let report = expenses
        .import(&principal.user_id, &account, "api", input.transactions)
        .await?;
    Ok((StatusCode::CREATED, Json(report)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Generate {
    /// Months of statements ending this month (1–24, default 6).
    #[param(minimum = 1, maximum = 24)]
    months: Option<u32>,
    /// The same seed gives the same household; random when absent.
    seed: Option<u64>,
}

/// Import a synthetic household's statements for yourself (demos and trials): salary, rent,
/// bills, subscriptions, groceries, meals out, seasonal spending and a few anomalies.
#[utoipa::path(post, path = "/api/v1/expenses/transactions/generate", tag = TAG, params(Generate),
    responses((status = 201, body = ImportReport), (status = 422, body = Problem)))]
pub(super) async fn generate_transactions(
    State(expenses): State<Expenses>,
    principal: Principal,
    Query(params): Query<Generate>,
) -> Result<(StatusCode, Json<ImportReport>), Problem> {
    let months = params.months.unwrap_or(6);
    if !(1..=24).contains(&months) {
        return Err(invalid("months", "must be between 1 and 24"));
    }
    let rows = synthetic::household(
        params.seed.unwrap_or_else(rand::random),
        months,
        chrono::Utc::now().date_naive(),
    )
    .into_iter()
    .map(|labelled| labelled.transaction)
    .collect();
    let report = expenses
        .import(&principal.user_id, DEFAULT_ACCOUNT, "synthetic", rows)
        .await?;
    Ok((StatusCode::CREATED, Json(report)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Listing {
    /// Only this month, `YYYY-MM`.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-11")]
    month: Option<String>,
    /// Only this category.
    category: Option<String>,
    /// How many to return (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    offset: Option<u32>,
}

/// Your transactions, newest first.
#[utoipa::path(get, path = "/api/v1/expenses/transactions", tag = TAG, params(Listing),
    responses((status = 200, body = [Transaction]), (status = 422, body = Problem)))]
pub(super) async fn list_transactions(
    State(expenses): State<Expenses>,
    principal: Principal,
    Query(listing): Query<Listing>,
) -> Result<Json<Vec<Transaction>>, Problem> {
    let limit = listing.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(invalid("limit", "must be between 1 and 1000"));
    }
    let (from, to) = match &listing.month {
        Some(month) => month_range(month)?,
        // Dates are compared as `YYYY-MM-DD` text, so the bounds must be written that way too.
        None => (
            NaiveDate::from_ymd_opt(1, 1, 1).expect("a date"),
            NaiveDate::from_ymd_opt(9999, 12, 31).expect("a date"),
        ),
    };
    Ok(Json(
        expenses
            .store
            .transactions(
                &principal.user_id,
                from,
                to,
                listing.category.as_deref(),
                limit,
                i64::from(listing.offset.unwrap_or(0)),
            )
            .await?,
    ))
}

/// The first and last day of `YYYY-MM`.
pub(super) fn month_range(month: &str) -> Result<(NaiveDate, NaiveDate), Problem> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map_err(|_| invalid("month", "must be a month like 2026-11"))?;
    Ok((
        first,
        first + chrono::Months::new(1) - chrono::Duration::days(1),
    ))
}

/// File a transaction under another category. The payee becomes an example the similar-payee
/// stage files by; the third correction of one payee to one category becomes a learned rule,
/// which re-files the payee's other transactions you have not filed yourself. Emits
/// `miyagi.expenses.transaction.recategorised.v1`.
#[utoipa::path(patch, path = "/api/v1/expenses/transactions/{id}", tag = TAG, params(("id" = Uuid, Path)),
    request_body = Recategorise,
    responses((status = 200, body = Recategorised), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn recategorise(
    State(expenses): State<Expenses>,
    principal: Principal,
    Path(id): Path<Uuid>,
    ValidJson(input): ValidJson<Recategorise>,
) -> Result<Json<Recategorised>, Problem> {
    Ok(Json(
        expenses
            .recategorise(&principal.user_id, id, &input.category)
            .await?,
    ))
}

/// Your rules, written and learned.
#[utoipa::path(get, path = "/api/v1/expenses/rules", tag = TAG, responses((status = 200, body = [Rule])))]
pub(super) async fn list_rules(
    State(expenses): State<Expenses>,
    principal: Principal,
) -> Result<Json<Vec<Rule>>, Problem> {
    Ok(Json(expenses.store.rules(&principal.user_id).await?))
}

/// Add a rule: descriptions that mention the pattern's words are filed under the category, before
/// any other stage. Applies to imports from now on.
#[utoipa::path(post, path = "/api/v1/expenses/rules", tag = TAG, request_body = NewRule,
    responses((status = 201, body = Rule), (status = 422, body = Problem)))]
pub(super) async fn add_rule(
    State(expenses): State<Expenses>,
    principal: Principal,
    ValidJson(input): ValidJson<NewRule>,
) -> Result<(StatusCode, Json<Rule>), Problem> {
    let rule = expenses
        .add_rule(&principal.user_id, &input.pattern, &input.category)
        .await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

#[utoipa::path(delete, path = "/api/v1/expenses/rules/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(super) async fn delete_rule(
    State(expenses): State<Expenses>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Problem> {
    expenses.store.delete_rule(&principal.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
