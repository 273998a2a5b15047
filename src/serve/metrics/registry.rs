//! Registering every metric family of the daemon.

use std::sync::{Arc, RwLock};

use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntGauge, IntGaugeVec, Opts, Registry,
};

use super::{
    BugGauges, BusinessGauges, DoraGauges, Metrics, PressureGauges, RemoteWriteStats,
    WebhookFamilies,
};
use crate::app::App;
use crate::health::{DigestOutcomes, Health};

impl Metrics {
    /// Registers every metric.
    pub fn new(
        app: App,
        health: Arc<Health>,
        digest: Arc<DigestOutcomes>,
    ) -> Result<Self, prometheus::Error> {
        // The shard names this daemon on every series it exports, so that several daemons can
        // write into one receiver and stay apart (docs/scaling.md).
        let new_registry = || match &app.config.metrics.shard {
            Some(shard) => Registry::new_custom(
                None,
                Some(std::iter::once(("shard".to_owned(), shard.clone())).collect()),
            ),
            None => Ok(Registry::new()),
        };
        let registry = new_registry()?;
        let remote_registry = new_registry()?;
        let remote = RemoteWriteStats::new(&remote_registry)?;
        for r in &app.config.remote_write {
            // Every receiver's series exist from the start, so a rate() sees the first failure.
            for outcome in ["sent", "dropped", "rejected"] {
                remote
                    .samples
                    .with_label_values(&[r.name.as_str(), outcome]);
            }
            remote.queued.with_label_values(&[r.name.as_str()]).set(0);
        }
        let dora = DoraGauges::new(&registry)?;
        let bugs = BugGauges::new(&registry)?;
        let business = BusinessGauges::new(&registry)?;
        let pressure = PressureGauges::new(&registry)?;
        let webhooks = WebhookFamilies::new(&registry)?;
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
        let analysed = IntGauge::new(
            "barometer_analysis_complete",
            "1 once this process has finished its first refresh of the analysed figures \
             (DORA, bugs, business, pressure); 0 while it computes them, when a scrape sees \
             only the store's and the sources' figures.",
        )?;
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
        registry.register(Box::new(analysed.clone()))?;
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
        let snapshot = (!app.config.remote_write.is_empty()).then(Default::default);
        let metrics = Self {
            registry,
            digest_last_success,
            digest_failures,
            store_bytes,
            store_series,
            analysed,
            measured: std::sync::atomic::AtomicBool::new(false),
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
            bugs,
            business,
            pressure,
            webhooks,
            digest,
            app,
            health,
            rendered: RwLock::new(Default::default()),
            refreshed: tokio::sync::watch::channel(0).0,
            remote_registry,
            remote,
            snapshot,
        };
        metrics.render();
        Ok(metrics)
    }
}
