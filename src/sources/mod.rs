//! Where data comes from. Each source maps what it reads into [`crate::model`] types and writes
//! them to the [`crate::store::Store`] in atomic batches, with its cursor in the same batch.

pub mod catalog;
mod chunked;
pub mod demo;
pub mod events;
pub mod github;
pub mod metrics_csv;
pub mod prometheus;
pub mod pull;
mod revenue_attributes;
pub mod revenue_csv;
pub mod revenue_import;
pub mod revenue_watch;
pub mod set_import;
pub mod tickets_csv;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::Store;
use pull::{Health, RetryPolicy};

/// The sources that can be synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// Prometheus's HTTP API.
    Prometheus,
    /// GitHub's REST API.
    Github,
}

impl std::str::FromStr for SourceKind {
    type Err = String;

    /// A source by its name, in any case (`/api/v1/sync/{source}`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [SourceKind::Prometheus, SourceKind::Github]
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("no source named {s:?}"))
    }
}

impl SourceKind {
    /// The name used in cursors, logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Prometheus => prometheus::SOURCE,
            SourceKind::Github => github::SOURCE,
        }
    }

    /// The configured sources.
    pub fn configured(config: &Config) -> Vec<SourceKind> {
        let mut out = Vec::new();
        if config.prometheus.url.is_some() {
            out.push(SourceKind::Prometheus);
        }
        if config.github.enabled() {
            out.push(SourceKind::Github);
        }
        out
    }

    fn interval(self, config: &Config) -> Duration {
        match self {
            SourceKind::Prometheus => config.prometheus.interval,
            SourceKind::Github => config.github.interval,
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
    /// Events written (deployments, pull requests, commits, incidents).
    pub events: u64,
    /// Requests answered `304 Not Modified`.
    pub not_modified: u64,
    /// Upstream warnings.
    pub warnings: Vec<String>,
}

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The Prometheus source failed.
    #[error(transparent)]
    Prometheus(#[from] prometheus::PromError),
    /// The GitHub source failed.
    #[error(transparent)]
    Github(#[from] github::GithubError),
}

/// What to sync, beyond the source.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Re-read from here instead of resuming.
    pub since: Option<DateTime<Utc>>,
    /// Only this repository (GitHub).
    pub repo: Option<String>,
    /// Show progress bars (on a terminal).
    pub progress: bool,
}

/// Runs one sync of `kind` and records its outcome in `health` (and the log) in the same call.
///
/// `github` is what the application prepared once for GitHub (`App::build`): the services'
/// patterns and the App's installation tokens.
pub async fn sync_once(
    kind: SourceKind,
    config: &Config,
    github: &github::Shared,
    store: &Store,
    health: &Health,
    options: &SyncOptions,
) -> Result<SyncSummary, SyncError> {
    sync_until(
        kind,
        config,
        github,
        store,
        health,
        options,
        CancellationToken::new(),
    )
    .await
}

/// [`sync_once`], whose waits between attempts (backoff, rate-limit pauses) end when `shutdown`
/// is cancelled: requests and batches in flight finish, but an hour-long pause does not hold up
/// the daemon's exit.
async fn sync_until(
    kind: SourceKind,
    config: &Config,
    github: &github::Shared,
    store: &Store,
    health: &Health,
    options: &SyncOptions,
    shutdown: CancellationToken,
) -> Result<SyncSummary, SyncError> {
    let since = options.since;
    let started = Instant::now();
    let result = match kind {
        SourceKind::Prometheus => {
            async {
                let prom = prometheus::Prometheus::new(&config.prometheus, RetryPolicy::default())?
                    .with_shutdown(shutdown)
                    .with_calendar(crate::model::Calendar::with_offset_s(
                        config.analysis.utc_offset_s,
                    ));
                let r = prom.sync(store, since, Utc::now()).await?;
                Ok::<_, SyncError>(SyncSummary {
                    requests: r.requests,
                    points: r.points,
                    warnings: r.warnings,
                    ..SyncSummary::default()
                })
            }
            .await
        }
        SourceKind::Github => {
            async {
                let sync = github::GithubSync::with_shared(
                    &config.github,
                    github,
                    store,
                    since,
                    options.progress,
                )?
                .with_shutdown(shutdown)
                .with_codeowners(config.derives_ownership());
                let rate = sync.rate();
                let r = sync.run(options.repo.as_deref()).await;
                let remaining = rate.remaining.load(std::sync::atomic::Ordering::Relaxed);
                if remaining >= 0 {
                    health.set_gauge(github::SOURCE, "rate_limit_remaining", remaining as f64);
                }
                let r = r?;
                Ok::<_, SyncError>(SyncSummary {
                    requests: r.requests,
                    events: r.deployments + r.changes + r.commits + r.incidents,
                    not_modified: r.not_modified,
                    ..SyncSummary::default()
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
            tracing::error!(source = kind.name(), error = %crate::redact::urls_in(&e.to_string()), ?elapsed, "sync failed");
            health.record(kind.name(), elapsed, Err(e.to_string()));
        }
    }
    result
}

/// Runs the daemon's syncs, on each source's schedule and on demand, never two of one source at
/// a time.
pub struct Syncer {
    config: Arc<Config>,
    github: github::Shared,
    store: Arc<Store>,
    health: Arc<Health>,
    running: std::sync::Mutex<std::collections::HashSet<SourceKind>>,
}

/// Why an on-demand sync did not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// The source has no configuration.
    #[error("the {0} source is not configured")]
    NotConfigured(&'static str),
    /// A sync of the source is running.
    #[error("a {0} sync is already running")]
    Running(&'static str),
}

/// Removes a source from the running set when its sync ends, however it ends.
struct RunningGuard<'a>(&'a Syncer, SourceKind);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.1);
    }
}

impl Syncer {
    /// A syncer over the daemon's configuration (with what GitHub needs prepared once), store
    /// and health.
    pub fn new(
        config: Arc<Config>,
        github: github::Shared,
        store: Arc<Store>,
        health: Arc<Health>,
    ) -> Arc<Self> {
        Arc::new(Self {
            config,
            github,
            store,
            health,
            running: std::sync::Mutex::default(),
        })
    }

    /// Marks `kind` running; whoever claims releases it with a [`RunningGuard`].
    fn claim(&self, kind: SourceKind) -> Result<(), TriggerError> {
        if !SourceKind::configured(&self.config).contains(&kind) {
            return Err(TriggerError::NotConfigured(kind.name()));
        }
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if !running.insert(kind) {
            return Err(TriggerError::Running(kind.name()));
        }
        Ok(())
    }

    async fn run(&self, kind: SourceKind, shutdown: CancellationToken) -> Result<(), TriggerError> {
        self.claim(kind)?;
        let _guard = RunningGuard(self, kind);
        self.sync(kind, shutdown).await;
        Ok(())
    }

    async fn sync(&self, kind: SourceKind, shutdown: CancellationToken) {
        // The outcome is recorded in the health and the log by `sync_until`.
        let _ = sync_until(
            kind,
            &self.config,
            &self.github,
            &self.store,
            &self.health,
            &SyncOptions::default(),
            shutdown,
        )
        .await;
    }

    /// Starts a sync of `kind` on `tracker` now, unless one is running.
    pub fn trigger(
        self: &Arc<Self>,
        kind: SourceKind,
        tracker: &tokio_util::task::TaskTracker,
    ) -> Result<(), TriggerError> {
        // Claimed here, so that the caller learns at once whether it started, and held by the
        // task until the sync ends, so that no second trigger slips in before it begins.
        self.claim(kind)?;
        let this = self.clone();
        tracker.spawn(async move {
            let _guard = RunningGuard(&this, kind);
            // No shutdown token reaches a trigger: the tracker's grace period bounds it.
            this.sync(kind, CancellationToken::new()).await;
        });
        Ok(())
    }

    /// Syncs `kind` every `interval` (± 10 % jitter, first run soon after start) until
    /// `shutdown`. A failure is recorded and retried at the next tick, while the daemon keeps
    /// serving what is stored; a tick that finds a sync running skips.
    pub async fn schedule(self: Arc<Self>, kind: SourceKind, shutdown: CancellationToken) {
        let interval = kind.interval(&self.config);
        let mut delay = Duration::from_millis(rand::rng().random_range(100..2_000));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
            // A running sync is not interrupted mid-request: its batches are atomic, and
            // shutdown waits for it within the grace period; only its waits end at once.
            if let Err(e) = self.run(kind, shutdown.clone()).await {
                tracing::debug!(source = kind.name(), reason = %e, "scheduled sync skipped");
            }
            let jitter = rand::rng().random_range(0.9..1.1);
            delay = interval.mul_f64(jitter);
        }
    }
}
