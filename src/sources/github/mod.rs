//! The GitHub source: deployments (Deployments API, workflow runs or releases), merged pull
//! requests with their commits, the commit graph between deployments, and incident issues.
//!
//! Every listing is walked newest first and stops where the previous complete walk ended (its
//! high-water mark), so a re-run asks only for page 1, conditionally: with nothing new, every
//! request answers `304`, which GitHub does not count against the rate limit. Each page is one
//! atomic batch with the listing's cursor, so an interrupted sync resumes from the next page and
//! an upsert by natural key never double-counts.

pub mod client;
mod commit_detail;
pub mod payload;

use std::collections::HashSet;
use std::io::IsTerminal;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Duration, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::config::{DeploymentsFrom, GithubConfig, GithubService};
use crate::model::{Change, Commit, DeploySource, DeployState, Deployment, Event, Incident};
use crate::sources::pull::{RetryPolicy, Retryable};
use crate::store::{Cursor, Store, StoreError, WriteBatch};
use client::{Client, Fetched};

/// The source's name in cursors, logs and metrics.
pub const SOURCE: &str = "github";

/// Pending deployments younger than this are polled for a final status.
const PENDING_POLL_DAYS: i64 = 7;
/// Listings whose items can complete after they are created (workflow runs) are re-read this far
/// back from the high-water mark.
const RUN_OVERLAP_HOURS: i64 = 6;
/// Most pages of one PR's commits or files (GitHub caps commits at 250 and files at 3000).
const MAX_SUB_PAGES: usize = 30;

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
    },
    /// The rate limit is exhausted for longer than `max_rate_limit_wait`.
    #[error("GitHub {endpoint}: rate limit exhausted until {reset}; the sync resumes next run")]
    RateLimited {
        /// Path and query.
        endpoint: String,
        /// When the window resets.
        reset: DateTime<Utc>,
    },
    /// The answer is not what GitHub documents.
    #[error("GitHub {endpoint}: malformed answer: {message}")]
    Malformed {
        /// Path and query.
        endpoint: String,
        /// The parse error.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl GithubError {
    fn retryable(&self) -> bool {
        match self {
            GithubError::Unavailable { .. } => true,
            GithubError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

impl Retryable for GithubError {
    fn retry_after(&self) -> Option<Option<std::time::Duration>> {
        self.retryable().then_some(None)
    }
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
    /// `x-ratelimit-remaining` at the end, if known.
    pub rate_limit_remaining: Option<i64>,
}

/// Where a listing walk stands.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ListState {
    /// The next page of an unfinished walk.
    resume: Option<String>,
    /// Newest item stamp of the last complete walk: the next walk stops there.
    high_water: Option<DateTime<Utc>>,
    /// Newest stamp seen by the unfinished walk.
    pending_high: Option<DateTime<Utc>>,
}

/// A walk over a newest-first listing, page by page: first the rest of an interrupted walk (if
/// the cursor holds one), then from page 1 down to the previous walk's high-water mark.
struct Walk {
    name: String,
    head_url: String,
    url: Option<String>,
    /// `ETag` to send with the first page (only for a walk from the head).
    etag: Option<String>,
    head: bool,
    first_etag: Option<String>,
    state: ListState,
    since: DateTime<Utc>,
    overlap: Duration,
    pages: u64,
}

impl Walk {
    fn open(
        store: &Store,
        name: String,
        head_url: String,
        since: DateTime<Utc>,
        overlap: Duration,
    ) -> Result<Self, StoreError> {
        let cursor = store.cursor(SOURCE, &name)?.unwrap_or_default();
        let state: ListState = cursor
            .position
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        let (url, etag, head) = match &state.resume {
            Some(r) => (r.clone(), None, false),
            None => (head_url.clone(), cursor.etag.clone(), true),
        };
        Ok(Self {
            name,
            head_url,
            url: Some(url),
            etag,
            head,
            first_etag: None,
            state,
            since,
            overlap,
            pages: 0,
        })
    }

    /// The next page, or `None` when the walk is over (or page 1 did not change).
    async fn next<T: serde::de::DeserializeOwned>(
        &mut self,
        client: &Client,
    ) -> Result<Option<(T, Option<String>)>, GithubError> {
        let Some(url) = self.url.take() else {
            return Ok(None);
        };
        let etag = if self.pages == 0 {
            self.etag.take()
        } else {
            None
        };
        self.pages += 1;
        match client.get::<T>(&url, etag.as_deref()).await? {
            Fetched::NotModified => Ok(None),
            Fetched::Fresh { body, etag, next } => {
                if self.pages == 1 && self.head {
                    self.first_etag = etag;
                }
                Ok(Some((body, next)))
            }
        }
    }

    /// Decides whether to go on after a page whose items have these stamps, and puts the cursor
    /// in the batch that holds the page's data.
    fn after_page(
        &mut self,
        stamps: &[DateTime<Utc>],
        next: Option<String>,
        batch: &mut WriteBatch,
    ) {
        let cursor = self.cursor_after(stamps, next);
        batch.set_cursor(SOURCE, &self.name, cursor);
        if self.url.is_none() && !self.head {
            // The interrupted walk is finished; what is new since then is read from the head
            // (unconditionally: the old page-1 ETag was dropped when the walk was interrupted).
            self.head = true;
            self.url = Some(self.head_url.clone());
            self.pages = 0;
        }
    }

    fn cursor_after(&mut self, stamps: &[DateTime<Utc>], next: Option<String>) -> Cursor {
        let newest = stamps.iter().max().copied();
        self.state.pending_high = self.state.pending_high.max(newest);
        let cutoff = self
            .state
            .high_water
            .map(|h| h - self.overlap)
            .map_or(self.since, |h| h.max(self.since));
        let go_on = next.is_some() && stamps.iter().min().is_some_and(|m| *m >= cutoff);
        if go_on {
            self.url = next.clone();
            self.state.resume = next;
            Cursor {
                position: serde_json::to_string(&self.state).ok(),
                etag: None,
                last_modified: None,
                updated_at: Some(Utc::now()),
            }
        } else {
            self.url = None;
            self.state.resume = None;
            self.state.high_water = self.state.high_water.max(self.state.pending_high.take());
            Cursor {
                position: serde_json::to_string(&self.state).ok(),
                // Page 1's ETag is kept only when a walk from the head is complete: a 304 then
                // means there is truly nothing new.
                etag: if self.head {
                    self.first_etag.clone()
                } else {
                    None
                },
                last_modified: None,
                updated_at: Some(Utc::now()),
            }
        }
    }
}

fn anchored(re: &str) -> Option<Regex> {
    Regex::new(&format!("^(?:{re})$")).ok()
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

/// One GitHub sync over the configured repositories.
pub struct GithubSync<'a> {
    config: &'a GithubConfig,
    store: &'a Store,
    client: Client,
    since: DateTime<Utc>,
    progress: Progress,
    report: SyncReport,
}

impl<'a> GithubSync<'a> {
    /// Prepares a sync; `since` overrides `backfill_since`.
    pub fn new(
        config: &'a GithubConfig,
        store: &'a Store,
        since: Option<DateTime<Utc>>,
        progress: bool,
    ) -> Result<Self, GithubError> {
        let client = Client::new(config, RetryPolicy::default())?;
        let since = since.unwrap_or_else(|| config.backfill_since.resolve(crate::clock::now()));
        Ok(Self {
            config,
            store,
            client,
            since,
            progress: Progress::new(progress),
            report: SyncReport::default(),
        })
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
        self.graph(repo).await?;
        Ok(())
    }

    fn commit(&mut self, batch: WriteBatch) -> Result<(), GithubError> {
        if !batch.is_empty() {
            self.store.commit(batch)?;
        }
        Ok(())
    }

    fn walk_open(&self, name: String, url: String, overlap: Duration) -> Result<Walk, StoreError> {
        Walk::open(self.store, name, url, self.since, overlap)
    }

    // ---- deployments ------------------------------------------------------------------------

    /// The final state of a deployment from its statuses (newest first): counted at its first
    /// `success` status; a later `failure`/`error` marks it failed; no success and a
    /// `failure`/`error` is a failed deployment at that status; else pending.
    fn final_state(statuses: &[payload::DeploymentStatus]) -> (DeployState, Option<DateTime<Utc>>) {
        let first_success = statuses
            .iter()
            .filter(|s| s.state == "success")
            .map(|s| s.created_at)
            .min();
        let last_fail = statuses
            .iter()
            .filter_map(|s| match s.state.as_str() {
                "failure" => Some((s.created_at, DeployState::Failure)),
                "error" => Some((s.created_at, DeployState::Error)),
                _ => None,
            })
            .max_by_key(|(at, _)| *at);
        match (first_success, last_fail) {
            (Some(ok), Some((at, state))) if at > ok => (state, Some(ok)),
            (Some(ok), _) => (DeployState::Success, Some(ok)),
            (None, Some((at, state))) => (state, Some(at)),
            (None, None) => (DeployState::Pending, None),
        }
    }

    /// Reads a deployment's statuses (conditionally when asked before) into the batch.
    async fn statuses(
        &mut self,
        repo: &str,
        d: Deployment,
        batch: &mut WriteBatch,
    ) -> Result<(), GithubError> {
        let name = format!("{repo}/deployments/{}/statuses", d.id);
        let etag = self.store.cursor(SOURCE, &name)?.and_then(|c| c.etag);
        let url = format!("/repos/{repo}/deployments/{}/statuses?per_page=100", d.id);
        let fetched = self
            .client
            .get::<Vec<payload::DeploymentStatus>>(&url, etag.as_deref())
            .await?;
        let Fetched::Fresh { body, etag, .. } = fetched else {
            return Ok(());
        };
        let (state, finished_at) = Self::final_state(&body);
        let d = Deployment {
            state,
            finished_at,
            ..d
        };
        batch.upsert_event(&d);
        self.report.deployments += 1;
        // A pending deployment is asked again later, conditionally; a final one never.
        if state == DeployState::Pending {
            batch.set_cursor(
                SOURCE,
                &name,
                Cursor {
                    etag,
                    updated_at: Some(Utc::now()),
                    ..Cursor::default()
                },
            );
        }
        Ok(())
    }

    async fn poll_pending(&mut self, repo: &str) -> Result<(), GithubError> {
        let horizon = Utc::now() - Duration::days(PENDING_POLL_DAYS);
        let mut pending: Vec<Deployment> = self
            .store
            .events_with_prefix::<Deployment>(&format!("{repo}/deployments_api/"))
            .collect::<Result<_, _>>()?;
        pending.retain(|d| d.state == DeployState::Pending && d.created_at >= horizon);
        for d in pending {
            let mut batch = WriteBatch::new();
            self.statuses(repo, d, &mut batch).await?;
            self.commit(batch)?;
        }
        Ok(())
    }

    async fn deployments(&mut self, repo: &str) -> Result<(), GithubError> {
        let matchers: Vec<(String, Regex)> = self
            .services(repo)
            .into_iter()
            .filter(|s| s.deployments_from == DeploymentsFrom::Deployments)
            .filter_map(|s| Some((s.name.clone(), anchored(&s.environment)?)))
            .collect();
        let bar = self.progress.bar(repo, "deployments");
        let mut walk = self.walk_open(
            format!("{repo}/deployments"),
            format!("/repos/{repo}/deployments?per_page=100"),
            Duration::zero(),
        )?;
        while let Some((page, next)) = walk.next::<Vec<payload::Deployment>>(&self.client).await? {
            let mut batch = WriteBatch::new();
            let stamps: Vec<_> = page.iter().map(|d| d.created_at).collect();
            for d in page {
                bar.inc(1);
                if d.created_at < self.since {
                    continue;
                }
                let Some((service, _)) =
                    matchers.iter().find(|(_, re)| re.is_match(&d.environment))
                else {
                    continue;
                };
                let key = format!("{repo}/deployments_api/{}", d.id);
                let known = self.store.event::<Deployment>(&key)?;
                if known.is_some_and(|k| k.state != DeployState::Pending) {
                    continue;
                }
                let dep = Deployment {
                    repo: repo.to_owned(),
                    service: service.clone(),
                    environment: d.environment,
                    id: d.id,
                    source: DeploySource::DeploymentsApi,
                    sha: d.sha,
                    git_ref: d.git_ref,
                    created_at: d.created_at,
                    state: DeployState::Pending,
                    finished_at: None,
                };
                self.statuses(repo, dep, &mut batch).await?;
            }
            walk.after_page(&stamps, next, &mut batch);
            self.commit(batch)?;
        }
        bar.finish();
        Ok(())
    }

    async fn default_branch(&mut self, repo: &str) -> Result<String, GithubError> {
        let name = format!("{repo}/repo");
        let cursor = self.store.cursor(SOURCE, &name)?.unwrap_or_default();
        let url = format!("/repos/{repo}");
        match self
            .client
            .get::<payload::Repo>(&url, cursor.etag.as_deref())
            .await?
        {
            Fetched::NotModified => Ok(cursor.position.unwrap_or_else(|| "main".into())),
            Fetched::Fresh { body, etag, .. } => {
                let mut batch = WriteBatch::new();
                batch.set_cursor(
                    SOURCE,
                    &name,
                    Cursor {
                        position: Some(body.default_branch.clone()),
                        etag,
                        last_modified: None,
                        updated_at: Some(Utc::now()),
                    },
                );
                self.commit(batch)?;
                Ok(body.default_branch)
            }
        }
    }

    async fn workflow_runs(&mut self, repo: &str) -> Result<(), GithubError> {
        let matchers: Vec<(String, Regex)> = self
            .services(repo)
            .into_iter()
            .filter(|s| s.deployments_from == DeploymentsFrom::WorkflowRuns)
            .filter_map(|s| Some((s.name.clone(), Regex::new(&s.workflow).ok()?)))
            .collect();
        let branch = self.default_branch(repo).await?;
        let bar = self.progress.bar(repo, "workflow runs");
        let mut walk = self.walk_open(
            format!("{repo}/workflow_runs"),
            format!("/repos/{repo}/actions/runs?branch={branch}&status=success&per_page=100"),
            Duration::hours(RUN_OVERLAP_HOURS),
        )?;
        while let Some((page, next)) = walk.next::<payload::WorkflowRuns>(&self.client).await? {
            let mut batch = WriteBatch::new();
            let stamps: Vec<_> = page.workflow_runs.iter().map(|r| r.created_at).collect();
            for r in page.workflow_runs {
                bar.inc(1);
                let done = r.status.as_deref() == Some("completed")
                    && r.conclusion.as_deref() == Some("success")
                    && r.head_branch.as_deref() == Some(branch.as_str());
                if !done || r.created_at < self.since {
                    continue;
                }
                let name = r.name.clone().unwrap_or_default();
                let Some((service, _)) = matchers
                    .iter()
                    .find(|(_, re)| re.is_match(&name) || re.is_match(&r.path))
                else {
                    continue;
                };
                batch.upsert_event(&Deployment {
                    repo: repo.to_owned(),
                    service: service.clone(),
                    environment: "production".into(),
                    id: r.id,
                    source: DeploySource::WorkflowRun,
                    sha: r.head_sha,
                    git_ref: branch.clone(),
                    created_at: r.created_at,
                    state: DeployState::Success,
                    // A completed run does not change again: its last update is when it
                    // completed.
                    finished_at: Some(r.updated_at),
                });
                self.report.deployments += 1;
            }
            walk.after_page(&stamps, next, &mut batch);
            self.commit(batch)?;
        }
        bar.finish();
        Ok(())
    }

    async fn releases(&mut self, repo: &str) -> Result<(), GithubError> {
        let matchers: Vec<(String, Regex)> = self
            .services(repo)
            .into_iter()
            .filter(|s| s.deployments_from == DeploymentsFrom::Releases)
            .filter_map(|s| Some((s.name.clone(), Regex::new(&s.release_pattern).ok()?)))
            .collect();
        let bar = self.progress.bar(repo, "releases");
        let mut walk = self.walk_open(
            format!("{repo}/releases"),
            format!("/repos/{repo}/releases?per_page=100"),
            Duration::zero(),
        )?;
        while let Some((page, next)) = walk.next::<Vec<payload::Release>>(&self.client).await? {
            let mut batch = WriteBatch::new();
            let stamps: Vec<_> = page.iter().map(|r| r.created_at).collect();
            for r in page {
                bar.inc(1);
                let Some(published) = r.published_at.filter(|_| !r.draft) else {
                    continue;
                };
                if published < self.since {
                    continue;
                }
                let Some((service, _)) = matchers.iter().find(|(_, re)| re.is_match(&r.tag_name))
                else {
                    continue;
                };
                let key = format!("{repo}/release/{}", r.id);
                if self.store.event::<Deployment>(&key)?.is_some() {
                    continue;
                }
                // The tag's commit: the release names only its tag.
                let url = format!("/repos/{repo}/commits/{}", r.tag_name);
                let Fetched::Fresh { body: c, .. } =
                    self.client.get::<payload::Commit>(&url, None).await?
                else {
                    continue;
                };
                if let Some(m) = c.to_model(repo) {
                    batch.upsert_event(&m);
                    self.report.commits += 1;
                }
                batch.upsert_event(&Deployment {
                    repo: repo.to_owned(),
                    service: service.clone(),
                    environment: "production".into(),
                    id: r.id,
                    source: DeploySource::Release,
                    sha: c.sha,
                    git_ref: r.tag_name,
                    created_at: r.created_at,
                    state: DeployState::Success,
                    finished_at: Some(published),
                });
                self.report.deployments += 1;
            }
            walk.after_page(&stamps, next, &mut batch);
            self.commit(batch)?;
        }
        bar.finish();
        Ok(())
    }

    // ---- pull requests ----------------------------------------------------------------------

    /// Every page of a sub-listing (a PR's commits or files).
    async fn all_pages<T: serde::de::DeserializeOwned>(
        &mut self,
        url: String,
    ) -> Result<Vec<T>, GithubError> {
        let mut out = Vec::new();
        let mut next = Some(url);
        let mut pages = 0;
        while let Some(u) = next.take() {
            pages += 1;
            if let Fetched::Fresh { body, next: n, .. } =
                self.client.get::<Vec<T>>(&u, None).await?
            {
                out.extend(body);
                next = n.filter(|_| pages < MAX_SUB_PAGES);
            }
        }
        Ok(out)
    }

    async fn pulls(&mut self, repo: &str) -> Result<(), GithubError> {
        let with_files = self.services(repo).iter().any(|s| !s.paths.is_empty());
        let bar = self.progress.bar(repo, "pull requests");
        let mut walk = self.walk_open(
            format!("{repo}/pulls"),
            format!("/repos/{repo}/pulls?state=closed&sort=updated&direction=desc&per_page=100"),
            Duration::zero(),
        )?;
        while let Some((page, next)) = walk.next::<Vec<payload::Pull>>(&self.client).await? {
            let mut batch = WriteBatch::new();
            let stamps: Vec<_> = page.iter().map(|p| p.updated_at).collect();
            for p in page {
                bar.inc(1);
                let Some(merged_at) = p.merged_at else {
                    continue;
                };
                if p.updated_at < self.since {
                    continue;
                }
                let key = format!("{repo}#{}", p.number);
                let known = self.store.event::<Change>(&key)?;
                let labels: Vec<String> = p.labels.iter().map(|l| l.name.clone()).collect();
                let body = p.body.clone().unwrap_or_default();
                let change = match known {
                    // A merged PR's commits never change; titles, labels and bodies can.
                    Some(k) => {
                        if k.title == p.title && k.labels == labels && k.body == body {
                            continue;
                        }
                        Change {
                            title: p.title,
                            labels,
                            body,
                            ..k
                        }
                    }
                    None => {
                        let commits: Vec<payload::Commit> = self
                            .all_pages(format!(
                                "/repos/{repo}/pulls/{}/commits?per_page=100",
                                p.number
                            ))
                            .await?;
                        let files: Vec<String> = if with_files {
                            self.all_pages::<payload::File>(format!(
                                "/repos/{repo}/pulls/{}/files?per_page=100",
                                p.number
                            ))
                            .await?
                            .into_iter()
                            .map(|f| f.filename)
                            .collect()
                        } else {
                            Vec::new()
                        };
                        // Lead time starts at the PR's first commit, which survives squash and
                        // rebase merges because it is read from the PR, not from the branch.
                        let first = commits
                            .iter()
                            .filter_map(payload::Commit::authored_at)
                            .min()
                            .unwrap_or(p.created_at);
                        Change {
                            repo: repo.to_owned(),
                            number: p.number,
                            title: p.title,
                            head_ref: p.head.git_ref,
                            base_ref: p.base.git_ref,
                            labels,
                            files,
                            created_at: p.created_at,
                            merged_at,
                            merge_commit_sha: p.merge_commit_sha.unwrap_or_default(),
                            commits: commits.into_iter().map(|c| c.sha).collect(),
                            first_commit_at: first,
                            body,
                        }
                    }
                };
                batch.upsert_event(&change);
                self.report.changes += 1;
            }
            walk.after_page(&stamps, next, &mut batch);
            self.commit(batch)?;
        }
        bar.finish();
        Ok(())
    }

    // ---- incidents --------------------------------------------------------------------------

    async fn incidents(&mut self, repo: &str) -> Result<(), GithubError> {
        let label = self.config.incident_label.clone();
        let bar = self.progress.bar(repo, "incidents");
        let mut walk = self.walk_open(
                format!("{repo}/incidents"),
                format!(
                    "/repos/{repo}/issues?labels={label}&state=all&sort=updated&direction=desc&per_page=100"
                ),
                Duration::zero(),
        )?;
        while let Some((page, next)) = walk.next::<Vec<payload::Issue>>(&self.client).await? {
            let mut batch = WriteBatch::new();
            let stamps: Vec<_> = page.iter().map(|i| i.updated_at).collect();
            for i in page {
                bar.inc(1);
                if i.pull_request.is_some() || i.updated_at < self.since {
                    continue;
                }
                let inc = Incident {
                    repo: repo.to_owned(),
                    number: i.number,
                    title: i.title,
                    body: i.body.unwrap_or_default(),
                    labels: i.labels.into_iter().map(|l| l.name).collect(),
                    created_at: i.created_at,
                    closed_at: i.closed_at,
                };
                if self.store.event::<Incident>(&inc.natural_key())?.as_ref() == Some(&inc) {
                    continue;
                }
                batch.upsert_event(&inc);
                self.report.incidents += 1;
            }
            walk.after_page(&stamps, next, &mut batch);
            self.commit(batch)?;
        }
        bar.finish();
        Ok(())
    }

    // ---- commit graph -----------------------------------------------------------------------

    /// Fetches the commits between each deployment and the previous successful one of its
    /// service (the compare API), or a bounded lookback for the first, unless already stored;
    /// then asks GitHub which PR each commit that no PR claims belongs to (rebase merges).
    async fn graph(&mut self, repo: &str) -> Result<(), GithubError> {
        let mut deployments: Vec<Deployment> = self
            .store
            .events_with_prefix::<Deployment>(&format!("{repo}/"))
            .collect::<Result<_, _>>()?;
        deployments.retain(|d| d.state != DeployState::Pending && d.finished_at.is_some());
        deployments.sort_by_key(|d| (d.finished_at, d.id));
        // Commits some stored PR already claims; read only once a deployment needs its graph
        // (a sync with nothing new never does).
        let mut claimed: Option<HashSet<String>> = None;
        let bar = self.progress.bar(repo, "commit graph");
        let lookback = Duration::from_std(self.config.first_deploy_lookback)
            .unwrap_or_else(|_| Duration::days(30));
        let monorepo = self.services(repo).iter().any(|s| !s.paths.is_empty());
        for service in self.services(repo) {
            let mut prev: Option<&Deployment> = None;
            for d in deployments.iter().filter(|d| d.service == service.name) {
                let have = self
                    .store
                    .event::<Commit>(&format!("{repo}@{}", d.sha))?
                    .is_some();
                if !have {
                    bar.inc(1);
                    let mut commits: Vec<payload::Commit> = Vec::new();
                    match prev {
                        Some(p) => {
                            let url =
                                format!("/repos/{repo}/compare/{}...{}?per_page=100", p.sha, d.sha);
                            let mut next = Some(url);
                            let mut pages = 0;
                            while let Some(u) = next.take() {
                                pages += 1;
                                if let Fetched::Fresh { body, next: n, .. } =
                                    self.client.get::<payload::Compare>(&u, None).await?
                                {
                                    if body.status == "behind" || body.status == "identical" {
                                        // A rollback: the deployed commit is the merge base.
                                        commits.push(body.merge_base_commit);
                                    }
                                    commits.extend(body.commits);
                                    next = n.filter(|_| pages < 3);
                                }
                            }
                        }
                        None => {
                            let at = d.finished_at.unwrap_or(d.created_at);
                            let from = (at - lookback).max(self.since);
                            commits =
                                commit_detail::window(&self.client, repo, &d.sha, from).await?;
                        }
                    }
                    let claimed = match &mut claimed {
                        Some(c) => &*c,
                        None => {
                            let set = self
                                .store
                                .events_with_prefix::<Change>(&format!("{repo}#"))
                                .map(|c| {
                                    c.map(|c| std::iter::once(c.merge_commit_sha).chain(c.commits))
                                })
                                .collect::<Result<Vec<_>, _>>()?
                                .into_iter()
                                .flatten()
                                .collect();
                            &*claimed.insert(set)
                        }
                    };
                    let mut batch = WriteBatch::new();
                    for c in &commits {
                        let Some(mut m) = c.to_model(repo) else {
                            continue;
                        };
                        if m.parents.len() == 1
                            && !claimed.contains(&m.sha)
                            && m.authored_at >= self.since
                        {
                            let url = format!("/repos/{repo}/commits/{}/pulls?per_page=100", m.sha);
                            let pulls = self.all_pages::<payload::PullRef>(url).await?;
                            m.pulls = Some(
                                pulls
                                    .iter()
                                    .filter(|p| p.merged_at.is_some())
                                    .map(|p| p.number)
                                    .collect(),
                            );
                            if monorepo && m.pulls.as_ref().is_some_and(Vec::is_empty) {
                                m.files =
                                    Some(commit_detail::files(&self.client, repo, &m.sha).await?);
                            }
                        }
                        batch.upsert_event(&m);
                        self.report.commits += 1;
                    }
                    self.commit(batch)?;
                }
                if d.state == DeployState::Success {
                    prev = Some(d);
                }
            }
        }
        bar.finish();
        Ok(())
    }
}
