//! Who is calling. Three modes, chosen by config:
//! - `none`: one local user, for `miyagi up` on a laptop;
//! - `api_key`: `X-API-Key: <key>` (or `Authorization: Bearer <key>`), keys stored as SHA-256 digests;
//! - `jwt`: OIDC-style bearer tokens, HS256 with a shared secret or RS256 with keys from a JWKS
//!   endpoint (Entra ID, Auth0, Keycloak …), checking issuer and audience when configured.
//!
//! Handlers take a [`Principal`]; every resource is stored with its owner's id and looked up by it.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderMap},
    middleware::Next,
    response::{IntoResponse, Response},
};
use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

use crate::{
    config::{AuthConfig, AuthMode, JwtConfig},
    http::Problem,
};

/// Prefix of the system's own principals, which no caller can authenticate as.
pub const RESERVED_PREFIX: &str = "miyagi:";

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
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

pub struct Authenticator {
    mode: AuthMode,
    local_user: String,
    /// (user, SHA-256 of the key)
    keys: Vec<(String, Vec<u8>)>,
    jwt: JwtVerifier,
}

struct JwtVerifier {
    config: JwtConfig,
    http: reqwest::Client,
    jwks: RwLock<Option<(JwkSet, Instant)>>,
    /// One key-set fetch at a time: a burst of tokens with unknown `kid`s causes one fetch, not many.
    refreshing: tokio::sync::Mutex<()>,
}

const JWKS_TTL: Duration = Duration::from_secs(600);
/// An unknown `kid` refreshes the key set (keys rotate), but not more often than this.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);

impl Authenticator {
    pub fn from_config(config: &AuthConfig) -> anyhow::Result<Self> {
        let keys = config
            .keys
            .iter()
            .map(|k| Ok((k.user.clone(), hex::decode(k.sha256.expose())?)))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            mode: config.mode,
            local_user: config.local_user.clone(),
            keys,
            jwt: JwtVerifier {
                config: config.jwt.clone(),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()?,
                jwks: RwLock::new(None),
                refreshing: tokio::sync::Mutex::new(()),
            },
        })
    }

    pub async fn principal(&self, headers: &HeaderMap) -> Result<Principal, Problem> {
        let principal = self.identify(headers).await?;
        // Names under `miyagi:` belong to the system (the shared document library); no key,
        // token or config may act as one.
        if principal.user_id.starts_with(RESERVED_PREFIX) {
            return Err(Problem::unauthorized(format!(
                "user ids starting with `{RESERVED_PREFIX}` are reserved"
            )));
        }
        Ok(principal)
    }

    async fn identify(&self, headers: &HeaderMap) -> Result<Principal, Problem> {
        match self.mode {
            AuthMode::None => Ok(Principal {
                user_id: self.local_user.clone(),
            }),
            AuthMode::ApiKey => {
                let key = headers
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok())
                    .or_else(|| bearer(headers))
                    .ok_or_else(|| {
                        Problem::unauthorized("send an API key in the X-API-Key header")
                    })?;
                // Comparing digests, not keys: timing can reveal at most a digest prefix.
                let digest = Sha256::digest(key.as_bytes());
                self.keys
                    .iter()
                    .find(|(_, d)| d.as_slice() == digest.as_slice())
                    .map(|(user, _)| Principal {
                        user_id: user.clone(),
                    })
                    .ok_or_else(|| Problem::unauthorized("unknown API key"))
            }
            AuthMode::Jwt => {
                let token = bearer(headers).ok_or_else(|| {
                    Problem::unauthorized("send a bearer token in the Authorization header")
                })?;
                let principal = self.jwt.verify(token).await?;
                // User ids become owner columns and log fields: refuse ones no store can hold.
                if principal.user_id.len() > 256 || principal.user_id.chars().any(char::is_control)
                {
                    return Err(Problem::unauthorized("the token's user id is not usable"));
                }
                Ok(principal)
            }
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl JwtVerifier {
    async fn verify(&self, token: &str) -> Result<Principal, Problem> {
        let invalid =
            |e: jsonwebtoken::errors::Error| Problem::unauthorized(format!("invalid token: {e}"));
        let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
        let key = match header.alg {
            Algorithm::HS256 => {
                let secret =
                    self.config.hs256_secret.as_ref().ok_or_else(|| {
                        Problem::unauthorized("HS256 tokens are not accepted here")
                    })?;
                DecodingKey::from_secret(secret.expose().as_bytes())
            }
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::ES256
            | Algorithm::ES384 => {
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| Problem::unauthorized("token has no `kid`"))?;
                self.key_for(kid).await?
            }
            other => {
                return Err(Problem::unauthorized(format!(
                    "token algorithm {other:?} is not accepted"
                )))
            }
        };
        let mut validation = Validation::new(header.alg);
        match &self.config.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &self.config.issuer {
            validation.set_issuer(&[iss]);
        }
        let claims = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &key,
            &validation,
        )
        .map_err(invalid)?
        .claims;
        let claim = self.config.user_claim.as_deref().unwrap_or("sub");
        let user_id = claims
            .get(claim)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Problem::unauthorized(format!("token has no `{claim}` claim")))?;
        Ok(Principal {
            user_id: user_id.to_string(),
        })
    }

    async fn key_for(&self, kid: &str) -> Result<DecodingKey, Problem> {
        if let Some(key) = self.cached_key(kid, false).await? {
            return Ok(key);
        }
        let _turn = self.refreshing.lock().await;
        // Whoever refreshed while we waited may have brought the key.
        if let Some(key) = self.cached_key(kid, false).await? {
            return Ok(key);
        }
        match self.fetch_jwks().await {
            Ok(set) => *self.jwks.write().await = Some((set, Instant::now())),
            Err(problem) => {
                // The provider is down: keep accepting keys we already know, even if stale.
                tracing::warn!(detail = ?problem.detail, "JWKS refresh failed");
                return self.cached_key(kid, true).await?.ok_or(problem);
            }
        }
        self.cached_key(kid, true)
            .await?
            .ok_or_else(|| Problem::unauthorized(format!("unknown signing key {kid}")))
    }

    /// The cached key for `kid`: `None` means "refresh first" (absent or stale, and not refreshed
    /// too recently), unless `any_age`.
    async fn cached_key(&self, kid: &str, any_age: bool) -> Result<Option<DecodingKey>, Problem> {
        let cached = self.jwks.read().await;
        let Some((set, fetched)) = cached.as_ref() else {
            return Ok(None);
        };
        match set.find(kid) {
            Some(jwk) if any_age || fetched.elapsed() < JWKS_TTL => DecodingKey::from_jwk(jwk)
                .map(Some)
                .map_err(|e| Problem::unauthorized(format!("signing key {kid} is unusable: {e}"))),
            None if !any_age && fetched.elapsed() < JWKS_MIN_REFRESH => {
                Err(Problem::unauthorized(format!("unknown signing key {kid}")))
            }
            _ => Ok(None),
        }
    }

    async fn fetch_jwks(&self) -> Result<JwkSet, Problem> {
        let url = self
            .config
            .jwks_url
            .as_deref()
            .ok_or_else(|| Problem::unauthorized("asymmetric tokens need auth.jwt.jwks_url"))?;
        let unavailable = |e: String| {
            tracing::error!(%url, error = %e, "cannot fetch JWKS");
            Problem::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the identity provider's signing keys are unavailable; retry shortly",
            )
        };
        self.http
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| unavailable(e.to_string()))?
            .json()
            .await
            .map_err(|e| unavailable(format!("not a key set: {e}")))
    }
}

/// Middleware: authenticates every request it wraps and hands handlers a [`Principal`].
pub async fn authenticate(
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
        Err(problem) => problem.into_response(),
    }
}
