//! `[system]`: the components of the system map (docs/system.md).

use std::path::PathBuf;

use super::super::raw::{RawSystem, RawSystemRules};
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
            rules: self.system_rules(raw.rules),
        }
    }

    /// `[system.rules]`: each threshold in its range, each band a known name; a bad key keeps
    /// its default so that every other problem is still found.
    fn system_rules(&mut self, raw: RawSystemRules) -> SystemRules {
        let d = SystemRules::default();
        let mut count = |key: &str, v: Option<i64>, min: i64, max: i64, default: u32| -> u32 {
            match v {
                None => default,
                Some(v) if (min..=max).contains(&v) => u32::try_from(v).unwrap_or(default),
                Some(v) => {
                    self.problem(
                        &format!("system.rules.{key}"),
                        format!("{v} must be a whole number from {min} to {max}"),
                    );
                    default
                }
            }
        };
        let many_dependants = count(
            "many_dependants",
            raw.many_dependants,
            1,
            10_000,
            d.many_dependants,
        );
        let stale_weeks = count("stale_weeks", raw.stale_weeks, 1, 520, d.stale_weeks);
        let bug_min = count("bug_min", raw.bug_min, 1, 1_000_000, d.bug_min);
        let pressure_weakest = count(
            "pressure_weakest",
            raw.pressure_weakest,
            1,
            100,
            d.pressure_weakest,
        );
        let fast_burn = match raw.fast_burn {
            Some(v) if !(v.is_finite() && v > 0.0) => {
                self.problem(
                    "system.rules.fast_burn",
                    format!("{v} must be a burn rate above 0, e.g. 2 (the budget gone in half the window)"),
                );
                d.fast_burn
            }
            v => v.unwrap_or(d.fast_burn),
        };
        let bug_share = match raw.bug_share {
            Some(v) if !(v > 0.0 && v <= 1.0) => {
                self.problem(
                    "system.rules.bug_share",
                    format!("{v} must be a share above 0 and at most 1, e.g. 0.4"),
                );
                d.bug_share
            }
            v => v.unwrap_or(d.bug_share),
        };
        let latency_objective = match raw.latency_objective {
            Some(v) if !(v.is_finite() && v > 0.0) => {
                self.problem(
                    "system.rules.latency_objective",
                    format!("{v} must be a positive number in the latency query's unit, e.g. 0.4 (seconds)"),
                );
                None
            }
            v => v,
        };
        let mut band = |key: &str, v: Option<String>, default: RuleBand| {
            match v {
            None => default,
            Some(v) => RuleBand::ALL
                .iter()
                .find(|(name, _)| *name == v.trim())
                .map(|(_, b)| *b)
                .unwrap_or_else(|| {
                    self.problem(
                        &format!("system.rules.{key}"),
                        format!(
                            "{:?} is not one of \"low\", \"medium\", \"high\" (the band at or below which the rule fires)",
                            v
                        ),
                    );
                    default
                }),
        }
        };
        let cfr_band = band("cfr_band", raw.cfr_band, d.cfr_band);
        let recovery_band = band("recovery_band", raw.recovery_band, d.recovery_band);
        let latency_query = match raw.latency_query {
            Some(q) if q.trim().is_empty() => {
                self.problem("system.rules.latency_query", "must not be empty");
                d.latency_query.clone()
            }
            q => q.map_or(d.latency_query.clone(), |q| q.trim().to_owned()),
        };
        SystemRules {
            fast_burn,
            many_dependants,
            stale_weeks,
            bug_share,
            bug_min,
            cfr_band,
            recovery_band,
            latency_query,
            latency_objective,
            pressure_weakest,
        }
    }
}
