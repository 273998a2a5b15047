//! Exact change sets: which pull requests and commits each deployment shipped.

use std::borrow::Cow;
use std::collections::VecDeque;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::{ChangeSet, DeployFacts, DoraSettings, ServiceSpec, ShippedChange};
use crate::model::{Change, Commit, DeployState, Deployment};

/// Most commits one deployment's walk visits: a guard against a long-lived branch that forks from
/// before the stored history, whose old commits would otherwise all land in one deployment.
const MAX_WALK: usize = 10_000;

/// The commit graph and the commit → pull request index of every repository.
pub(super) struct Graph<'a> {
    commits: HashMap<(&'a str, &'a str), &'a Commit>,
    /// Commit → pull request, from merge commits and the PRs' own commits.
    pr_by_sha: HashMap<(&'a str, &'a str), &'a Change>,
    /// The rare commits more than one PR claims (a commit in two PRs' histories): all of them.
    shared: HashMap<(&'a str, &'a str), Vec<&'a Change>>,
    prs: HashMap<(&'a str, u64), &'a Change>,
}

impl<'a> Graph<'a> {
    pub(super) fn new(commits: &'a [Commit], changes: &'a [Change]) -> Self {
        // The commit index and the PR indexes are independent: built side by side.
        let ((pr_by_sha, shared, prs), commits) = std::thread::scope(|scope| {
            let by_commit = scope.spawn(|| {
                commits
                    .iter()
                    .map(|c| ((c.repo.as_str(), c.sha.as_str()), c))
                    .collect::<HashMap<_, _>>()
            });
            let prs = Self::pr_indexes(changes);
            let commits = by_commit
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (prs, commits)
        });
        Self {
            commits,
            pr_by_sha,
            shared,
            prs,
        }
    }

    #[allow(clippy::type_complexity)]
    fn pr_indexes(
        changes: &'a [Change],
    ) -> (
        HashMap<(&'a str, &'a str), &'a Change>,
        HashMap<(&'a str, &'a str), Vec<&'a Change>>,
        HashMap<(&'a str, u64), &'a Change>,
    ) {
        let mut pr_by_sha: HashMap<(&str, &str), &Change> = HashMap::default();
        let mut shared: HashMap<(&str, &str), Vec<&Change>> = HashMap::default();
        let mut prs = HashMap::default();
        pr_by_sha.reserve(changes.len() * 2);
        prs.reserve(changes.len());
        for c in changes {
            prs.insert((c.repo.as_str(), c.number), c);
            let shas = std::iter::once(&c.merge_commit_sha).chain(c.commits.iter());
            for sha in shas {
                let key = (c.repo.as_str(), sha.as_str());
                match pr_by_sha.get(&key) {
                    None => {
                        pr_by_sha.insert(key, c);
                    }
                    Some(first) if first.number != c.number => {
                        let all = shared.entry(key).or_insert_with(|| vec![*first]);
                        if !all.iter().any(|x| x.number == c.number) {
                            all.push(c);
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        (pr_by_sha, shared, prs)
    }

    pub(super) fn commit(&self, repo: &str, sha: &str) -> Option<&'a Commit> {
        self.commits.get(&(repo, sha)).copied()
    }

    pub(super) fn pr(&self, repo: &str, number: u64) -> Option<&'a Change> {
        self.prs.get(&(repo, number)).copied()
    }

    pub(super) fn prs(&self) -> impl Iterator<Item = &'a Change> + '_ {
        self.prs.values().copied()
    }

    /// The pull requests a commit belongs to: by merge commit or PR commit, else GitHub's own
    /// association (`commits/{sha}/pulls`), which resolves the rewritten SHAs of rebase merges.
    fn prs_of(&self, repo: &'a str, sha: &'a str) -> Cow<'_, [&'a Change]> {
        if let Some(all) = self.shared.get(&(repo, sha)) {
            return Cow::Borrowed(all.as_slice());
        }
        if let Some(one) = self.pr_by_sha.get(&(repo, sha)) {
            return Cow::Borrowed(std::slice::from_ref(one));
        }
        Cow::Owned(
            self.commit(repo, sha)
                .and_then(|c| c.pulls.as_ref())
                .map(|nums| nums.iter().filter_map(|n| self.pr(repo, *n)).collect())
                .unwrap_or_default(),
        )
    }
}

fn globs(spec: &ServiceSpec) -> Option<GlobSet> {
    if spec.paths.is_empty() {
        return None;
    }
    let mut b = GlobSetBuilder::new();
    for p in &spec.paths {
        // Globs are validated with the configuration; one that still fails is skipped.
        if let Ok(g) = Glob::new(p) {
            b.add(g);
        }
    }
    b.build().ok()
}

fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

/// Why a pull request is unplanned work by its own look: a revert or a hotfix. (Incident fixes
/// are recognised later, once the incidents are known.)
pub(super) fn unplanned_kind(c: &Change) -> Option<String> {
    if is_revert(c) {
        Some("revert".into())
    } else if c.labels.iter().any(|l| l.eq_ignore_ascii_case("hotfix")) {
        Some("hotfix".into())
    } else {
        None
    }
}

pub(super) fn is_revert(c: &Change) -> bool {
    c.title.starts_with("Revert \"")
        || c.head_ref.starts_with("revert-")
        || c.body.contains("Reverts ")
}

/// Walks the graph from `sha`, skipping commits already shipped, up to `limit` commits.
/// Buffers a service's walks reuse, so that a walk of a few commits allocates nothing.
#[derive(Default)]
struct WalkBuffers<'a> {
    queued: HashSet<&'a str>,
    queue: VecDeque<&'a Commit>,
}

fn walk<'a>(
    graph: &Graph<'a>,
    repo: &str,
    sha: &str,
    seen: &HashSet<&str>,
    limit: usize,
    buffers: &mut WalkBuffers<'a>,
) -> Vec<&'a Commit> {
    let mut out = Vec::new();
    let WalkBuffers { queued, queue } = buffers;
    queued.clear();
    queue.clear();
    if let Some(c) = graph.commit(repo, sha) {
        queue.push_back(c);
        queued.insert(c.sha.as_str());
    }
    while let Some(c) = queue.pop_front() {
        out.push(c);
        if out.len() >= limit {
            break;
        }
        for p in &c.parents {
            if seen.contains(p.as_str()) || queued.contains(p.as_str()) {
                continue;
            }
            if let Some(pc) = graph.commit(repo, p) {
                queued.insert(pc.sha.as_str());
                queue.push_back(pc);
            }
        }
    }
    out
}

/// The change sets of one service's deployments (sorted by time): the commits reachable from a
/// deployment's SHA and not from the previous successful one's, mapped to pull requests.
pub(super) fn change_sets<'a>(
    graph: &Graph<'a>,
    spec: &ServiceSpec,
    deployments: &[&'a Deployment],
    settings: &DoraSettings,
) -> Vec<DeployFacts> {
    let globs = globs(spec);
    // Commits reachable from the previous successful deployments.
    let mut seen: HashSet<&str> = HashSet::default();
    let mut prev: Option<&Deployment> = None;
    let mut buffers = WalkBuffers::default();
    let mut out = Vec::with_capacity(deployments.len());
    for d in deployments {
        let at_ms = d.finished_at.map(ms).unwrap_or_else(|| ms(d.created_at));
        let mut rollback_of = None;
        let (kind, walked) = if graph.commit(&d.repo, &d.sha).is_none() {
            (ChangeSet::Unresolved, Vec::new())
        } else if seen.contains(d.sha.as_str()) {
            if let Some(p) = prev.filter(|p| p.sha != d.sha) {
                rollback_of = Some(p.id);
            }
            (ChangeSet::Empty, Vec::new())
        } else if prev.is_none() {
            let w = walk(
                graph,
                &d.repo,
                &d.sha,
                &seen,
                settings.first_lookback_commits.max(1),
                &mut buffers,
            );
            (ChangeSet::Lookback, w)
        } else {
            (
                ChangeSet::Exact,
                walk(graph, &d.repo, &d.sha, &seen, MAX_WALK, &mut buffers),
            )
        };

        let mut changes: Vec<ShippedChange> = Vec::new();
        // (PR, index in `changes`): a deployment ships a handful of PRs, a scan beats hashing.
        let mut pr_index: Vec<(u64, usize)> = Vec::new();
        for c in &walked {
            let prs = graph.prs_of(&d.repo, &c.sha);
            if prs.is_empty() {
                // A merge commit without a pull request (e.g. main merged into a branch) is not
                // a change of its own; a plain commit pushed straight to the branch is.
                if c.parents.len() < 2 && globs.is_none() {
                    let first = ms(c.authored_at);
                    changes.push(ShippedChange {
                        pr: None,
                        title: c.sha.clone(),
                        commits: vec![c.sha.clone()],
                        first_commit_ms: first,
                        opened_ms: None,
                        merged_ms: None,
                        lead_ms: at_ms - first,
                        unplanned: None,
                    });
                }
                continue;
            }
            for &pr in prs.iter() {
                if let Some(g) = &globs {
                    if !pr.files.iter().any(|f| g.is_match(f)) {
                        continue;
                    }
                }
                if let Some(&(_, i)) = pr_index.iter().find(|(n, _)| *n == pr.number) {
                    changes[i].commits.push(c.sha.clone());
                    continue;
                }
                pr_index.push((pr.number, changes.len()));
                let first = ms(pr.first_commit_at).min(ms(pr.created_at));
                changes.push(ShippedChange {
                    pr: Some(pr.number),
                    title: pr.title.clone(),
                    commits: vec![c.sha.clone()],
                    first_commit_ms: first,
                    opened_ms: Some(ms(pr.created_at)),
                    merged_ms: Some(ms(pr.merged_at)),
                    lead_ms: at_ms - first,
                    unplanned: unplanned_kind(pr),
                });
            }
        }
        changes.sort_by_key(|c| (c.first_commit_ms, c.pr));

        if d.state == DeployState::Success {
            seen.extend(walked.iter().map(|c| c.sha.as_str()));
            prev = Some(d);
        }
        out.push(DeployFacts {
            service: spec.name.clone(),
            repo: d.repo.clone(),
            id: d.id,
            sha: d.sha.clone(),
            at_ms,
            state: d.state,
            change_set: kind,
            changes,
            failures: Vec::new(),
            unplanned: None,
            rollback_of,
            recovery: None,
        });
    }
    out
}
