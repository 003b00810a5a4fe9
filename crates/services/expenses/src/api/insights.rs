//! Categories, monthly summaries, budgets and insights: numbers computed from the person's
//! transactions, never written by a model.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use chrono::{Datelike, NaiveDate, Utc};
use miyagi_domain::expenses::{category, CATEGORIES};
use miyagi_platform::{
    auth::Principal,
    http::{Problem, ValidJson},
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{invalid, transactions::month_range, TAG};
use crate::domain::{insights as compute, question, Expenses};
use crate::model::{BudgetInput, BudgetStatus, CategoryInfo, Insights, MonthSummary, Question};

/// The categories transactions are filed under (Plaid's taxonomy: primary and detailed).
#[utoipa::path(get, path = "/api/v1/expenses/categories", tag = TAG, responses((status = 200, body = [CategoryInfo])))]
pub(super) async fn categories(_principal: Principal) -> Json<Vec<CategoryInfo>> {
    Json(
        CATEGORIES
            .iter()
            .map(|c| CategoryInfo {
                id: c.id,
                primary: c.primary,
                label: c.label,
                about: c.about,
            })
            .collect(),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Months {
    /// How many months back from this one (1–36, default 6).
    #[param(minimum = 1, maximum = 36)]
    months: Option<u32>,
}

/// Income, spending by category and savings rate for each of your recent months, oldest first.
#[utoipa::path(get, path = "/api/v1/expenses/summary", tag = TAG, params(Months),
    responses((status = 200, body = [MonthSummary]), (status = 422, body = Problem)))]
pub(super) async fn summary(
    State(expenses): State<Expenses>,
    principal: Principal,
    Query(params): Query<Months>,
) -> Result<Json<Vec<MonthSummary>>, Problem> {
    let months = params.months.unwrap_or(6);
    if !(1..=36).contains(&months) {
        return Err(invalid("months", "must be between 1 and 36"));
    }
    let today = Utc::now().date_naive();
    let from = today.with_day(1).expect("day 1") - chrono::Months::new(months - 1);
    let transactions = expenses
        .store
        .transactions(&principal.user_id, from, today, None, i64::MAX, 0)
        .await?;
    Ok(Json(compute::months(&transactions)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Month {
    /// The month, `YYYY-MM` (default this one).
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-11")]
    month: Option<String>,
}

impl Month {
    fn first_day(&self) -> Result<NaiveDate, Problem> {
        match &self.month {
            Some(month) => Ok(month_range(month)?.0),
            None => Ok(Utc::now().date_naive().with_day(1).expect("day 1")),
        }
    }
}

/// Your budgets for a month: spent, remaining, and where this month's pace leads.
#[utoipa::path(get, path = "/api/v1/expenses/budgets", tag = TAG, params(Month),
    responses((status = 200, body = [BudgetStatus]), (status = 422, body = Problem)))]
pub(super) async fn list_budgets(
    State(expenses): State<Expenses>,
    principal: Principal,
    Query(month): Query<Month>,
) -> Result<Json<Vec<BudgetStatus>>, Problem> {
    let day = month.first_day()?;
    Ok(Json(
        expenses
            .budgets(&principal.user_id, day, Utc::now().date_naive())
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct CategoryPath {
    /// One of `/api/v1/expenses/categories`.
    #[param(schema_with = miyagi_domain::expenses::category_schema)]
    category: String,
}

/// Set a category's monthly budget. When this month's pace overshoots it, Miyagi emits
/// `miyagi.expenses.budget.at_risk.v1` (once a month).
#[utoipa::path(put, path = "/api/v1/expenses/budgets/{category}", tag = TAG, params(CategoryPath),
    request_body = BudgetInput,
    responses((status = 200, body = [BudgetStatus]), (status = 422, body = Problem)))]
pub(super) async fn set_budget(
    State(expenses): State<Expenses>,
    principal: Principal,
    Path(CategoryPath { category: id }): Path<CategoryPath>,
    ValidJson(input): ValidJson<BudgetInput>,
) -> Result<Json<Vec<BudgetStatus>>, Problem> {
    if category(&id).is_none() {
        return Err(invalid(
            "category",
            format!("`{id}` is not a category; GET /api/v1/expenses/categories lists them"),
        ));
    }
    expenses
        .store
        .set_budget(&principal.user_id, &id, input.monthly_limit)
        .await?;
    let today = Utc::now().date_naive();
    expenses.check_budgets(&principal.user_id, today).await?;
    Ok(Json(
        expenses.budgets(&principal.user_id, today, today).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/expenses/budgets/{category}", tag = TAG, params(CategoryPath),
    responses((status = 204), (status = 404, body = Problem)))]
pub(super) async fn delete_budget(
    State(expenses): State<Expenses>,
    principal: Principal,
    Path(CategoryPath { category: id }): Path<CategoryPath>,
) -> Result<StatusCode, Problem> {
    expenses
        .store
        .delete_budget(&principal.user_id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Spends far from your usual for their category in a month (robust z-score over the half-year
/// before), the payments that recur, and the next three months projected from your habits.
#[utoipa::path(get, path = "/api/v1/expenses/insights", tag = TAG, params(Month),
    responses((status = 200, body = Insights), (status = 422, body = Problem)))]
pub(super) async fn insights(
    State(expenses): State<Expenses>,
    principal: Principal,
    Query(month): Query<Month>,
) -> Result<Json<Insights>, Problem> {
    let first = month.first_day()?;
    let last = first + chrono::Months::new(1) - chrono::Duration::days(1);
    let from = first - chrono::Months::new(6);
    let transactions = expenses
        .store
        .transactions(&principal.user_id, from, last, None, i64::MAX, 0)
        .await?;
    let mut anomalies = compute::anomalies(&transactions, first);
    anomalies.retain(|a| a.transaction.date <= last);
    Ok(Json(Insights {
        anomalies,
        recurring: compute::recurring(&transactions),
        forecast: compute::forecast(&transactions, Utc::now().date_naive().min(last), 3),
    }))
}

/// Ask about your spending in plain language ("How much did I spend on restaurants in March
/// compared to February?"). The question is read into a typed query (by rules; a category named
/// in other words, "eating out", is found by meaning and the sentence says how it was read), the
/// figures are summed from your transactions, and the sentence is written around them; a
/// question that cannot be read is answered with what can be asked (`query` is then `null`).
#[utoipa::path(post, path = "/api/v1/expenses/questions", operation_id = "ask_about_spending", tag = TAG, request_body = Question,
    responses((status = 200, body = question::Answer), (status = 422, body = Problem)))]
pub(super) async fn ask(
    State(expenses): State<Expenses>,
    principal: Principal,
    ValidJson(input): ValidJson<Question>,
) -> Result<Json<question::Answer>, Problem> {
    Ok(Json(
        expenses
            .ask(&principal.user_id, &input.question, Utc::now().date_naive())
            .await?,
    ))
}
