//! HTTP API: Miyagi's own asynchronous image jobs under `/api/v1/images` (`images.rs`) and
//! OpenAI's `POST /v1/images/generations` (`openai.rs`). Every route acts on the caller's own
//! images only; another person's image answers 404 exactly like a missing one.

mod images;
mod openai;

use axum::http::StatusCode;
use miyagi_kernel::KernelError;
use miyagi_platform::http::{FieldError, Problem};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::{Images, ImagesError};
use crate::store::StoreError;

const TAG: &str = "images";

pub fn routes(images: Images) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(images::list_images, images::request_image))
        .routes(routes!(images::model))
        .routes(routes!(images::get_image, images::delete_image))
        .routes(routes!(images::image_content))
        .routes(routes!(openai::generations))
        .with_state(images)
}

impl From<ImagesError> for Problem {
    fn from(e: ImagesError) -> Self {
        match e {
            ImagesError::Store(StoreError::NotFound) => Problem::not_found("image"),
            ImagesError::Store(StoreError::Database(e)) => Problem::database(&e),
            ImagesError::Store(e @ StoreError::Json(_)) => Problem::internal(e),
            ImagesError::NotReady(_) => Problem::new(StatusCode::CONFLICT, e.to_string()),
            ImagesError::Blob(e) => {
                tracing::error!(error = %e, "blob storage failed");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the picture could not be stored or read; try again shortly",
                )
            }
            ImagesError::Model(KernelError::Unsupported(why)) => invalid("prompt", why),
            ImagesError::Model(KernelError::ContentFilter(why)) => invalid(
                "prompt",
                format!("the images endpoint's safety system refused it: {why}"),
            ),
            ImagesError::Model(KernelError::RateLimited { retry_after }) => {
                Problem::too_many_requests(
                    "the image model is busy; retry shortly",
                    retry_after.unwrap_or(std::time::Duration::from_secs(10)),
                )
            }
            ImagesError::Model(KernelError::UsageLimit {
                detail,
                retry_after,
            }) => Problem::too_many_requests(detail, retry_after),
            ImagesError::Model(e) => Problem::new(
                StatusCode::BAD_GATEWAY,
                format!("the image model failed: {e}"),
            ),
        }
    }
}

/// A 422 naming the one field that is wrong.
fn invalid(field: &str, message: impl Into<String>) -> Problem {
    Problem::invalid_fields(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}
