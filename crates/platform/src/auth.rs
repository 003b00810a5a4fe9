//! Who is calling. Three modes, chosen by config:
//! - `none`: one local user, for `miyagi up` on a laptop;
//! - `api_key`: `X-API-Key: <key>` (or `Authorization: Bearer <key>`), keys stored as SHA-256 digests;
//! - `jwt`: OIDC-style bearer tokens, HS256 with a shared secret or RS256 with keys from a JWKS
//!   endpoint (Entra ID, Auth0, Keycloak …). A configured issuer or audience must be in the token;
//!   `exp` always, `nbf` when present. The algorithm decides the key: HS256 only ever verifies with
//!   the shared secret and never with a published key, so a token signed with the public key as an
//!   HMAC secret (the HS/RS confusion) fails; `alg: none` is not an algorithm here at all.
//!
//! Handlers take a [`Principal`]; every resource is stored with its owner's id and looked up by it.
//!
//! Dependencies point one way: this module reads its section from `config` and answers with an
//! [`AuthError`]; `http` owns the middleware and extractor that turn that answer into a request's
//! principal or a problem response. Knowing nothing of HTTP responses, the checks here can be
//! reused by any transport.

use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use miyagi_domain::RESERVED_PREFIX;
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

use crate::config::{AuthConfig, AuthMode, JwtConfig};

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
}

/// Why a caller has no [`Principal`]; the text is shown to the caller.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing, unknown or invalid credentials.
    #[error("{0}")]
    Refused(String),
    /// The identity provider cannot be asked right now; the same request may succeed later.
    #[error("{0}")]
    Unavailable(String),
}

fn refused(detail: impl Into<String>) -> AuthError {
    AuthError::Refused(detail.into())
}

pub struct Authenticator {
    mode: AuthMode,
    local_user: String,
    admins: Vec<String>,
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
            admins: config.admins.clone(),
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

    /// Mode `none`: every caller is the local user, so the transport must keep other callers out.
    pub fn needs_no_credentials(&self) -> bool {
        self.mode == AuthMode::None
    }

    /// Whether `principal` may use the operator API.
    pub fn is_admin(&self, principal: &Principal) -> bool {
        self.mode == AuthMode::None || self.admins.contains(&principal.user_id)
    }

    pub async fn principal(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let principal = self.identify(headers).await?;
        // Names under `miyagi:` belong to the system (the shared document library); no key,
        // token or config may act as one.
        if principal.user_id.starts_with(RESERVED_PREFIX) {
            return Err(refused(format!(
                "user ids starting with `{RESERVED_PREFIX}` are reserved"
            )));
        }
        Ok(principal)
    }

    async fn identify(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        match self.mode {
            AuthMode::None => Ok(Principal {
                user_id: self.local_user.clone(),
            }),
            AuthMode::ApiKey => {
                let key = headers
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok())
                    .or_else(|| bearer(headers))
                    .ok_or_else(|| refused("send an API key in the X-API-Key header"))?;
                // Comparing digests, not keys: timing can reveal at most a digest prefix.
                let digest = Sha256::digest(key.as_bytes());
                self.keys
                    .iter()
                    .find(|(_, d)| d.as_slice() == digest.as_slice())
                    .map(|(user, _)| Principal {
                        user_id: user.clone(),
                    })
                    .ok_or_else(|| refused("unknown API key"))
            }
            AuthMode::Jwt => {
                let token = bearer(headers)
                    .ok_or_else(|| refused("send a bearer token in the Authorization header"))?;
                let principal = self.jwt.verify(token).await?;
                // User ids become owner columns and log fields: refuse ones no store can hold.
                if principal.user_id.len() > 256 || principal.user_id.chars().any(char::is_control)
                {
                    return Err(refused("the token's user id is not usable"));
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
    async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let invalid = |e: jsonwebtoken::errors::Error| refused(format!("invalid token: {e}"));
        let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
        let key = match header.alg {
            Algorithm::HS256 => {
                let secret = self
                    .config
                    .hs256_secret
                    .as_ref()
                    .ok_or_else(|| refused("HS256 tokens are not accepted here"))?;
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
                    .ok_or_else(|| refused("token has no `kid`"))?;
                self.key_for(kid).await?
            }
            other => {
                return Err(refused(format!(
                    "token algorithm {} is not accepted",
                    jose_name(other)
                )))
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.validate_nbf = true;
        // A configured issuer or audience is a claim the token must carry, not one it may omit:
        // jsonwebtoken checks them only when present unless they are required.
        let mut required = vec!["exp"];
        match &self.config.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &self.config.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
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
            .ok_or_else(|| refused(format!("token has no `{claim}` claim")))?;
        Ok(Principal {
            user_id: user_id.to_string(),
        })
    }

    async fn key_for(&self, kid: &str) -> Result<DecodingKey, AuthError> {
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
            Err(error) => {
                // The provider is down: keep accepting keys we already know, even if stale.
                tracing::warn!(detail = %error, "JWKS refresh failed");
                return self.cached_key(kid, true).await?.ok_or(error);
            }
        }
        self.cached_key(kid, true)
            .await?
            .ok_or_else(|| refused(format!("unknown signing key {kid}")))
    }

    /// The cached key for `kid`: `None` means "refresh first" (absent or stale, and not refreshed
    /// too recently), unless `any_age`.
    async fn cached_key(&self, kid: &str, any_age: bool) -> Result<Option<DecodingKey>, AuthError> {
        let cached = self.jwks.read().await;
        let Some((set, fetched)) = cached.as_ref() else {
            return Ok(None);
        };
        match set.find(kid) {
            Some(jwk) if any_age || fetched.elapsed() < JWKS_TTL => DecodingKey::from_jwk(jwk)
                .map(Some)
                .map_err(|e| refused(format!("signing key {kid} is unusable: {e}"))),
            None if !any_age && fetched.elapsed() < JWKS_MIN_REFRESH => {
                Err(refused(format!("unknown signing key {kid}")))
            }
            _ => Ok(None),
        }
    }

    async fn fetch_jwks(&self) -> Result<JwkSet, AuthError> {
        let url = self
            .config
            .jwks_url
            .as_deref()
            .ok_or_else(|| refused("asymmetric tokens need auth.jwt.jwks_url"))?;
        let unavailable = |e: String| {
            tracing::error!(%url, error = %e, "cannot fetch JWKS");
            AuthError::Unavailable(
                "the identity provider's signing keys are unavailable; retry shortly".into(),
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

/// The algorithm as tokens name it in their `alg` header (RFC 7518).
fn jose_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
    }
}
