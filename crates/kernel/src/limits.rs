//! Per-user limits on model use: calls per minute and tokens per day. A model, local or paid
//! for, is shared by everyone on the deployment; without them one person (or one runaway script
//! holding their key) takes it from all the others, or runs up the bill.
//!
//! Limits apply to calls made for a user ([`crate::Kernel::for_user`]). A call over a limit is
//! refused before it reaches the model with [`KernelError::UsageLimit`], which says when to
//! come back; it is not retried, unlike a provider's own rate limit.

use std::{num::NonZeroU32, time::Duration};

use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::{
    usage::{today, UsageLedger},
    KernelError,
};

/// Users the rate limiter tracks before it drops those whose budget is full again.
const TRACKED_USERS: usize = 10_000;

#[derive(Default)]
pub struct UsageLimits {
    per_minute: Option<DefaultKeyedRateLimiter<String>>,
    tokens_per_day: Option<u64>,
}

impl UsageLimits {
    /// `0` for either means no limit of that kind.
    pub fn new(calls_per_minute: u32, tokens_per_day: u64) -> Self {
        Self {
            per_minute: NonZeroU32::new(calls_per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            tokens_per_day: (tokens_per_day > 0).then_some(tokens_per_day),
        }
    }

    /// Admits one call for `user`, or says which limit it is over and when to try again. The
    /// day's tokens are read from `ledger`, so every kernel sharing it shares the quota.
    pub fn admit(&self, user: &str, ledger: &UsageLedger) -> Result<(), KernelError> {
        if let Some(quota) = self.tokens_per_day {
            let used = ledger.user_days(user, today()).tokens();
            if used >= quota {
                return Err(KernelError::UsageLimit {
                    detail: format!(
                        "today's model quota of {quota} tokens is used up ({used} used); it renews at midnight UTC"
                    ),
                    retry_after: until_midnight_utc(),
                });
            }
        }
        if let Some(limiter) = &self.per_minute {
            if limiter.len() > TRACKED_USERS {
                limiter.retain_recent();
            }
            if let Err(not_until) = limiter.check_key(&user.to_string()) {
                let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
                return Err(KernelError::UsageLimit {
                    detail: "too many model calls in the last minute; slow down".into(),
                    retry_after: wait.max(Duration::from_secs(1)),
                });
            }
        }
        Ok(())
    }
}

fn until_midnight_utc() -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Duration::from_secs(86_400 - now % 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::tests::call;

    fn spend(ledger: &UsageLedger, user: &str, tokens: u32) {
        ledger.record(call(user, "run", tokens));
    }

    #[test]
    fn a_user_past_the_daily_quota_is_refused_until_midnight_and_others_are_not() {
        let (limits, ledger) = (UsageLimits::new(0, 100), UsageLedger::default());
        spend(&ledger, "alice", 60);
        limits.admit("alice", &ledger).unwrap();
        spend(&ledger, "alice", 40);
        let Err(KernelError::UsageLimit {
            detail,
            retry_after,
        }) = limits.admit("alice", &ledger)
        else {
            panic!("alice has used her 100 tokens");
        };
        assert!(detail.contains("quota of 100 tokens"), "{detail}");
        assert!(retry_after <= Duration::from_secs(86_400));
        limits.admit("bob", &ledger).unwrap();
    }

    #[test]
    fn calls_past_the_rate_wait_and_each_user_has_their_own_budget() {
        let (limits, ledger) = (UsageLimits::new(2, 0), UsageLedger::default());
        limits.admit("alice", &ledger).unwrap();
        limits.admit("alice", &ledger).unwrap();
        let Err(KernelError::UsageLimit { retry_after, .. }) = limits.admit("alice", &ledger)
        else {
            panic!("a third call within the minute is over the rate");
        };
        assert!(retry_after >= Duration::from_secs(1) && retry_after <= Duration::from_secs(30));
        limits.admit("bob", &ledger).unwrap();
    }

    #[test]
    fn no_limits_admit_everything() {
        let (limits, ledger) = (UsageLimits::default(), UsageLedger::default());
        spend(&ledger, "alice", u32::MAX);
        for _ in 0..100 {
            limits.admit("alice", &ledger).unwrap();
        }
    }
}
