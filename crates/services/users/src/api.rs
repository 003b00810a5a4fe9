//! HTTP API: `/api/v1/userprofile` and `/api/v1/account`. Every route acts on the caller's own
//! profiles only; another user's profile answers 404 exactly like a missing one, so ids cannot
//! be probed.

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use miyagi_domain::user::{UserProfile, UserProfileInput};
use miyagi_platform::{
    auth::Principal,
    http::{FieldError, Problem, ValidJson},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    domain::synthetic_profiles,
    store::{StoreError, UserStore},
};

const TAG: &str = "users";

pub fn routes(store: UserStore) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_profiles, create_profile))
        .routes(routes!(get_profile, update_profile, delete_profile))
        .routes(routes!(generate_profiles))
        .routes(routes!(delete_account))
        .with_state(store)
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Problem::not_found("profile"),
            StoreError::VersionMismatch { current } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                format!("the profile changed since you read it (now version {current}); re-read it and retry"),
            ),
            StoreError::Database(e) => Problem::from(e),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Page {
    /// How many profiles to return (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// How many to skip.
    offset: Option<u32>,
}

/// List your profiles, oldest first.
#[utoipa::path(get, path = "/api/v1/userprofile", tag = TAG, params(Page),
    responses((status = 200, body = [UserProfile]), (status = 422, body = Problem)))]
async fn list_profiles(
    State(store): State<UserStore>,
    principal: Principal,
    Query(page): Query<Page>,
) -> Result<Json<Vec<UserProfile>>, Problem> {
    let limit = in_range("limit", page.limit.unwrap_or(50), 1..=200)?;
    Ok(Json(
        store
            .list(&principal.user_id, limit, page.offset.unwrap_or(0))
            .await?,
    ))
}

/// Create a profile; emits `miyagi.user.profile.created.v1`.
#[utoipa::path(post, path = "/api/v1/userprofile", tag = TAG, request_body = UserProfileInput,
    responses((status = 201, body = UserProfile, headers(("Location"), ("ETag"))),
              (status = 400, body = Problem), (status = 422, body = Problem)))]
async fn create_profile(
    State(store): State<UserStore>,
    principal: Principal,
    ValidJson(input): ValidJson<UserProfileInput>,
) -> Result<Response, Problem> {
    let profile = store.create(&principal.user_id, input).await?;
    let location = format!("/api/v1/userprofile/{}", profile.id);
    let mut response = with_etag(StatusCode::CREATED, profile);
    response.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("ascii path"),
    );
    Ok(response)
}

/// Read one of your profiles.
#[utoipa::path(get, path = "/api/v1/userprofile/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = UserProfile, headers(("ETag"))), (status = 404, body = Problem)))]
async fn get_profile(
    State(store): State<UserStore>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Response, Problem> {
    Ok(with_etag(
        StatusCode::OK,
        store.get(&principal.user_id, id).await?,
    ))
}

/// Replace one of your profiles; emits `miyagi.user.profile.updated.v1`. Send `If-Match` with
/// the ETag you read to refuse the write if someone changed the profile meanwhile.
#[utoipa::path(put, path = "/api/v1/userprofile/{id}", tag = TAG, request_body = UserProfileInput,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^[ \t]*(\*|(W/)?"*[+-]?[0-9]{1,18}"*)[ \t]*$"#)),
    responses((status = 200, body = UserProfile, headers(("ETag"))), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn update_profile(
    State(store): State<UserStore>,
    principal: Principal,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ValidJson(input): ValidJson<UserProfileInput>,
) -> Result<Response, Problem> {
    let expected = if_match(&headers)?;
    Ok(with_etag(
        StatusCode::OK,
        store
            .update(&principal.user_id, id, input, expected)
            .await?,
    ))
}

/// Delete one of your profiles; emits `miyagi.user.profile.deleted.v1`.
#[utoipa::path(delete, path = "/api/v1/userprofile/{id}", tag = TAG,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^[ \t]*(\*|(W/)?"*[+-]?[0-9]{1,18}"*)[ \t]*$"#)),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
async fn delete_profile(
    State(store): State<UserStore>,
    principal: Principal,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    store
        .delete(&principal.user_id, id, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What deleting an account did at once; the rest follows through events.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AccountDeletion {
    /// The profiles deleted, with their advice.
    profiles_deleted: Vec<Uuid>,
}

/// Delete everything Miyagi holds about you: every profile (and the advice written for it), every
/// document with its passages and files, every chat with its memories, your paper-trading account
/// with its orders, your transactions, rules and budgets, and the data in your past events, which become tombstones. Profiles go at
/// once; the other services follow `miyagi.user.account.deleted.v1`, so the answer is 202. Your
/// credentials are not Miyagi's to delete: they stay valid, with nothing left behind them.
#[utoipa::path(delete, path = "/api/v1/account", tag = TAG,
    responses((status = 202, body = AccountDeletion), (status = 401, body = Problem)))]
async fn delete_account(
    State(store): State<UserStore>,
    principal: Principal,
) -> Result<(StatusCode, Json<AccountDeletion>), Problem> {
    let profiles_deleted = store.delete_account(&principal.user_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(AccountDeletion { profiles_deleted }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Generate {
    /// How many profiles to create (1–100, default 1).
    #[param(minimum = 1, maximum = 100)]
    count: Option<usize>,
    /// Seed for reproducible profiles; random when absent.
    seed: Option<u64>,
}

/// Create realistic synthetic profiles for yourself (demos, tests, load runs).
#[utoipa::path(post, path = "/api/v1/userprofile/generate", tag = TAG, params(Generate),
    responses((status = 201, body = [UserProfile]), (status = 422, body = Problem)))]
async fn generate_profiles(
    State(store): State<UserStore>,
    principal: Principal,
    Query(params): Query<Generate>,
) -> Result<(StatusCode, Json<Vec<UserProfile>>), Problem> {
    let count = in_range("count", params.count.unwrap_or(1), 1..=100)?;
    let inputs = synthetic_profiles(count, params.seed.unwrap_or_else(rand::random));
    Ok((
        StatusCode::CREATED,
        Json(store.create_many(&principal.user_id, inputs).await?),
    ))
}

fn in_range<T: PartialOrd + std::fmt::Display>(
    field: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, Problem> {
    if range.contains(&value) {
        return Ok(value);
    }
    Err(Problem::invalid_fields(vec![FieldError {
        field: field.into(),
        message: format!("must be between {} and {}", range.start(), range.end()),
    }]))
}

fn with_etag(status: StatusCode, profile: UserProfile) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", profile.version))
        .expect("digits are a valid header");
    let mut response = (status, Json(profile)).into_response();
    response.headers_mut().insert(header::ETAG, etag);
    response
}

/// The version an `If-Match` header demands; `None` when absent or `*`.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| {
            Problem::bad_request("If-Match must be an ETag returned by this API, e.g. \"3\"")
        })
}
