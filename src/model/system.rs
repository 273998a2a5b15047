//! The system model: the components of the product (services, databases, queues, external APIs,
//! frontends), who owns them, which DORA/SLO service each maps to, and what each depends on.
//!
//! It comes from `[[system.component]]` in the configuration or from Backstage catalog files;
//! both end up here, and [`SystemModel::new`] refuses a model with duplicate names, references to
//! unknown components or dependency cycles, each problem naming where the component was written.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// What a component is. The kinds of issue #18; a Backstage `Resource` maps to a database or a
/// queue, an `API` nobody in the catalog provides to an external API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// A deployable service.
    Service,
    /// A database or other store.
    Database,
    /// A queue, topic or stream.
    Queue,
    /// An API run by someone else (a payment provider …).
    ExternalApi,
    /// A website or app people use.
    Frontend,
}

impl ComponentKind {
    /// Every kind, in the order the configuration documents them.
    pub const ALL: [ComponentKind; 5] = [
        ComponentKind::Service,
        ComponentKind::Database,
        ComponentKind::Queue,
        ComponentKind::ExternalApi,
        ComponentKind::Frontend,
    ];

    /// The name written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Service => "service",
            ComponentKind::Database => "database",
            ComponentKind::Queue => "queue",
            ComponentKind::ExternalApi => "external_api",
            ComponentKind::Frontend => "frontend",
        }
    }
}

impl std::str::FromStr for ComponentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not one of {}",
                    Self::ALL.map(|k| format!("{:?}", k.as_str())).join(", ")
                )
            })
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    /// Its name, unique in the model.
    pub name: String,
    /// What it is.
    pub kind: ComponentKind,
    /// The team that owns it, if any.
    pub team: Option<String>,
    /// The product (or Backstage `System`) it belongs to, if any.
    pub product: Option<String>,
    /// The DORA/SLO service whose figures are its figures (its name unless stated).
    pub service: String,
    /// The components it depends on, by name.
    pub depends_on: Vec<String>,
    /// The latency objective of its service, in the unit of the latency query (seconds for the
    /// p95 of `[[prometheus.query]]`); `None` = `[system.rules] latency_objective`, if any.
    pub latency_objective: Option<f64>,
    /// Where it was written: `system.component[3]`, or a catalog file and its document.
    pub origin: String,
}

/// Why a model was refused: where, which component, which reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemProblem {
    /// Where the component was written (a configuration key or a catalog file).
    pub origin: String,
    /// The component (entity) at fault.
    pub entity: String,
    /// The reference at fault, if any.
    pub reference: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SystemProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}", self.origin, self.entity)?;
        if let Some(r) = &self.reference {
            write!(f, " -> {r:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A checked model: unique names, known references, no cycles.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SystemModel {
    components: Vec<Component>,
}

impl SystemModel {
    /// Checks the components; every problem is returned, not only the first.
    pub fn new(components: Vec<Component>) -> Result<Self, Vec<SystemProblem>> {
        let mut problems = Vec::new();
        let mut first: BTreeMap<&str, &Component> = BTreeMap::new();
        for c in &components {
            if c.name.trim().is_empty() {
                problems.push(problem(c, None, "a component needs a name"));
            } else if let Some(earlier) = first.get(c.name.as_str()) {
                problems.push(problem(
                    c,
                    None,
                    &format!("duplicate name: already defined in {}", earlier.origin),
                ));
            } else {
                first.insert(&c.name, c);
            }
        }
        for c in &components {
            for d in &c.depends_on {
                if !first.contains_key(d.as_str()) {
                    problems.push(problem(c, Some(d), "depends on an unknown component"));
                } else if *d == c.name {
                    problems.push(problem(c, Some(d), "depends on itself"));
                }
            }
        }
        if problems.is_empty() {
            if let Some(cycle) = find_cycle(&components) {
                let c = &components[cycle[0]];
                let path: Vec<&str> = cycle.iter().map(|&i| components[i].name.as_str()).collect();
                problems.push(problem(
                    c,
                    Some(&components[cycle[1 % cycle.len()]].name),
                    &format!(
                        "dependency cycle: {} -> {}",
                        path.join(" -> "),
                        components[cycle[0]].name
                    ),
                ));
            }
        }
        if problems.is_empty() {
            Ok(Self { components })
        } else {
            Err(problems)
        }
    }

    /// The components, in the order written.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// Whether the model has no component.
    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
    }

    /// A component by name.
    pub fn get(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    /// The components that depend on `name` directly.
    pub fn dependants(&self, name: &str) -> Vec<&str> {
        self.components
            .iter()
            .filter(|c| c.depends_on.iter().any(|d| d == name))
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Each component's depth: 0 for one nothing depends on (an entry point), else one more than
    /// the deepest component that depends on it, so dependencies are drawn below their users.
    pub fn depths(&self) -> BTreeMap<&str, usize> {
        let mut depth: BTreeMap<&str, usize> = self
            .components
            .iter()
            .map(|c| (c.name.as_str(), 0))
            .collect();
        // Longest path in a DAG by relaxation; at most n rounds since the model has no cycle.
        for _ in 0..self.components.len() {
            let mut changed = false;
            for c in &self.components {
                let here = depth.get(c.name.as_str()).copied().unwrap_or(0);
                for d in &c.depends_on {
                    if let Some(v) = depth.get_mut(d.as_str()) {
                        if *v < here + 1 {
                            *v = here + 1;
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        depth
    }
}

fn problem(c: &Component, reference: Option<&String>, message: &str) -> SystemProblem {
    SystemProblem {
        origin: c.origin.clone(),
        entity: c.name.clone(),
        reference: reference.cloned(),
        message: message.to_owned(),
    }
}

/// One cycle (component indexes, in dependency order), if the graph has any: depth-first search
/// with the usual white/grey/black colouring.
fn find_cycle(components: &[Component]) -> Option<Vec<usize>> {
    let index: BTreeMap<&str, usize> = components
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let edges: Vec<Vec<usize>> = components
        .iter()
        .map(|c| {
            c.depends_on
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut colour = vec![0u8; components.len()];
    for start in 0..components.len() {
        if colour[start] != 0 {
            continue;
        }
        let mut path: Vec<usize> = vec![start];
        let mut next: Vec<usize> = vec![0];
        colour[start] = 1;
        while let (Some(&node), Some(k)) = (path.last(), next.last_mut()) {
            if let Some(&to) = edges[node].get(*k) {
                *k += 1;
                match colour[to] {
                    0 => {
                        colour[to] = 1;
                        path.push(to);
                        next.push(0);
                    }
                    1 => {
                        let at = path.iter().position(|&p| p == to).unwrap_or(0);
                        return Some(path[at..].to_vec());
                    }
                    _ => {}
                }
            } else {
                colour[node] = 2;
                path.pop();
                next.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, deps: &[&str]) -> Component {
        Component {
            name: name.into(),
            kind: ComponentKind::Service,
            team: None,
            product: None,
            service: name.into(),
            depends_on: deps.iter().map(|d| (*d).into()).collect(),
            latency_objective: None,
            origin: format!("test/{name}"),
        }
    }

    #[test]
    fn depths_put_dependencies_below_their_users() {
        let m = SystemModel::new(vec![
            c("web", &["api"]),
            c("api", &["db", "pay"]),
            c("admin", &["db"]),
            c("db", &[]),
            c("pay", &[]),
        ])
        .expect("valid");
        let d = m.depths();
        assert_eq!((d["web"], d["api"], d["db"], d["admin"]), (0, 1, 2, 0));
        assert_eq!(m.dependants("db"), ["api", "admin"]);
    }

    #[test]
    fn duplicates_unknown_references_and_cycles_are_named() {
        let e = SystemModel::new(vec![c("a", &["zz"]), c("a", &[])]).expect_err("invalid");
        assert!(e
            .iter()
            .any(|p| p.entity == "a" && p.message.contains("duplicate")));
        assert!(e.iter().any(|p| p.reference.as_deref() == Some("zz")));
        let e = SystemModel::new(vec![c("a", &["b"]), c("b", &["c"]), c("c", &["a"])])
            .expect_err("cycle");
        assert_eq!(e.len(), 1);
        assert!(e[0].message.contains("a -> b -> c -> a"), "{}", e[0]);
        assert_eq!(e[0].origin, "test/a");
    }
}
