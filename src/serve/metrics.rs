//! The `/metrics` exposition.
//!
//! A background task rebuilds the text whenever the store changes (and every few seconds for the
//! size on disk); a scrape only clones the last rendering, so it never waits on sled, a source or
//! the analysis.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use tokio_util::sync::CancellationToken;

use crate::analysis::reliability::BURN_WINDOWS_H;
use crate::analysis::revenue::{monthly, RetentionWindow};
use crate::analysis::WEEK_MS;
use crate::app::App;
use crate::health::{DigestOutcomes, Health};
use crate::query::{slo_weeks, DoraCache, Settings};
use crate::store::Store;

/// The DORA gauges: figures over the last 4 complete ISO weeks, per service and org-wide
/// (`repo="all", service="all"`).
struct DoraGauges {
    per_week: GaugeVec,
    lead_time: GaugeVec,
    cfr: GaugeVec,
    recovery: GaugeVec,
    rework: GaugeVec,
    band: IntGaugeVec,
    rate_limit: GaugeVec,
}

impl DoraGauges {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let labels = &["repo", "service"];
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
            &["repo", "service", "metric", "report_year"],
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
                &["repo", "service", "percentile"],
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

    fn refresh(&self, store: &Store, settings: &Settings, health: &Health, cache: &DoraCache) {
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
        let scopes = std::iter::once((None, "all".to_owned(), "all".to_owned())).chain(
            model
                .services
                .iter()
                .map(|s| (Some(s.name.clone()), s.repo.clone(), s.name.clone())),
        );
        for (scope, repo, service) in scopes {
            let f = crate::analysis::dora::window(&model, scope.as_deref(), from, to, bands);
            let l = [repo.as_str(), service.as_str()];
            self.per_week
                .with_label_values(&l)
                .set(f.deployments_per_week);
            if let Some(q) = f.lead_time {
                self.lead_time
                    .with_label_values(&[l[0], l[1], "50"])
                    .set(q.p50);
                self.lead_time
                    .with_label_values(&[l[0], l[1], "90"])
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
                    .with_label_values(&[l[0], l[1], m.as_str(), year.as_str()])
                    .set(i64::from(b.score()));
            }
        }
    }
}

/// The pressure index of the last complete, scored week.
struct PressureGauges {
    index: Gauge,
    growth: Gauge,
    resilience: Gauge,
    regime: IntGaugeVec,
    component: GaugeVec,
}

impl PressureGauges {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let gauge = |name: &str, help: &str| -> Result<Gauge, prometheus::Error> {
            let g = Gauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let regime = IntGaugeVec::new(
            Opts::new(
                "barometer_regime",
                "1 for the regime of the last complete week (growth, balanced, resilience), 0 for the others.",
            ),
            &["regime"],
        )?;
        registry.register(Box::new(regime.clone()))?;
        let component = GaugeVec::new(
            Opts::new(
                "barometer_pressure_component_score",
                "Score of each component of the pressure index in the last complete week (resilience side 0..1, growth side -1..1).",
            ),
            &["component", "side"],
        )?;
        registry.register(Box::new(component.clone()))?;
        Ok(Self {
            index: gauge(
                "barometer_pressure_index",
                "Pressure index P = resilience need - growth momentum, smoothed, of the last complete week (negative: growth pressure dominates; see docs/pressure.md).",
            )?,
            growth: gauge(
                "barometer_pressure_growth_momentum",
                "Growth momentum G of the last complete week (-1..1).",
            )?,
            resilience: gauge(
                "barometer_pressure_resilience_need",
                "Resilience need R of the last complete week (0..1).",
            )?,
            regime,
            component,
        })
    }

    fn refresh(&self, report: &crate::analysis::pressure::PressureReport) {
        use crate::analysis::pressure::Regime;
        let Some(last) = report
            .weeks
            .iter()
            .rev()
            .find(|w| w.p.is_some() && w.regime.is_some())
        else {
            return;
        };
        if let Some(p) = last.p {
            self.index.set(p);
        }
        if let Some(g) = last.growth {
            self.growth.set(g);
        }
        if let Some(r) = last.resilience {
            self.resilience.set(r);
        }
        for r in [Regime::Growth, Regime::Balanced, Regime::Resilience] {
            self.regime
                .with_label_values(&[r.as_str()])
                .set(i64::from(last.regime == Some(r)));
        }
        self.component.reset();
        for c in &last.components {
            let side = if c.component.is_growth() {
                "growth"
            } else {
                "resilience"
            };
            self.component
                .with_label_values(&[c.component.as_str(), side])
                .set(c.score);
        }
    }
}

/// The daemon's metrics and their last rendering.
pub struct Metrics {
    registry: Registry,
    store_bytes: IntGauge,
    store_series: IntGauge,
    store_events: IntGaugeVec,
    source_up: IntGaugeVec,
    source_last_success: GaugeVec,
    sync_duration: HistogramVec,
    slo_availability: GaugeVec,
    slo_budget: GaugeVec,
    slo_burn: GaugeVec,
    /// The current, partial week so far: availability, bad minutes, budget left.
    slo_week_to_date: [GaugeVec; 3],
    revenue_arr: GaugeVec,
    revenue_mrr: GaugeVec,
    revenue_nrr: GaugeVec,
    revenue_grr: GaugeVec,
    revenue_customers: IntGauge,
    dora: DoraGauges,
    pressure: PressureGauges,
    digest: Arc<DigestOutcomes>,
    digest_last_success: Gauge,
    digest_failures: IntCounter,
    app: App,
    health: Arc<Health>,
    rendered: RwLock<Arc<String>>,
}

impl Metrics {
    /// Registers every metric.
    pub fn new(
        app: App,
        health: Arc<Health>,
        digest: Arc<DigestOutcomes>,
    ) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let dora = DoraGauges::new(&registry)?;
        let pressure = PressureGauges::new(&registry)?;
        let build_info = IntGaugeVec::new(
            Opts::new(
                "barometer_build_info",
                "Build information; always 1, the labels carry the data.",
            ),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let store_bytes = IntGauge::new(
            "barometer_store_bytes",
            "Bytes the embedded store takes on disk.",
        )?;
        let store_series =
            IntGauge::new("barometer_store_series", "Time series held in the store.")?;
        let store_events = IntGaugeVec::new(
            Opts::new(
                "barometer_store_events",
                "Raw events held in the store, by kind.",
            ),
            &["kind"],
        )?;
        let source_up = IntGaugeVec::new(
            Opts::new(
                "barometer_source_up",
                "1 when the source's last sync succeeded, 0 when it failed.",
            ),
            &["source"],
        )?;
        let source_last_success = GaugeVec::new(
            Opts::new(
                "barometer_source_last_success_timestamp_seconds",
                "Unix time of the source's last successful sync.",
            ),
            &["source"],
        )?;
        let sync_duration = HistogramVec::new(
            HistogramOpts::new(
                "barometer_sync_duration_seconds",
                "Duration of source syncs, successful or not.",
            )
            .buckets(vec![0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0]),
            &["source"],
        )?;
        let slo_availability = GaugeVec::new(
            Opts::new(
                "barometer_slo_availability_ratio",
                "Availability (good / total events) over the last complete ISO week.",
            ),
            &["slo", "service"],
        )?;
        let slo_budget = GaugeVec::new(
            Opts::new(
                "barometer_slo_error_budget_remaining_ratio",
                "Error budget left over the SLO's rolling window at the end of the last complete \
                 week (negative when overspent).",
            ),
            &["slo", "service"],
        )?;
        let slo_burn = GaugeVec::new(
            Opts::new(
                "barometer_slo_burn_rate",
                "Error-budget burn rate over a window ending at the end of the last complete week \
                 (1 = spending exactly the budget).",
            ),
            &["slo", "service", "window"],
        )?;
        let revenue_arr = GaugeVec::new(
            Opts::new(
                "barometer_revenue_arr",
                "Annual recurring revenue (12 × MRR) of the latest month with data.",
            ),
            &["currency"],
        )?;
        let revenue_mrr = GaugeVec::new(
            Opts::new(
                "barometer_revenue_mrr",
                "Monthly recurring revenue of the latest month with data.",
            ),
            &["currency"],
        )?;
        let revenue_nrr = GaugeVec::new(
            Opts::new(
                "barometer_revenue_nrr_ratio",
                "Net revenue retention of the latest month (formula in the label).",
            ),
            &["formula"],
        )?;
        let revenue_grr = GaugeVec::new(
            Opts::new(
                "barometer_revenue_grr_ratio",
                "Gross revenue retention of the latest month (formula in the label).",
            ),
            &["formula"],
        )?;
        let revenue_customers = IntGauge::new(
            "barometer_revenue_customers",
            "Paying customers in the latest month with data.",
        )?;
        registry.register(Box::new(revenue_arr.clone()))?;
        registry.register(Box::new(revenue_mrr.clone()))?;
        registry.register(Box::new(revenue_nrr.clone()))?;
        registry.register(Box::new(revenue_grr.clone()))?;
        registry.register(Box::new(revenue_customers.clone()))?;
        registry.register(Box::new(source_up.clone()))?;
        registry.register(Box::new(source_last_success.clone()))?;
        registry.register(Box::new(sync_duration.clone()))?;
        registry.register(Box::new(slo_availability.clone()))?;
        registry.register(Box::new(slo_budget.clone()))?;
        registry.register(Box::new(slo_burn.clone()))?;
        // The current week gets its own families rather than a label on the ones above: a
        // `partial` label would put a second, still-moving series beside every last-week one,
        // and existing alerts and panels would pick it up unasked.
        let slo_week_to_date = [
            (
                "barometer_slo_week_to_date_availability_ratio",
                "Availability (good / total events) of the current, partial ISO week so far.",
            ),
            (
                "barometer_slo_week_to_date_bad_minutes",
                "Minutes of the current, partial ISO week so far whose error ratio exceeded the \
                 budget.",
            ),
            (
                "barometer_slo_week_to_date_error_budget_remaining_ratio",
                "Error budget left over the SLO's rolling window ending at the last synced step \
                 of the current week.",
            ),
        ]
        .map(|(name, help)| GaugeVec::new(Opts::new(name, help), &["slo", "service"]));
        let [a, b, c] = slo_week_to_date;
        let slo_week_to_date = [a?, b?, c?];
        for g in &slo_week_to_date {
            registry.register(Box::new(g.clone()))?;
        }
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(store_bytes.clone()))?;
        registry.register(Box::new(store_series.clone()))?;
        registry.register(Box::new(store_events.clone()))?;
        let digest_last_success = Gauge::new(
            "barometer_digest_last_success_timestamp_seconds",
            "Unix time the weekly digest was last delivered (files and webhook).",
        )?;
        let digest_failures = IntCounter::new(
            "barometer_digest_failures_total",
            "Weekly digest runs that failed (building, writing or the webhook) since start.",
        )?;
        registry.register(Box::new(digest_last_success.clone()))?;
        registry.register(Box::new(digest_failures.clone()))?;
        let metrics = Self {
            registry,
            digest_last_success,
            digest_failures,
            store_bytes,
            store_series,
            store_events,
            source_up,
            source_last_success,
            sync_duration,
            slo_availability,
            slo_budget,
            slo_burn,
            slo_week_to_date,
            revenue_arr,
            revenue_mrr,
            revenue_nrr,
            revenue_grr,
            revenue_customers,
            dora,
            pressure,
            digest,
            app,
            health,
            rendered: RwLock::new(Arc::new(String::new())),
        };
        metrics.render();
        Ok(metrics)
    }

    /// Reads the store's figures and renders the exposition.
    pub fn refresh(&self, store: &Store) {
        match store.size_on_disk() {
            Ok(bytes) => self
                .store_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX)),
            Err(e) => tracing::warn!(error = %e, "cannot read the store size"),
        }
        self.store_series
            .set(i64::try_from(store.series_count()).unwrap_or(i64::MAX));
        for kind in ["deployment", "change", "commit", "incident", "revenue"] {
            self.store_events.with_label_values(&[kind]).set(0);
        }
        for (kind, n) in store.event_counts() {
            self.store_events
                .with_label_values(&[kind.as_str()])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        for (source, h) in self.health.snapshot(true) {
            self.source_up
                .with_label_values(&[source.as_str()])
                .set(i64::from(h.up));
            if let Some(t) = h.last_success {
                self.source_last_success
                    .with_label_values(&[source.as_str()])
                    .set(t.timestamp_millis() as f64 / 1000.0);
            }
            let hist = self.sync_duration.with_label_values(&[source.as_str()]);
            for d in h.durations {
                hist.observe(d);
            }
        }
        if let Some(t) = self.digest.last_success_seconds() {
            self.digest_last_success.set(t);
        }
        // The counter follows the failures the digest job has counted.
        let failures = self.digest.failures();
        self.digest_failures
            .inc_by(failures.saturating_sub(self.digest_failures.get()));
        self.refresh_slos(store);
        self.refresh_revenue(store);
        self.dora
            .refresh(store, &self.app.settings, &self.health, &self.app.dora);
        match self
            .app
            .dora
            .weekly(store, &self.app.settings, &self.app.slos)
        {
            Ok(w) => self.pressure.refresh(&w.pressure),
            Err(e) => tracing::warn!(error = %e, "cannot compute the pressure index"),
        }
        self.render();
    }

    /// Revenue figures of the latest month: customer-level data when there is any, else the
    /// totals a file stated (never derived ones).
    fn refresh_revenue(&self, store: &Store) {
        let snapshots = match crate::query::revenue::snapshots(store) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read revenue");
                return;
            }
        };
        let revenue = self.app.settings.revenue;
        let currency = [self.app.settings.currency.as_str()];
        if let Some(last) = monthly(&snapshots, revenue, None).pop() {
            self.revenue_arr.with_label_values(&currency).set(last.arr);
            self.revenue_mrr.with_label_values(&currency).set(last.mrr);
            self.revenue_customers
                .set(i64::try_from(last.customers).unwrap_or(i64::MAX));
            let formula = match revenue.window {
                RetentionWindow::Cohort12m => "cohort_12m",
                RetentionWindow::Monthly => "monthly",
            };
            if let Some(n) = last.nrr {
                self.revenue_nrr.with_label_values(&[formula]).set(n);
            }
            if let Some(g) = last.grr {
                self.revenue_grr.with_label_values(&[formula]).set(g);
            }
        } else {
            let totals = match crate::query::revenue::totals(store) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read revenue totals");
                    return;
                }
            };
            if let Some(t) = totals.values().last() {
                self.revenue_arr.with_label_values(&currency).set(t.arr);
                if let Some(m) = t.mrr {
                    self.revenue_mrr.with_label_values(&currency).set(m);
                }
                if let Some(n) = t.nrr {
                    self.revenue_nrr.with_label_values(&["stated"]).set(n);
                }
                if let Some(g) = t.grr {
                    self.revenue_grr.with_label_values(&["stated"]).set(g);
                }
            }
        }
    }

    /// SLO figures of the last complete week, and of the current one so far.
    fn refresh_slos(&self, store: &Store) {
        let this_week = self.app.calendar().week_start(crate::clock::now_ms());
        let last_week = this_week - WEEK_MS;
        for def in self.app.slos.iter() {
            let read = |week: i64| match slo_weeks(store, def, &[week]) {
                Ok(mut w) => w.pop(),
                Err(e) => {
                    tracing::warn!(error = %e, slo = %def.name, "cannot read SLO samples");
                    None
                }
            };
            if let Some(week) = read(this_week) {
                let l = [def.name.as_str(), def.service.as_str()];
                let [avail, bad, budget] = &self.slo_week_to_date;
                for (gauge, v) in [
                    (avail, week.availability),
                    (bad, week.bad_minutes),
                    (budget, week.error_budget_remaining),
                ] {
                    if let Some(v) = v {
                        gauge.with_label_values(&l).set(v);
                    }
                }
            }
            let Some(week) = read(last_week) else {
                continue;
            };
            let l = [def.name.as_str(), def.service.as_str()];
            if let Some(a) = week.availability {
                self.slo_availability.with_label_values(&l).set(a);
            }
            if let Some(b) = week.error_budget_remaining {
                self.slo_budget.with_label_values(&l).set(b);
            }
            for (hours, burn) in BURN_WINDOWS_H.iter().zip(week.burn_rates) {
                let window = crate::sources::prometheus::prom_duration(Duration::from_secs(
                    *hours as u64 * 3_600,
                ));
                if let Some(b) = burn {
                    self.slo_burn
                        .with_label_values(&[l[0], l[1], window.as_str()])
                        .set(b);
                }
            }
        }
    }

    fn render(&self) {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "cannot encode metrics");
            return;
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        *self.rendered.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(text);
    }

    /// The last rendering.
    pub fn text(&self) -> Arc<String> {
        self.rendered
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Keeps the rendering current until `shutdown`. Bursts of commits are coalesced.
pub async fn refresher(metrics: Arc<Metrics>, store: Arc<Store>, shutdown: CancellationToken) {
    let mut changes = store.subscribe();
    let mut syncs = metrics.health.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = syncs.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
                changes.borrow_and_update();
            }
            _ = tick.tick() => {}
        }
        let (m, s) = (metrics.clone(), store.clone());
        if tokio::task::spawn_blocking(move || m.refresh(&s))
            .await
            .is_err()
        {
            tracing::error!("metrics refresh panicked");
        }
    }
}
