//! HTTP API. `POST /api/v1/personalize` answers in the shape the original Miyagi UI consumed
//! (`assets.portfolio[].gptRecommendation`, `investments.portfolio[].gptRecommendation`) plus
//! the engine's numbers and the narrative; `/assets` and `/investments` serve the two halves.
//! Advice is the caller's own: another user's advice answers 404 exactly like a missing one.

use std::{convert::Infallible, sync::Arc};

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::sse::{Event, KeepAlive, Sse},
    Json,
};
use futures::{Stream, StreamExt};
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

use crate::{
    domain::Advisor,
    error::AdvisorError,
    model::{Advice, AssetsAdvice, EngineResult, InvestmentsAdvice, PersonalizeRequest},
    progress::{Progress, Step},
};

const TAG: &str = "advisor";

pub fn routes(advisor: Arc<Advisor>) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(personalize))
        .routes(routes!(personalize_stream))
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
            AdvisorError::Kernel(KernelError::RateLimited { retry_after }) => {
                Problem::too_many_requests(
                    "the model is busy writing other advice; retry shortly",
                    retry_after.unwrap_or(std::time::Duration::from_secs(10)),
                )
            }
            AdvisorError::Kernel(KernelError::UsageLimit {
                detail,
                retry_after,
            }) => Problem::too_many_requests(detail, retry_after),
            AdvisorError::Kernel(e @ KernelError::Schema { .. }) => Problem::new(
                StatusCode::BAD_GATEWAY,
                format!("the chat model's answer was unusable: {e}"),
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

/// What the stream carries, in order: `stage` events (`{"stage": "engine" | "library" |
/// "writing" | "saving"}`), `narrative` events (`{"delta": "…"}`, the narrative as the model
/// writes it), then one `advice` event (the whole advice, as `POST /personalize` returns it) or
/// one `problem` event (problem+json). The advice is stored even if the caller disconnects.
enum Streamed {
    Step(Step),
    Advice(Box<Advice>),
    Problem(Problem),
}

impl Streamed {
    fn event(self) -> Event {
        let (name, data) = match self {
            Streamed::Step(Step::Stage(stage)) => ("stage", serde_json::json!({ "stage": stage })),
            Streamed::Step(Step::Narrative(delta)) => {
                ("narrative", serde_json::json!({ "delta": delta }))
            }
            Streamed::Advice(advice) => (
                "advice",
                serde_json::to_value(advice).expect("advice serializes"),
            ),
            Streamed::Problem(problem) => (
                "problem",
                serde_json::to_value(problem).expect("problems serialize"),
            ),
        };
        Event::default().event(name).data(data.to_string())
    }
}

/// `POST /api/v1/personalize` as a server-sent event stream: progress while the engine and the
/// model work, the narrative as it is written, then the advice.
#[utoipa::path(post, path = "/api/v1/personalize/stream", tag = TAG, request_body = PersonalizeRequest,
    responses((status = 200, description = "`text/event-stream` of `stage`, `narrative`, then `advice` or `problem` events", content_type = "text/event-stream"),
              (status = 422, body = Problem)))]
async fn personalize_stream(
    State(advisor): State<Arc<Advisor>>,
    principal: Principal,
    ValidJson(request): ValidJson<PersonalizeRequest>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (steps, progress) = tokio::sync::mpsc::unbounded_channel();
    let (done, outcome) = tokio::sync::oneshot::channel();
    // Its own task, so the advice is finished and stored even if the caller goes away.
    tokio::spawn(async move {
        let result = advisor
            .personalize_watched(&principal.user_id, &request, &Progress(steps))
            .await;
        let _ = done.send(result);
    });
    // The steps end when the work drops its `Progress`, so the final event comes last.
    let steps = futures::stream::unfold(progress, |mut progress| async move {
        let step = progress.recv().await?;
        Some((Streamed::Step(step), progress))
    });
    let last = futures::stream::once(async move {
        match outcome.await {
            Ok(Ok(advice)) => Streamed::Advice(Box::new(advice)),
            Ok(Err(e)) => Streamed::Problem(e.into()),
            Err(_) => Streamed::Problem(Problem::internal("the advice task ended early")),
        }
    });
    let events = steps.chain(last).map(|streamed| Ok(streamed.event()));
    Sse::new(events).keep_alive(KeepAlive::default())
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
    #[param(minimum = 1, maximum = 100)]
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
