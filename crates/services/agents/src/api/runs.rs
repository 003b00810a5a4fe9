//! Agents, tools, plans and runs.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use miyagi_platform::{
    auth::Principal,
    http::{Problem, ValidJson},
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::TAG;
use crate::domain::Agents;
use crate::model::{Agent, Decision, NewPlan, NewRun, PlanRequest, ProposedPlan, Run, Tool};

/// The agents you can run and the inputs each takes.
#[utoipa::path(get, path = "/api/v1/agents", tag = TAG, responses((status = 200, body = [Agent])))]
pub(super) async fn agents(
    State(agents): State<Agents>,
    _principal: Principal,
) -> Json<Vec<Agent>> {
    Json(agents.agents())
}

/// The tools a plan may use; those that change something wait for your approval.
#[utoipa::path(get, path = "/api/v1/agents/tools", tag = TAG, responses((status = 200, body = [Tool])))]
pub(super) async fn tools(State(agents): State<Agents>, _principal: Principal) -> Json<Vec<Tool>> {
    Json(agents.tools())
}

/// The model proposes a plan for a goal, checked against the tools, with what must change
/// before it can run. Nothing runs: start it as a `custom` run, edited or not.
#[utoipa::path(post, path = "/api/v1/agents/plans", tag = TAG, request_body = PlanRequest,
    responses((status = 200, body = ProposedPlan), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub(super) async fn propose(
    State(agents): State<Agents>,
    _principal: Principal,
    ValidJson(request): ValidJson<PlanRequest>,
) -> Result<Json<ProposedPlan>, Problem> {
    Ok(Json(agents.propose(&request.goal).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// How many, newest first: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// Your runs, newest first, each with its step timeline.
#[utoipa::path(get, path = "/api/v1/runs", operation_id = "list_runs", tag = TAG, params(ListQuery), responses((status = 200, body = [Run])))]
pub(super) async fn list(
    State(agents): State<Agents>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Run>>, Problem> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(super::invalid("limit", "must be from 1 to 200"));
    }
    Ok(Json(agents.store.runs(&principal.user_id, limit).await?))
}

/// Start a run. Its plan is checked whole first: an unknown tool, an argument a tool does not
/// take or a reference forwards is refused (422, naming the step) before any step runs. Emits
/// `miyagi.agents.run.changed.v1`; the run then moves on step by step on its own events.
#[utoipa::path(post, path = "/api/v1/runs", operation_id = "start_run", tag = TAG, request_body = NewRun,
    responses((status = 201, body = Run), (status = 422, body = Problem)))]
pub(super) async fn create(
    State(agents): State<Agents>,
    principal: Principal,
    ValidJson(request): ValidJson<NewRun>,
) -> Result<(StatusCode, Json<Run>), Problem> {
    Ok((
        StatusCode::CREATED,
        Json(agents.create(&principal.user_id, request).await?),
    ))
}

/// A run with its step timeline: each step's arguments, output, attempts, decision and orders.
#[utoipa::path(get, path = "/api/v1/runs/{id}", operation_id = "get_run", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Run), (status = 404, body = Problem)))]
pub(super) async fn get(
    State(agents): State<Agents>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Run>, Problem> {
    Ok(Json(agents.store.run(&principal.user_id, id).await?))
}

/// Replace the plan of a run that has not started (`start: false`).
#[utoipa::path(put, path = "/api/v1/runs/{id}/plan", operation_id = "edit_run_plan", tag = TAG, params(("id" = Uuid, Path)), request_body = NewPlan,
    responses((status = 200, body = Run), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn replan(
    State(agents): State<Agents>,
    principal: Principal,
    Path(id): Path<Uuid>,
    ValidJson(plan): ValidJson<NewPlan>,
) -> Result<Json<Run>, Problem> {
    Ok(Json(
        agents.replan(&principal.user_id, id, plan.steps).await?,
    ))
}

/// Start a planned run.
#[utoipa::path(post, path = "/api/v1/runs/{id}/start", operation_id = "start_planned_run", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Run), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn start(
    State(agents): State<Agents>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Run>, Problem> {
    Ok(Json(agents.begin(&principal.user_id, id).await?))
}

/// Cancel a run that has not finished; steps not yet run never run.
#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", operation_id = "cancel_run", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Run), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn cancel(
    State(agents): State<Agents>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Run>, Problem> {
    Ok(Json(agents.cancel(&principal.user_id, id).await?))
}

/// Approve or reject the step the run waits on, perhaps with edited arguments (checked like a
/// plan's). Recorded with who and when; approved, the step runs; rejected, it never runs and
/// the run is cancelled.
#[utoipa::path(post, path = "/api/v1/runs/{id}/approvals", operation_id = "decide_on_step", tag = TAG, params(("id" = Uuid, Path)), request_body = Decision,
    responses((status = 200, body = Run), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn decide(
    State(agents): State<Agents>,
    principal: Principal,
    Path(id): Path<Uuid>,
    ValidJson(decision): ValidJson<Decision>,
) -> Result<Json<Run>, Problem> {
    let by = principal.user_id.clone();
    Ok(Json(
        agents.decide(&principal.user_id, id, decision, &by).await?,
    ))
}
