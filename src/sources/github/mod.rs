//! The GitHub source: deployments (Deployments API, workflow runs or releases), merged pull
//! requests with their commits, the commit graph between deployments, incident and bug issues,
//! and the repositories' `CODEOWNERS` (when a team derives its services from it).
//!
//! Every listing is walked newest first and stops where the previous complete walk ended (its
//! high-water mark), so a re-run asks only for page 1, conditionally: with nothing new, every
//! request answers `304`, which GitHub does not count against the rate limit. Each page is one
//! atomic batch with the listing's cursor, so an interrupted sync resumes from the next page and
//! an upsert by natural key never double-counts.

pub mod app_auth;
pub mod client;
mod commit_detail;
pub mod payload;
pub mod webhook;

mod bugs;
mod changes;
pub mod codeowners;
mod deployments;
mod graph;
mod listing;
mod matchers;

pub use app_auth::AppAuth;
pub use matchers::{Matchers, PatternError};

use std::io::IsTerminal;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::config::{DeploymentsFrom, GithubConfig, GithubService};
use crate::retry::{Cancelled, RetryPolicy};
use crate::store::{Store, StoreError, WriteBatch};
use client::Client;
use listing::Listing;

/// The source's name in cursors, logs and metrics.
pub const SOURCE: &str = "github";

/// Listings whose items can complete after they are created (workflow runs) are re-read this far
/// back from the high-water mark.
const RUN_OVERLAP_HOURS: i64 = 6;

/// Why a GitHub sync failed.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    /// The configuration cannot make a client.
    #[error("{0}")]
    Config(String),
    /// No answer (connection refused, timeout …).
    #[error("GitHub {endpoint}: unavailable: {message}")]
    Unavailable {
        /// Path and query.
        endpoint: String,
        /// What happened.
        message: String,
    },
    /// An error status.
    #[error("GitHub {endpoint}: HTTP {status}: {message}")]
    Status {
        /// Path and query.
        endpoint: String,
        /// Status code.
        status: u16,
        /// GitHub's message.
        message: String,
        /// The wait GitHub asked for on a rate-limited answer (`retry-after`, or until
        /// `x-ratelimit-reset`); such an answer is retried without spending an attempt.
        retry_after: Option<std::time::Duration>,
    },
    /// The rate limit is exhausted for longer than `max_rate_limit_wait`.
    #[error("GitHub {endpoint}: rate limit exhausted until {reset}; the sync resumes next run")]
    RateLimited {
        /// Path and query.
        endpoint: String,
        /// When the window resets.
        reset: DateTime<Utc>,
    },
    /// GitHub refused the App's credentials: its JWT (a wrong App id or key) or an installation
    /// (uninstalled, suspended). The text names the installation and what to do.
    #[error("{}", app_auth::refusal_text(.installation, *.status, .message))]
    AppRefused {
        /// The installation a token was asked for; `None` when listing the installations.
        installation: Option<u64>,
        /// Status code.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// No installation of the App is on a repository's owner.
    #[error(
        "GitHub App: no installation covers {owner:?} (installed on: {}); install the App on \
         {owner} with access to its repositories, then restart Barometer",
        .installed.join(", ")
    )]
    NotInstalled {
        /// The repository's owner.
        owner: String,
        /// The owners the App is installed on.
        installed: Vec<String>,
    },
    /// The answer is not what GitHub documents.
    #[error("GitHub {endpoint}: malformed answer: {message}")]
    Malformed {
        /// Path and query.
        endpoint: String,
        /// The parse error.
        message: String,
    },
    /// A service's deployment pattern does not compile.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Shutdown came during a wait (backoff or rate-limit pause).
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// What a sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    /// Requests sent (retries included).
    pub requests: u64,
    /// Requests sent with `If-None-Match`.
    pub conditional: u64,
    /// Answered `304`.
    pub not_modified: u64,
    /// Retries and rate-limit waits.
    pub retries: u64,
    /// Deployments written (new or changed).
    pub deployments: u64,
    /// Pull requests written.
    pub changes: u64,
    /// Commits written.
    pub commits: u64,
    /// Incidents written.
    pub incidents: u64,
    /// Bugs written (new or changed).
    pub bugs: u64,
    /// `x-ratelimit-remaining` at the end, if known.
    pub rate_limit_remaining: Option<i64>,
}

/// A progress line per repository and endpoint, on a terminal only.
struct Progress {
    multi: Option<indicatif::MultiProgress>,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        Self {
            multi: (enabled && std::io::stderr().is_terminal()).then(indicatif::MultiProgress::new),
        }
    }

    fn bar(&self, repo: &str, endpoint: &str) -> indicatif::ProgressBar {
        let Some(m) = &self.multi else {
            return indicatif::ProgressBar::hidden();
        };
        let bar = m.add(indicatif::ProgressBar::new_spinner());
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} {prefix}: {pos} {msg}")
        {
            bar.set_style(style);
        }
        bar.set_prefix(format!("{repo} {endpoint}"));
        bar
    }
}

/// What every GitHub sync and webhook delivery of one application shares, prepared once from
/// the configuration (`App::build`): the services' compiled patterns and, for a GitHub App, its
/// installation tokens, which then outlive any one sync.
#[derive(Clone)]
pub struct Shared {
    /// The services' deployment patterns.
    pub matchers: std::sync::Arc<Matchers>,
    /// The GitHub App and its tokens, when `[github.app]` is configured.
    pub app_auth: Option<std::sync::Arc<AppAuth>>,
}

impl Shared {
    /// Compiles the services' patterns and prepares the App's credentials.
    pub fn new(config: &GithubConfig) -> Result<Self, PatternError> {
        Ok(Self {
            matchers: std::sync::Arc::new(Matchers::compile(&config.services)?),
            app_auth: AppAuth::new(config),
        })
    }
}

/// One GitHub sync over the configured repositories.
pub struct GithubSync<'a> {
    config: &'a GithubConfig,
    store: &'a Store,
    client: Client,
    matchers: std::sync::Arc<Matchers>,
    since: DateTime<Utc>,
    progress: Progress,
    report: SyncReport,
    codeowners: bool,
}

impl<'a> GithubSync<'a> {
    /// Prepares a sync, compiling the services' patterns; `since` overrides `backfill_since`.
    pub fn new(
        config: &'a GithubConfig,
        store: &'a Store,
        since: Option<DateTime<Utc>>,
        progress: bool,
    ) -> Result<Self, GithubError> {
        Self::with_shared(config, &Shared::new(config)?, store, since, progress)
    }

    /// Prepares a sync with what the application prepared once ([`Shared::new`] over the same
    /// `config`).
    pub fn with_shared(
        config: &'a GithubConfig,
        shared: &Shared,
        store: &'a Store,
        since: Option<DateTime<Utc>>,
        progress: bool,
    ) -> Result<Self, GithubError> {
        let client =
            Client::with_app_auth(config, RetryPolicy::default(), shared.app_auth.clone())?;
        let since = since.unwrap_or_else(|| config.backfill_since.resolve(crate::clock::now()));
        Ok(Self {
            config,
            store,
            client,
            matchers: shared.matchers.clone(),
            since,
            progress: Progress::new(progress),
            report: SyncReport::default(),
            codeowners: false,
        })
    }

    /// Ends the sync's waits (backoff, rate-limit pauses) when `shutdown` is cancelled; the sync
    /// then fails with [`GithubError::Cancelled`], keeping every page already committed.
    pub fn with_shutdown(mut self, shutdown: tokio_util::sync::CancellationToken) -> Self {
        self.client = self.client.with_shutdown(shutdown);
        self
    }

    /// Also reads each repository's `CODEOWNERS` (when a team derives its services from it).
    pub fn with_codeowners(mut self, read: bool) -> Self {
        self.codeowners = read;
        self
    }

    /// The client's rate-limit state, for `/metrics`.
    pub fn rate(&self) -> std::sync::Arc<client::RateLimit> {
        self.client.rate.clone()
    }

    /// Syncs every repository (or only `only`).
    pub async fn run(mut self, only: Option<&str>) -> Result<SyncReport, GithubError> {
        let repos: Vec<String> = self
            .config
            .repos()
            .into_iter()
            .filter(|r| only.is_none_or(|o| o == *r))
            .map(str::to_owned)
            .collect();
        for repo in &repos {
            self.repo(repo).await?;
        }
        let c = &self.client.counters;
        self.report.requests = c.requests.load(Ordering::Relaxed);
        self.report.conditional = c.conditional.load(Ordering::Relaxed);
        self.report.not_modified = c.not_modified.load(Ordering::Relaxed);
        self.report.retries = c.retries.load(Ordering::Relaxed);
        let remaining = self.client.rate.remaining.load(Ordering::Relaxed);
        self.report.rate_limit_remaining = (remaining >= 0).then_some(remaining);
        Ok(self.report)
    }

    fn services(&self, repo: &str) -> Vec<&'a GithubService> {
        self.config
            .services
            .iter()
            .filter(|s| s.repo == repo)
            .collect()
    }

    async fn repo(&mut self, repo: &str) -> Result<(), GithubError> {
        let services = self.services(repo);
        let from = |f: DeploymentsFrom| services.iter().any(|s| s.deployments_from == f);
        // Pull requests first: the graph step maps commits to them.
        self.pulls(repo).await?;
        if from(DeploymentsFrom::Deployments) {
            self.poll_pending(repo).await?;
            self.deployments(repo).await?;
        }
        if from(DeploymentsFrom::WorkflowRuns) {
            self.workflow_runs(repo).await?;
        }
        if from(DeploymentsFrom::Releases) {
            self.releases(repo).await?;
        }
        self.incidents(repo).await?;
        self.bugs(repo).await?;
        if self.codeowners {
            self.codeowners(repo).await?;
        }
        self.graph(repo).await?;
        Ok(())
    }

    fn commit(&mut self, batch: WriteBatch) -> Result<(), GithubError> {
        if !batch.is_empty() {
            self.store.commit(batch)?;
        }
        Ok(())
    }

    /// Opens `repo`'s listing `name` at `url`, with its progress line `label`.
    fn listing(
        &self,
        repo: &str,
        label: &str,
        name: &str,
        url: String,
        overlap: Duration,
    ) -> Result<Listing, StoreError> {
        let bar = self.progress.bar(repo, label);
        Listing::open(
            self.store,
            format!("{repo}/{name}"),
            url,
            self.since,
            overlap,
            bar,
        )
    }
}
