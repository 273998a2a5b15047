//! Pull plumbing written once: retries with backoff and jitter, and each source's health.
//!
//! A source says what to fetch and how to map it; this module decides how often to try again, and
//! records whether the source is up, when it last succeeded and how long syncs take, which
//! `/metrics` and the status API read.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

pub use crate::health::{Health, SourceHealth};

/// How a failed attempt is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included).
    pub attempts: u32,
    /// Delay before the second attempt; doubles each time.
    pub base_delay: Duration,
    /// Upper bound of one delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `n` (1-based, n ≥ 2): exponential with "full jitter", i.e. a
    /// uniform draw in [0, base·2ⁿ⁻²] capped at `max_delay` (AWS Architecture Blog, "Exponential
    /// Backoff And Jitter", 2015), so that many clients retrying at once spread out.
    pub fn delay(&self, n: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << (n.saturating_sub(2)).min(16));
        let cap = exp.min(self.max_delay);
        let ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms.max(1)))
    }
}

/// Whether an error is worth another attempt, and how long the upstream asked us to wait.
pub trait Retryable {
    /// `Some(hint)` to retry (with the upstream's `Retry-After` when it sent one), `None` to stop.
    fn retry_after(&self) -> Option<Option<Duration>>;
}

/// Runs `op` until it succeeds, fails for good, or the policy is exhausted.
pub async fn with_retry<T, E, F, Fut>(policy: RetryPolicy, what: &str, mut op: F) -> Result<T, E>
where
    E: Retryable + std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let Some(hint) = e.retry_after() else {
                    return Err(e);
                };
                if attempt >= policy.attempts {
                    return Err(e);
                }
                attempt += 1;
                let delay = hint
                    .map(|h| h.min(policy.max_delay))
                    .unwrap_or_else(|| policy.delay(attempt));
                tracing::warn!(%what, error = %e, attempt, ?delay, "retrying");
                tokio::time::sleep(delay).await;
            }
        }
    }
}
