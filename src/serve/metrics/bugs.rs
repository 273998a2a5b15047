//! The bug gauge family: the last complete week's bugs per service (with its owner in `team`),
//! per team (`service=""`, its services pooled) and org-wide (`service="all"`).

use prometheus::{GaugeVec, Opts, Registry};

use crate::analysis::dora::Scope;
use crate::analysis::WEEK_MS;
use crate::model::Teams;
use crate::query::{DoraCache, Settings};
use crate::store::Store;

pub(super) struct BugGauges {
    opened: GaugeVec,
    closed: GaugeVec,
    reopened: GaugeVec,
    open: GaugeVec,
    age: GaugeVec,
    escaped: GaugeVec,
}

impl BugGauges {
    pub(super) fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let g = |name: &str, help: &str| -> Result<GaugeVec, prometheus::Error> {
            let v = GaugeVec::new(Opts::new(name, help), &["service", "team"])?;
            registry.register(Box::new(v.clone()))?;
            Ok(v)
        };
        Ok(Self {
            opened: g(
                "barometer_bugs_opened",
                "Bugs opened in the last complete week (docs/bugs.md).",
            )?,
            closed: g(
                "barometer_bugs_closed",
                "Bugs last closed in the last complete week.",
            )?,
            reopened: g(
                "barometer_bugs_reopened",
                "Bug reopens seen in the last complete week.",
            )?,
            open: g(
                "barometer_bugs_open",
                "Bugs open at the end of the last complete week.",
            )?,
            age: g(
                "barometer_bugs_open_age_median_seconds",
                "Median age of the bugs open at the end of the last complete week.",
            )?,
            escaped: g(
                "barometer_bugs_escaped",
                "Bugs opened in the last complete week within the escape window after a deployment of their service.",
            )?,
        })
    }

    pub(super) fn refresh(
        &self,
        store: &Store,
        settings: &Settings,
        teams: &Teams,
        cache: &DoraCache,
    ) {
        let facts = cache.bug_facts(store, settings);
        let (model, facts) = match facts {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the bugs");
                return;
            }
        };
        for v in [
            &self.opened,
            &self.closed,
            &self.reopened,
            &self.open,
            &self.age,
            &self.escaped,
        ] {
            v.reset();
        }
        let week = settings.calendar.week_start(crate::clock::now_ms()) - WEEK_MS;
        let scopes = crate::query::teams::all_scopes(&model, teams);
        let series = crate::query::bugs::bug_series(&facts, &scopes, &[week], settings);
        for (scope, s) in scopes.iter().zip(series) {
            let labels: [String; 2] = match scope {
                Scope::Org => ["all".into(), String::new()],
                Scope::Team { name, .. } => [String::new(), name.clone()],
                Scope::Service(svc) => [
                    svc.clone(),
                    teams
                        .owner_of(svc)
                        .map_or(String::new(), |t| t.name.clone()),
                ],
            };
            let l = [labels[0].as_str(), labels[1].as_str()];
            let Some(w) = s.weeks.first() else { continue };
            self.opened.with_label_values(&l).set(w.opened as f64);
            self.closed.with_label_values(&l).set(w.closed as f64);
            self.reopened.with_label_values(&l).set(w.reopened as f64);
            self.open.with_label_values(&l).set(w.open_at_end as f64);
            self.escaped.with_label_values(&l).set(w.escaped as f64);
            if let Some(a) = w.open_age_p50_s {
                self.age.with_label_values(&l).set(a);
            }
        }
    }
}
