//! Getting one call through: the rate limiters that keep requests/min and tokens/min under the
//! deployment's quota, the retries (429 and 5xx, exponential backoff with jitter, honouring
//! `Retry-After`), and the reading of error answers into the [`KernelError`] callers act on.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::{header::HeaderMap, StatusCode};
use serde_json::Value;

use super::{wire::ErrorBody, OpenAiClient};
use crate::KernelError;

pub(super) fn per_minute(n: Option<u32>) -> Option<Arc<DefaultDirectRateLimiter>> {
    n.and_then(NonZeroU32::new)
        .map(|n| Arc::new(RateLimiter::direct(Quota::per_minute(n))))
}

impl OpenAiClient {
    /// Waits for the rate limiters: one request, and the tokens this call may use.
    async fn admit(&self, estimated_tokens: u32) {
        if let Some(limiter) = &self.requests {
            limiter.until_ready().await;
        }
        if let Some(limiter) = &self.tokens {
            // A call larger than the whole per-minute budget waits for a full budget, not forever.
            let budget = self.config.tokens_per_minute.unwrap_or(1).max(1);
            let n =
                NonZeroU32::new(estimated_tokens.clamp(1, budget)).expect("clamped to at least 1");
            let _ = limiter.until_n_ready(n).await;
        }
    }

    /// POSTs `body`, retrying transient failures; returns the successful response.
    pub(super) async fn post(
        &self,
        operation: &str,
        body: &Value,
        estimated_tokens: u32,
    ) -> Result<reqwest::Response, KernelError> {
        let url = self.config.url(operation);
        let mut attempt = 0;
        loop {
            self.admit(estimated_tokens).await;
            let sent = self
                .config
                .authorize(self.http.post(&url))
                .timeout(self.config.timeout)
                .json(body)
                .send()
                .await;
            let error = match sent {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers());
                    let text = response.text().await.unwrap_or_default();
                    classify(status, &text, retry_after)
                }
                Err(e) if e.is_timeout() => KernelError::Timeout(self.config.timeout),
                Err(e) => KernelError::Network(e.to_string()),
            };
            if !error.is_transient() || attempt >= self.config.max_retries {
                return Err(error);
            }
            attempt += 1;
            let delay = match &error {
                KernelError::RateLimited {
                    retry_after: Some(hint),
                } => *hint,
                _ => backoff(attempt),
            };
            tracing::warn!(%error, attempt, ?delay, "model call failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1 << attempt.min(6));
    let capped = base.min(30_000);
    Duration::from_millis(rand::rng().random_range(capped / 2..=capped))
}

/// `Retry-After` (seconds) or Azure's `retry-after-ms`.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    get("retry-after-ms")
        .map(|ms| Duration::from_millis(ms as u64))
        .or_else(|| get("retry-after").map(Duration::from_secs_f64))
        .map(|d| d.min(Duration::from_secs(60)))
}

fn classify(status: StatusCode, body: &str, retry_after: Option<Duration>) -> KernelError {
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let message = parsed
        .error
        .message
        .unwrap_or_else(|| body.chars().take(300).collect());
    let code = parsed
        .error
        .code
        .map(|c| {
            c.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| c.to_string())
        })
        .unwrap_or_default();
    match status.as_u16() {
        401 | 403 => KernelError::Auth(message),
        429 => KernelError::RateLimited { retry_after },
        _ if code == "context_length_exceeded" || message.contains("maximum context length") => {
            KernelError::ContextTooLong(message)
        }
        _ if code == "content_filter" || code == "content_policy_violation" => {
            KernelError::ContentFilter(message)
        }
        s => KernelError::Http { status: s, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_by_status_and_code() {
        let ctx = r#"{"error":{"message":"too long","code":"context_length_exceeded"}}"#;
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, ctx, None),
            KernelError::ContextTooLong(_)
        ));
        let filter = r#"{"error":{"message":"filtered","code":"content_filter"}}"#;
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, filter, None),
            KernelError::ContentFilter(_)
        ));
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, "nope", None),
            KernelError::Auth(_)
        ));
        assert!(classify(StatusCode::BAD_GATEWAY, "<html>", None).is_transient());
    }

    #[test]
    fn retry_after_prefers_milliseconds_and_is_capped() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        h.remove("retry-after-ms");
        h.insert("retry-after", "86400".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(60)));
    }
}
