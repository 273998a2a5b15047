//! The DORA gauge family and its refresh from the cached weekly figures.

use prometheus::{GaugeVec, IntGaugeVec, Opts, Registry};

use crate::analysis::dora::Scope;
use crate::analysis::WEEK_MS;
use crate::health::Health;
use crate::model::Teams;
use crate::query::{DoraCache, Settings};
use crate::store::Store;

/// The DORA gauges: figures over the last 4 complete ISO weeks, per service (with its owner in
/// `team`, empty when no team owns it), per team (`team="<name>"` with empty `repo` and
/// `service`: its services pooled) and org-wide (`repo="all", service="all"`, empty `team`).
/// An empty label is an absent one to Prometheus, so queries written before teams existed
/// (`{service="all"}`, `{service="api"}`) select the same series.
pub(super) struct DoraGauges {
    per_week: GaugeVec,
    lead_time: GaugeVec,
    cfr: GaugeVec,
    recovery: GaugeVec,
    rework: GaugeVec,
    band: IntGaugeVec,
    rate_limit: GaugeVec,
}

impl DoraGauges {
    pub(super) fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let labels = &["repo", "service", "team"];
        let g = |name: &str, help: &str, labels: &[&str]| -> Result<GaugeVec, prometheus::Error> {
            let v = GaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(v.clone()))?;
            Ok(v)
        };
        let band = IntGaugeVec::new(
            Opts::new(
                "barometer_dora_band",
                "DORA performance band over the last 4 complete weeks: elite=4, high=3, medium=2, low=1 (band table in the report_year label).",
            ),
            &["repo", "service", "team", "metric", "report_year"],
        )?;
        registry.register(Box::new(band.clone()))?;
        Ok(Self {
            per_week: g(
                "barometer_dora_deployments_per_week",
                "Successful production deployments per week, over the last 4 complete weeks.",
                labels,
            )?,
            lead_time: g(
                "barometer_dora_lead_time_seconds",
                "Lead time for changes (deployment − first commit) over the last 4 complete weeks, by percentile (50, 90).",
                // Not `quantile`: Prometheus reserves that label for summaries, and
                // `promtool check metrics` rejects it on a gauge.
                &["repo", "service", "team", "percentile"],
            )?,
            cfr: g(
                "barometer_dora_change_failure_ratio",
                "Deployments with a failure signal / deployments, over the last 4 complete weeks.",
                labels,
            )?,
            recovery: g(
                "barometer_dora_recovery_time_seconds",
                "Median failed-deployment recovery time over the last 4 complete weeks.",
                labels,
            )?,
            rework: g(
                "barometer_dora_rework_ratio",
                "Unplanned deployments (reverts, hotfixes, incident fixes, rollbacks) / deployments, over the last 4 complete weeks.",
                labels,
            )?,
            rate_limit: g(
                "barometer_github_rate_limit_remaining",
                "GitHub API requests left in the current rate-limit window, as of the last sync.",
                &["source"],
            )?,
            band,
        })
    }

    pub(super) fn refresh(
        &self,
        store: &Store,
        settings: &Settings,
        teams: &Teams,
        health: &Health,
        cache: &DoraCache,
    ) {
        if let Some(v) = health.gauge(crate::sources::github::SOURCE, "rate_limit_remaining") {
            self.rate_limit.with_label_values(&["github"]).set(v);
        }
        let model = match cache.get(store, settings) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read delivery events");
                return;
            }
        };
        let bands = &settings.bands;
        let to = settings.calendar.week_start(crate::clock::now_ms());
        let from = to - 4 * WEEK_MS;
        for v in [
            &self.per_week,
            &self.lead_time,
            &self.cfr,
            &self.recovery,
            &self.rework,
        ] {
            v.reset();
        }
        self.band.reset();
        let year = bands.year.to_string();
        let owner = |s: &str| teams.owner_of(s).map_or(String::new(), |t| t.name.clone());
        let scopes = std::iter::once((
            Scope::Org,
            ["all".to_owned(), "all".to_owned(), String::new()],
        ))
        .chain(teams.iter().map(|t| {
            (
                Scope::Team {
                    name: t.name.clone(),
                    services: t.services.clone(),
                },
                [String::new(), String::new(), t.name.clone()],
            )
        }))
        .chain(model.services.iter().map(|s| {
            (
                Scope::Service(s.name.clone()),
                [s.repo.clone(), s.name.clone(), owner(&s.name)],
            )
        }));
        for (scope, labels) in scopes {
            // The 4 weeks ending before `to`: the rolling 4-week figures of the last one.
            let Some(f) = scope
                .weekly(&model, &[to - WEEK_MS], bands)
                .into_iter()
                .next()
                .map(|w| w.rolling_4w)
            else {
                continue;
            };
            debug_assert_eq!(f.from_ms, from);
            let l = [labels[0].as_str(), labels[1].as_str(), labels[2].as_str()];
            self.per_week
                .with_label_values(&l)
                .set(f.deployments_per_week);
            if let Some(q) = f.lead_time {
                self.lead_time
                    .with_label_values(&[l[0], l[1], l[2], "50"])
                    .set(q.p50);
                self.lead_time
                    .with_label_values(&[l[0], l[1], l[2], "90"])
                    .set(q.p90);
            }
            if let Some(r) = f.change_failure_rate {
                self.cfr.with_label_values(&l).set(r.value);
            }
            if let Some(q) = f.recovery_time {
                self.recovery.with_label_values(&l).set(q.p50);
            }
            if let Some(r) = f.rework_rate {
                self.rework.with_label_values(&l).set(r.value);
            }
            for (m, b) in &f.bands {
                self.band
                    .with_label_values(&[l[0], l[1], l[2], m.as_str(), year.as_str()])
                    .set(i64::from(b.score()));
            }
        }
    }
}
