//! Pull plumbing written once: retries with backoff and jitter ([`retry`]), and each source's
//! health.
//!
//! A source says what to fetch and how to map it; [`retry`] decides how often and when to try
//! again, and this module records whether the source is up, when it last succeeded and how long
//! syncs take, which `/metrics` and the status API read.

pub mod retry;

pub use retry::{RetryPolicy, Retryable};

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

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
                // Shown by the status API: an upstream's error may quote its URL.
                h.last_error = Some((Utc::now(), crate::redact::urls_in(&e).into_owned()));
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
