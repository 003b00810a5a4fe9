//! HTTP API under `/api/v1/expenses`: imports and transactions (`transactions.rs`), and what
//! they add up to (`insights.rs`). Every route acts on the caller's own data only; another
//! person's transaction answers 404 exactly like a missing one.

mod insights;
mod transactions;

use axum::http::StatusCode;
use miyagi_kernel::KernelError;
use miyagi_platform::http::{FieldError, Problem};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::{Expenses, ExpensesError};
use crate::store::StoreError;

const TAG: &str = "expenses";

pub fn routes(expenses: Expenses) -> OpenApiRouter {
    OpenApiRouter::new()
        // Both read their body themselves, up to `transactions::MAX_FILE_BYTES`.
        .routes(routes!(transactions::import_file))
        .routes(routes!(transactions::get_import))
        .routes(routes!(transactions::preview_csv))
        .routes(routes!(
            transactions::list_transactions,
            transactions::add_transactions
        ))
        .routes(routes!(transactions::generate_transactions))
        .routes(routes!(transactions::recategorise))
        .routes(routes!(transactions::list_rules, transactions::add_rule))
        .routes(routes!(transactions::delete_rule))
        .routes(routes!(insights::categories))
        .routes(routes!(insights::summary))
        .routes(routes!(insights::list_budgets))
        .routes(routes!(insights::set_budget, insights::delete_budget))
        .routes(routes!(insights::insights))
        .routes(routes!(insights::ask))
        .with_state(expenses)
}

impl From<ExpensesError> for Problem {
    fn from(e: ExpensesError) -> Self {
        match e {
            ExpensesError::Store(e) => e.into(),
            ExpensesError::UnknownCategory(_) => invalid("category", e.to_string()),
            ExpensesError::Model(KernelError::RateLimited { retry_after }) => {
                Problem::too_many_requests(
                    "the embedding model is busy; retry shortly",
                    retry_after.unwrap_or(std::time::Duration::from_secs(5)),
                )
            }
            ExpensesError::Model(e) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the embedding model failed: {e}"),
            ),
            ExpensesError::Blob(e) => {
                tracing::error!(error = %e, "blob storage failed");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the file could not be stored; try again shortly",
                )
            }
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Problem::not_found(what),
            StoreError::Database(e) => Problem::database(&e),
        }
    }
}

/// A 422 naming the one field that is wrong.
fn invalid(field: &str, message: impl Into<String>) -> Problem {
    Problem::invalid_fields(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}
