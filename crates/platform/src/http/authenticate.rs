//! Authentication as HTTP sees it: the middleware that finds each request's caller, the
//! [`Principal`] extractor handlers take, and the problem response for a refused caller.
//! Who the caller is stays the `auth` module's business; this module only carries its answer.

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{request::Parts, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::Problem;
use crate::auth::{AuthError, Authenticator, Principal};

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Refused(detail) => Problem::unauthorized(detail),
            AuthError::Unavailable(detail) => Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| Problem::unauthorized("this route needs an authenticated caller"))
    }
}

/// Middleware: authenticates every request it wraps and hands handlers a [`Principal`].
pub(super) async fn authenticate(
    State(auth): State<Arc<Authenticator>>,
    mut req: Request,
    next: Next,
) -> Response {
    match auth.principal(req.headers()).await {
        Ok(principal) => {
            tracing::Span::current().record("user", principal.user_id.as_str());
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(refused) => Problem::from(refused).into_response(),
    }
}
