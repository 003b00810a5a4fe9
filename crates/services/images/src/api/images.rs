//! Miyagi's image jobs: asked for with `202`, drawn from their event, followed until ready.

use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, StatusCode},
    response::Response,
    Json,
};
use miyagi_platform::{
    auth::Principal,
    http::{Problem, ValidJson},
};
use uuid::Uuid;

use super::TAG;
use crate::{
    domain::Images,
    model::{Image, ImageFilter, ImageModelInfo, NewImage},
};

/// Images listed at most.
const LIST_LIMIT: u32 = 50;

/// Ask for an image. It is drawn off the request path: the answer is `202` with the image
/// `pending` (`Location` follows it), then `ready` with a `contentUrl`, or `failed` saying why.
/// Without an images endpoint, Miyagi draws cards of your own figures (see `/api/v1/images/model`).
#[utoipa::path(post, path = "/api/v1/images", tag = TAG, request_body = NewImage,
    responses((status = 202, body = Image, headers(("Location" = String, description = "the image"))),
        (status = 422, body = Problem)))]
pub(super) async fn request_image(
    State(images): State<Images>,
    principal: Principal,
    ValidJson(body): ValidJson<NewImage>,
) -> Result<(StatusCode, [(header::HeaderName, String); 1], Json<Image>), Problem> {
    let image = images
        .request(
            &principal.user_id,
            body.prompt.trim(),
            body.size.unwrap_or_default().into(),
        )
        .await?;
    let location = format!("/api/v1/images/{}", image.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(image),
    ))
}

/// Your images, newest first (the latest 50); with `attachedTo`, the cards drawn for one answer
/// of the coach's or the advisor's.
#[utoipa::path(get, path = "/api/v1/images", tag = TAG, params(ImageFilter),
    responses((status = 200, body = Vec<Image>), (status = 422, body = Problem)))]
pub(super) async fn list_images(
    State(images): State<Images>,
    principal: Principal,
    Query(filter): Query<ImageFilter>,
) -> Result<Json<Vec<Image>>, Problem> {
    let attached_to = filter
        .attachment()
        .map_err(|why| super::invalid("attachedTo", why))?;
    Ok(Json(
        images
            .store()
            .images(&principal.user_id, LIST_LIMIT, attached_to.as_deref())
            .await
            .map_err(crate::domain::ImagesError::from)?,
    ))
}

/// The model that draws, and what to ask it for.
#[utoipa::path(get, path = "/api/v1/images/model", tag = TAG, responses((status = 200, body = ImageModelInfo)))]
pub(super) async fn model(
    State(images): State<Images>,
    _principal: Principal,
) -> Json<ImageModelInfo> {
    Json(images.model_info())
}

/// One of your images.
#[utoipa::path(get, path = "/api/v1/images/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Image), (status = 404, body = Problem)))]
pub(super) async fn get_image(
    State(images): State<Images>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Image>, Problem> {
    Ok(Json(
        images
            .store()
            .image(&principal.user_id, id)
            .await
            .map_err(crate::domain::ImagesError::from)?,
    ))
}

/// The picture of a ready image; `409` while it is pending or when it failed.
#[utoipa::path(get, path = "/api/v1/images/{id}/content", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub(super) async fn image_content(
    State(images): State<Images>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Response, Problem> {
    let (media_type, bytes) = images.content(&principal.user_id, id).await?;
    Response::builder()
        .header(header::CONTENT_TYPE, media_type)
        // The picture of an id never changes; only its owner may fetch it.
        .header(
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        )
        .body(Body::from(bytes))
        .map_err(Problem::internal)
}

/// Delete one of your images and its picture.
#[utoipa::path(delete, path = "/api/v1/images/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(super) async fn delete_image(
    State(images): State<Images>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Problem> {
    images.delete(&principal.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
