//! HTTP API: `/api/v1/documents` and `/api/v1/datasets`. Every route acts on the caller's own
//! documents; another user's document answers 404 exactly like a missing one.

use std::sync::Arc;

use axum::{
    extract::{DefaultBodyLimit, Multipart, Path, Query, State},
    http::StatusCode,
    Json,
};
use miyagi_domain::document::{Document, LIBRARY_OWNER};
use miyagi_kernel::KernelError;
use miyagi_memory::{
    cite::{Citation, GroundedAnswer},
    remote::{PassagesRequest, PassagesResponse},
    retrieve::{Mode, RetrievalSettings},
    summarise::Summary,
};
use miyagi_platform::{
    auth::Principal,
    http::{FieldError, Problem, ValidJson},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouterExt},
    routes,
};
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::{
    datasets::{self, DatasetInfo},
    domain::{validate_collection, DatasetStatus, Documents, DocumentsError, Found, Staged},
    store::StoreError,
};

const TAG: &str = "documents";
/// The collection uploads go to when the form names none.
const DEFAULT_COLLECTION: &str = "default";

type AppState = Arc<Documents>;

pub fn routes(state: AppState) -> OpenApiRouter {
    let limits = state.limits();
    // Multipart framing adds a little to the files themselves.
    let upload_limit = limits.max_bytes.saturating_mul(limits.max_files) + 64 * 1024;
    OpenApiRouter::new()
        .routes(routes!(upload_documents).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(list_documents))
        .routes(routes!(get_document, delete_document))
        .routes(routes!(retry_document))
        .routes(routes!(summarise_document))
        .routes(routes!(search_documents))
        .routes(routes!(ask_documents))
        .routes(routes!(library_passages))
        .routes(routes!(list_datasets))
        .routes(routes!(ingest_dataset))
        .routes(routes!(dataset_ingestion_status))
        .with_state(state)
}

impl From<DocumentsError> for Problem {
    fn from(e: DocumentsError) -> Self {
        match e {
            DocumentsError::NotFound => Problem::not_found("document"),
            DocumentsError::NoDataset => Problem::not_found("dataset"),
            e @ DocumentsError::NoModel => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            DocumentsError::Invalid { field, message } => {
                Problem::invalid_fields(vec![FieldError { field, message }])
            }
            DocumentsError::TooLarge(detail) => Problem::new(StatusCode::PAYLOAD_TOO_LARGE, detail),
            DocumentsError::Conflict(detail) => Problem::new(StatusCode::CONFLICT, detail),
            DocumentsError::UnsupportedType(detail) => {
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, detail)
            }
            DocumentsError::Answer(KernelError::RateLimited { retry_after }) => {
                Problem::too_many_requests(
                    "the model is busy with other questions; retry shortly",
                    retry_after.unwrap_or(std::time::Duration::from_secs(10)),
                )
            }
            DocumentsError::Answer(KernelError::UsageLimit {
                detail,
                retry_after,
            }) => Problem::too_many_requests(detail, retry_after),
            DocumentsError::Answer(e) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the model failed: {e}"),
            ),
            DocumentsError::Store(StoreError::Database(e)) => Problem::from(e),
            e => Problem::internal(e),
        }
    }
}

/// Upload files (multipart: one or more `file` parts, optional `collection` text part). Each is
/// stored and queued for ingestion (`miyagi.document.uploaded.v1`); poll the document until its
/// status is `indexed` or `failed`. A file with the name of an existing document in the
/// collection replaces it.
#[utoipa::path(post, path = "/api/v1/documents", tag = TAG,
    request_body(content_type = "multipart/form-data", description = "`file` parts and an optional `collection`"),
    responses((status = 202, body = [Document]), (status = 413, body = Problem),
              (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn upload_documents(
    State(state): State<AppState>,
    principal: Principal,
    mut form: Multipart,
) -> Result<(StatusCode, Json<Vec<Document>>), Problem> {
    let mut collection = DEFAULT_COLLECTION.to_string();
    let mut files = Vec::new();
    // Every file arrives before any becomes a document, so a refused upload records nothing.
    let received = receive(&state, &mut form, &mut collection, &mut files).await;
    let checked = received.and_then(|()| {
        validate_collection(&collection)?;
        if files.is_empty() {
            return Err(DocumentsError::Invalid {
                field: "file".into(),
                message: "attach at least one file".into(),
            }
            .into());
        }
        Ok(())
    });
    if let Err(problem) = checked {
        state.discard(files).await;
        return Err(problem);
    }
    let mut stored = Vec::with_capacity(files.len());
    let mut files = files.into_iter();
    while let Some(file) = files.next() {
        match state.record(&principal.user_id, &collection, &file).await {
            Ok((document, _)) => stored.push(document),
            Err(e) => {
                state
                    .discard(std::iter::once(file).chain(files).collect())
                    .await;
                return Err(e.into());
            }
        }
    }
    Ok((StatusCode::ACCEPTED, Json(stored)))
}

/// Reads the form, streaming each `file` part into blob storage as it arrives.
async fn receive(
    state: &Documents,
    form: &mut Multipart,
    collection: &mut String,
    files: &mut Vec<Staged>,
) -> Result<(), Problem> {
    let limits = state.limits();
    while let Some(mut field) = form.next_field().await.map_err(multipart_problem)? {
        match field.name() {
            Some("collection") => {
                *collection = field
                    .text()
                    .await
                    .map_err(multipart_problem)?
                    .trim()
                    .to_string()
            }
            Some("file") => {
                if files.len() == limits.max_files {
                    return Err(DocumentsError::Invalid {
                        field: "file".into(),
                        message: format!("at most {} files per upload", limits.max_files),
                    }
                    .into());
                }
                let name = field.file_name().unwrap_or("").to_string();
                let media_type = field.content_type().map(str::to_string);
                let mut staging = state.stage(&name, media_type.as_deref()).await?;
                let arrived = loop {
                    match field.chunk().await {
                        Ok(Some(piece)) => {
                            if let Err(e) = staging.write(&piece).await {
                                break Err(Problem::from(e));
                            }
                        }
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(multipart_problem(e)),
                    }
                };
                match arrived {
                    Ok(()) => files.push(staging.finish().await?),
                    Err(problem) => {
                        staging.abort().await;
                        return Err(problem);
                    }
                }
            }
            other => {
                return Err(DocumentsError::Invalid {
                    field: other.unwrap_or("").into(),
                    message: "unknown form field; send `file` parts and an optional `collection`"
                        .into(),
                }
                .into())
            }
        }
    }
    Ok(())
}

fn multipart_problem(e: axum::extract::multipart::MultipartError) -> Problem {
    Problem::new(e.status(), format!("unreadable upload: {}", e.body_text()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this collection.
    #[param(pattern = r"^[a-z0-9_-]{1,64}$")]
    collection: Option<String>,
    /// How many documents to return (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    offset: Option<u32>,
}

/// List your documents, most recently changed first.
#[utoipa::path(get, path = "/api/v1/documents", tag = TAG, params(ListQuery),
    responses((status = 200, body = [Document]), (status = 422, body = Problem)))]
async fn list_documents(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Document>>, Problem> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(DocumentsError::Invalid {
            field: "limit".into(),
            message: "must be between 1 and 200".into(),
        }
        .into());
    }
    if let Some(c) = &query.collection {
        validate_collection(c)?;
    }
    let documents = state
        .store()
        .list(
            &principal.user_id,
            query.collection.as_deref(),
            limit,
            query.offset.unwrap_or(0),
        )
        .await
        .map_err(DocumentsError::from)?;
    Ok(Json(documents))
}

/// One of your documents, with its ingestion status.
#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = TAG,
    responses((status = 200, body = Document), (status = 404, body = Problem)))]
async fn get_document(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Document>, Problem> {
    Ok(Json(
        state
            .store()
            .get(&principal.user_id, id)
            .await
            .map_err(DocumentsError::from)?,
    ))
}

/// Delete a document with its chunks, vectors and file; emits `miyagi.document.deleted.v1`.
#[utoipa::path(delete, path = "/api/v1/documents/{id}", tag = TAG,
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_document(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Problem> {
    state.delete(&principal.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queue a failed document for ingestion again (once whatever made it fail is fixed); it is
/// `pending` until a new `miyagi.document.indexed.v1` or `failed.v1`. Only a failed document can
/// be retried: another answers 409.
#[utoipa::path(post, path = "/api/v1/documents/{id}/retry", tag = TAG,
    responses((status = 202, body = Document), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn retry_document(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<Document>), Problem> {
    let document = state.retry(&principal.user_id, id).await?;
    Ok((StatusCode::ACCEPTED, Json(document)))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SummaryRequest {
    /// What the summary is to keep to (a stock, a question); the whole document without.
    #[validate(
        length(min = 2, max = 200),
        custom(function = "miyagi_domain::text::not_blank")
    )]
    #[schema(
        min_length = 2,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$",
        example = "MSFT"
    )]
    focus: Option<String>,
}

/// Summarise one of your indexed documents, citing its sentences. A document longer than the
/// model's context is read in parts, each summarised with its citations, and the parts merged;
/// every citation is checked against the document's text. 409 while it is not indexed.
#[utoipa::path(post, path = "/api/v1/documents/{id}/summary", tag = TAG, request_body = SummaryRequest,
    responses((status = 200, body = Summary), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn summarise_document(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    ValidJson(request): ValidJson<SummaryRequest>,
) -> Result<Json<Summary>, Problem> {
    let summary = state
        .summarise(&principal.user_id, id, request.focus.as_deref())
        .await?;
    Ok(Json(summary))
}

fn collection_name(collection: &str) -> Result<(), ValidationError> {
    validate_collection(collection).map_err(|_| {
        ValidationError::new("collection")
            .with_message("must be 1 to 64 characters of a-z, 0-9, '-' and '_'".into())
    })
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    #[validate(length(min = 1, max = 2000, message = "must be 1 to 2000 characters"))]
    #[schema(min_length = 1, max_length = 2000)]
    pub query: String,
    #[validate(custom(function = "collection_name"))]
    #[schema(pattern = r"^[a-z0-9_-]{1,64}$")]
    pub collection: Option<String>,
    /// Only passages of this document.
    pub document_id: Option<Uuid>,
    /// `hybrid` (default), `vector` or `keyword`.
    pub mode: Option<Mode>,
    #[validate(range(min = 1, max = 50, message = "must be between 1 and 50"))]
    #[schema(minimum = 1, maximum = 50)]
    pub limit: Option<usize>,
    /// Minimum cosine similarity between the query and a passage (-1 to 1).
    #[validate(range(min = -1.0, max = 1.0, message = "must be between -1 and 1"))]
    #[schema(minimum = -1, maximum = 1)]
    pub min_relevance: Option<f32>,
    /// Most tokens the passages may hold together.
    #[validate(range(min = 1, max = 100000, message = "must be between 1 and 100000"))]
    #[schema(minimum = 1, maximum = 100000)]
    pub token_budget: Option<usize>,
}

impl SearchRequest {
    fn settings(&self) -> RetrievalSettings {
        RetrievalSettings::or_defaults(self.mode, self.limit, self.min_relevance, self.token_budget)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    pub citation: Citation,
    pub text: String,
    pub section: Option<String>,
    /// Cosine similarity between the query and the passage.
    pub relevance: f32,
    /// Fused rank score (reciprocal rank fusion).
    pub rank_score: f32,
}

impl From<Found> for SearchResult {
    fn from(f: Found) -> Self {
        Self {
            citation: f.citation,
            text: f.passage.text,
            section: f.passage.section,
            relevance: f.passage.relevance,
            rank_score: f.rank_score,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    pub results: Vec<SearchResult>,
}

/// Search your documents: keyword and vector rankings fused, with a citation for each passage.
#[utoipa::path(post, path = "/api/v1/documents/search", tag = TAG, request_body = SearchRequest,
    responses((status = 200, body = SearchResponse), (status = 422, body = Problem)))]
async fn search_documents(
    State(state): State<AppState>,
    principal: Principal,
    ValidJson(request): ValidJson<SearchRequest>,
) -> Result<Json<SearchResponse>, Problem> {
    let found = state
        .search(
            &principal.user_id,
            &request.query,
            request.collection.as_deref(),
            request.document_id,
            &request.settings(),
        )
        .await?;
    Ok(Json(SearchResponse {
        results: found.into_iter().map(SearchResult::from).collect(),
    }))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AskRequest {
    #[validate(length(min = 1, max = 1000, message = "must be 1 to 1000 characters"))]
    #[schema(min_length = 1, max_length = 1000)]
    pub question: String,
    #[validate(custom(function = "collection_name"))]
    #[schema(pattern = r"^[a-z0-9_-]{1,64}$")]
    pub collection: Option<String>,
    /// Passages to answer from (default 3).
    #[validate(range(min = 1, max = 8, message = "must be between 1 and 8"))]
    #[schema(minimum = 1, maximum = 8)]
    pub passages: Option<usize>,
}

/// Answer a question from your documents, citing the passages used. Every citation is checked
/// against the retrieved text; ones that fail are listed under `rejected`, not shown.
#[utoipa::path(post, path = "/api/v1/documents/ask", tag = TAG, request_body = AskRequest,
    responses((status = 200, body = GroundedAnswer), (status = 422, body = Problem),
              (status = 503, body = Problem)))]
async fn ask_documents(
    State(state): State<AppState>,
    principal: Principal,
    ValidJson(request): ValidJson<AskRequest>,
) -> Result<Json<GroundedAnswer>, Problem> {
    let answer = state
        .ask(
            &principal.user_id,
            &request.question,
            request.collection.as_deref(),
            request.passages.unwrap_or(3),
        )
        .await?;
    Ok(Json(answer))
}

/// Passages from the shared investing library, for any signed-in caller: what advice cites,
/// fetched here by an advisor that runs apart from this service (`advisor.library_url`).
#[utoipa::path(post, path = "/api/v1/library/passages", tag = TAG, request_body = PassagesRequest,
    responses((status = 200, body = PassagesResponse), (status = 422, body = Problem)))]
async fn library_passages(
    State(state): State<AppState>,
    _principal: Principal,
    ValidJson(request): ValidJson<PassagesRequest>,
) -> Result<Json<PassagesResponse>, Problem> {
    if let Some(c) = &request.collection {
        validate_collection(c)?;
    }
    let found = state
        .search(
            LIBRARY_OWNER,
            &request.query,
            request.collection.as_deref(),
            None,
            &request.settings(),
        )
        .await?;
    Ok(Json(PassagesResponse {
        passages: found.into_iter().map(|f| f.passage).collect(),
    }))
}

/// The datasets bundled with Miyagi.
#[utoipa::path(get, path = "/api/v1/datasets", tag = TAG,
    responses((status = 200, body = [DatasetInfo])))]
async fn list_datasets(_principal: Principal) -> Json<Vec<DatasetInfo>> {
    Json(datasets::list())
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
pub struct IngestDatasetRequest {
    /// Target collection; defaults to the dataset's name.
    #[validate(custom(function = "collection_name"))]
    #[schema(pattern = r"^[a-z0-9_-]{1,64}$")]
    pub collection: Option<String>,
}

/// Ingest a bundled dataset into one of your collections (by default one named after it). The
/// documents are uploaded at once and ingested in the background through events; follow
/// progress with `GET /api/v1/datasets/{name}/status`. Running it again replaces the documents'
/// chunks; it never duplicates them.
#[utoipa::path(post, path = "/api/v1/datasets/{name}", tag = TAG, request_body = IngestDatasetRequest,
    responses((status = 202, body = DatasetStatus), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
async fn ingest_dataset(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    ValidJson(request): ValidJson<IngestDatasetRequest>,
) -> Result<(StatusCode, Json<DatasetStatus>), Problem> {
    let status = state
        .ingest_dataset(&principal.user_id, &name, request.collection.as_deref())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(status)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatusQuery {
    /// The collection the dataset was ingested into; defaults to the dataset's name.
    #[param(pattern = r"^[a-z0-9_-]{1,64}$")]
    collection: Option<String>,
}

/// How far ingestion of a dataset into your collection has got.
#[utoipa::path(get, path = "/api/v1/datasets/{name}/status", tag = TAG, params(StatusQuery),
    responses((status = 200, body = DatasetStatus), (status = 404, body = Problem)))]
async fn dataset_ingestion_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    Query(query): Query<StatusQuery>,
) -> Result<Json<DatasetStatus>, Problem> {
    Ok(Json(
        state
            .dataset_status(&principal.user_id, &name, query.collection.as_deref())
            .await?,
    ))
}
