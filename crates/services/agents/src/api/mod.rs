//! HTTP API: the agents and tools (`/api/v1/agents`), and runs (`/api/v1/runs`). Every route
//! acts on the caller's own runs only; another person's run answers 404 exactly like a missing
//! one.

mod runs;

use axum::http::StatusCode;
use miyagi_kernel::KernelError;
use miyagi_platform::http::{FieldError, Problem};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::{Agents, AgentsError};
use crate::store::StoreError;

const TAG: &str = "agents";

pub fn routes(agents: Agents) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(runs::agents))
        .routes(routes!(runs::tools))
        .routes(routes!(runs::propose))
        .routes(routes!(runs::list, runs::create))
        .routes(routes!(runs::get))
        .routes(routes!(runs::replan))
        .routes(routes!(runs::start))
        .routes(routes!(runs::cancel))
        .routes(routes!(runs::decide))
        .with_state(agents)
}

impl From<AgentsError> for Problem {
    fn from(e: AgentsError) -> Self {
        match e {
            AgentsError::Store(e) => e.into(),
            AgentsError::Invalid(faults) => Problem::invalid_fields(
                faults
                    .into_iter()
                    .map(|fault| FieldError {
                        field: fault.field,
                        message: fault.message,
                    })
                    .collect(),
            ),
            AgentsError::NoModel => Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            AgentsError::Model(KernelError::RateLimited { retry_after }) => {
                Problem::too_many_requests(
                    "the model is busy; retry shortly",
                    retry_after.unwrap_or(std::time::Duration::from_secs(5)),
                )
            }
            AgentsError::Model(e) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the model failed: {e}"),
            ),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Problem::not_found(what),
            StoreError::Conflict(detail) => Problem::new(StatusCode::CONFLICT, detail),
            StoreError::Database(e) => Problem::database(&e),
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
