//! The operator API, `/api/v1/admin/...`, for callers in `auth.admins`: the dead letters of every
//! service in this process, and sending one again once its cause is fixed (`miyagi events dlq`);
//! a consistent backup of an embedded data dir (`miyagi backup`).

use std::{path::PathBuf, sync::Arc};

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    backup::{self, Backup},
    db::Db,
    events::{
        dead_letters::{self, DeadLetter, RedriveError},
        PauseGate,
    },
    http::{Admin, FieldError, Problem},
};

const TAG: &str = "admin";

/// The services of this process that keep a database, by name.
type Stores = Arc<Vec<(&'static str, Db)>>;

/// What a backup needs: the embedded data dir, and the gate that holds its backbone still.
#[derive(Clone)]
pub(crate) struct Backups {
    pub(crate) data_dir: PathBuf,
    pub(crate) gate: PauseGate,
}

/// `backups` is `None` in distributed mode, whose databases and broker have their own backups.
pub(crate) fn routes(stores: Vec<(&'static str, Db)>, backups: Option<Backups>) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_dead_letters))
        .routes(routes!(get_dead_letter))
        .routes(routes!(redrive_dead_letter))
        .with_state(Arc::new(stores))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(take_backup))
                .with_state(backups),
        )
}

/// Back up the embedded data dir while Miyagi runs: its databases, copied consistently, and its
/// blobs, into `<data_dir>/backups/<time>/` (`miyagi restore` puts one back).
#[utoipa::path(post, path = "/api/v1/admin/backups", tag = TAG,
    responses((status = 201, body = Backup), (status = 403, body = Problem),
              (status = 409, body = Problem), (status = 503, body = Problem)))]
async fn take_backup(
    _: Admin,
    State(backups): State<Option<Backups>>,
) -> Result<(StatusCode, Json<Backup>), Problem> {
    let Some(backups) = backups else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "this process runs on PostgreSQL or Kafka: back those up with their own tools (pg_dump, a Kafka mirror)",
        ));
    };
    match backup::take(&backups.data_dir, &backups.gate).await {
        Ok(taken) => Ok((StatusCode::CREATED, Json(taken))),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "backup failed");
            Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the backup failed: {e:#}"),
            ))
        }
    }
}

/// A dead letter and the service whose consumer parked it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ServiceDeadLetter {
    service: &'static str,
    #[serde(flatten)]
    letter: DeadLetter,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct DeadLetterList {
    dead_letters: Vec<ServiceDeadLetter>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Only this service's dead letters.
    service: Option<String>,
    /// How many, newest first (1–500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Dead letters of every service in this process, newest first.
#[utoipa::path(get, path = "/api/v1/admin/dead-letters", tag = TAG, params(ListQuery),
    responses((status = 200, body = DeadLetterList), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
async fn list_dead_letters(
    _: Admin,
    State(stores): State<Stores>,
    Query(query): Query<ListQuery>,
) -> Result<Json<DeadLetterList>, Problem> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::invalid_fields(vec![FieldError {
            field: "limit".into(),
            message: "must be a number from 1 to 500".into(),
        }]));
    }
    if let Some(wanted) = &query.service {
        if !stores.iter().any(|(name, _)| name == wanted) {
            let names: Vec<&str> = stores.iter().map(|(name, _)| *name).collect();
            return Err(Problem::invalid_fields(vec![FieldError {
                field: "service".into(),
                message: format!(
                    "must be one of this process's services: {}",
                    names.join(", ")
                ),
            }]));
        }
    }
    let mut all = Vec::new();
    for (service, db) in stores
        .iter()
        .filter(|(name, _)| query.service.as_deref().is_none_or(|s| s == *name))
    {
        all.extend(
            dead_letters::list(db, limit)
                .await?
                .into_iter()
                .map(|letter| ServiceDeadLetter { service, letter }),
        );
    }
    all.sort_by_key(|entry| std::cmp::Reverse(entry.letter.dead_at));
    all.truncate(limit as usize);
    Ok(Json(DeadLetterList { dead_letters: all }))
}

/// One dead letter with its record.
#[utoipa::path(get, path = "/api/v1/admin/dead-letters/{id}", tag = TAG,
    responses((status = 200, body = ServiceDeadLetter), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
async fn get_dead_letter(
    _: Admin,
    State(stores): State<Stores>,
    Path(id): Path<String>,
) -> Result<Json<ServiceDeadLetter>, Problem> {
    let (service, _, letter) = find(&stores, &id).await?;
    Ok(Json(ServiceDeadLetter { service, letter }))
}

/// Publish a dead letter's event again (its id unchanged, so groups that handled it ignore it).
#[utoipa::path(post, path = "/api/v1/admin/dead-letters/{id}/redrive", tag = TAG,
    responses((status = 202, body = ServiceDeadLetter), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn redrive_dead_letter(
    _: Admin,
    State(stores): State<Stores>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ServiceDeadLetter>), Problem> {
    let (service, db, _) = find(&stores, &id).await?;
    match dead_letters::redrive(db, &id).await {
        Ok(letter) => Ok((
            StatusCode::ACCEPTED,
            Json(ServiceDeadLetter { service, letter }),
        )),
        Err(RedriveError::NotFound) => Err(Problem::not_found("dead letter")),
        Err(e @ (RedriveError::NotAnEvent(_) | RedriveError::AlreadyQueued)) => {
            Err(Problem::new(StatusCode::CONFLICT, e.to_string()))
        }
        Err(RedriveError::Database(e)) => Err(Problem::from(e)),
    }
}

/// The letter `id` with the service and database that hold it.
async fn find<'a>(
    stores: &'a Stores,
    id: &str,
) -> Result<(&'static str, &'a Db, DeadLetter), Problem> {
    for (service, db) in stores.iter() {
        if let Some(letter) = dead_letters::get(db, id).await? {
            return Ok((service, db, letter));
        }
    }
    Err(Problem::not_found("dead letter"))
}
