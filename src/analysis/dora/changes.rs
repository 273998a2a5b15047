//! Exact change sets: which pull requests and commits each deployment shipped.

use std::collections::BinaryHeap;

use globset::GlobSet;

use super::graph::{CommitId, Graph, RepoGraph};
use super::{ChangeSet, DeployFacts, DoraSettings, LeadTimeUnit, ServiceSpec, ShippedChange};
use crate::model::{Change, Commit, DeployState, Deployment};

/// Most commits one deployment's walk visits: a guard against a long-lived branch that forks from
/// before the stored history, whose old commits would otherwise all land in one deployment.
const MAX_WALK: usize = 10_000;

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

/// Set on a candidate once it is in a walk's result.
const EMITTED: u8 = 4;

/// What one walk knows of a commit.
#[derive(Debug, Clone, Copy, Default)]
struct Mark {
    /// The walk it belongs to: a mark of an earlier walk reads as blank, so nothing is cleared
    /// between walks.
    walk: u32,
    /// [`NEW`], [`OLD`], [`EMITTED`].
    flags: u8,
    /// How many of the queue's entries are this commit (a commit is queued again when it is
    /// painted again: at most twice).
    queued: u8,
}

/// Buffers a service's walks reuse, so that a walk of a few commits allocates little.
#[derive(Default)]
struct WalkBuffers<'a> {
    /// By commit number, sized to the largest repository walked.
    marks: Vec<Mark>,
    walk: u32,
    /// (committer time, SHA, number): newest first, and between equal times by SHA, the order
    /// git's walk and the earlier string-keyed walk used.
    queue: BinaryHeap<(i64, &'a str, CommitId)>,
    /// Entries of the queue whose commit is not (yet) painted [`OLD`]: the walk can end only
    /// when there are none.
    unfinished: usize,
    candidates: Vec<CommitId>,
    out: Vec<CommitId>,
}

impl<'a> WalkBuffers<'a> {
    fn start(&mut self, commits: usize) {
        if self.marks.len() < commits {
            self.marks.resize(commits, Mark::default());
        }
        self.walk = match self.walk.checked_add(1) {
            Some(w) => w,
            None => {
                self.marks.fill(Mark::default());
                1
            }
        };
        self.queue.clear();
        self.unfinished = 0;
        self.candidates.clear();
        self.out.clear();
    }

    fn mark(&mut self, id: CommitId) -> &mut Mark {
        let walk = self.walk;
        let m = &mut self.marks[id as usize];
        if m.walk != walk {
            *m = Mark {
                walk,
                flags: 0,
                queued: 0,
            };
        }
        m
    }

    /// Adds `flag` to a commit's paint; queues it when that changed its paint.
    fn paint(&mut self, graph: &RepoGraph<'a>, id: CommitId, flag: u8) {
        let m = self.mark(id);
        let painted = m.flags | flag;
        if painted == m.flags {
            return;
        }
        let queued_before = usize::from(m.queued);
        let became_old = painted & OLD != 0 && m.flags & OLD == 0;
        m.flags = painted;
        m.queued += 1;
        if became_old {
            self.unfinished -= queued_before;
        } else if painted & OLD == 0 {
            self.unfinished += 1;
        }
        self.queue
            .push((graph.committed_ms(id), graph.commit(id).sha.as_str(), id));
    }
}

/// The commits reachable from `head` and not from `base` (`git rev-list base..head`, what the
/// compare API answers), newest first; with `cutoff`, only commits committed at or after it, and
/// the walk does not go past an older one (`git rev-list --since`).
///
/// Both sides are painted in committer-time order, newest first, and the walk stops once every
/// queued commit is reachable from `base` (plus [`SLOP`]): only the commits since the merge base
/// are visited, not the whole history behind `base`.
fn range<'b, 'a>(
    graph: &RepoGraph<'a>,
    head: CommitId,
    base: Option<CommitId>,
    cutoff: Option<i64>,
    buffers: &'b mut WalkBuffers<'a>,
) -> &'b [CommitId] {
    buffers.start(graph.len());
    let kept = |id: CommitId| cutoff.is_none_or(|t| graph.committed_ms(id) >= t);
    for (id, flag) in std::iter::once((head, NEW)).chain(base.map(|b| (b, OLD))) {
        if kept(id) {
            buffers.paint(graph, id, flag);
        }
    }
    let mut visited = 0usize;
    let mut slop = SLOP;
    let mut oldest = i64::MAX;
    while let Some((at, _, id)) = buffers.queue.pop() {
        visited += 1;
        if visited > MAX_WALK {
            break;
        }
        let m = buffers.mark(id);
        m.queued -= 1;
        let flag = m.flags;
        if flag & OLD == 0 {
            buffers.unfinished -= 1;
        }
        if flag == NEW {
            oldest = oldest.min(at);
            buffers.candidates.push(id);
        }
        for &p in graph.parents(id) {
            if kept(p) {
                buffers.paint(graph, p, flag);
            }
        }
        // Done once only old commits are queued and none is newer than a candidate (which it
        // could still reach, with equal timestamps); then a few more for clock skew.
        let all_old = buffers.unfinished == 0;
        if all_old && buffers.queue.peek().is_none_or(|(t, _, _)| *t < oldest) {
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
    let WalkBuffers {
        marks,
        candidates,
        out,
        ..
    } = buffers;
    for &id in candidates.iter() {
        let m = &mut marks[id as usize];
        if m.flags == NEW {
            m.flags |= EMITTED;
            out.push(id);
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

/// What a shipped change is: a pull request, or a commit pushed without one.
#[derive(Clone, Copy)]
enum Source<'a> {
    Pr(&'a Change),
    Direct(&'a Commit),
}

/// A shipped change with room for its `commits` SHAs (and, with `per_commit`, their lead
/// times), which are added afterwards.
fn shipped(source: Source<'_>, commits: usize, at_ms: i64, per_commit: bool) -> ShippedChange {
    let leads = per_commit.then(|| Vec::with_capacity(commits));
    match source {
        Source::Pr(pr) => {
            let first = ms(pr.first_commit_at).min(ms(pr.created_at));
            ShippedChange {
                pr: Some(pr.number),
                title: pr.title.clone(),
                commits: Vec::with_capacity(commits),
                first_commit_ms: first,
                opened_ms: Some(ms(pr.created_at)),
                merged_ms: Some(ms(pr.merged_at)),
                lead_ms: at_ms - first,
                commit_leads_ms: leads,
                unplanned: unplanned_kind(pr),
            }
        }
        Source::Direct(c) => {
            let first = ms(c.authored_at);
            ShippedChange {
                pr: None,
                title: c.sha.clone(),
                commits: Vec::with_capacity(commits),
                first_commit_ms: first,
                opened_ms: None,
                merged_ms: None,
                lead_ms: at_ms - first,
                commit_leads_ms: leads,
                unplanned: None,
            }
        }
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
    // (PR, index in `found`): a deployment ships a handful of PRs, a scan beats hashing.
    let mut pr_index: Vec<(u64, usize)> = Vec::new();
    // Each change of a deployment and its number of commits, and (change, commit) in the
    // order the walk found them.
    let mut found: Vec<(Source<'a>, usize)> = Vec::new();
    let mut hits: Vec<(usize, CommitId)> = Vec::new();
    let mut out = Vec::with_capacity(deployments.len());
    for d in deployments {
        let at_ms = d.finished_at.map(ms).unwrap_or_else(|| ms(d.created_at));
        let previous = prev
            .iter()
            .find(|(env, _)| *env == d.environment)
            .map(|(_, p)| *p);
        let mut rollback_of = None;
        let resolved = graph.repo(&d.repo).and_then(|g| Some((g, g.id(&d.sha)?)));
        let (kind, walked): (ChangeSet, &[CommitId]) = match (resolved, previous) {
            (None, _) => (ChangeSet::Unresolved, &[]),
            (Some((g, head)), Some(p)) => {
                let walked = range(g, head, g.id(&p.sha), None, &mut buffers);
                if walked.is_empty() {
                    // Nothing reachable from this SHA is new: it is the previous SHA, or a
                    // proper ancestor of it, i.e. a rollback.
                    if p.sha != d.sha {
                        rollback_of = Some(p.id);
                    }
                    (ChangeSet::Empty, walked)
                } else {
                    (ChangeSet::Exact, walked)
                }
            }
            (Some((g, head)), None) => {
                // The first deployment seen: the commits of the window before it, never before
                // the sync's horizon (`git log --since`), not a count of commits, which reaches
                // back years in a quiet repository.
                let start = (at_ms - settings.first_lookback_ms.max(0))
                    .max(settings.since_ms.unwrap_or(i64::MIN));
                let walked = range(g, head, None, Some(start), &mut buffers);
                (ChangeSet::Lookback, walked)
            }
        };

        // First which changes the walked commits belong to, then each change built once with
        // all its commits: growing every change's list of SHAs one push at a time reallocated
        // most of them (a third of the change sets' time on a store with merge commits).
        found.clear();
        hits.clear();
        pr_index.clear();
        if let Some((g, _)) = resolved {
            for &id in walked {
                let c = g.commit(id);
                let prs = g.prs_of(id);
                if prs.is_empty() {
                    // A merge commit without a pull request (e.g. main merged into a branch) is
                    // not a change of its own; a plain commit pushed straight to the branch is.
                    if c.parents.len() < 2 && owns_direct(globs, c) {
                        hits.push((found.len(), id));
                        found.push((Source::Direct(c), 1));
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
                        found[i].1 += 1;
                        hits.push((i, id));
                        continue;
                    }
                    pr_index.push((pr.number, found.len()));
                    hits.push((found.len(), id));
                    found.push((Source::Pr(pr), 1));
                }
            }
        }
        let per_commit = settings.lead_time_unit == LeadTimeUnit::Commit;
        let mut changes: Vec<ShippedChange> = found
            .iter()
            .map(|&(source, n)| shipped(source, n, at_ms, per_commit))
            .collect();
        if let Some((g, _)) = resolved {
            for &(i, id) in &hits {
                let c = g.commit(id);
                let ch = &mut changes[i];
                ch.commits.push(c.sha.clone());
                // Merge commits are where branches meet, not work of their own (Four Keys
                // counts every commit of a push; a merge commit's time is the merge's).
                if let Some(leads) = ch.commit_leads_ms.as_mut().filter(|_| c.parents.len() < 2) {
                    leads.push(at_ms - ms(c.authored_at));
                }
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
