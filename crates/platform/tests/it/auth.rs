//! Authentication modes: who a request is from, and every way a credential is refused.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use axum::http::{header, HeaderMap, HeaderValue};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use miyagi_platform::{
    auth::{Authenticator, Principal},
    config::{ApiKeyConfig, AuthConfig, AuthMode, JwtConfig, Secret},
    http::Problem,
};
use serde_json::json;
use sha2::{Digest, Sha256};

const HS_SECRET: &str = "a-test-secret-that-is-long-enough";

fn config(mode: AuthMode) -> AuthConfig {
    AuthConfig {
        mode,
        local_user: "local".into(),
        keys: vec![],
        jwt: JwtConfig::default(),
        admins: vec![],
    }
}

fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
    HeaderMap::from_iter([(name, HeaderValue::from_str(value).unwrap())])
}

fn bearer(token: &str) -> HeaderMap {
    headers(header::AUTHORIZATION, &format!("Bearer {token}"))
}

async fn user(auth: &Authenticator, headers: &HeaderMap) -> Result<String, u16> {
    auth.principal(headers)
        .await
        .map(|Principal { user_id }| user_id)
        .map_err(|refused| Problem::from(refused).status)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs256(claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(HS_SECRET.as_bytes()),
    )
    .unwrap()
}

fn jwt_auth(
    issuer: Option<&str>,
    audience: Option<&str>,
    user_claim: Option<&str>,
) -> Authenticator {
    let mut c = config(AuthMode::Jwt);
    c.jwt = JwtConfig {
        issuer: issuer.map(Into::into),
        audience: audience.map(Into::into),
        hs256_secret: Some(Secret::new(HS_SECRET)),
        jwks_url: None,
        user_claim: user_claim.map(Into::into),
    };
    Authenticator::from_config(&c).unwrap()
}

#[tokio::test]
async fn mode_none_makes_every_caller_the_local_user() {
    let auth = Authenticator::from_config(&config(AuthMode::None)).unwrap();
    assert_eq!(user(&auth, &HeaderMap::new()).await, Ok("local".into()));
}

#[tokio::test]
async fn an_api_key_identifies_its_user_and_others_are_refused() {
    let mut c = config(AuthMode::ApiKey);
    c.keys = vec![ApiKeyConfig {
        user: "alice".into(),
        sha256: Secret::new(hex::encode(Sha256::digest(b"alice-key"))),
    }];
    let auth = Authenticator::from_config(&c).unwrap();
    assert_eq!(
        user(
            &auth,
            &headers("x-api-key".try_into().unwrap(), "alice-key")
        )
        .await,
        Ok("alice".into())
    );
    assert_eq!(user(&auth, &bearer("alice-key")).await, Ok("alice".into()));
    assert_eq!(
        user(&auth, &headers("x-api-key".try_into().unwrap(), "guess")).await,
        Err(401)
    );
    assert_eq!(user(&auth, &HeaderMap::new()).await, Err(401));
}

#[tokio::test]
async fn a_valid_hs256_token_identifies_its_subject() {
    let auth = jwt_auth(Some("https://issuer.test"), Some("miyagi"), None);
    let token = hs256(
        json!({"sub": "bob", "iss": "https://issuer.test", "aud": "miyagi", "exp": now() + 60}),
    );
    assert_eq!(user(&auth, &bearer(&token)).await, Ok("bob".into()));
}

#[tokio::test]
async fn expired_wrong_issuer_wrong_audience_and_tampered_tokens_are_refused() {
    let auth = jwt_auth(Some("https://issuer.test"), Some("miyagi"), None);
    let good =
        json!({"sub": "bob", "iss": "https://issuer.test", "aud": "miyagi", "exp": now() + 60});
    let mut expired = good.clone();
    expired["exp"] = json!(now() - 3600);
    let mut wrong_issuer = good.clone();
    wrong_issuer["iss"] = json!("https://evil.test");
    let mut wrong_audience = good.clone();
    wrong_audience["aud"] = json!("someone-else");
    for claims in [expired, wrong_issuer, wrong_audience] {
        assert_eq!(
            user(&auth, &bearer(&hs256(claims.clone()))).await,
            Err(401),
            "{claims}"
        );
    }
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &good,
        &EncodingKey::from_secret(b"other"),
    )
    .unwrap();
    assert_eq!(user(&auth, &bearer(&forged)).await, Err(401));
    assert_eq!(user(&auth, &bearer("not.a.token")).await, Err(401));
}

#[tokio::test]
async fn the_user_claim_is_configurable_for_entra_id() {
    let auth = jwt_auth(None, None, Some("oid"));
    let token = hs256(json!({"sub": "pairwise-sub", "oid": "00000000-1111", "exp": now() + 60}));
    assert_eq!(
        user(&auth, &bearer(&token)).await,
        Ok("00000000-1111".into())
    );
}

/// Serves the fixture key set the way an identity provider would, while `up` is true.
async fn jwks_server_with(up: Arc<AtomicBool>) -> String {
    let jwks: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/test-jwks.json")).unwrap();
    let app = axum::Router::new().route(
        "/keys",
        axum::routing::get(move || {
            let (jwks, up) = (jwks.clone(), up.clone());
            async move {
                match up.load(Ordering::SeqCst) {
                    true => Ok(axum::Json(jwks)),
                    false => Err(axum::http::StatusCode::BAD_GATEWAY),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/keys", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn rs256(kid: &str, claims: serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let key = EncodingKey::from_rsa_pem(include_bytes!("fixtures/test-rsa-key.pem")).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn jwks_server() -> String {
    jwks_server_with(Arc::new(AtomicBool::new(true))).await
}

#[tokio::test]
async fn an_identity_provider_outage_is_a_503_not_a_500() {
    let mut c = config(AuthMode::Jwt);
    c.jwt.jwks_url = Some(jwks_server_with(Arc::new(AtomicBool::new(false))).await);
    let auth = Authenticator::from_config(&c).unwrap();
    let claims = json!({"sub": "carol", "exp": now() + 60});
    assert_eq!(
        user(&auth, &bearer(&rs256("test-key-1", claims))).await,
        Err(503)
    );
}

#[tokio::test]
async fn a_token_with_a_control_character_in_its_user_id_is_refused() {
    let auth = jwt_auth(None, None, None);
    assert_eq!(
        user(
            &auth,
            &bearer(&hs256(json!({"sub": "bob\u{0}", "exp": now() + 60})))
        )
        .await,
        Err(401)
    );
}

#[tokio::test]
async fn an_rs256_token_is_verified_with_the_key_from_the_jwks_endpoint() {
    let mut c = config(AuthMode::Jwt);
    c.jwt.jwks_url = Some(jwks_server().await);
    c.jwt.issuer = Some("https://login.test/tenant/v2.0".into());
    let auth = Authenticator::from_config(&c).unwrap();
    let claims =
        json!({"sub": "carol", "iss": "https://login.test/tenant/v2.0", "exp": now() + 60});
    assert_eq!(
        user(&auth, &bearer(&rs256("test-key-1", claims.clone()))).await,
        Ok("carol".into())
    );
    assert_eq!(
        user(&auth, &bearer(&rs256("unknown-key", claims))).await,
        Err(401)
    );
}

#[tokio::test]
async fn no_token_can_act_as_a_reserved_system_principal() {
    let auth = jwt_auth(None, None, None);
    let token = hs256(json!({"sub": "miyagi:library", "exp": now() + 60}));
    assert_eq!(user(&auth, &bearer(&token)).await, Err(401));
}

#[tokio::test]
async fn a_token_missing_the_configured_issuer_or_audience_is_refused() {
    let auth = jwt_auth(Some("https://issuer.test"), Some("miyagi"), None);
    let without_audience = json!({"sub": "bob", "iss": "https://issuer.test", "exp": now() + 60});
    let without_issuer = json!({"sub": "bob", "aud": "miyagi", "exp": now() + 60});
    for claims in [without_audience, without_issuer] {
        assert_eq!(
            user(&auth, &bearer(&hs256(claims.clone()))).await,
            Err(401),
            "{claims}"
        );
    }
}

#[tokio::test]
async fn a_token_not_valid_yet_is_refused() {
    let auth = jwt_auth(None, None, None);
    let early = json!({"sub": "bob", "nbf": now() + 3600, "exp": now() + 7200});
    assert_eq!(user(&auth, &bearer(&hs256(early))).await, Err(401));
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let auth = jwt_auth(None, None, None);
    let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!(
        "{}.{}.",
        part(json!({"alg": "none", "typ": "JWT"})),
        part(json!({"sub": "bob", "exp": now() + 60}))
    );
    assert_eq!(user(&auth, &bearer(&unsigned)).await, Err(401));
}

#[tokio::test]
async fn a_token_signed_with_the_published_key_as_an_hmac_secret_is_refused() {
    // The HS/RS confusion: an attacker who knows the identity provider's public key signs an
    // HS256 token with it. Neither a key-set-only nor a mixed configuration may accept it.
    let published = include_str!("fixtures/test-jwks.json");
    let forged = jsonwebtoken::encode(
        &Header {
            kid: Some("test-key-1".into()),
            ..Header::new(Algorithm::HS256)
        },
        &json!({"sub": "mallory", "exp": now() + 60}),
        &EncodingKey::from_secret(published.as_bytes()),
    )
    .unwrap();
    let mut jwks_only = config(AuthMode::Jwt);
    jwks_only.jwt.jwks_url = Some(jwks_server().await);
    let mut mixed = jwks_only.clone();
    mixed.jwt.hs256_secret = Some(Secret::new(HS_SECRET));
    for c in [jwks_only, mixed] {
        let auth = Authenticator::from_config(&c).unwrap();
        assert_eq!(user(&auth, &bearer(&forged)).await, Err(401));
    }
}
