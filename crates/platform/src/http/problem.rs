//! RFC 7807 problem details: the one error shape every Miyagi API returns.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};

const CONTENT_TYPE: &str = "application/problem+json";

/// One invalid field: `field` is a dotted path into the request body (`goals[2]`, `profile.age`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Sent as `Retry-After` (seconds) with a 429 or 503: when the same request may succeed.
    #[serde(skip)]
    retry_after_secs: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            type_uri: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: Some(detail.into()),
            errors: vec![],
            retry_after_secs: None,
        }
    }

    /// Tells the client when to try again (a full queue, a quota that refills).
    pub fn retry_after(self, wait: std::time::Duration) -> Self {
        Self {
            retry_after_secs: Some(wait.as_secs().max(1)),
            ..self
        }
    }

    /// 429 with when to come back: a full model queue, a per-user limit.
    pub fn too_many_requests(detail: impl Into<String>, wait: std::time::Duration) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, detail).retry_after(wait)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 422 with one entry per invalid field.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            type_uri: "https://miyagi.dev/problems/validation".into(),
            errors,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
        }
    }

    /// Used both for "does not exist" and "belongs to someone else", so ids cannot be probed.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }

    /// Logs the cause with full detail and returns a 500 that reveals none of it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the server log",
        )
    }

    /// A database error: 507 when its storage is full, 503 with a retry hint when it passes by
    /// itself (the database is restarting, out of connections, locked), else an internal error.
    /// Either of the first two means the write was not saved, and says so.
    pub fn database(cause: &sqlx::Error) -> Self {
        if crate::events::is_storage_full(cause) {
            tracing::error!(error = %cause, "the database's storage is full");
            Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "the server's storage is full, so nothing was saved; retry once space is freed",
            )
            .retry_after(std::time::Duration::from_secs(30))
        } else if crate::events::is_transient(cause) {
            tracing::warn!(error = %cause, "database unavailable");
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable; retry shortly",
            )
            .retry_after(std::time::Duration::from_secs(5))
        } else {
            Self::internal(cause)
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let www_authenticate = status == StatusCode::UNAUTHORIZED;
        let retry_after = self.retry_after_secs;
        let mut response = (status, Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Every error a handler can return converts into a problem, so `?` works in handlers.
impl From<anyhow::Error> for Problem {
    fn from(e: anyhow::Error) -> Self {
        Problem::internal(format!("{e:#}"))
    }
}

impl From<sqlx::Error> for Problem {
    fn from(e: sqlx::Error) -> Self {
        Problem::database(&e)
    }
}

impl From<validator::ValidationErrors> for Problem {
    /// Names fields in camelCase, Miyagi's JSON convention.
    fn from(errors: validator::ValidationErrors) -> Self {
        Problem::from_validation(&errors, &camel_case)
    }
}

impl Problem {
    /// A 422 from validation errors, with `json_name` turning Rust field names into the names
    /// the client used (APIs that follow another convention, like OpenAI's snake_case, pass their own).
    pub(super) fn from_validation(
        errors: &validator::ValidationErrors,
        json_name: &dyn Fn(&str) -> String,
    ) -> Self {
        let mut fields = vec![];
        flatten_validation("", errors, json_name, &mut fields);
        Problem::invalid_fields(fields)
    }
}

fn flatten_validation(
    prefix: &str,
    errors: &validator::ValidationErrors,
    json_name: &dyn Fn(&str) -> String,
    out: &mut Vec<FieldError>,
) {
    use validator::ValidationErrorsKind as Kind;
    for (field, kind) in errors.errors() {
        let path = match (prefix, field.as_ref()) {
            (_, "__all__") => prefix.to_string(),
            ("", f) => json_name(f),
            (p, f) => format!("{p}.{}", json_name(f)),
        };
        match kind {
            Kind::Field(errs) => out.extend(errs.iter().map(|e| {
                FieldError {
                    field: if path.is_empty() {
                        e.code.to_string()
                    } else {
                        path.clone()
                    },
                    message: e
                        .message
                        .as_ref()
                        .map_or_else(|| e.code.to_string(), |m| m.to_string()),
                }
            })),
            Kind::Struct(inner) => flatten_validation(&path, inner, json_name, out),
            Kind::List(items) => {
                for (i, inner) in items {
                    flatten_validation(&format!("{path}[{i}]"), inner, json_name, out)
                }
            }
        }
    }
    out.sort_by(|a, b| a.field.cmp(&b.field));
}

/// Validation reports Rust field names; clients sent camelCase JSON, so name fields their way.
pub(super) fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_reported_in_the_clients_camel_case() {
        assert_eq!(
            camel_case("annual_household_income"),
            "annualHouseholdIncome"
        );
        assert_eq!(camel_case("age"), "age");
    }

    #[tokio::test]
    async fn a_problem_is_served_as_problem_json() {
        let response = Problem::not_found("profile").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
    }
}
