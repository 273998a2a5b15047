//! Pull plumbing written once: retries with backoff and jitter, and each source's health.
//!
//! A source says what to fetch and how to map it; this module decides how often to try again, and
//! records whether the source is up, when it last succeeded and how long syncs take, which
//! `/metrics` and the status API read.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;

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

/// One source's health.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceHealth {
    /// Whether the last sync succeeded.
    pub up: bool,
    /// When a sync last succeeded.
    pub last_success: Option<DateTime<Utc>>,
    /// When a sync last failed, and why.
    pub last_error: Option<(DateTime<Utc>, String)>,
    /// Durations of finished syncs, in seconds, since the last read by the metrics.
    #[serde(skip)]
    pub durations: Vec<f64>,
    /// Syncs that failed since start.
    pub failures: u64,
}

/// Health of every source, shared by the syncs and the metrics.
#[derive(Debug)]
pub struct Health {
    sources: Mutex<BTreeMap<String, SourceHealth>>,
    gauges: Mutex<BTreeMap<(String, String), f64>>,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            sources: Mutex::default(),
            gauges: Mutex::default(),
            changed: tokio::sync::watch::channel(0).0,
        }
    }
}

impl Health {
    /// Records a finished sync.
    pub fn record(&self, source: &str, duration: Duration, outcome: Result<(), String>) {
        let mut all = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let h = all.entry(source.to_owned()).or_default();
        h.durations.push(duration.as_secs_f64());
        match outcome {
            Ok(()) => {
                h.up = true;
                h.last_success = Some(Utc::now());
            }
            Err(e) => {
                h.up = false;
                h.failures += 1;
                h.last_error = Some((Utc::now(), e));
            }
        }
        drop(all);
        self.changed.send_modify(|g| *g += 1);
    }

    /// Sets a source's gauge (e.g. GitHub's remaining rate limit).
    pub fn set_gauge(&self, source: &str, name: &str, value: f64) {
        self.gauges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((source.to_owned(), name.to_owned()), value);
    }

    /// A source's gauge, if set.
    pub fn gauge(&self, source: &str, name: &str) -> Option<f64> {
        self.gauges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(source.to_owned(), name.to_owned()))
            .copied()
    }

    /// A receiver that changes whenever a sync finishes.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A snapshot of every source's health; `take_durations` hands over the new durations.
    pub fn snapshot(&self, take_durations: bool) -> BTreeMap<String, SourceHealth> {
        let mut all = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let snap = all.clone();
        if take_durations {
            for h in all.values_mut() {
                h.durations.clear();
            }
        }
        snap
    }
}
