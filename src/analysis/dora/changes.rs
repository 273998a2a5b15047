//! Exact change sets: which pull requests and commits each deployment shipped.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::BinaryHeap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use globset::GlobSet;

use super::{ChangeSet, DeployFacts, DoraSettings, LeadTimeUnit, ServiceSpec, ShippedChange};
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
                // One hash and one probe per commit (this index is the longest step of the
                // graph's set-up).
                match pr_by_sha.entry(key) {
                    Entry::Vacant(slot) => {
                        slot.insert(c);
                    }
                    Entry::Occupied(first) if first.get().number != c.number => {
                        let first = *first.get();
                        let all = shared.entry(key).or_insert_with(|| vec![first]);
                        if !all.iter().any(|x| x.number == c.number) {
                            all.push(c);
                        }
                    }
                    Entry::Occupied(_) => {}
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

/// Reachable from the deployment's SHA.
const NEW: u8 = 1;
/// Reachable from the previous successful deployment's SHA.
const OLD: u8 = 2;
/// Commits still walked once everything queued is reachable from the old SHA and older than every
/// candidate, so that a commit whose timestamp is older than its parent's (clock skew) is still
/// painted: git's own slop (`revision.c`, `SLOP`).
const SLOP: usize = 5;

/// Buffers a service's walks reuse, so that a walk of a few commits allocates little.
#[derive(Default)]
struct WalkBuffers<'a> {
    flags: HashMap<&'a str, u8>,
    queue: BinaryHeap<(i64, &'a str)>,
}

/// The commits reachable from `head` and not from `base` (`git rev-list base..head`, what the
/// compare API answers), newest first; with `cutoff`, only commits committed at or after it, and
/// the walk does not go past an older one (`git rev-list --since`).
///
/// Both sides are painted in committer-time order, newest first, and the walk stops once every
/// queued commit is reachable from `base` (plus [`SLOP`]): only the commits since the merge base
/// are visited, not the whole history behind `base`.
fn range<'a>(
    graph: &Graph<'a>,
    repo: &str,
    head: &str,
    base: Option<&str>,
    cutoff: Option<i64>,
    buffers: &mut WalkBuffers<'a>,
) -> Vec<&'a Commit> {
    let WalkBuffers { flags, queue } = buffers;
    flags.clear();
    queue.clear();
    let kept = |c: &Commit| cutoff.is_none_or(|t| ms(c.committed_at) >= t);
    for (sha, flag) in std::iter::once((head, NEW)).chain(base.map(|b| (b, OLD))) {
        if let Some(c) = graph.commit(repo, sha).filter(|c| kept(c)) {
            *flags.entry(c.sha.as_str()).or_insert(0) |= flag;
            queue.push((ms(c.committed_at), c.sha.as_str()));
        }
    }
    let mut candidates: Vec<&'a Commit> = Vec::new();
    let mut visited = 0usize;
    let mut slop = SLOP;
    let mut oldest = i64::MAX;
    while let Some((_, sha)) = queue.pop() {
        visited += 1;
        if visited > MAX_WALK {
            break;
        }
        let Some(c) = graph.commit(repo, sha) else {
            continue;
        };
        let flag = flags.get(sha).copied().unwrap_or(0);
        if flag == NEW {
            oldest = oldest.min(ms(c.committed_at));
            candidates.push(c);
        }
        for p in &c.parents {
            let Some(pc) = graph.commit(repo, p).filter(|c| kept(c)) else {
                continue;
            };
            let pf = flags.entry(pc.sha.as_str()).or_insert(0);
            if *pf | flag != *pf {
                *pf |= flag;
                queue.push((ms(pc.committed_at), pc.sha.as_str()));
            }
        }
        // Done once only old commits are queued and none is newer than a candidate (which it
        // could still reach, with equal timestamps); then a few more for clock skew.
        let all_old = queue
            .iter()
            .all(|(_, s)| flags.get(s).is_some_and(|f| f & OLD != 0));
        if all_old && queue.peek().is_none_or(|(t, _)| *t < oldest) {
            if slop == 0 {
                break;
            }
            slop -= 1;
        } else {
            slop = SLOP;
        }
    }
    // A commit first reached from the new side may be painted old later (clock skew, or a
    // merge of the old SHA): the candidates are filtered once the painting is done.
    let mut out: Vec<&'a Commit> = Vec::with_capacity(candidates.len());
    let mut emitted: HashSet<&str> = HashSet::default();
    for c in candidates {
        if flags.get(c.sha.as_str()) == Some(&NEW) && emitted.insert(c.sha.as_str()) {
            out.push(c);
        }
    }
    out
}

/// Whether a commit pushed without a pull request belongs to the service: always in a repository
/// of one service; in a monorepo, when one of its own files matches the service's globs (a commit
/// whose files were not read is left out rather than guessed).
fn owns_direct(globs: Option<&GlobSet>, c: &Commit) -> bool {
    match globs {
        None => true,
        Some(g) => c
            .files
            .as_ref()
            .is_some_and(|files| files.iter().any(|f| g.is_match(f))),
    }
}

/// The change sets of one service's deployments (sorted by time): the commits reachable from a
/// deployment's SHA and not from the previous successful one's of the same environment, mapped
/// to pull requests; and which deployments are rollbacks.
pub(super) fn change_sets<'a>(
    graph: &Graph<'a>,
    spec: &ServiceSpec,
    deployments: &[&'a Deployment],
    settings: &DoraSettings,
) -> Vec<DeployFacts> {
    let globs = spec.paths.globs();
    // The previous successful deployment of each environment (a service has one or a few).
    let mut prev: Vec<(&str, &Deployment)> = Vec::new();
    let mut buffers = WalkBuffers::default();
    let mut out = Vec::with_capacity(deployments.len());
    for d in deployments {
        let at_ms = d.finished_at.map(ms).unwrap_or_else(|| ms(d.created_at));
        let previous = prev
            .iter()
            .find(|(env, _)| *env == d.environment)
            .map(|(_, p)| *p);
        let mut rollback_of = None;
        let (kind, walked) = if graph.commit(&d.repo, &d.sha).is_none() {
            (ChangeSet::Unresolved, Vec::new())
        } else if let Some(p) = previous {
            let walked = range(graph, &d.repo, &d.sha, Some(&p.sha), None, &mut buffers);
            if walked.is_empty() {
                // Nothing reachable from this SHA is new: it is the previous SHA, or a proper
                // ancestor of it, i.e. a rollback.
                if p.sha != d.sha {
                    rollback_of = Some(p.id);
                }
                (ChangeSet::Empty, walked)
            } else {
                (ChangeSet::Exact, walked)
            }
        } else {
            // The first deployment seen: the commits of the window before it, never before the
            // sync's horizon (`git log --since`), not a count of commits, which reaches back
            // years in a quiet repository.
            let start = (at_ms - settings.first_lookback_ms.max(0))
                .max(settings.since_ms.unwrap_or(i64::MIN));
            let walked = range(graph, &d.repo, &d.sha, None, Some(start), &mut buffers);
            (ChangeSet::Lookback, walked)
        };

        let mut changes: Vec<ShippedChange> = Vec::new();
        // (PR, index in `changes`): a deployment ships a handful of PRs, a scan beats hashing.
        let mut pr_index: Vec<(u64, usize)> = Vec::new();
        for c in &walked {
            let prs = graph.prs_of(&d.repo, &c.sha);
            if prs.is_empty() {
                // A merge commit without a pull request (e.g. main merged into a branch) is not
                // a change of its own; a plain commit pushed straight to the branch is.
                if c.parents.len() < 2 && owns_direct(globs, c) {
                    let first = ms(c.authored_at);
                    changes.push(ShippedChange {
                        pr: None,
                        title: c.sha.clone(),
                        commits: vec![c.sha.clone()],
                        first_commit_ms: first,
                        opened_ms: None,
                        merged_ms: None,
                        lead_ms: at_ms - first,
                        commit_leads_ms: None,
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
                    commit_leads_ms: None,
                    unplanned: unplanned_kind(pr),
                });
            }
        }
        if settings.lead_time_unit == LeadTimeUnit::Commit {
            for ch in &mut changes {
                // Merge commits are where branches meet, not work of their own (Four Keys
                // counts every commit of a push; a merge commit's time is the merge's).
                ch.commit_leads_ms = Some(
                    ch.commits
                        .iter()
                        .filter_map(|sha| graph.commit(&d.repo, sha))
                        .filter(|c| c.parents.len() < 2)
                        .map(|c| at_ms - ms(c.authored_at))
                        .collect(),
                );
            }
        }
        changes.sort_by_key(|c| (c.first_commit_ms, c.pr));

        if d.state == DeployState::Success {
            match prev.iter_mut().find(|(env, _)| *env == d.environment) {
                Some(slot) => slot.1 = d,
                None => prev.push((d.environment.as_str(), d)),
            }
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
