//! HTTP API: `/api/v1/chats` (chats, their messages, the prompt view, export and import) and
//! `/api/v1/memories`. Everything is the caller's own: another user's chat or memory answers
//! 404 exactly like a missing one.

mod chats;
mod memories;

use std::sync::Arc;

use axum::http::StatusCode;
use miyagi_kernel::KernelError;
use miyagi_platform::http::{FieldError, Problem};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{domain::Copilot, error::CopilotError, store::StoreError};

const TAG: &str = "copilot";

pub fn routes(copilot: Arc<Copilot>) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(chats::list_chats, chats::create_chat))
        .routes(routes!(
            chats::get_chat,
            chats::update_chat,
            chats::delete_chat
        ))
        .routes(routes!(chats::history, chats::ask))
        .routes(routes!(chats::prompt_view))
        .routes(routes!(chats::export_chat))
        .routes(routes!(chats::import_chat))
        .routes(routes!(memories::list_memories))
        .routes(routes!(memories::update_memory, memories::delete_memory))
        .with_state(copilot)
}

impl From<CopilotError> for Problem {
    fn from(e: CopilotError) -> Self {
        match e {
            CopilotError::NotFound(what) => Problem::not_found(what),
            CopilotError::NoModel => Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            CopilotError::Kernel(KernelError::RateLimited { retry_after }) => {
                Problem::too_many_requests(
                    "the model is busy answering others; retry shortly",
                    retry_after.unwrap_or(std::time::Duration::from_secs(10)),
                )
            }
            CopilotError::Kernel(KernelError::UsageLimit {
                detail,
                retry_after,
            }) => Problem::too_many_requests(detail, retry_after),
            CopilotError::Kernel(
                e @ (KernelError::BadResponse(_) | KernelError::Schema { .. }),
            ) => Problem::new(
                StatusCode::BAD_GATEWAY,
                format!("the chat model's answer was unusable: {e}"),
            ),
            CopilotError::Store(StoreError::Database(e)) => Problem::database(&e),
            e => Problem::internal(e),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        CopilotError::from(e).into()
    }
}

fn in_range(field: &str, value: u32, range: std::ops::RangeInclusive<u32>) -> Result<u32, Problem> {
    if range.contains(&value) {
        return Ok(value);
    }
    Err(Problem::invalid_fields(vec![FieldError {
        field: field.into(),
        message: format!("must be between {} and {}", range.start(), range.end()),
    }]))
}
