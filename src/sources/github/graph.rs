//! The commit graph between deployments: which commits each deployment shipped, and which pull
//! request each commit came from.

use std::collections::HashSet;

use chrono::Duration;

use super::{commit_detail, listing, payload, GithubError, GithubSync};
use crate::model::{Change, Commit, DeployState, Deployment};
use crate::store::WriteBatch;

/// Most pages of one comparison (GitHub lists at most 250 commits in a comparison, 100 a page).
const MAX_COMPARE_PAGES: usize = 3;

impl GithubSync<'_> {
    /// Fetches the commits between each deployment and the previous successful one of its
    /// service (the compare API), or a bounded lookback for the first, unless already stored;
    /// then asks GitHub which PR each commit that no PR claims belongs to (rebase merges).
    pub(super) async fn graph(&mut self, repo: &str) -> Result<(), GithubError> {
        let mut deployments: Vec<Deployment> = self
            .store
            .events_with_prefix::<Deployment>(&format!("{repo}/"))
            .collect::<Result<_, _>>()?;
        // A deployment a CD tool reported by version only names no commit to compare.
        deployments.retain(|d| {
            d.state != DeployState::Pending && d.finished_at.is_some() && !d.sha.is_empty()
        });
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
                            let pages = listing::all_pages::<payload::Compare>(
                                &self.client,
                                url,
                                MAX_COMPARE_PAGES,
                            )
                            .await?;
                            for body in pages {
                                if body.status == "behind" || body.status == "identical" {
                                    // A rollback: the deployed commit is the merge base.
                                    commits.push(body.merge_base_commit);
                                }
                                commits.extend(body.commits);
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
                            let pulls = self.all_items::<payload::PullRef>(url).await?;
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
