//! Teams and the services they own: the ownership every per-team figure is rolled up by.

use std::collections::BTreeMap;

use serde::Serialize;

/// A team and its services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    /// The team's name.
    pub name: String,
    /// The services it owns.
    pub services: Vec<String>,
    /// GitHub team slugs (`org/team`) that stand for it; `CODEOWNERS` rules naming `@org/team`
    /// give it their services.
    pub github_teams: Vec<String>,
    /// Other `CODEOWNERS` owners (`@user`, an e-mail) that stand for it.
    pub codeowners: Vec<String>,
    /// Of `services`, those derived from `CODEOWNERS` rather than configured.
    pub derived: Vec<String>,
}

/// A service whose `CODEOWNERS` owners stand for two teams: given to neither, listed as unowned,
/// and reported with both names, like the configuration error for a service two teams list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnershipConflict {
    /// The service.
    pub service: String,
    /// The two teams (the first two in configuration order, when more claim it).
    pub teams: [String; 2],
    /// The rule that claims it for both: file, line, pattern and owners.
    pub source: String,
}

impl std::fmt::Display for OwnershipConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "service {:?} is owned by both {:?} and {:?} ({})",
            self.service, self.teams[0], self.teams[1], self.source
        )
    }
}

/// Every team, with the owner of each service. Built from a validated configuration (or the
/// demo's teams), where no service has two owners; should a caller pass one anyway, the first
/// team in order keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Teams {
    teams: Vec<Team>,
    #[serde(skip)]
    owner: BTreeMap<String, usize>,
    conflicts: Vec<OwnershipConflict>,
}

/// A repository's `CODEOWNERS` file as the GitHub source last read it, kept as text: the read
/// side parses it (`analysis::ownership`) to derive which team owns which service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CodeOwnersFile {
    /// `owner/name`.
    pub repo: String,
    /// Where it was found (`.github/CODEOWNERS`, `CODEOWNERS` or `docs/CODEOWNERS`).
    pub path: String,
    /// Its text.
    pub text: String,
}

impl super::Event for CodeOwnersFile {
    const KIND: &'static str = "codeowners";
    fn natural_key(&self) -> String {
        self.repo.clone()
    }
}

/// The name the faces show for a service no team owns.
pub const UNOWNED: &str = "unowned";

impl Teams {
    /// Teams in the given order.
    pub fn new(teams: Vec<Team>) -> Self {
        let mut owner = BTreeMap::new();
        for (i, t) in teams.iter().enumerate() {
            for s in &t.services {
                owner.entry(s.clone()).or_insert(i);
            }
        }
        Self {
            teams,
            owner,
            conflicts: Vec::new(),
        }
    }

    /// The same teams, with the derived claims that could not be settled.
    pub fn with_conflicts(mut self, conflicts: Vec<OwnershipConflict>) -> Self {
        self.conflicts = conflicts;
        self
    }

    /// Services `CODEOWNERS` gives to two teams (each is owned by neither).
    pub fn conflicts(&self) -> &[OwnershipConflict] {
        &self.conflicts
    }

    /// Whether any team is defined.
    pub fn is_empty(&self) -> bool {
        self.teams.is_empty()
    }

    /// The teams, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Team> {
        self.teams.iter()
    }

    /// A team by name.
    pub fn get(&self, name: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.name == name)
    }

    /// The team that owns `service`, if any.
    pub fn owner_of(&self, service: &str) -> Option<&Team> {
        self.owner.get(service).and_then(|&i| self.teams.get(i))
    }

    /// Of `services`, those no team owns, in the order given.
    pub fn unowned<'a>(&self, services: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        services
            .into_iter()
            .filter(|s| !self.owner.contains_key(*s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(name: &str, services: &[&str]) -> Team {
        Team {
            name: name.into(),
            services: services.iter().map(|s| (*s).to_owned()).collect(),
            github_teams: Vec::new(),
            codeowners: Vec::new(),
            derived: Vec::new(),
        }
    }

    #[test]
    fn owners_and_unowned_services() {
        let teams = Teams::new(vec![
            team("web", &["storefront", "mobile"]),
            team("platform", &["api"]),
        ]);
        assert_eq!(
            teams.owner_of("mobile").map(|t| t.name.as_str()),
            Some("web")
        );
        assert_eq!(teams.owner_of("billing"), None);
        assert_eq!(
            teams.unowned(["api", "billing", "storefront", "search"]),
            vec!["billing", "search"]
        );
        assert_eq!(teams.get("platform").map(|t| t.services.len()), Some(1));
        assert!(Teams::default().is_empty());
    }
}
