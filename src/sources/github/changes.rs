//! Merged pull requests with their commits (and files, for monorepo services), and incident
//! issues.

use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;

use super::listing::{self, Stamped};
use super::{payload, GithubError, GithubSync};
use crate::model::{Change, Event, Incident};
use crate::store::WriteBatch;

/// Most pages of one PR's commits or files (GitHub caps commits at 250 and files at 3000).
const MAX_SUB_PAGES: usize = 30;

impl Stamped for payload::Pull {
    fn stamp(&self) -> DateTime<Utc> {
        self.updated_at
    }
}

impl Stamped for payload::Issue {
    fn stamp(&self) -> DateTime<Utc> {
        self.updated_at
    }
}

impl GithubSync<'_> {
    /// Every item of a sub-listing (a PR's commits or files, a commit's pull requests).
    pub(super) async fn all_items<T: DeserializeOwned>(
        &self,
        url: String,
    ) -> Result<Vec<T>, GithubError> {
        let pages = listing::all_pages::<Vec<T>>(&self.client, url, MAX_SUB_PAGES).await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// One closed pull request (a listing item, or a webhook's `pull_request`): a change once
    /// merged, with its commits (and files, for monorepo services) read the first time.
    pub(super) async fn apply_pull(
        &mut self,
        repo: &str,
        p: payload::Pull,
        with_files: bool,
        batch: &mut WriteBatch,
    ) -> Result<(), GithubError> {
        let Some(merged_at) = p.merged_at else {
            return Ok(());
        };
        if p.updated_at < self.since {
            return Ok(());
        }
        let key = format!("{repo}#{}", p.number);
        let known = self.store.event::<Change>(&key)?;
        let labels: Vec<String> = p.labels.iter().map(|l| l.name.clone()).collect();
        let body = p.body.clone().unwrap_or_default();
        let change = match known {
            // A merged PR's commits never change; titles, labels and bodies can.
            Some(k) => {
                if k.title == p.title && k.labels == labels && k.body == body {
                    return Ok(());
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
                    .all_items(format!(
                        "/repos/{repo}/pulls/{}/commits?per_page=100",
                        p.number
                    ))
                    .await?;
                let files: Vec<String> = if with_files {
                    self.all_items::<payload::File>(format!(
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
        Ok(())
    }

    /// Whether `repo` has a monorepo service, whose changes need their files.
    pub(super) fn with_files(&self, repo: &str) -> bool {
        self.services(repo).iter().any(|s| !s.paths.is_empty())
    }

    pub(super) async fn pulls(&mut self, repo: &str) -> Result<(), GithubError> {
        let with_files = self.with_files(repo);
        let mut list = self.listing(
            repo,
            "pull requests",
            "pulls",
            format!("/repos/{repo}/pulls?state=closed&sort=updated&direction=desc&per_page=100"),
            Duration::zero(),
        )?;
        while let Some(page) = list.next::<Vec<payload::Pull>>(&self.client).await? {
            let mut batch = WriteBatch::new();
            for p in page {
                self.apply_pull(repo, p, with_files, &mut batch).await?;
            }
            list.commit(self.store, batch)?;
        }
        Ok(())
    }

    /// One issue carrying the incident label (a listing item, or a webhook's `issues`).
    pub(super) fn apply_incident(
        &mut self,
        repo: &str,
        i: payload::Issue,
        batch: &mut WriteBatch,
    ) -> Result<(), GithubError> {
        // GitHub filters the listing by label already; a webhook brings every issue.
        let labelled = i
            .labels
            .iter()
            .any(|l| l.name == self.config.incident_label);
        if i.pull_request.is_some() || !labelled || i.updated_at < self.since {
            return Ok(());
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
            return Ok(());
        }
        batch.upsert_event(&inc);
        self.report.incidents += 1;
        Ok(())
    }

    pub(super) async fn incidents(&mut self, repo: &str) -> Result<(), GithubError> {
        let label = self.config.incident_label.clone();
        let mut list = self.listing(
            repo,
            "incidents",
            "incidents",
            format!(
                "/repos/{repo}/issues?labels={label}&state=all&sort=updated&direction=desc&per_page=100"
            ),
            Duration::zero(),
        )?;
        while let Some(page) = list.next::<Vec<payload::Issue>>(&self.client).await? {
            let mut batch = WriteBatch::new();
            for i in page {
                self.apply_incident(repo, i, &mut batch)?;
            }
            list.commit(self.store, batch)?;
        }
        Ok(())
    }
}
