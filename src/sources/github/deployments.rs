//! Deployments, from whichever place a service records them: the Deployments API (with the
//! statuses that make one final), successful workflow runs on the default branch, or releases.

use chrono::{DateTime, Duration, Utc};

use super::client::Fetched;
use super::listing::Stamped;
use super::{payload, GithubError, GithubSync, RUN_OVERLAP_HOURS, SOURCE};
use crate::config::DeploymentsFrom;
use crate::model::{DeploySource, DeployState, Deployment};
use crate::store::{Cursor, WriteBatch};

/// Pending deployments younger than this are polled for a final status.
const PENDING_POLL_DAYS: i64 = 7;

impl Stamped for payload::Deployment {
    fn stamp(&self) -> DateTime<Utc> {
        self.created_at
    }
}

impl Stamped for payload::WorkflowRun {
    fn stamp(&self) -> DateTime<Utc> {
        self.created_at
    }
}

impl Stamped for payload::Release {
    fn stamp(&self) -> DateTime<Utc> {
        self.created_at
    }
}

impl super::listing::Page for payload::WorkflowRuns {
    type Item = payload::WorkflowRun;
    fn into_items(self) -> Vec<payload::WorkflowRun> {
        self.workflow_runs
    }
}

impl GithubSync<'_> {
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

    pub(super) async fn poll_pending(&mut self, repo: &str) -> Result<(), GithubError> {
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

    /// One deployment as GitHub states it (a listing item, or a webhook's `deployment`): kept
    /// if its environment counts for a service, with its final state read from its statuses.
    /// Polling and webhooks both come here, so both store the same record.
    pub(super) async fn apply_deployment(
        &mut self,
        repo: &str,
        d: payload::Deployment,
        batch: &mut WriteBatch,
    ) -> Result<(), GithubError> {
        if d.created_at < self.since {
            return Ok(());
        }
        let Some(service) =
            self.matchers
                .service(repo, &DeploymentsFrom::Deployments, &[&d.environment])
        else {
            return Ok(());
        };
        let key = format!("{repo}/deployments_api/{}", d.id);
        let known = self.store.event::<Deployment>(&key)?;
        if known.is_some_and(|k| k.state != DeployState::Pending) {
            return Ok(());
        }
        let dep = Deployment {
            repo: repo.to_owned(),
            service: service.to_owned(),
            environment: d.environment,
            id: d.id,
            source: DeploySource::DeploymentsApi,
            sha: d.sha,
            git_ref: d.git_ref,
            created_at: d.created_at,
            state: DeployState::Pending,
            finished_at: None,
        };
        self.statuses(repo, dep, batch).await
    }

    pub(super) async fn deployments(&mut self, repo: &str) -> Result<(), GithubError> {
        let mut list = self.listing(
            repo,
            "deployments",
            "deployments",
            format!("/repos/{repo}/deployments?per_page=100"),
            Duration::zero(),
        )?;
        while let Some(page) = list.next::<Vec<payload::Deployment>>(&self.client).await? {
            let mut batch = WriteBatch::new();
            for d in page {
                self.apply_deployment(repo, d, &mut batch).await?;
            }
            list.commit(self.store, batch)?;
        }
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

    /// One workflow run (a listing item, or a webhook's `workflow_run`): a deployment when it
    /// completed successfully on the default branch `branch` and its workflow counts for a
    /// service.
    pub(super) fn apply_workflow_run(
        &mut self,
        repo: &str,
        branch: &str,
        r: payload::WorkflowRun,
        batch: &mut WriteBatch,
    ) {
        let done = r.status.as_deref() == Some("completed")
            && r.conclusion.as_deref() == Some("success")
            && r.head_branch.as_deref() == Some(branch);
        if !done || r.created_at < self.since {
            return;
        }
        let name = r.name.clone().unwrap_or_default();
        let Some(service) =
            self.matchers
                .service(repo, &DeploymentsFrom::WorkflowRuns, &[&name, &r.path])
        else {
            return;
        };
        batch.upsert_event(&Deployment {
            repo: repo.to_owned(),
            service: service.to_owned(),
            environment: "production".into(),
            id: r.id,
            source: DeploySource::WorkflowRun,
            sha: r.head_sha,
            git_ref: branch.to_owned(),
            created_at: r.created_at,
            state: DeployState::Success,
            // A completed run does not change again: its last update is when it completed.
            finished_at: Some(r.updated_at),
        });
        self.report.deployments += 1;
    }

    pub(super) async fn workflow_runs(&mut self, repo: &str) -> Result<(), GithubError> {
        let branch = self.default_branch(repo).await?;
        let mut list = self.listing(
            repo,
            "workflow runs",
            "workflow_runs",
            format!("/repos/{repo}/actions/runs?branch={branch}&status=success&per_page=100"),
            Duration::hours(RUN_OVERLAP_HOURS),
        )?;
        while let Some(page) = list.next::<payload::WorkflowRuns>(&self.client).await? {
            let mut batch = WriteBatch::new();
            for r in page {
                self.apply_workflow_run(repo, &branch, r, &mut batch);
            }
            list.commit(self.store, batch)?;
        }
        Ok(())
    }

    /// One release (a listing item, or a webhook's `release`): a deployment of its tag's commit
    /// once published, when its tag counts for a service.
    pub(super) async fn apply_release(
        &mut self,
        repo: &str,
        r: payload::Release,
        batch: &mut WriteBatch,
    ) -> Result<(), GithubError> {
        let Some(published) = r.published_at.filter(|_| !r.draft) else {
            return Ok(());
        };
        if published < self.since {
            return Ok(());
        }
        let Some(service) = self
            .matchers
            .service(repo, &DeploymentsFrom::Releases, &[&r.tag_name])
        else {
            return Ok(());
        };
        let key = format!("{repo}/release/{}", r.id);
        if self.store.event::<Deployment>(&key)?.is_some() {
            return Ok(());
        }
        // The tag's commit: the release names only its tag.
        let url = format!("/repos/{repo}/commits/{}", r.tag_name);
        let Fetched::Fresh { body: c, .. } = self.client.get::<payload::Commit>(&url, None).await?
        else {
            return Ok(());
        };
        if let Some(m) = c.to_model(repo) {
            batch.upsert_event(&m);
            self.report.commits += 1;
        }
        batch.upsert_event(&Deployment {
            repo: repo.to_owned(),
            service: service.to_owned(),
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
        Ok(())
    }

    pub(super) async fn releases(&mut self, repo: &str) -> Result<(), GithubError> {
        let mut list = self.listing(
            repo,
            "releases",
            "releases",
            format!("/repos/{repo}/releases?per_page=100"),
            Duration::zero(),
        )?;
        while let Some(page) = list.next::<Vec<payload::Release>>(&self.client).await? {
            let mut batch = WriteBatch::new();
            for r in page {
                self.apply_release(repo, r, &mut batch).await?;
            }
            list.commit(self.store, batch)?;
        }
        Ok(())
    }
}
