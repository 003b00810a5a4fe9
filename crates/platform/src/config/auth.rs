use std::net::SocketAddr;

use miyagi_domain::RESERVED_PREFIX;
use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// Flat rather than an enum per mode so that defaults, file and environment merge key by key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// The single user of `mode = "none"`.
    pub local_user: String,
    /// API keys of `mode = "api_key"`.
    #[serde(default)]
    pub keys: Vec<ApiKeyConfig>,
    /// Token verification of `mode = "jwt"`.
    #[serde(default)]
    pub jwt: JwtConfig,
    /// Users who may call the operator API (`/api/v1/admin/...`: dead letters). In mode `none`
    /// the local user is one: the machine is theirs.
    #[serde(default)]
    pub admins: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Single local user: for `miyagi up` on a laptop.
    None,
    /// `X-API-Key` or `Authorization: Bearer <key>`; keys are stored as SHA-256 hex digests.
    ApiKey,
    /// OIDC-style JWT bearer tokens, verified with an HS256 secret or a JWKS endpoint (RS256).
    Jwt,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    pub user: String,
    pub sha256: Secret,
}

impl ApiKeyConfig {
    /// The entry for `user` holding `key`, stored as its digest (as a config file would).
    pub fn for_key(user: &str, key: &str) -> Self {
        use sha2::{Digest, Sha256};
        Self {
            user: user.to_string(),
            sha256: Secret::new(hex::encode(Sha256::digest(key.as_bytes()))),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub hs256_secret: Option<Secret>,
    pub jwks_url: Option<String>,
    /// Claim holding the user id: `sub` when unset, `oid` for Entra ID.
    pub user_claim: Option<String>,
}

impl AuthConfig {
    /// `bind` is where the API listens: mode `none` is refused anywhere but on loopback.
    pub(super) fn validate(&self, bind: SocketAddr) -> Result<(), ConfigError> {
        if self.local_user.starts_with(RESERVED_PREFIX)
            || self
                .keys
                .iter()
                .any(|k| k.user.starts_with(RESERVED_PREFIX))
        {
            return Err(ConfigError::expected(
                "auth.local_user",
                &format!("user names that do not start with `{RESERVED_PREFIX}` (reserved for the system), in auth.keys too"),
            ));
        }
        match self.mode {
            AuthMode::None if self.local_user.trim().is_empty() => {
                Err(ConfigError::expected("auth.local_user", "a non-empty user id"))
            }
            // Mode `none` makes every caller the local user: only safe when only this machine can call.
            AuthMode::None if !bind.ip().is_loopback() => Err(ConfigError::expected(
                "auth.mode",
                "`api_key` or `jwt` when http.bind is not a loopback address (mode `none` would give every network client full access)",
            )),
            AuthMode::ApiKey => self.validate_keys(),
            AuthMode::Jwt => self.jwt.validate(),
            AuthMode::None => Ok(()),
        }
    }

    fn validate_keys(&self) -> Result<(), ConfigError> {
        if self.keys.is_empty() {
            return Err(ConfigError::expected(
                "auth.keys",
                "at least one [[auth.keys]] entry with `user` and `sha256`",
            ));
        }
        for key in &self.keys {
            let digest = key.sha256.expose();
            if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ConfigError::expected(
                    "auth.keys.sha256",
                    "the 64-character hex SHA-256 of the key (e.g. `printf %s KEY | sha256sum`)",
                ));
            }
        }
        Ok(())
    }
}

impl JwtConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.hs256_secret.is_none() && self.jwks_url.is_none() {
            return Err(ConfigError::expected(
                "auth.jwt.hs256_secret",
                "an HS256 secret or `auth.jwt.jwks_url`, at least one",
            ));
        }
        // A provider's signing keys sign tokens for every app and tenant it serves: without
        // issuer and audience checks, someone else's token would be accepted here.
        if self.jwks_url.is_some() && self.issuer.is_none() {
            return Err(ConfigError::expected(
                "auth.jwt.issuer",
                "the expected `iss` of tokens when auth.jwt.jwks_url is set",
            ));
        }
        if self.jwks_url.is_some() && self.audience.is_none() {
            return Err(ConfigError::expected(
                "auth.jwt.audience",
                "the expected `aud` (this API's client id) when auth.jwt.jwks_url is set",
            ));
        }
        Ok(())
    }
}
