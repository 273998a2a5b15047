//! `[system]`: the components of the system map (docs/system.md).

use std::path::PathBuf;

use super::super::raw::RawSystem;
use super::*;
use crate::model::{Component, ComponentKind, SystemModel};

impl Validator<'_> {
    /// `[system]`: every component has a name and a known kind. Without catalog files the
    /// model is whole here, so unknown references, duplicate names and cycles are checked now,
    /// each naming its key; with catalog files they are checked once the catalog is read
    /// (`sources::catalog`), where a reference may point into the catalog.
    pub(super) fn system(&mut self, raw: RawSystem) -> SystemConfig {
        let mut components = Vec::new();
        for (i, c) in raw.component.into_iter().enumerate() {
            let at = format!("system.component[{i}]");
            let name = c.name.trim().to_owned();
            if name.is_empty() {
                self.problem(&format!("{at}.name"), "must not be empty");
            }
            let kind = c.kind.parse().unwrap_or_else(|e: String| {
                self.problem(&format!("{at}.kind"), e);
                ComponentKind::Service
            });
            let latency_objective = c.latency_objective.filter(|x| {
                let ok = x.is_finite() && *x > 0.0;
                if !ok {
                    self.problem(
                        &format!("{at}.latency_objective"),
                        format!("{x} must be a positive number in the latency query's unit, e.g. 0.4 (seconds)"),
                    );
                }
                ok
            });
            components.push(Component {
                service: c
                    .service
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| name.clone()),
                name,
                kind,
                team: c.team.filter(|s| !s.trim().is_empty()),
                product: c.product.filter(|s| !s.trim().is_empty()),
                depends_on: c.depends_on,
                latency_objective,
                origin: at,
            });
        }
        let catalog_paths: Vec<PathBuf> = raw.catalog_paths.iter().map(PathBuf::from).collect();
        if catalog_paths.is_empty() && !components.is_empty() {
            if let Err(problems) = SystemModel::new(components.clone()) {
                for p in problems {
                    let key = match &p.reference {
                        Some(r) => components
                            .iter()
                            .find(|c| c.origin == p.origin)
                            .and_then(|c| c.depends_on.iter().position(|d| d == r))
                            .map_or(format!("{}.depends_on", p.origin), |j| {
                                format!("{}.depends_on[{j}]", p.origin)
                            }),
                        None => format!("{}.name", p.origin),
                    };
                    let message = match &p.reference {
                        Some(r) => format!("{:?} -> {r:?}: {}", p.entity, p.message),
                        None => format!("{:?}: {}", p.entity, p.message),
                    };
                    self.problem(&key, message);
                }
            }
        }
        SystemConfig {
            catalog_paths,
            components,
        }
    }
}
