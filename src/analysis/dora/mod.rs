//! The five DORA metrics, computed from raw deployments, pull requests, commits and incidents,
//! with the chain behind every figure kept so that it can be explained.
//!
//! Definitions follow DORA's own (<https://dora.dev/guides/dora-metrics-four-keys/>, and the
//! 2024 report for rework rate):
//! 1. **deployment frequency**: successful production deployments per week (and deploy-days);
//! 2. **lead time for changes**: deployment time − first commit time of each change it shipped
//!    (per pull request), or − each commit's own author time (`analysis.lead_time_unit`);
//! 3. **change failure rate**: deployments with at least one failure signal / deployments that
//!    reached a final state;
//! 4. **failed-deployment recovery time**: failed deployment → next healthy deployment of the same
//!    service, or the attributed incidents resolved, whichever comes first (or only the
//!    deployment: `analysis.recovery_end`);
//! 5. **rework rate**: unplanned deployments (only reverts, hotfixes, incident fixes, rollbacks) /
//!    successful deployments; a rollback counts (DORA 2024: deployments "unplanned but [that]
//!    happen as a result of an incident in production").
//!
//! What the tools people use get wrong, and what is done here instead:
//! - change sets are exact: the commits reachable from a deployment's SHA and not from the
//!   previous successful deployment of the same service and environment ([`changes`]), so a pull
//!   request is never tied to the wrong deployment, squash and rebase merges keep their
//!   first-commit time, and changes re-shipped after a rollback are measured again;
//! - a rollback is a deployment of a proper ancestor of the previous successful deployment's SHA,
//!   not any SHA shipped before (redeploying a commit after a rollback is not a rollback);
//! - an incident marks the deployments it names, else only the **latest** deployment within the
//!   window before it ([`failures`]), never every deployment in the window;
//! - monorepos: services are told apart by path globs, matched against a pull request's files,
//!   or a direct commit's own files.
//!
//! Every definition, its source and a worked example: `docs/dora.md`.

pub mod bands;
mod changes;
mod failures;
mod figures;
mod graph;
mod parts;
mod paths;

pub(crate) use super::parallel_map;
use rustc_hash::FxHashMap as HashMap;

use serde::Serialize;

use crate::model::{Calendar, Change, Commit, DeployState, Deployment, Incident};

pub use bands::{Band, BandTable};
pub use figures::{
    explain, quantile, weekly, weekly_each, weekly_scopes, weekly_team, window, Coverage,
    DoraFigures, DoraWeek, Explanation, Metric, Quantiles, Ratio, Scope, LONGEST_WINDOW_WEEKS,
};

/// How a failed deployment recovered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovery {
    /// When service was restored, ms.
    pub end_ms: i64,
    /// Restored − failed deployment, ms.
    pub duration_ms: i64,
    /// What restored it: "deployment N" or "incident #N closed".
    pub by: String,
}

/// A service whose DORA metrics are computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceSpec {
    /// Name (the `service` of its deployments).
    pub name: String,
    /// `owner/name`.
    pub repo: String,
    /// Path globs of a monorepo service, compiled; empty = every change of the repo.
    pub paths: ServicePaths,
}

pub use crate::model::dora::{LeadTimeUnit, RecoveryEnd};
pub use parts::{analyse_partitioned, links, Part, Partition, RepoLinks};
pub use paths::ServicePaths;

/// Settings of the computation.
#[derive(Debug, Clone)]
pub struct DoraSettings {
    /// How long before an incident a deployment may have caused it, milliseconds.
    pub incident_window_ms: i64,
    /// How far back before the first deployment seen of a service (and environment) its change
    /// set reaches, milliseconds (`github.first_deploy_lookback`).
    pub first_lookback_ms: i64,
    /// The sync's horizon (`github.backfill_since`), ms: a first deployment's window never
    /// starts before it.
    pub since_ms: Option<i64>,
    /// What one lead-time sample is.
    pub lead_time_unit: LeadTimeUnit,
    /// What ends a recovery.
    pub recovery_end: RecoveryEnd,
    /// The band table.
    pub bands: BandTable,
    /// The calendar whose weeks the weekly figures count in.
    pub calendar: Calendar,
}

impl Default for DoraSettings {
    fn default() -> Self {
        Self {
            incident_window_ms: 24 * 3_600_000,
            first_lookback_ms: 30 * 24 * 3_600_000,
            since_ms: None,
            lead_time_unit: LeadTimeUnit::Pr,
            recovery_end: RecoveryEnd::DeploymentOrIncident,
            bands: bands::table(2023).unwrap_or_else(|| BandTable {
                year: 0,
                source: String::new(),
                url: String::new(),
                deployment_frequency: fallback_thresholds(),
                lead_time: fallback_thresholds(),
                change_failure_rate: fallback_thresholds(),
                recovery_time: fallback_thresholds(),
            }),
            calendar: Calendar::UTC,
        }
    }
}

fn fallback_thresholds() -> bands::Thresholds {
    bands::Thresholds {
        better: bands::Better::Lower,
        elite: f64::NAN,
        high: f64::NAN,
        medium: f64::NAN,
    }
}

/// The raw events, as read from the store.
#[derive(Debug, Clone, Copy)]
pub struct DoraInput<'a> {
    /// Deployments (any state; pending ones are ignored).
    pub deployments: &'a [Deployment],
    /// Merged pull requests.
    pub changes: &'a [Change],
    /// The commit graph.
    pub commits: &'a [Commit],
    /// Incident issues.
    pub incidents: &'a [Incident],
}

/// How a deployment's change set was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSet {
    /// Commits reachable from this SHA and not from the previous successful deployment's.
    Exact,
    /// The first deployment seen: the commits of a bounded time window before it.
    Lookback,
    /// The same SHA as the previous successful deployment, or an ancestor of it (a rollback):
    /// nothing new shipped.
    Empty,
    /// The SHA is not in the stored commit graph.
    Unresolved,
}

/// One change a deployment shipped: a pull request, or a commit pushed without one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShippedChange {
    /// Pull request number; `None` for a direct commit.
    pub pr: Option<u64>,
    /// PR title, or the commit SHA.
    pub title: String,
    /// Commits of the change found in the deployment's change set.
    pub commits: Vec<String>,
    /// First commit time, ms.
    pub first_commit_ms: i64,
    /// PR opened, ms.
    pub opened_ms: Option<i64>,
    /// PR merged, ms.
    pub merged_ms: Option<i64>,
    /// Lead time, ms: deployment − first commit.
    pub lead_ms: i64,
    /// With `lead_time_unit = "commit"`: one lead time per non-merge commit of the change,
    /// deployment − that commit's author time, ms; these are the samples then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_leads_ms: Option<Vec<i64>>,
    /// Why the change was unplanned (revert, hotfix, incident fix), if it was.
    pub unplanned: Option<String>,
}

/// A signal that a deployment failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FailureSignal {
    /// Its final deployment status was `failure` or `error`.
    Status {
        /// The state.
        state: DeployState,
    },
    /// An incident was attributed to it.
    Incident {
        /// Issue number.
        number: u64,
        /// How: the reference found in the issue, or "latest deployment within N h".
        how: String,
    },
    /// A later pull request reverted a change it shipped.
    Revert {
        /// The revert PR.
        by: u64,
        /// The reverted PR.
        reverted: u64,
    },
    /// A later deployment went back to an ancestor of its SHA.
    RolledBack {
        /// The id of the rollback deployment.
        by: u64,
    },
}

/// Everything known about one deployment, after the analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployFacts {
    /// Service.
    pub service: String,
    /// `owner/name`.
    pub repo: String,
    /// GitHub's id.
    pub id: u64,
    /// Deployed SHA.
    pub sha: String,
    /// Time of its final status, ms.
    pub at_ms: i64,
    /// Final state.
    pub state: DeployState,
    /// How its change set was found.
    pub change_set: ChangeSet,
    /// Changes shipped (for failed deployments: what it tried to ship).
    pub changes: Vec<ShippedChange>,
    /// Failure signals; empty = healthy.
    pub failures: Vec<FailureSignal>,
    /// Whether it was unplanned work, and why.
    pub unplanned: Option<String>,
    /// For a rollback: the deployment it rolled back.
    pub rollback_of: Option<u64>,
    /// Recovery, for a failed deployment.
    pub recovery: Option<Recovery>,
}

impl DeployFacts {
    /// Reached a final state with a `success` status.
    pub fn succeeded(&self) -> bool {
        self.state == DeployState::Success
    }

    /// Has at least one failure signal.
    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }
}

/// What happened to one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentFacts {
    /// `owner/name`.
    pub repo: String,
    /// Issue number.
    pub number: u64,
    /// Service, when known.
    pub service: Option<String>,
    /// Opened, ms.
    pub opened_ms: i64,
    /// Closed, ms.
    pub closed_ms: Option<i64>,
    /// Deployment ids it was attributed to; empty = unattributed.
    pub deployments: Vec<u64>,
    /// How.
    pub how: String,
}

/// The analysed delivery history.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DoraModel {
    /// Services, in configuration order.
    pub services: Vec<ServiceSpec>,
    /// Deployments that reached a final state, by service then time.
    pub deployments: Vec<DeployFacts>,
    /// Incidents.
    pub incidents: Vec<IncidentFacts>,
    /// Where each service's deployments are in `deployments` (they are contiguous).
    #[serde(skip)]
    ranges: HashMap<String, std::ops::Range<usize>>,
    /// The calendar of the settings it was analysed with.
    #[serde(skip)]
    pub calendar: Calendar,
}

impl DoraModel {
    /// Deployments of a service (`None` = all), in time order within each service.
    pub fn deployments_of(&self, service: Option<&str>) -> &[DeployFacts] {
        match service {
            None => &self.deployments,
            Some(s) => self
                .ranges
                .get(s)
                .and_then(|r| self.deployments.get(r.clone()))
                .unwrap_or(&[]),
        }
    }

    /// A model from facts an analysis made (kept across restarts): `deployments` by service in
    /// the order of `services`, then time, as [`analyse`] leaves them. `None` when they are
    /// not so ordered (a service's deployments apart, or one of a service not listed).
    pub fn from_facts(
        services: Vec<ServiceSpec>,
        deployments: Vec<DeployFacts>,
        incidents: Vec<IncidentFacts>,
        calendar: Calendar,
    ) -> Option<Self> {
        let mut ranges: HashMap<String, std::ops::Range<usize>> = HashMap::default();
        let mut at = 0;
        for spec in &services {
            let n = deployments[at..]
                .iter()
                .take_while(|d| d.service == spec.name)
                .count();
            ranges.insert(spec.name.clone(), at..at + n);
            at += n;
        }
        (at == deployments.len()).then_some(Self {
            services,
            deployments,
            incidents,
            ranges,
            calendar,
        })
    }

    /// The repository of a service.
    pub fn repo_of(&self, service: &str) -> Option<&str> {
        self.services
            .iter()
            .find(|s| s.name == service)
            .map(|s| s.repo.as_str())
    }
}

/// Services seen in the deployments, for when none are configured: one per (repo, service).
pub fn services_from(deployments: &[Deployment]) -> Vec<ServiceSpec> {
    let mut out: Vec<ServiceSpec> = Vec::new();
    // A look-up per deployment rather than a scan of the services found so far.
    let mut seen: rustc_hash::FxHashSet<&str> = Default::default();
    for d in deployments {
        if seen.insert(d.service.as_str()) {
            out.push(ServiceSpec {
                name: d.service.clone(),
                repo: d.repo.clone(),
                paths: ServicePaths::default(),
            });
        }
    }
    out
}

/// Analyses the raw events: change sets, failure signals, recovery and rework.
pub fn analyse(
    input: DoraInput<'_>,
    services: &[ServiceSpec],
    settings: &DoraSettings,
) -> DoraModel {
    let graph = graph::Graph::new(input.commits, input.changes);
    // One look-up per deployment, not a scan of every service's name.
    let mut by_service: HashMap<&str, Vec<&Deployment>> = services
        .iter()
        .map(|s| (s.name.as_str(), Vec::new()))
        .collect();
    for d in input.deployments {
        if d.state == DeployState::Pending || d.finished_at.is_none() {
            continue;
        }
        if let Some(list) = by_service.get_mut(d.service.as_str()) {
            list.push(d);
        }
    }
    // The repository breaks ties between the repositories of one service: the order, and so
    // the model, does not depend on the order the events were read in (`parts`).
    for list in by_service.values_mut() {
        list.sort_by(|a, b| (a.finished_at, a.id, &a.repo).cmp(&(b.finished_at, b.id, &b.repo)));
    }
    // Services are independent: their change sets are computed on every core, then joined in
    // configuration order.
    let per_service = parallel_map(services, |spec| {
        by_service
            .get(spec.name.as_str())
            .map(|list| changes::change_sets(&graph, spec, list, settings))
            .unwrap_or_default()
    });
    let mut deployments = Vec::with_capacity(per_service.iter().map(Vec::len).sum());
    let mut ranges = HashMap::default();
    for (spec, facts) in services.iter().zip(per_service) {
        let start = deployments.len();
        deployments.extend(facts);
        ranges.insert(spec.name.clone(), start..deployments.len());
    }
    let incidents = failures::attribute(&mut deployments, input, &graph, services, settings);
    failures::recovery(&mut deployments, &incidents, settings.recovery_end);
    DoraModel {
        services: services.to_vec(),
        ranges,
        deployments,
        incidents,
        calendar: settings.calendar,
    }
}

#[cfg(test)]
mod tests;
