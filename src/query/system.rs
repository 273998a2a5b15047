//! The system map on the read side: each component's figures over the selected weeks (SLO,
//! DORA, bugs, incidents, ownership), handed to the weak-spot rules.

use serde::Serialize;

use super::bugs::{bug_facts, bug_series};
use super::slo::{slo_weeks, SloDef};
use super::views::DoraCache;
use super::Settings;
/// The analysed delivery history the map reads its DORA figures from.
pub use crate::analysis::dora::DoraModel;
use crate::analysis::dora::{self, Band, Metric, Scope};
pub use crate::analysis::system::ProductPressure;
use crate::analysis::system::{
    assess, latency_summary, Assessment, ComponentFigures, Moving, Thresholds,
};
use crate::analysis::{DAY_MS, WEEK_MS};
use crate::config::{RuleBand, SystemRules};
use crate::model::{series, Component, ComponentKind, Products, SystemModel, Teams};
use crate::store::{Store, StoreError};

/// One component on the map.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentView {
    /// The component as modelled.
    pub component: Component,
    /// Its layer: 0 for entry points, one more than its deepest user otherwise.
    pub depth: usize,
    /// The SLO its availability comes from, if any.
    pub slo: Option<String>,
    /// Its figures over the selected weeks.
    pub figures: ComponentFigures,
    /// Its latency per selected week (the mean of the week's p95 samples; `None` without
    /// samples), in `figures.latency_unit`.
    pub latency_weeks: Vec<Option<f64>>,
}

/// The whole map.
#[derive(Debug, Clone, Serialize)]
pub struct SystemView {
    /// First selected week (Monday 00:00, ms).
    pub from_ms: i64,
    /// End of the last selected week (ms, exclusive).
    pub to_ms: i64,
    /// The components, in model order.
    pub components: Vec<ComponentView>,
    /// Weak spots and next moves.
    pub assessment: Assessment,
    /// The thresholds the rules used.
    pub thresholds: Thresholds,
    /// Each product's regime and evidence, read by the pressure-regime rule.
    pub pressure: Vec<ProductPressure>,
}

/// What the map is built from.
pub struct SystemInputs<'a> {
    /// The store (SLO series and bugs).
    pub store: &'a Store,
    /// Analysis settings.
    pub settings: &'a Settings,
    /// The analysed delivery history.
    pub dora: &'a DoraModel,
    /// The SLOs reported.
    pub slos: &'a [SloDef],
    /// The components.
    pub system: &'a SystemModel,
    /// Owners of services, for a component whose owner the model does not name.
    pub teams: &'a Teams,
    /// `[system.rules]`: the rules' thresholds, the latency query and the default objective.
    pub rules: &'a SystemRules,
    /// The products, for a component whose product the model does not name.
    pub products: &'a Products,
    /// Each product's pressure in the last selected week ([`product_pressure`]).
    pub pressure: &'a [ProductPressure],
}

/// The last map built, with what it was built from: `/system`, `/api/v1/system`, the digest and
/// the CLI read it again only when a batch was committed since (the store's generation), the
/// selected weeks differ, or a new week began (which turns the partial week complete). The read
/// side folds every component's hourly SLO counts and latency samples into weeks, about 28 k
/// points a component over a year (BENCHMARKS.md); re-reading them on every page view was the
/// whole cost of the request.
#[derive(Default)]
pub struct SystemCache {
    last: std::sync::Mutex<Option<(SystemKey, std::sync::Arc<SystemView>)>>,
}

/// What a cached map was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SystemKey {
    generation: u64,
    this_week: i64,
    weeks: Vec<i64>,
}

impl SystemCache {
    /// The map over `weeks` as of the store and business time now: the cached one when nothing
    /// it was built from changed, else `build`'s (then kept).
    pub fn get(
        &self,
        store: &Store,
        calendar: crate::model::Calendar,
        weeks: &[i64],
        build: impl FnOnce() -> Result<SystemView, StoreError>,
    ) -> Result<std::sync::Arc<SystemView>, StoreError> {
        let this_week = calendar.week_start(crate::clock::now_ms());
        self.get_at(store, this_week, weeks, build)
    }

    /// [`SystemCache::get`] in the week starting at `this_week`.
    fn get_at(
        &self,
        store: &Store,
        this_week: i64,
        weeks: &[i64],
        build: impl FnOnce() -> Result<SystemView, StoreError>,
    ) -> Result<std::sync::Arc<SystemView>, StoreError> {
        let key = SystemKey {
            generation: store.generation(),
            this_week,
            weeks: weeks.to_vec(),
        };
        let lock = || self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, v)) = &*lock() {
            if *k == key {
                return Ok(v.clone());
            }
        }
        // Built outside the lock: a concurrent caller may build the same
        // map once more, which is cheaper than making every reader wait.
        let view = std::sync::Arc::new(build()?);
        *lock() = Some((key, view.clone()));
        Ok(view)
    }
}

/// Each product's regime and its evidence in the last scored week at or before `week_ms`, from
/// the product's weekly view (`DoraCache::product_weekly`, the view the dashboard and the API
/// show); products without a regime yet are left out.
pub fn product_pressure(
    cache: &DoraCache,
    store: &Store,
    settings: &Settings,
    slos: &[SloDef],
    products: &Products,
    week_ms: i64,
) -> Result<Vec<ProductPressure>, StoreError> {
    let mut out = Vec::new();
    for product in products.iter() {
        let w = cache.product_weekly(store, settings, slos, product)?;
        let Some((week, regime)) = w
            .pressure
            .weeks
            .iter()
            .rev()
            .filter(|x| x.week_ms <= week_ms)
            .find_map(|x| x.regime.map(|r| (x, r)))
        else {
            continue;
        };
        out.push(ProductPressure {
            product: product.name.clone(),
            regime,
            week_ms: week.week_ms,
            p: week.p,
            resilience: week.resilience,
            growth: week.growth,
            forced: week.forced,
            moved: week
                .moved
                .iter()
                .map(|m| Moving {
                    component: m.component.as_str().to_owned(),
                    z: m.z,
                })
                .collect(),
        });
    }
    Ok(out)
}

/// The analysis thresholds of `[system.rules]`.
pub fn thresholds(rules: &SystemRules) -> Thresholds {
    let band = |b: RuleBand| match b {
        RuleBand::Low => Band::Low,
        RuleBand::Medium => Band::Medium,
        RuleBand::High => Band::High,
    };
    Thresholds {
        fast_burn: rules.fast_burn,
        many_dependants: rules.many_dependants as usize,
        stale_weeks: rules.stale_weeks,
        bug_share: rules.bug_share,
        bug_min: u64::from(rules.bug_min),
        cfr_band: band(rules.cfr_band),
        recovery_band: band(rules.recovery_band),
        pressure_weakest: rules.pressure_weakest as usize,
    }
}

/// A service's latency over some weeks, from the series its latency query stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    /// The series' unit (its `unit` label), if the store holds the series.
    pub unit: Option<String>,
    /// One value per week asked for: the mean of the week's p95 samples, `None` without any.
    pub weeks: Vec<Option<f64>>,
    /// The mean over all the weeks' samples.
    pub mean: Option<f64>,
}

/// The latency of `service` over `weeks` (Mondays, ms, ascending): the series of
/// `[[prometheus.query]]` named `query` with that `service` label (the first, if several units
/// were stored), summarised by [`latency_summary`].
pub fn service_latency(
    store: &Store,
    query: &str,
    service: &str,
    weeks: &[i64],
) -> Result<Latency, StoreError> {
    let (Some(&first), Some(&last)) = (weeks.first(), weeks.last()) else {
        return Ok(Latency::default());
    };
    let Some(key) = store
        .series(
            Some(series::QUERY),
            &[("query", query), ("service", service)],
        )
        .into_iter()
        .next()
    else {
        return Ok(Latency {
            weeks: vec![None; weeks.len()],
            ..Latency::default()
        });
    };
    let points = store.range(&key, first, last + WEEK_MS)?;
    let (weekly, mean) = latency_summary(&points, weeks);
    Ok(Latency {
        unit: key.label("unit").map(str::to_owned),
        weeks: weekly,
        mean,
    })
}

/// The map over `weeks` (Mondays, ms, ascending; at least one).
pub fn system_view(input: &SystemInputs<'_>, weeks: &[i64]) -> Result<SystemView, StoreError> {
    let (Some(&first), Some(&last)) = (weeks.first(), weeks.last()) else {
        return Ok(SystemView {
            from_ms: 0,
            to_ms: 0,
            components: Vec::new(),
            assessment: Assessment::default(),
            thresholds: thresholds(input.rules),
            pressure: input.pressure.to_vec(),
        });
    };
    let (from_ms, to_ms) = (first, last + WEEK_MS);
    let facts = bug_facts(input.store, input.dora, input.settings)?;
    let depths = input.system.depths();
    let mut out = Vec::new();
    for c in input.system.components() {
        let slo = input.slos.iter().find(|d| d.service == c.service);
        let rel = match slo {
            Some(def) => slo_weeks(input.store, def, weeks)?,
            None => Vec::new(),
        };
        let availability = availability(&rel);
        let end = rel
            .iter()
            .rev()
            .find(|w| w.error_budget_remaining.is_some());
        let deployed = matches!(c.kind, ComponentKind::Service | ComponentKind::Frontend);
        let f = dora::window(
            input.dora,
            Some(&c.service),
            from_ms,
            to_ms,
            &input.settings.bands,
        );
        let deployments = input.dora.deployments_of(Some(&c.service));
        let has_deployments = !deployments.is_empty();
        let days_since_deploy = if deployed && has_deployments {
            let last_ok = deployments
                .iter()
                .filter(|d| d.succeeded() && d.at_ms < to_ms)
                .map(|d| d.at_ms)
                .max();
            // Never deployed successfully before the end: as stale as its first attempt is old.
            let since = last_ok.or_else(|| deployments.iter().map(|d| d.at_ms).min());
            since.map(|at| ((to_ms - at) as f64 / DAY_MS as f64).max(0.0))
        } else {
            None
        };
        let open_bugs = bug_series(
            &facts,
            &[Scope::Service(c.service.clone())],
            &[last],
            input.settings,
        )
        .first()
        .and_then(|s| s.weeks.last())
        .map_or(0, |w| w.open_at_end);
        let open_incidents = input
            .dora
            .incidents
            .iter()
            .filter(|i| i.service.as_deref() == Some(c.service.as_str()))
            .filter(|i| i.opened_ms < to_ms && i.closed_ms.is_none_or(|t| t >= to_ms))
            .count() as u64;
        let latency = service_latency(input.store, &input.rules.latency_query, &c.service, weeks)?;
        let team = c
            .team
            .clone()
            .or_else(|| input.teams.owner_of(&c.service).map(|t| t.name.clone()));
        let band = |m: Metric| has_deployments.then(|| f.bands.get(&m).copied()).flatten();
        let figures = ComponentFigures {
            name: c.name.clone(),
            kind: c.kind,
            team,
            product: c.product.clone().or_else(|| {
                input
                    .products
                    .iter()
                    .find(|p| p.services.contains(&c.service))
                    .map(|p| p.name.clone())
            }),
            availability,
            slo_target: slo.map(|d| d.spec.target),
            budget_left: end.and_then(|w| w.error_budget_remaining),
            burn_rate: end.and_then(|w| w.burn_rates[3]),
            cfr: f.change_failure_rate.as_ref().map(|r| r.value),
            cfr_band: band(Metric::ChangeFailureRate),
            recovery_h: f.recovery_time.as_ref().map(|q| q.p50 / 3600.0),
            recovery_band: band(Metric::RecoveryTime),
            dora_band: has_deployments
                .then(|| f.bands.values().copied().min())
                .flatten(),
            days_since_deploy,
            open_bugs,
            open_incidents,
            dependants: input.system.dependants(&c.name).len(),
            latency: latency.mean,
            latency_unit: latency.unit,
            latency_objective: c.latency_objective.or(input.rules.latency_objective),
        };
        out.push(ComponentView {
            component: c.clone(),
            depth: depths.get(c.name.as_str()).copied().unwrap_or(0),
            slo: slo.map(|d| d.name.clone()),
            figures,
            latency_weeks: latency.weeks,
        });
    }
    let thresholds = thresholds(input.rules);
    let figures: Vec<ComponentFigures> = out.iter().map(|c| c.figures.clone()).collect();
    Ok(SystemView {
        from_ms,
        to_ms,
        assessment: assess(&figures, input.pressure, &thresholds),
        components: out,
        thresholds,
        pressure: input.pressure.to_vec(),
    })
}

/// Availability over the weeks: Σ good / Σ total when the SLO counts requests (a busy week
/// weighs more, as in the SRE Workbook's definition), else the mean of the weekly ratios (weeks
/// of equal length).
fn availability(weeks: &[crate::analysis::reliability::WeekReliability]) -> Option<f64> {
    let (mut bad, mut total) = (0.0, 0.0);
    for w in weeks {
        if let (Some(e), Some(t)) = (w.error_requests, w.total_requests) {
            bad += e;
            total += t;
        }
    }
    if total > 0.0 {
        return Some(1.0 - bad / total);
    }
    let known: Vec<f64> = weeks.iter().filter_map(|w| w.availability).collect();
    (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
}

/// The lowest band, for a reader who wants one word per component.
pub fn band_name(b: Option<Band>) -> &'static str {
    b.map_or("-", Band::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_defaults_are_the_rules_defaults() {
        assert_eq!(thresholds(&SystemRules::default()), Thresholds::default());
    }

    /// The cache builds once per store generation, week and selection: a second read of an
    /// unchanged store is the same map; a committed batch, another selection or a new week
    /// build it again.
    #[test]
    fn the_map_is_built_again_only_when_what_it_reads_changed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cache = SystemCache::default();
        let builds = std::cell::Cell::new(0);
        let view = |from_ms| {
            builds.set(builds.get() + 1);
            Ok(SystemView {
                from_ms,
                to_ms: from_ms + WEEK_MS,
                components: Vec::new(),
                assessment: Assessment::default(),
                thresholds: Thresholds::default(),
                pressure: Vec::new(),
            })
        };
        let a = cache.get_at(&store, 0, &[0], || view(0)).unwrap();
        let b = cache.get_at(&store, 0, &[0], || view(0)).unwrap();
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        assert_eq!(builds.get(), 1);
        cache
            .get_at(&store, 0, &[WEEK_MS], || view(WEEK_MS))
            .unwrap();
        assert_eq!(builds.get(), 2, "another selection");
        cache
            .get_at(&store, WEEK_MS, &[WEEK_MS], || view(WEEK_MS))
            .unwrap();
        assert_eq!(builds.get(), 3, "a new week began");
        let mut batch = crate::store::WriteBatch::new();
        let key = crate::model::SeriesKey::new("up", [("service", "api")]).unwrap();
        batch.put_point(&key, 0, 1.0);
        store.commit(batch).unwrap();
        let c = cache
            .get_at(&store, WEEK_MS, &[WEEK_MS], || view(WEEK_MS))
            .unwrap();
        assert_eq!(builds.get(), 4, "a batch was committed");
        assert_eq!(c.from_ms, WEEK_MS);
        cache
            .get_at(&store, WEEK_MS, &[WEEK_MS], || view(WEEK_MS))
            .unwrap();
        assert_eq!(builds.get(), 4);
    }
}
