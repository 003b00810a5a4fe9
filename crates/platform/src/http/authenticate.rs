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

use super::{local_only, Problem};
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

/// Proof that the caller may use the operator API: a handler taking it answers 403 to others.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Admin>().copied().ok_or_else(|| {
            Problem::new(
                StatusCode::FORBIDDEN,
                "this route is for operators: add your user id to auth.admins",
            )
        })
    }
}

/// What the middleware needs: who may call, and which web origins may ask for changes.
pub(super) struct Gate {
    pub(super) auth: Arc<Authenticator>,
    pub(super) cors_origins: Vec<String>,
}

/// Middleware: authenticates every request it wraps and hands handlers a [`Principal`].
pub(super) async fn authenticate(
    State(gate): State<Arc<Gate>>,
    mut req: Request,
    next: Next,
) -> Response {
    if gate.auth.needs_no_credentials() {
        if let Err(refused) = local_only::check(req.method(), req.headers(), &gate.cors_origins) {
            return refused.into_response();
        }
    }
    match gate.auth.principal(req.headers()).await {
        Ok(principal) => {
            tracing::Span::current().record("user", principal.user_id.as_str());
            if gate.auth.is_admin(&principal) {
                req.extensions_mut().insert(Admin);
            }
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(refused) => Problem::from(refused).into_response(),
    }
}
