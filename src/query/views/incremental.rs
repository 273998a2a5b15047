//! The DORA model kept up to date part by part: after a commit, only the repositories it wrote
//! to are read again and only their part is analysed again (`analysis::dora::parts`), instead
//! of reading and analysing every event (issue 21).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{joined, services, DeliveryEvents};
use crate::analysis::dora::{self, DoraModel, Partition, RepoLinks, ServicePaths, ServiceSpec};
use crate::model::{Change, Commit, Deployment, Event, Incident};
use crate::query::settings::Settings;
use crate::store::{Store, StoreError};

/// The model as of an event generation, and what updating it part by part needs.
pub(super) struct DoraState {
    /// The event generation the model reflects (at least).
    pub(super) generation: u64,
    /// The event generation at which the model last changed: commits of other events (a
    /// business metric, a revenue import) move `generation`, not this, so what is computed
    /// from the model (the weekly delivery figures) stays as it was.
    pub(super) revision: u64,
    /// The settings it was analysed with, as text (they hold no comparable form).
    fingerprint: String,
    pub(super) model: Arc<DoraModel>,
    links: BTreeMap<String, RepoLinks>,
    partition: Partition,
    /// Per repository, the natural key of each service's first deployment in it.
    first: FirstDeployments,
    /// Parts re-analysed since the state was last kept in the store (or since it was built).
    parts_since_kept: usize,
    /// The revisions the model went through in this process, and what changed at each.
    pub(super) history: Arc<History>,
}

use super::kept::{self, FirstDeployments};
use super::model_changes::{self, Changed, History};

/// The name of the file the state is kept in by the store.
const KEPT: &str = "dora_state";

/// Bump when the kept layout (`kept`) or what the state holds changes without a new crate
/// version.
const KEPT_FORMAT: u32 = 1;

/// Parts re-analysed since the state was last kept, past which an update keeps it again: a
/// restart then replays at most this many parts' reads.
const KEEP_AFTER_PARTS: usize = 16;

fn first_deployments(deployments: &[Deployment]) -> FirstDeployments {
    let mut out = FirstDeployments::new();
    for d in deployments {
        let key = d.natural_key();
        let of_repo = out.entry(d.repo.clone()).or_default();
        match of_repo.get_mut(&d.service) {
            Some(k) if *k <= key => {}
            Some(k) => *k = key,
            None => {
                of_repo.insert(d.service.clone(), key);
            }
        }
    }
    out
}

/// [`services`] from the first deployments alone: the configured services, then the others in
/// the order of their first deployment in the store (natural-key order, the order `services`
/// sees them in), each with the repository of that deployment.
fn services_of(settings: &Settings, first: &FirstDeployments) -> Vec<ServiceSpec> {
    let mut seen: Vec<(&str, &str, &str)> = first
        .iter()
        .flat_map(|(repo, m)| {
            m.iter()
                .map(move |(s, k)| (k.as_str(), s.as_str(), repo.as_str()))
        })
        .collect();
    seen.sort_unstable();
    let mut out = settings.services.clone();
    for (_, name, repo) in seen {
        if !out.iter().any(|o| o.name == name) {
            out.push(ServiceSpec {
                name: name.to_owned(),
                repo: repo.to_owned(),
                paths: ServicePaths::default(),
            });
        }
    }
    out
}

/// What a kept state depends on besides the events: the settings, the kept layout, this build
/// (another build may analyse otherwise; see `query::rollup`).
pub(super) fn kept_fingerprint(store: &Store, settings: &Settings) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(store.id());
    h.update(KEPT_FORMAT.to_be_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update([0]);
    h.update(crate::query::rollup::build_id().as_bytes());
    h.update([0]);
    h.update(fingerprint(settings).as_bytes());
    h.finalize().to_vec()
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
        // Side by side, as `read` does: the pull requests, whose decoding allocates most, on
        // one thread, the other kinds on this one.
        std::thread::scope(|s| {
            let changes = s.spawn(|| of::<Change>(store, repos, '#'));
            let commits = of::<Commit>(store, repos, '@');
            let deployments = of::<Deployment>(store, repos, '/');
            let incidents = of::<Incident>(store, repos, '#');
            Ok(Self {
                deployments: deployments?,
                changes: joined(changes)?,
                commits: commits?,
                incidents: incidents?,
            })
        })
    }
}

/// The DORA model of one service's part (`analysis::dora::parts`): every deployment and incident
/// is read to find the repositories linked to the service, then the pull requests and commits of
/// those repositories only, which are most of the events (one service of 200 reads about 1/200th
/// of them). The part's events give exactly the facts the whole input gives for its services
/// and incidents, so the service's figures are those of [`super::dora_model`]; the model holds
/// the part's services only. `None` when no service of that name is configured or deployed.
pub fn dora_model_of(
    store: &Store,
    settings: &Settings,
    service: &str,
) -> Result<Option<DoraModel>, StoreError> {
    let (deployments, incidents) = std::thread::scope(|s| {
        let incidents = s.spawn(|| super::all::<Incident>(store));
        let deployments = super::all::<Deployment>(store);
        (deployments, joined(incidents))
    });
    let (deployments, incidents) = (deployments?, incidents?);
    let services = services(settings, &deployments);
    let links = dora::links(dora::DoraInput {
        deployments: &deployments,
        changes: &[],
        commits: &[],
        incidents: &incidents,
    });
    let partition = Partition::new(&links, &services);
    let Some(part) = services
        .iter()
        .find(|s| s.name == service)
        .and_then(|s| partition.part_of(&s.repo))
        .and_then(|p| partition.parts().get(p))
    else {
        return Ok(None);
    };
    let events = DeliveryEvents::read_repos(store, &part.repos)?;
    Ok(Some(dora::analyse(
        events.input(),
        &part.services,
        &settings.dora,
    )))
}

impl DoraState {
    /// Reads every delivery event and analyses it, as of `generation` (read before the events,
    /// so that a commit made meanwhile is read again next time).
    pub(super) fn full(
        store: &Store,
        settings: &Settings,
        generation: u64,
    ) -> Result<Self, StoreError> {
        let started = std::time::Instant::now();
        let events = DeliveryEvents::read(store)?;
        let read = started.elapsed();
        let services = services(settings, &events.deployments);
        let model = dora::analyse(events.input(), &services, &settings.dora);
        let links = dora::links(events.input());
        let partition = Partition::new(&links, &services);
        tracing::debug!(
            read_ms = read.as_millis() as u64,
            analysed_ms = started.elapsed().saturating_sub(read).as_millis() as u64,
            "delivery model built from every event"
        );
        Ok(Self {
            generation,
            revision: generation,
            fingerprint: fingerprint(settings),
            model: Arc::new(model),
            links,
            partition,
            first: first_deployments(&events.deployments),
            parts_since_kept: 0,
            history: Arc::new(History::new(generation, false)),
        })
    }

    /// Keeps the state in the store, stamped with its event generation, for the next process
    /// to start from ([`DoraState::kept`]), on a thread of its own: encoding and writing a
    /// large model takes about a second, which the page that needed the model must not wait
    /// for. A failure only costs the next process a whole build: it is warned about.
    pub(super) fn keep(
        &mut self,
        store: &Store,
        settings: &Settings,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let files = store.kept_files();
        let (model, links, first) = (self.model.clone(), self.links.clone(), self.first.clone());
        let (generation, revision) = (self.generation, self.revision);
        let fingerprint = kept_fingerprint(store, settings);
        let handle = std::thread::Builder::new()
            .name("keep-model".into())
            .spawn(move || {
                let started = std::time::Instant::now();
                let kept = kept::encode(
                    revision,
                    &model.deployments,
                    &model.incidents,
                    &links,
                    &first,
                )
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    files
                        .put(KEPT, generation, &fingerprint, &bytes)
                        .map(|()| bytes.len())
                        .map_err(|e| e.to_string())
                });
                match kept {
                    Ok(bytes) => tracing::debug!(
                        bytes,
                        generation,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "delivery model kept in the store"
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not keep the delivery model in the store")
                    }
                }
            })?;
        self.parts_since_kept = 0;
        // Taken as written: a file that fails to be written leaves an older one, whose
        // revision then matches nothing kept beside it (figures computed whole).
        Arc::make_mut(&mut self.history).kept_at(revision);
        Ok(handle)
    }

    /// The state the store kept with these settings and this build, as of the event generation
    /// it was kept at (the caller brings it up to date with [`DoraState::update`]); `None` when
    /// there is none, or it cannot be read or decoded (warned: the caller builds the model
    /// whole, which a damaged file must not prevent).
    pub(super) fn kept(store: &Store, settings: &Settings) -> Option<Self> {
        let started = std::time::Instant::now();
        let wanted = kept_fingerprint(store, settings);
        let k = match store.kept_files().get(KEPT, |f| f == wanted) {
            Ok(Some(k)) => k,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "the kept delivery model cannot be read: built again from every event");
                return None;
            }
        };
        let read = started.elapsed();
        // Never ahead of the store (a file kept by another copy of it): what changed since
        // could not be told.
        if k.generation > store.event_generation() {
            tracing::warn!(
                kept = k.generation,
                store = store.event_generation(),
                "the kept delivery model is ahead of the store: built again from every event"
            );
            return None;
        }
        let state = match kept::decode(&k.payload) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "the kept delivery model does not decode: built again from every event");
                return None;
            }
        };
        drop(k.payload);
        let services = services_of(settings, &state.first);
        let partition = Partition::new(&state.links, &services);
        let Some(model) = DoraModel::from_facts(
            services,
            state.deployments,
            state.incidents,
            settings.dora.calendar,
        ) else {
            tracing::warn!(
                "the kept delivery model does not match its services: built again from every event"
            );
            return None;
        };
        tracing::debug!(
            read_ms = read.as_millis() as u64,
            decoded_ms = started.elapsed().saturating_sub(read).as_millis() as u64,
            generation = k.generation,
            "delivery model read from the store"
        );
        Some(Self {
            generation: k.generation,
            revision: state.revision,
            fingerprint: fingerprint(settings),
            model: Arc::new(model),
            links: state.links,
            partition,
            first: state.first,
            parts_since_kept: 0,
            history: Arc::new(History::new(state.revision, true)),
        })
    }

    /// The model, its revision and its history, for a caller.
    pub(super) fn modelled(&self) -> super::Modelled {
        (self.model.clone(), self.revision, self.history.clone())
    }

    /// Whether enough changed since the state was kept to keep it again.
    pub(super) fn worth_keeping(&self) -> bool {
        self.parts_since_kept >= KEEP_AFTER_PARTS
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
        tracing::debug!(
            from = self.generation,
            to = now,
            groups = ?changed.iter().take(8).collect::<Vec<_>>(),
            changed = changed.len(),
            "delivery model: groups of events changed since"
        );
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
        let remodelled = !parts.is_empty();
        let mut changed = Changed::default();
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
            // The list of services must stay as it is (a part is analysed with its own). Taken
            // in place: on `false` the state is dropped.
            let mut now_first = first_deployments(&events.deployments);
            for r in &repos {
                match now_first.remove(r) {
                    Some(m) => self.first.insert(r.clone(), m),
                    None => self.first.remove(r),
                };
            }
            if services_of(settings, &self.first) != self.model.services {
                tracing::debug!(?repos, "services changed: DORA model rebuilt whole");
                return Ok(false);
            }
            let part = &self.partition.parts()[p];
            let analysed = dora::analyse(events.input(), &part.services, &settings.dora);
            changed = changed.union(&model_changes::of_part(&self.model, &analysed, part));
            // Freeing the part's events (some 14 000 for a repository with 6 000 pull requests)
            // takes about as long as the splice, so it is done alongside it (issue 21).
            let model = Arc::make_mut(&mut self.model);
            std::thread::scope(|s| {
                s.spawn(move || drop(events));
                model.splice(part, analysed);
            });
            self.parts_since_kept += 1;
        }
        if remodelled {
            self.revision = now;
            Arc::make_mut(&mut self.history).step(now, changed);
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
