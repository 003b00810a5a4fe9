//! HTTP API. `POST /api/v1/personalize` answers in the shape the original Miyagi UI consumed
//! (`assets.portfolio[].gptRecommendation`, `investments.portfolio[].gptRecommendation`) plus
//! the engine's numbers and the narrative; `/assets` and `/investments` serve the two halves.
//! Advice is the caller's own: another user's advice answers 404 exactly like a missing one.

use std::sync::Arc;

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use miyagi_domain::advice::AdviceTrigger;
use miyagi_kernel::KernelError;
use miyagi_platform::{
    auth::Principal,
    http::{FieldError, Problem, ValidJson},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::domain::{
    Advice, Advisor, AdvisorError, AssetsAdvice, EngineResult, InvestmentsAdvice,
    PersonalizeRequest,
};

const TAG: &str = "advisor";

pub fn routes(advisor: Arc<Advisor>) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(personalize))
        .routes(routes!(assets))
        .routes(routes!(investments))
        .routes(routes!(advice_history))
        .routes(routes!(get_advice))
        .with_state(advisor)
}

impl From<AdvisorError> for Problem {
    fn from(e: AdvisorError) -> Self {
        match e {
            AdvisorError::Invalid { field, message } => {
                Problem::invalid_fields(vec![FieldError { field, message }])
            }
            AdvisorError::NoModel => Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            AdvisorError::NotFound => Problem::not_found("advice"),
            AdvisorError::Kernel(KernelError::BadResponse(detail)) => Problem::new(
                StatusCode::BAD_GATEWAY,
                format!("the chat model's answer was unusable: {detail}"),
            ),
            e => Problem::internal(e),
        }
    }
}

/// Personalized allocation and advice: the finance engine's target, drift, per-stock actions
/// and retirement projection, explained in the voice of your favourite advisor with citations
/// from the investing library. Profile fields left out come from your stored profile. An
/// identical request is answered from its stored advice (`cached: true`).
#[utoipa::path(post, path = "/api/v1/personalize", tag = TAG, request_body = PersonalizeRequest,
    responses((status = 200, body = Advice), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn personalize(
    State(advisor): State<Arc<Advisor>>,
    principal: Principal,
    ValidJson(request): ValidJson<PersonalizeRequest>,
) -> Result<Json<Advice>, Problem> {
    let advice = advisor
        .personalize(&principal.user_id, &request, AdviceTrigger::Request, None)
        .await?;
    Ok(Json(advice))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetsResponse {
    pub advice_id: Uuid,
    pub assets: AssetsAdvice,
    pub engine: EngineResult,
    pub narrative: String,
}

/// The asset-class half of `/personalize`.
#[utoipa::path(post, path = "/api/v1/assets", tag = TAG, request_body = PersonalizeRequest,
    responses((status = 200, body = AssetsResponse), (status = 422, body = Problem)))]
async fn assets(
    State(advisor): State<Arc<Advisor>>,
    principal: Principal,
    ValidJson(request): ValidJson<PersonalizeRequest>,
) -> Result<Json<AssetsResponse>, Problem> {
    let advice = advisor
        .personalize(&principal.user_id, &request, AdviceTrigger::Request, None)
        .await?;
    Ok(Json(AssetsResponse {
        advice_id: advice.id,
        assets: advice.assets,
        engine: advice.engine,
        narrative: advice.narrative,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvestmentsResponse {
    pub advice_id: Uuid,
    pub investments: InvestmentsAdvice,
}

/// The per-stock half of `/personalize`.
#[utoipa::path(post, path = "/api/v1/investments", tag = TAG, request_body = PersonalizeRequest,
    responses((status = 200, body = InvestmentsResponse), (status = 422, body = Problem)))]
async fn investments(
    State(advisor): State<Arc<Advisor>>,
    principal: Principal,
    ValidJson(request): ValidJson<PersonalizeRequest>,
) -> Result<Json<InvestmentsResponse>, Problem> {
    let advice = advisor
        .personalize(&principal.user_id, &request, AdviceTrigger::Request, None)
        .await?;
    Ok(Json(InvestmentsResponse {
        advice_id: advice.id,
        investments: advice.investments,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
struct HistoryQuery {
    /// Only advice for this profile.
    user_id: Option<Uuid>,
    /// How many to return (1–100, default 20).
    limit: Option<u32>,
}

/// Your advice, newest first: every request and every background refresh.
#[utoipa::path(get, path = "/api/v1/advice", tag = TAG, params(HistoryQuery),
    responses((status = 200, body = [Advice]), (status = 422, body = Problem)))]
async fn advice_history(
    State(advisor): State<Arc<Advisor>>,
    principal: Principal,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Vec<Advice>>, Problem> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AdvisorError::Invalid {
            field: "limit".into(),
            message: "must be between 1 and 100".into(),
        }
        .into());
    }
    let history = advisor
        .store()
        .history(&principal.user_id, query.user_id, limit)
        .await
        .map_err(AdvisorError::from)?;
    Ok(Json(history))
}

/// One piece of your advice.
#[utoipa::path(get, path = "/api/v1/advice/{id}", tag = TAG,
    responses((status = 200, body = Advice), (status = 404, body = Problem)))]
async fn get_advice(
    State(advisor): State<Arc<Advisor>>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Advice>, Problem> {
    advisor
        .store()
        .get(&principal.user_id, id)
        .await
        .map_err(AdvisorError::from)?
        .map(Json)
        .ok_or_else(|| AdvisorError::NotFound.into())
}
