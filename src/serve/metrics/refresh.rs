//! Reading the store, the health registry and the digest outcomes into the metric families.

use std::time::Duration;

use crate::analysis::reliability::BURN_WINDOWS_H;
use crate::analysis::revenue::{monthly, RetentionWindow};
use crate::analysis::WEEK_MS;
use crate::query::slo_weeks;
use crate::store::Store;

use super::Metrics;

impl Metrics {
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
        for kind in [
            "deployment",
            "change",
            "commit",
            "incident",
            "bug",
            "revenue",
        ] {
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
        self.webhooks.refresh(store, &self.health);
        // The store's and the sources' own figures are cheap and show at once; the analysed
        // families below (DORA, bugs, the organisation's and each product's view) follow when
        // they are done, so a scrape during a long refresh sees current counts beside the
        // previous figures rather than waiting for both.
        self.measured
            .store(true, std::sync::atomic::Ordering::Release);
        self.render();
        self.refresh_slos(store);
        self.refresh_revenue(store);
        // The organisation's weekly view first among the analysed families: the default
        // dashboard page waits for it after a start (`DoraCache::warmed`), and not for the
        // gauges below.
        match self
            .app
            .dora
            .weekly(store, &self.app.settings, &self.app.slos)
        {
            Ok(w) => self.pressure.refresh(&w.pressure),
            Err(e) => tracing::warn!(error = %e, "cannot compute the pressure index"),
        }
        match self.app.ownership.get(store) {
            Ok(teams) => {
                self.dora.refresh(
                    store,
                    &self.app.settings,
                    &teams,
                    &self.health,
                    &self.app.dora,
                );
                self.bugs
                    .refresh(store, &self.app.settings, &teams, &self.app.dora);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read team ownership"),
        }
        self.business.refresh(store, &self.app.settings);
        if !self.app.products.is_empty() {
            match self.product_reports(store) {
                Ok(r) => self.pressure.refresh_products(&r),
                Err(e) => tracing::warn!(error = %e, "cannot compute the products' pressure"),
            }
        }
        self.analysed.set(1);
        self.render();
        // Remote-write sends what this refresh produced.
        self.refreshed.send_modify(|n| *n += 1);
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

    /// Each product's own pressure report (docs/products.md), from the views the shared cache
    /// keeps up to date.
    fn product_reports(
        &self,
        store: &Store,
    ) -> Result<
        Vec<(
            String,
            std::sync::Arc<crate::analysis::pressure::PressureReport>,
        )>,
        crate::store::StoreError,
    > {
        let app = &self.app;
        app.products
            .iter()
            .map(|p| {
                let w = app
                    .dora
                    .product_weekly(store, &app.settings, &app.slos, p)?;
                Ok((p.name.clone(), w.pressure.clone()))
            })
            .collect()
    }
}
