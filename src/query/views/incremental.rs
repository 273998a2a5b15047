//! The DORA model kept up to date part by part: after a commit, only the repositories it wrote
//! to are read again and only their part is analysed again (`analysis::dora::parts`), instead
//! of reading and analysing every event (issue 21).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{services, DeliveryEvents};
use crate::analysis::dora::{self, DoraModel, Partition, RepoLinks};
use crate::model::{Change, Commit, Deployment, Event, Incident};
use crate::query::settings::Settings;
use crate::store::{Store, StoreError};

/// The model as of an event generation, and what updating it part by part needs.
pub(super) struct DoraState {
    /// The event generation the model reflects (at least).
    pub(super) generation: u64,
    /// The settings it was analysed with, as text (they hold no comparable form).
    fingerprint: String,
    pub(super) model: Arc<DoraModel>,
    links: BTreeMap<String, RepoLinks>,
    partition: Partition,
}

fn fingerprint(settings: &Settings) -> String {
    // A compiled glob set's `Debug` shows its matchers' caches, which change as it is used:
    // the services are written by their patterns.
    let services: Vec<(&str, &str, &[String])> = settings
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.repo.as_str(), s.paths.patterns()))
        .collect();
    format!("{:?}{services:?}", settings.dora)
}

/// The repository a group of delivery events belongs to (see each kind's `natural_key`): the
/// group is `owner/name/<source>` for deployments, `owner/name` for pull requests, commits and
/// incidents (or more, when a SHA holds a `/`: a repository name never holds `@` or `#`).
/// `None` for a kind the DORA model does not read.
fn repo_of_group<'g>(kind: &str, group: &'g str) -> Option<&'g str> {
    if kind == Deployment::KIND {
        group.rsplit_once('/').map(|(repo, _)| repo)
    } else if kind == Change::KIND || kind == Commit::KIND || kind == Incident::KIND {
        Some(group.split(['@', '#']).next().unwrap_or(group))
    } else {
        None
    }
}

impl DeliveryEvents {
    /// The delivery events of some repositories, in natural-key order within each.
    pub fn read_repos(store: &Store, repos: &BTreeSet<String>) -> Result<Self, StoreError> {
        fn of<E: Event>(
            store: &Store,
            repos: &BTreeSet<String>,
            sep: char,
        ) -> Result<Vec<E>, StoreError> {
            let mut out = Vec::new();
            for repo in repos {
                for e in store.events_with_prefix::<E>(&format!("{repo}{sep}")) {
                    out.push(e?);
                }
            }
            Ok(out)
        }
        // Side by side, as `read` does.
        std::thread::scope(|s| {
            let commits = s.spawn(|| of::<Commit>(store, repos, '@'));
            let changes = of::<Change>(store, repos, '#');
            let deployments = of::<Deployment>(store, repos, '/');
            let incidents = of::<Incident>(store, repos, '#');
            Ok(Self {
                deployments: deployments?,
                changes: changes?,
                commits: commits
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
                incidents: incidents?,
            })
        })
    }
}

impl DoraState {
    /// Reads every delivery event and analyses it, as of `generation` (read before the events,
    /// so that a commit made meanwhile is read again next time).
    pub(super) fn full(
        store: &Store,
        settings: &Settings,
        generation: u64,
    ) -> Result<Self, StoreError> {
        let events = DeliveryEvents::read(store)?;
        let services = services(settings, &events.deployments);
        let model = dora::analyse(events.input(), &services, &settings.dora);
        let links = dora::links(events.input());
        let partition = Partition::new(&links, &services);
        Ok(Self {
            generation,
            fingerprint: fingerprint(settings),
            model: Arc::new(model),
            links,
            partition,
        })
    }

    /// Brings the model up to the store's current event generation by re-analysing the parts
    /// whose repositories were written to; `Ok(false)` when that cannot be done safely (the
    /// settings changed, the store cannot tell what changed, a repository is new or its links
    /// to services changed): the caller then rebuilds it whole. On `Ok(false)` the state may be
    /// half updated and must be dropped.
    pub(super) fn update(
        &mut self,
        store: &Store,
        settings: &Settings,
    ) -> Result<bool, StoreError> {
        if self.fingerprint != fingerprint(settings) {
            return Ok(false);
        }
        let (now, changed) = store.changed_groups_since(self.generation);
        let Some(changed) = changed else {
            return Ok(false);
        };
        let mut parts = BTreeSet::new();
        for (kind, group) in &changed {
            let Some(repo) = repo_of_group(kind, group) else {
                continue;
            };
            match self.partition.part_of(repo) {
                Some(p) => parts.insert(p),
                None => return Ok(false),
            };
        }
        for p in parts {
            let repos = self.partition.parts()[p].repos.clone();
            let events = DeliveryEvents::read_repos(store, &repos)?;
            if !self.relink(&repos, dora::links(events.input())) {
                tracing::debug!(
                    ?repos,
                    "links to services changed: DORA model rebuilt whole"
                );
                return Ok(false);
            }
            let part = &self.partition.parts()[p];
            let analysed = dora::analyse(events.input(), &part.services, &settings.dora);
            Arc::make_mut(&mut self.model).splice(part, analysed);
        }
        self.generation = now;
        Ok(true)
    }

    /// Takes the links `repos` have now; `false` when the parts would change with them. The
    /// services each repository deploys must stay as they were: they also decide the list of
    /// services, and each discovered service's repository. Labels may change as long as the
    /// parts do not (an incident labelled with a service of its own part).
    fn relink(&mut self, repos: &BTreeSet<String>, now: BTreeMap<String, RepoLinks>) -> bool {
        let deployed = |l: Option<&RepoLinks>| l.map(|l| l.deployed.clone()).unwrap_or_default();
        let mut same = true;
        for r in repos {
            let (new, old) = (now.get(r), self.links.get(r));
            if new == old {
                continue;
            }
            if deployed(new) != deployed(old) {
                return false;
            }
            same = false;
        }
        if same {
            return true;
        }
        let mut links = self.links.clone();
        for r in repos {
            match now.get(r) {
                Some(l) => links.insert(r.clone(), l.clone()),
                None => links.remove(r),
            };
        }
        if Partition::new(&links, &self.model.services).parts() != self.partition.parts() {
            return false;
        }
        self.links = links;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_name_their_repository() {
        assert_eq!(repo_of_group("deployment", "o/r/workflow_run"), Some("o/r"));
        assert_eq!(repo_of_group("change", "o/r"), Some("o/r"));
        assert_eq!(repo_of_group("incident", "o/r"), Some("o/r"));
        // A commit `o/r@x/y` (a SHA with a slash, as tests write them) is in group `o/r@x`.
        assert_eq!(repo_of_group("commit", "o/r@x"), Some("o/r"));
        assert_eq!(repo_of_group("revenue_month", "import"), None);
    }
}
