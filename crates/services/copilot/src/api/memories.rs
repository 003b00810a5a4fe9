//! What the copilot remembers of you: listed, corrected and forgotten.

use std::sync::Arc;

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
use crate::{
    domain::Copilot,
    model::{Memory, MemoryChange},
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(super) struct MemoryFilter {
    /// Only the memories said in this chat.
    chat_id: Option<Uuid>,
}

/// Your memories, newest first: facts, preferences and goals (long-term, used in every chat)
/// and the context of each chat (working memory, used in that chat only).
#[utoipa::path(get, path = "/api/v1/memories", tag = TAG, params(MemoryFilter),
    responses((status = 200, body = [Memory])))]
pub(super) async fn list_memories(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    Query(filter): Query<MemoryFilter>,
) -> Result<Json<Vec<Memory>>, Problem> {
    Ok(Json(
        copilot
            .store()
            .memories(&principal.user_id, filter.chat_id)
            .await?,
    ))
}

/// Correct a memory's text or kind; emits `miyagi.memory.updated.v1`.
#[utoipa::path(patch, path = "/api/v1/memories/{id}", tag = TAG, request_body = MemoryChange,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Memory), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn update_memory(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    Path(id): Path<Uuid>,
    ValidJson(change): ValidJson<MemoryChange>,
) -> Result<Json<Memory>, Problem> {
    Ok(Json(
        copilot
            .update_memory(&principal.user_id, id, change.text, change.kind)
            .await?,
    ))
}

/// Forget a memory, its vector with it; emits `miyagi.memory.deleted.v1`.
#[utoipa::path(delete, path = "/api/v1/memories/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(super) async fn delete_memory(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Problem> {
    copilot
        .store()
        .delete_memory(&principal.user_id, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
