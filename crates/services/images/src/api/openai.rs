//! `POST /v1/images/generations` as OpenAI's clients call it. They expect the picture in the
//! answer, so it is drawn in the request; it is still recorded, stored and announced like any
//! other image, and `url` answers point at its content route.

use axum::{
    extract::State,
    http::{header, HeaderMap},
    Json,
};
use base64::Engine;
use miyagi_platform::{
    auth::Principal,
    http::{Problem, ValidJson},
};

use super::{invalid, TAG};
use crate::{
    domain::Images,
    model::{GeneratedData, GenerationRequest, GenerationResponse, ResponseFormat},
};

/// Draw an image now, OpenAI's way: `n` is 1, `model` absent or the one served (see
/// `/api/v1/images/model`). Without an images endpoint the prompt must ask for a card of the
/// caller's figures; one that does not is refused with 422, saying what can be drawn.
#[utoipa::path(post, path = "/v1/images/generations", tag = TAG, request_body = GenerationRequest,
    responses((status = 200, body = GenerationResponse), (status = 422, body = Problem)))]
pub(super) async fn generations(
    State(images): State<Images>,
    principal: Principal,
    headers: HeaderMap,
    ValidJson(body): ValidJson<GenerationRequest>,
) -> Result<Json<GenerationResponse>, Problem> {
    let served = images.model_info().model;
    if let Some(model) = body.model.as_deref().filter(|m| *m != served) {
        return Err(invalid(
            "model",
            format!("unknown model {model:?}; this server draws with {served:?}"),
        ));
    }
    let as_base64 = body.response_format.unwrap_or_default() == ResponseFormat::B64Json;
    let size = body.size.unwrap_or_default().into();
    let (row, image) = images
        .draw_now(&principal.user_id, body.prompt.trim(), size)
        .await?;
    let data = GeneratedData {
        url: (!as_base64)
            .then(|| absolute(&headers, &format!("/api/v1/images/{}/content", row.id))),
        b64_json: as_base64.then(|| base64::engine::general_purpose::STANDARD.encode(&image.bytes)),
        revised_prompt: image.revised_prompt,
    };
    Ok(Json(GenerationResponse {
        created: row.created_at.timestamp(),
        data: vec![data],
    }))
}

/// An absolute URL on the host the client called, as OpenAI's clients expect one.
fn absolute(headers: &HeaderMap, path: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|s| matches!(*s, "http" | "https"))
        .unwrap_or("http");
    format!("{scheme}://{host}{path}")
}
