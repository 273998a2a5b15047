//! The commit graph of each repository, its commits numbered, and the commit → pull request
//! index.
//!
//! Every walk and every look-up of the analysis stays inside one repository, so each has its own
//! graph: its commits are numbered once, parents and pull requests are resolved to those numbers
//! when the graph is built, and a walk then reads arrays by number instead of hashing and
//! comparing (repository, SHA) strings at every step (the largest cost of the analysis on a
//! five-year store, BENCHMARKS.md, issue 21). Repositories are built on every core.

use std::borrow::Cow;
use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap as HashMap;

use super::parallel_map;
use crate::model::{Change, Commit};

/// A commit's number in its repository's graph: an index into its arrays.
pub(super) type CommitId = u32;

/// Every repository's graph.
pub(super) struct Graph<'a> {
    repos: HashMap<&'a str, RepoGraph<'a>>,
}

/// One repository's commits, by number.
pub(super) struct RepoGraph<'a> {
    ids: HashMap<&'a str, CommitId>,
    commits: Vec<&'a Commit>,
    /// Committer time of each, ms: what a walk orders by, kept apart so the walk reads it from a
    /// dense array.
    committed_ms: Vec<i64>,
    /// The parents stored in the graph, commit after commit: commit `i`'s are
    /// `parents[parent_start[i]..parent_start[i + 1]]`, in the commit's own order.
    parent_start: Vec<u32>,
    parents: Vec<CommitId>,
    /// Commit → pull request, from merge commits and the PRs' own commits.
    links: Vec<PrLink<'a>>,
    /// The rare commits more than one PR claims (a commit in two PRs' histories): all of them,
    /// the first claimant first.
    shared: Vec<Vec<&'a Change>>,
    prs: HashMap<u64, &'a Change>,
}

#[derive(Clone, Copy)]
enum PrLink<'a> {
    None,
    One(&'a Change),
    /// An index into [`RepoGraph::shared`].
    Many(usize),
}

/// A repository's commits and pull requests, in the order they were given.
struct Group<'a> {
    repo: &'a str,
    commits: Vec<&'a Commit>,
    changes: Vec<&'a Change>,
}

impl<'a> Graph<'a> {
    pub(super) fn new(commits: &'a [Commit], changes: &'a [Change]) -> Self {
        let mut groups: Vec<Group<'a>> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::default();
        // Events come grouped by repository (the store's key order): the repository is hashed
        // only when it changes.
        let mut last: Option<(&str, usize)> = None;
        let mut group_of = |repo: &'a str, groups: &mut Vec<Group<'a>>| -> usize {
            if let Some((r, i)) = last {
                if r == repo {
                    return i;
                }
            }
            let i = *index.entry(repo).or_insert_with(|| {
                groups.push(Group {
                    repo,
                    commits: Vec::new(),
                    changes: Vec::new(),
                });
                groups.len() - 1
            });
            last = Some((repo, i));
            i
        };
        for c in commits {
            let i = group_of(&c.repo, &mut groups);
            groups[i].commits.push(c);
        }
        for c in changes {
            let i = group_of(&c.repo, &mut groups);
            groups[i].changes.push(c);
        }
        let built = parallel_map(&groups, |g| RepoGraph::new(&g.commits, &g.changes));
        Self {
            repos: groups.iter().map(|g| g.repo).zip(built).collect(),
        }
    }

    /// A repository's graph; `None` when it has neither commits nor pull requests.
    pub(super) fn repo(&self, repo: &str) -> Option<&RepoGraph<'a>> {
        self.repos.get(repo)
    }

    /// Every pull request (one per repository and number).
    pub(super) fn prs(&self) -> impl Iterator<Item = &'a Change> + '_ {
        self.repos.values().flat_map(|r| r.prs.values().copied())
    }
}

impl<'a> RepoGraph<'a> {
    fn new(commits: &[&'a Commit], changes: &[&'a Change]) -> Self {
        let mut ids: HashMap<&'a str, CommitId> = HashMap::default();
        ids.reserve(commits.len());
        let mut numbered: Vec<&'a Commit> = Vec::with_capacity(commits.len());
        for &c in commits {
            match ids.entry(c.sha.as_str()) {
                Entry::Vacant(slot) => {
                    slot.insert(id(numbered.len()));
                    numbered.push(c);
                }
                // A SHA stored twice: the last copy wins, as in a map collected from the list.
                Entry::Occupied(slot) => numbered[*slot.get() as usize] = c,
            }
        }
        let commits = numbered;
        let mut parent_start = Vec::with_capacity(commits.len() + 1);
        let mut parents = Vec::with_capacity(commits.len() + commits.len() / 2);
        for c in &commits {
            parent_start.push(id(parents.len()));
            // A parent outside the stored history is not walked.
            parents.extend(
                c.parents
                    .iter()
                    .filter_map(|p| ids.get(p.as_str()).copied()),
            );
        }
        parent_start.push(id(parents.len()));

        let mut links = vec![PrLink::None; commits.len()];
        let mut shared: Vec<Vec<&'a Change>> = Vec::new();
        let mut prs: HashMap<u64, &'a Change> = HashMap::default();
        prs.reserve(changes.len());
        for &c in changes {
            prs.insert(c.number, c);
            for sha in std::iter::once(&c.merge_commit_sha).chain(c.commits.iter()) {
                // Only commits of the graph are ever looked up (a walk yields them).
                let Some(&i) = ids.get(sha.as_str()) else {
                    continue;
                };
                let link = &mut links[i as usize];
                match *link {
                    PrLink::None => *link = PrLink::One(c),
                    PrLink::One(first) if first.number != c.number => {
                        *link = PrLink::Many(shared.len());
                        shared.push(vec![first, c]);
                    }
                    PrLink::One(_) => {}
                    PrLink::Many(k) => {
                        let all = &mut shared[k];
                        if !all.iter().any(|x| x.number == c.number) {
                            all.push(c);
                        }
                    }
                }
            }
        }
        Self {
            ids,
            committed_ms: commits
                .iter()
                .map(|c| c.committed_at.timestamp_millis())
                .collect(),
            commits,
            parent_start,
            parents,
            links,
            shared,
            prs,
        }
    }

    /// Number of commits.
    pub(super) fn len(&self) -> usize {
        self.commits.len()
    }

    /// The number of a commit of the graph.
    pub(super) fn id(&self, sha: &str) -> Option<CommitId> {
        self.ids.get(sha).copied()
    }

    pub(super) fn commit(&self, id: CommitId) -> &'a Commit {
        self.commits[id as usize]
    }

    pub(super) fn committed_ms(&self, id: CommitId) -> i64 {
        self.committed_ms[id as usize]
    }

    /// Its parents that are in the graph.
    pub(super) fn parents(&self, id: CommitId) -> &[CommitId] {
        let i = id as usize;
        &self.parents[self.parent_start[i] as usize..self.parent_start[i + 1] as usize]
    }

    /// The pull requests a commit belongs to: by merge commit or PR commit, else GitHub's own
    /// association (`commits/{sha}/pulls`), which resolves the rewritten SHAs of rebase merges.
    pub(super) fn prs_of(&self, id: CommitId) -> Cow<'_, [&'a Change]> {
        match &self.links[id as usize] {
            PrLink::One(one) => Cow::Borrowed(std::slice::from_ref(one)),
            PrLink::Many(k) => Cow::Borrowed(self.shared[*k].as_slice()),
            PrLink::None => Cow::Owned(
                self.commit(id)
                    .pulls
                    .as_ref()
                    .map(|nums| {
                        nums.iter()
                            .filter_map(|n| self.prs.get(n).copied())
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
        }
    }
}

/// A commit number from an index; a repository of more than 4 billion commits does not fit in
/// memory anyway.
fn id(i: usize) -> CommitId {
    CommitId::try_from(i).unwrap_or(CommitId::MAX)
}
