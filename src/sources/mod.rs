//! Where data comes from. Each source maps what it reads into [`crate::model`] types and writes
//! them to the [`crate::store::Store`] in atomic batches, with its cursor in the same batch.

pub mod demo;
pub mod prometheus;
pub mod pull;
pub mod revenue_csv;
pub mod revenue_import;
pub mod revenue_watch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::Store;
use pull::{Health, RetryPolicy};

/// The sources that can be synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceKind {
    /// Prometheus's HTTP API.
    Prometheus,
}

impl SourceKind {
    /// The name used in cursors, logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Prometheus => prometheus::SOURCE,
        }
    }

    /// The configured sources.
    pub fn configured(config: &Config) -> Vec<SourceKind> {
        let mut out = Vec::new();
        if config.prometheus.url.is_some() {
            out.push(SourceKind::Prometheus);
        }
        out
    }

    fn interval(self, config: &Config) -> Duration {
        match self {
            SourceKind::Prometheus => config.prometheus.interval,
        }
    }
}

/// What a sync did, for people.
#[derive(Debug, Clone, Default)]
pub struct SyncSummary {
    /// Requests sent.
    pub requests: u64,
    /// Points stored.
    pub points: u64,
    /// Upstream warnings.
    pub warnings: Vec<String>,
}

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The Prometheus source failed.
    #[error(transparent)]
    Prometheus(#[from] prometheus::PromError),
}

/// Runs one sync of `kind` and records its outcome in `health` (and the log) in the same call.
pub async fn sync_once(
    kind: SourceKind,
    config: &Config,
    store: &Store,
    health: &Health,
    since: Option<DateTime<Utc>>,
) -> Result<SyncSummary, SyncError> {
    let started = Instant::now();
    let result = match kind {
        SourceKind::Prometheus => {
            async {
                let prom = prometheus::Prometheus::new(&config.prometheus, RetryPolicy::default())?;
                let r = prom.sync(store, since, Utc::now()).await?;
                Ok::<_, SyncError>(SyncSummary {
                    requests: r.requests,
                    points: r.points,
                    warnings: r.warnings,
                })
            }
            .await
        }
    };
    let elapsed = started.elapsed();
    match &result {
        Ok(s) => {
            tracing::info!(
                source = kind.name(),
                requests = s.requests,
                points = s.points,
                ?elapsed,
                "sync done"
            );
            health.record(kind.name(), elapsed, Ok(()));
        }
        Err(e) => {
            tracing::error!(source = kind.name(), error = %e, ?elapsed, "sync failed");
            health.record(kind.name(), elapsed, Err(e.to_string()));
        }
    }
    result
}

/// Syncs `kind` every `interval` (± 10 % jitter, first run soon after start) until `shutdown`.
/// One sync of a source runs at a time; a failure is recorded and retried at the next tick, while
/// the daemon keeps serving what is stored.
pub async fn schedule(
    kind: SourceKind,
    config: Arc<Config>,
    store: Arc<Store>,
    health: Arc<Health>,
    shutdown: CancellationToken,
) {
    let interval = kind.interval(&config);
    let mut delay = Duration::from_millis(rand::rng().random_range(100..2_000));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
        // A running sync is not interrupted: its batches are atomic, and shutdown waits for it
        // within the grace period.
        let _ = sync_once(kind, &config, &store, &health, None).await;
        let jitter = rand::rng().random_range(0.9..1.1);
        delay = interval.mul_f64(jitter);
    }
}
