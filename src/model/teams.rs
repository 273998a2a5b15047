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
    /// GitHub team slugs (`org/team`) that stand for it.
    pub github_teams: Vec<String>,
}

/// Every team, with the owner of each service. Built from a validated configuration (or the
/// demo's teams), where no service has two owners; should a caller pass one anyway, the first
/// team in order keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Teams {
    teams: Vec<Team>,
    #[serde(skip)]
    owner: BTreeMap<String, usize>,
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
        Self { teams, owner }
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
