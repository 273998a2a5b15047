//! Teams on the read side: the scopes a request names (organisation, team, service, repo), and
//! each team's roll-up, so that the API, the CLI, `/metrics`, the dashboard and the digest give
//! one answer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::analysis::dora::{BandTable, DoraFigures, DoraModel, Scope};
use crate::analysis::ownership::{derive, service_dir, CodeOwners, ServiceLocation};
use crate::config::GithubService;
use crate::model::teams::{OwnershipConflict, UNOWNED};
use crate::model::{CodeOwnersFile, Team, Teams};
use crate::store::{Store, StoreError};

use super::SloDef;

/// Why a request's scope names nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// No such service.
    #[error("no service {name:?}; known: {known}")]
    NoService {
        /// The name asked for.
        name: String,
        /// The known ones, comma-separated.
        known: String,
    },
    /// No such team.
    #[error("no team {name:?}; known: {known}")]
    NoTeam {
        /// The name asked for.
        name: String,
        /// The known ones, comma-separated (or "none configured").
        known: String,
    },
    /// No service of that repository.
    #[error("no service in repository {0:?}")]
    NoRepo(String),
    /// The service is not the team's.
    #[error("service {service:?} is not owned by team {team:?}")]
    NotTheTeams {
        /// The service.
        service: String,
        /// The team.
        team: String,
    },
}

fn known<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none configured".to_owned()
    } else {
        v.join(", ")
    }
}

/// The scopes a request asks for. With no filter: the organisation, every team (and the
/// services no team owns, pooled as "unowned", when teams exist), then every service. With a
/// team: the team, then each of its services. With a service or a repository: those services.
pub fn dora_scopes(
    model: &DoraModel,
    teams: &Teams,
    service: Option<&str>,
    team: Option<&str>,
    repo: Option<&str>,
) -> Result<Vec<Scope>, ScopeError> {
    let team = team
        .map(|t| {
            teams.get(t).ok_or_else(|| ScopeError::NoTeam {
                name: t.to_owned(),
                known: known(teams.iter().map(|x| x.name.as_str())),
            })
        })
        .transpose()?;
    if let Some(s) = service {
        if !model.services.iter().any(|x| x.name == s) {
            return Err(ScopeError::NoService {
                name: s.to_owned(),
                known: known(model.services.iter().map(|x| x.name.as_str())),
            });
        }
        if let Some(t) = team.filter(|t| !t.services.iter().any(|x| x == s)) {
            return Err(ScopeError::NotTheTeams {
                service: s.to_owned(),
                team: t.name.clone(),
            });
        }
        return Ok(vec![Scope::Service(s.to_owned())]);
    }
    if let Some(r) = repo {
        let scopes: Vec<Scope> = model
            .services
            .iter()
            .filter(|s| s.repo == r)
            .filter(|s| team.is_none_or(|t| t.services.contains(&s.name)))
            .map(|s| Scope::Service(s.name.clone()))
            .collect();
        if scopes.is_empty() {
            return Err(ScopeError::NoRepo(r.to_owned()));
        }
        return Ok(scopes);
    }
    if let Some(t) = team {
        return Ok(std::iter::once(Scope::Team {
            name: t.name.clone(),
            services: t.services.clone(),
        })
        .chain(
            model
                .services
                .iter()
                .filter(|s| t.services.contains(&s.name))
                .map(|s| Scope::Service(s.name.clone())),
        )
        .collect());
    }
    Ok(all_scopes(model, teams))
}

/// Every scope: the organisation, every team (and the services no team owns, pooled as
/// "unowned", when teams exist), then every service.
pub fn all_scopes(model: &DoraModel, teams: &Teams) -> Vec<Scope> {
    let mut out = vec![Scope::Org];
    if !teams.is_empty() {
        out.extend(teams.iter().map(|t| Scope::Team {
            name: t.name.clone(),
            services: t.services.clone(),
        }));
        let unowned: Vec<String> = teams
            .unowned(model.services.iter().map(|s| s.name.as_str()))
            .into_iter()
            .map(str::to_owned)
            .collect();
        if !unowned.is_empty() {
            out.push(Scope::Team {
                name: UNOWNED.to_owned(),
                services: unowned,
            });
        }
    }
    out.extend(
        model
            .services
            .iter()
            .map(|s| Scope::Service(s.name.clone())),
    );
    out
}

/// One team's roll-up.
#[derive(Debug, Clone, Serialize)]
pub struct TeamSummary {
    /// The team's name ("unowned" for the services no team owns).
    pub name: String,
    /// GitHub team slugs that stand for it.
    pub github_teams: Vec<String>,
    /// Its services.
    pub services: Vec<String>,
    /// Of them, those derived from `CODEOWNERS` rather than configured.
    pub derived_from_codeowners: Vec<String>,
    /// Of them, those without a single deployment in the store.
    pub services_without_deployments: Vec<String>,
    /// The SLOs of its services.
    pub slos: Vec<String>,
    /// DORA figures of the 13 weeks ending with the week asked for, its services pooled.
    pub dora_13w: Option<DoraFigures>,
}

/// Every team's roll-up, and the services no team owns.
#[derive(Debug, Clone, Serialize)]
pub struct TeamsView {
    /// The week the 13-week figures end with (Monday 00:00, ms).
    pub week_ms: i64,
    /// The teams in configuration order, then "unowned" when some service has no team.
    pub teams: Vec<TeamSummary>,
    /// Services (with deployments or an SLO) that no team owns: listed, never dropped.
    pub unowned: Vec<String>,
    /// Services `CODEOWNERS` gives to two teams: owned by neither (so among `unowned`), each
    /// naming both teams and the rule.
    pub conflicts: Vec<OwnershipConflict>,
}

/// The teams' roll-ups for the 13 weeks ending with `week_ms`.
pub fn teams_view(
    model: &DoraModel,
    teams: &Teams,
    slos: &[SloDef],
    week_ms: i64,
    bands: &BandTable,
) -> TeamsView {
    let mut seen: Vec<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
    for d in slos {
        if !seen.contains(&d.service.as_str()) {
            seen.push(&d.service);
        }
    }
    let unowned: Vec<String> = teams
        .unowned(seen.iter().copied())
        .into_iter()
        .map(str::to_owned)
        .collect();
    let summary = |name: &str, github_teams: &[String], services: &[String], derived: &[String]| {
        let scope = Scope::Team {
            name: name.to_owned(),
            services: services.to_vec(),
        };
        let dora_13w = scope
            .weekly(model, &[week_ms], bands)
            .into_iter()
            .next()
            .map(|w| w.rolling_13w);
        TeamSummary {
            name: name.to_owned(),
            github_teams: github_teams.to_vec(),
            services: services.to_vec(),
            derived_from_codeowners: derived.to_vec(),
            services_without_deployments: services
                .iter()
                .filter(|s| model.deployments_of(Some(s)).is_empty())
                .cloned()
                .collect(),
            slos: slos
                .iter()
                .filter(|d| services.contains(&d.service))
                .map(|d| d.name.clone())
                .collect(),
            dora_13w,
        }
    };
    let mut out: Vec<TeamSummary> = teams
        .iter()
        .map(|t| summary(&t.name, &t.github_teams, &t.services, &t.derived))
        .collect();
    if !teams.is_empty() && !unowned.is_empty() {
        out.push(summary(UNOWNED, &[], &unowned, &[]));
    }
    TeamsView {
        week_ms,
        teams: out,
        unowned,
        conflicts: teams.conflicts().to_vec(),
    }
}

/// Who owns which service, as of the store: the configured (or demo) teams, plus the services
/// each derives from the stored `CODEOWNERS` files ([`crate::analysis::ownership::derive`]).
/// Recomputed only when an event was committed since (a `CODEOWNERS` is stored as one), so every
/// face reads one answer without re-parsing per request.
pub struct Ownership {
    base: Vec<Team>,
    locations: Vec<ServiceLocation>,
    fixed: Arc<Teams>,
    last: Mutex<Option<(u64, Arc<Teams>)>>,
}

impl Ownership {
    /// `teams` as configured; `services`, the GitHub services (where each lives).
    pub fn new(teams: Vec<Team>, services: &[GithubService]) -> Self {
        let derives = teams
            .iter()
            .any(|t| !t.github_teams.is_empty() || !t.codeowners.is_empty());
        let locations = if derives {
            services
                .iter()
                .map(|s| ServiceLocation {
                    service: s.name.clone(),
                    repo: s.repo.clone(),
                    dir: service_dir(&s.paths),
                })
                .collect()
        } else {
            Vec::new()
        };
        Self {
            fixed: Arc::new(Teams::new(teams.clone())),
            base: teams,
            locations,
            last: Mutex::new(None),
        }
    }

    /// The teams as of the store now.
    pub fn get(&self, store: &Store) -> Result<Arc<Teams>, StoreError> {
        if self.locations.is_empty() {
            return Ok(self.fixed.clone());
        }
        let generation = store.event_generation();
        if let Some((g, t)) = &*self.last.lock().unwrap_or_else(|p| p.into_inner()) {
            if *g == generation {
                return Ok(t.clone());
            }
        }
        let mut files = BTreeMap::new();
        for f in store.events::<CodeOwnersFile>() {
            let f = f?;
            let parsed = CodeOwners::parse(&f.text);
            for s in &parsed.skipped {
                tracing::warn!(repo = %f.repo, path = %f.path, line = s.line, reason = %s.reason,
                    "CODEOWNERS line skipped");
            }
            files.insert(f.repo, parsed);
        }
        let teams = Arc::new(derive(self.base.clone(), &self.locations, &files));
        for c in teams.conflicts() {
            tracing::warn!(service = %c.service, "{c}; it is listed as unowned");
        }
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((generation, teams.clone()));
        Ok(teams)
    }
}
