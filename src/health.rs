//! Health and readiness: what the daemon reports about itself on `/readyz`, `/metrics` and the
//! status API.
//!
//! The syncs, the demo seeding and the digest write here; `/metrics` and the API read. It sits
//! apart from every writer so that no face has to import another face, or a source, to read a
//! counter.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What `/readyz` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Not ready yet, with the reason.
    Starting(&'static str),
    /// Serving.
    Ready,
    /// Shutdown has begun.
    Stopping,
}

/// Outcomes of the weekly digest runs, counted by the digest job where they happen and read by
/// `/metrics`.
#[derive(Debug, Default)]
pub struct DigestOutcomes {
    /// Unix time of the last delivery, ms (0: none yet).
    last_success_ms: AtomicU64,
    failures: AtomicU64,
}

impl DigestOutcomes {
    /// Records a delivery at `at`.
    pub fn succeeded(&self, at: DateTime<Utc>) {
        let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        self.last_success_ms.store(ms, Ordering::Relaxed);
    }

    /// Records a failed run.
    pub fn failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Unix time of the last delivery, in seconds, if there was one.
    pub fn last_success_seconds(&self) -> Option<f64> {
        match self.last_success_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(ms as f64 / 1000.0),
        }
    }

    /// Failed runs since start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
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
    /// Pushed deliveries (webhooks), by source, outcome and reason.
    pub deliveries: Deliveries,
    sources: Mutex<BTreeMap<String, SourceHealth>>,
    gauges: Mutex<BTreeMap<(String, String), f64>>,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            deliveries: Deliveries::default(),
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
                // Shown by the status API: an upstream error may quote its URL.
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

    /// Counts a pushed delivery and tells `/metrics` (see [`Deliveries`]).
    pub fn delivery(&self, source: &str, outcome: DeliveryOutcome, reason: &str) {
        self.deliveries.count(source, outcome, reason);
        self.changed.send_modify(|g| *g += 1);
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

/// What became of a pushed delivery (`POST /webhooks/…`), a label of
/// `barometer_webhook_deliveries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// Verified and applied.
    Accepted,
    /// Verified, but nothing of it counts (an event or a repository not used).
    Ignored,
    /// A delivery id seen before: a no-op.
    Duplicate,
    /// Refused.
    Rejected,
}

impl DeliveryOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Ignored => "ignored",
            Self::Duplicate => "duplicate",
            Self::Rejected => "rejected",
        }
    }
}

/// Pushed deliveries counted by source (`github`, `events`), outcome and reason (the event
/// for accepted ones, why for the others), written by the webhook routes and read by
/// `/metrics` and `/api/v1/sources`.
#[derive(Debug, Default)]
pub struct Deliveries {
    counts: Mutex<BTreeMap<(String, DeliveryOutcome, String), u64>>,
}

impl Deliveries {
    /// Counts one delivery.
    pub fn count(&self, source: &str, outcome: DeliveryOutcome, reason: &str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((source.to_owned(), outcome, reason.to_owned()))
            .or_insert(0) += 1;
    }

    /// Every count since start.
    pub fn snapshot(&self) -> BTreeMap<(String, DeliveryOutcome, String), u64> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
