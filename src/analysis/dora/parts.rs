//! The analysis split into independent parts, one per group of linked repositories, so that a
//! sync that wrote to one repository re-analyses only its part (issue 21).
//!
//! Every lookup of the analysis is keyed by repository: the commit graph and the pull requests
//! by (repo, SHA / number), a deployment's change set in its own repository, a revert in its
//! own, an incident's PR reference in its own, incident fixes and recoveries by (repo, number).
//! What crosses repositories is a service and an incident:
//! - a service's deployments may come from several repositories, and its own `repo` may be yet
//!   another (the one whose unlabelled incidents it receives);
//! - an incident labelled `service:<name>` marks that service's deployments, wherever they are.
//!
//! A part is a connected group of repositories under these links (union-find), with the
//! services whose `repo` is in it: each part's events then give, through [`analyse`], exactly
//! the facts the whole input gives for that part's services and incidents. [`DoraModel::splice`]
//! puts a part's facts in place, and [`analyse_partitioned`] (the reference the tests compare
//! against [`analyse`]) assembles the whole model from its parts.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use rustc_hash::FxHashSet as HashSet;

use super::{analyse, DoraInput, DoraModel, DoraSettings, IncidentFacts, ServiceSpec};
use crate::model::Calendar;

/// What ties one repository's events to services.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoLinks {
    /// Services its deployments deploy (any state).
    pub deployed: BTreeSet<String>,
    /// Services its incidents name with a `service:<name>` label.
    pub labelled: BTreeSet<String>,
}

/// The links of every repository that has an event of the input (one without links is a part
/// of its own: its incidents and commits still count).
pub fn links(input: DoraInput<'_>) -> BTreeMap<String, RepoLinks> {
    let mut out: BTreeMap<String, RepoLinks> = BTreeMap::new();
    // Keys are allocated only for a pair not seen yet: there are few, and events are many.
    for d in input.deployments {
        if !out
            .get(&d.repo)
            .is_some_and(|l| l.deployed.contains(&d.service))
        {
            let l = out.entry(d.repo.clone()).or_default();
            l.deployed.insert(d.service.clone());
        }
    }
    for i in input.incidents {
        for name in i.labels.iter().filter_map(|l| l.strip_prefix("service:")) {
            if !out.get(&i.repo).is_some_and(|l| l.labelled.contains(name)) {
                let l = out.entry(i.repo.clone()).or_default();
                l.labelled.insert(name.to_owned());
            }
        }
        if !out.contains_key(&i.repo) {
            out.insert(i.repo.clone(), RepoLinks::default());
        }
    }
    // Repositories with only pull requests or commits: parts of their own, for completeness.
    let mut last: Option<&str> = None;
    for repo in input
        .changes
        .iter()
        .map(|c| c.repo.as_str())
        .chain(input.commits.iter().map(|c| c.repo.as_str()))
    {
        if last != Some(repo) && !out.contains_key(repo) {
            out.insert(repo.to_owned(), RepoLinks::default());
        }
        last = Some(repo);
    }
    out
}

/// A group of linked repositories and the services analysed with their events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `owner/name` of each.
    pub repos: BTreeSet<String>,
    /// The services whose `repo` is one of them, in configuration order.
    pub services: Vec<ServiceSpec>,
}

/// The repositories of an analysis, in independent parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partition {
    parts: Vec<Part>,
    of_repo: BTreeMap<String, usize>,
}

impl Partition {
    /// Groups the repositories of `links` and of `services` along the links that cross
    /// repositories (see the module's documentation).
    pub fn new(links: &BTreeMap<String, RepoLinks>, services: &[ServiceSpec]) -> Self {
        let mut repos: Vec<&str> = links.keys().map(String::as_str).collect();
        repos.extend(services.iter().map(|s| s.repo.as_str()));
        repos.sort_unstable();
        repos.dedup();
        let index = |r: &str| repos.binary_search(&r).ok();
        let mut parent: Vec<usize> = (0..repos.len()).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let mut union = |a: usize, b: usize| {
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
            }
        };
        let home: BTreeMap<&str, usize> = services
            .iter()
            .filter_map(|s| Some((s.name.as_str(), index(&s.repo)?)))
            .collect();
        for (repo, l) in links {
            let Some(r) = index(repo) else { continue };
            for name in l.deployed.iter().chain(&l.labelled) {
                if let Some(&h) = home.get(name.as_str()) {
                    union(r, h);
                }
            }
        }
        let mut parts: Vec<Part> = Vec::new();
        let mut part_of_root: BTreeMap<usize, usize> = BTreeMap::new();
        let mut of_repo = BTreeMap::new();
        for (i, repo) in repos.iter().enumerate() {
            let r = root(&mut parent, i);
            let p = *part_of_root.entry(r).or_insert_with(|| {
                parts.push(Part {
                    repos: BTreeSet::new(),
                    services: Vec::new(),
                });
                parts.len() - 1
            });
            parts[p].repos.insert((*repo).to_owned());
            of_repo.insert((*repo).to_owned(), p);
        }
        for s in services {
            if let Some(&p) = of_repo.get(&s.repo) {
                parts[p].services.push(s.clone());
            }
        }
        Self { parts, of_repo }
    }

    /// The parts.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The index of a repository's part; `None` for a repository it does not know.
    pub fn part_of(&self, repo: &str) -> Option<usize> {
        self.of_repo.get(repo).copied()
    }
}

/// The order of the model's incidents: opened (to the millisecond), number, repository, the
/// order [`analyse`] attributes them in.
pub(super) fn incident_order(a: &IncidentFacts, b: &IncidentFacts) -> std::cmp::Ordering {
    (a.opened_ms, a.number, &a.repo).cmp(&(b.opened_ms, b.number, &b.repo))
}

impl DoraModel {
    /// A model of `services` with no deployment and no incident, which [`DoraModel::splice`]
    /// fills part by part.
    pub fn empty(services: &[ServiceSpec], calendar: Calendar) -> Self {
        Self {
            services: services.to_vec(),
            ranges: services.iter().map(|s| (s.name.clone(), 0..0)).collect(),
            deployments: Vec::new(),
            incidents: Vec::new(),
            calendar,
        }
    }

    /// Replaces what this model says of `part` (its services' deployments, its repositories'
    /// incidents) with `analysed`, the [`analyse`] of the part's events and services.
    ///
    /// In place: the deployments are laid out service by service in configuration order (the
    /// part's services keep the whole list's order), so only the span from the part's first
    /// service to its last is replaced, and what follows it moves once within the list. Built
    /// anew, the whole list was moved to freshly allocated memory on every update (140 000
    /// facts for a million events): half of an update's time, most of it page faults (issue 21).
    ///
    /// `part` must be a part of this model's services (its services a subsequence of the
    /// model's, in the same order), as [`Partition::new`] makes them.
    pub fn splice(&mut self, part: &Part, analysed: DoraModel) {
        debug_assert!(
            {
                let mut model = self.services.iter();
                part.services
                    .iter()
                    .all(|p| model.any(|m| m.name == p.name))
            },
            "a part's services are the model's, in its order"
        );
        let ours: HashSet<&str> = part.services.iter().map(|s| s.name.as_str()).collect();
        let is_ours = |s: &ServiceSpec| ours.contains(s.name.as_str());
        if let (Some(first), Some(last)) = (
            self.services.iter().position(is_ours),
            self.services.iter().rposition(is_ours),
        ) {
            let len = |ranges: &Ranges, name: &str| ranges.get(name).map_or(0, Range::len);
            let start: usize = self.services[..first]
                .iter()
                .map(|s| len(&self.ranges, &s.name))
                .sum();
            let span = &self.services[first..=last];
            let end = start
                + span
                    .iter()
                    .map(|s| len(&self.ranges, &s.name))
                    .sum::<usize>();
            if span.iter().all(is_ours) {
                drop(self.deployments.splice(start..end, analysed.deployments));
            } else {
                // Other parts' services between ours: theirs are moved out and back in.
                let mut old = self.deployments.drain(start..end);
                let mut new = analysed.deployments.into_iter();
                let mut out = Vec::with_capacity(old.len() + new.len());
                for spec in span {
                    let n = len(&self.ranges, &spec.name);
                    if is_ours(spec) {
                        old.by_ref().take(n).for_each(drop);
                        out.extend(new.by_ref().take(len(&analysed.ranges, &spec.name)));
                    } else {
                        out.extend(old.by_ref().take(n));
                    }
                }
                drop(old);
                drop(self.deployments.splice(start..start, out));
            }
            let mut at = start;
            for spec in &self.services[first..] {
                let n = if is_ours(spec) {
                    len(&analysed.ranges, &spec.name)
                } else {
                    len(&self.ranges, &spec.name)
                };
                match self.ranges.get_mut(&spec.name) {
                    Some(r) => *r = at..at + n,
                    None => {
                        self.ranges.insert(spec.name.clone(), at..at + n);
                    }
                }
                at += n;
            }
        }
        // Both lists are in the model's order (a total one: no two incidents share a
        // repository and a number), so they are merged, not sorted again.
        let old = std::mem::take(&mut self.incidents);
        let mut old = old
            .into_iter()
            .filter(|i| !part.repos.contains(&i.repo))
            .peekable();
        let mut new = analysed.incidents.into_iter().peekable();
        let mut merged = Vec::with_capacity(old.size_hint().1.unwrap_or(0) + new.len());
        loop {
            let next = match (old.peek(), new.peek()) {
                (Some(o), Some(n)) if incident_order(n, o).is_lt() => new.next(),
                (Some(_), _) => old.next(),
                (None, _) => new.next(),
            };
            match next {
                Some(i) => merged.push(i),
                None => break,
            }
        }
        self.incidents = merged;
    }
}

/// Where each service's deployments are in a model's list.
type Ranges = rustc_hash::FxHashMap<String, Range<usize>>;

/// [`analyse`], run part by part and assembled: the same model, which the incremental update
/// of the query side relies on (the tests compare the two on every scenario).
pub fn analyse_partitioned(
    input: DoraInput<'_>,
    services: &[ServiceSpec],
    settings: &DoraSettings,
) -> DoraModel {
    let partition = Partition::new(&links(input), services);
    let mut model = DoraModel::empty(services, settings.calendar);
    for part in partition.parts() {
        let deployments = of_part(input.deployments, part, |d| &d.repo);
        let changes = of_part(input.changes, part, |c| &c.repo);
        let commits = of_part(input.commits, part, |c| &c.repo);
        let incidents = of_part(input.incidents, part, |i| &i.repo);
        let analysed = analyse(
            DoraInput {
                deployments: &deployments,
                changes: &changes,
                commits: &commits,
                incidents: &incidents,
            },
            &part.services,
            settings,
        );
        model.splice(part, analysed);
    }
    model
}

/// The events of a part's repositories, in their order.
pub(super) fn of_part<T: Clone>(events: &[T], part: &Part, repo: impl Fn(&T) -> &String) -> Vec<T> {
    events
        .iter()
        .filter(|e| part.repos.contains(repo(e)))
        .cloned()
        .collect()
}
