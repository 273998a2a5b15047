//! The weekly view of an organisation, kept current incrementally: one row per ISO week for the
//! organisation and for each service, with trends and change points per signal, the pressure
//! index, and lagged correlations.
//!
//! [`Engine::update`] is handed the rows as they are now and redoes only what depends on what
//! changed:
//! - a scope (the organisation or a service) whose rows are equal to the last ones keeps its
//!   trends and change points;
//! - a change-point detector steps only the new weeks, or replays from its last checkpoint
//!   before the first changed week ([`Detector`]);
//! - the pressure index is recomputed when the organisation's rows changed (it is a sequential
//!   state machine over the weeks — smoothing, hysteresis, CUSUM — and costs well under a
//!   millisecond for years of weeks; see BENCHMARKS.md), and P's own change points resume like
//!   every other signal's;
//! - correlations are recomputed only when a complete month's inputs changed.
//!
//! A service's change points are computed the first time they are asked for
//! ([`Engine::service_change_points`]) and kept current from then on: most services are never
//! looked at one by one, and BOCPD over years of weeks is the most expensive step here.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::changepoints::{ChangePoint, Detector, Kind};
use super::correlate::{correlate, Correlation};
use super::dora::Ratio;
use super::pressure::{self, PressureReport, PressureSettings, WeekSignals};
use super::trend::{trend, Trend};
use super::Calendar;
use crate::model::Coverage;

/// One week of one scope: the signals, where each came from, and the change failure rate's
/// detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekRow {
    /// The signals (the index's inputs and the responses it is related to).
    #[serde(flatten)]
    pub signals: WeekSignals,
    /// Coverage of each signal.
    pub coverage: BTreeMap<&'static str, Coverage>,
    /// The 4-week change failure rate with its n, Wilson interval and "low n" flag.
    pub cfr_4w_detail: Option<Ratio>,
}

/// Each service's rows, by name.
pub type ServiceRows = BTreeMap<String, Vec<WeekRow>>;

/// Settings of the view.
#[derive(Debug, Clone)]
pub struct ViewSettings {
    /// The pressure index's; its calendar is the view's (months of the correlations).
    pub pressure: PressureSettings,
    /// Months of data a correlation needs before it is reported.
    pub min_months: usize,
}

type Pick = fn(&WeekSignals) -> Option<f64>;

/// The signals with a trend.
const TRENDS: [(&str, Pick); 10] = [
    ("mrr", |w| w.mrr),
    ("nrr", |w| w.nrr),
    ("grr", |w| w.grr),
    ("deployments", |w| w.deployments),
    ("lead_time", |w| w.lead_time_s),
    ("cfr_4w", |w| w.cfr_4w),
    ("recovery_4w", |w| w.recovery_4w_s),
    ("incidents", |w| w.incidents),
    ("burn_rate", |w| w.burn_rate),
    ("budget_consumed_4w", |w| w.budget_consumed_4w),
];

/// The signals whose change points are looked for, with the prior that fits them.
const CHANGES: [(&str, Pick, Kind); 5] = [
    ("deployments", |w| w.deployments, Kind::Counts),
    ("incidents", |w| w.incidents, Kind::Counts),
    ("lead_time", |w| w.lead_time_s, Kind::Continuous),
    ("burn_rate", |w| w.burn_rate, Kind::Continuous),
    ("cfr_4w", |w| w.cfr_4w, Kind::Continuous),
];

/// One scope as readers see it; cheap to clone.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScopeView {
    /// One row per week, oldest first; the last is the current, partial week.
    pub rows: Arc<Vec<WeekRow>>,
    /// Trend of each signal as of the last complete week.
    pub trends: Arc<BTreeMap<&'static str, Trend>>,
    /// Change points of each signal; `None` for a service nobody has asked about yet.
    pub change_points: Option<Arc<Vec<ChangePoint>>>,
}

impl ScopeView {
    /// The rows of the weeks from `from` to `to` (Mondays, ms, inclusive).
    pub fn rows_in(&self, from: i64, to: i64) -> Vec<&WeekRow> {
        self.rows
            .iter()
            .filter(|r| (from..=to).contains(&r.signals.week_ms))
            .collect()
    }

    /// The change points (those computed) in the weeks from `from` to `to`.
    pub fn change_points_in(&self, from: i64, to: i64) -> Vec<&ChangePoint> {
        self.change_points
            .iter()
            .flat_map(|c| c.iter())
            .filter(|c| (from..=to).contains(&c.week_ms))
            .collect()
    }
}

/// Everything on the weekly axis, for the API, `/metrics`, the report and the digest; cheap to
/// clone.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Weekly {
    /// The organisation.
    pub org: ScopeView,
    /// Each service.
    pub services: BTreeMap<String, ScopeView>,
    /// The pressure index, regimes and shifts (organisation-wide).
    pub pressure: Arc<PressureReport>,
    /// Lagged associations between business and engineering signals, month by month.
    pub correlations: Arc<Vec<Correlation>>,
}

/// What an update redid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Updated {
    /// Scopes whose rows changed.
    pub scopes: usize,
    /// Weekly values stepped by change-point detectors.
    pub stepped: usize,
    /// Whether the pressure index was recomputed.
    pub pressure: bool,
    /// Whether the correlations were recomputed.
    pub correlations: bool,
}

struct Scope {
    view: ScopeView,
    /// One per signal of [`CHANGES`]; `None` until the scope's change points are asked for.
    detectors: Option<Vec<Detector>>,
}

impl Scope {
    fn new(eager: bool) -> Self {
        Self {
            view: ScopeView {
                change_points: eager.then(Default::default),
                ..ScopeView::default()
            },
            detectors: eager.then(detectors),
        }
    }

    /// Takes new rows; returns whether they differ, and the values stepped.
    fn update(&mut self, rows: Vec<WeekRow>) -> (bool, usize) {
        if *self.view.rows == rows {
            return (false, 0);
        }
        self.view.rows = Arc::new(rows);
        self.view.trends = Arc::new(trends_of(&self.view.rows));
        let stepped = self.refresh_change_points();
        (true, stepped)
    }

    fn refresh_change_points(&mut self) -> usize {
        let Some(ds) = &mut self.detectors else {
            return 0;
        };
        let mut stepped = 0;
        let mut cps = Vec::new();
        for (d, (_, pick, _)) in ds.iter_mut().zip(CHANGES) {
            stepped += d.update(&series(&self.view.rows, pick));
            cps.extend(d.change_points());
        }
        self.view.change_points = Some(Arc::new(cps));
        stepped
    }
}

fn detectors() -> Vec<Detector> {
    CHANGES
        .iter()
        .map(|(name, _, kind)| Detector::new(name, *kind))
        .collect()
}

/// (week, value) of the complete weeks where the signal is present.
fn series(rows: &[WeekRow], pick: Pick) -> Vec<(i64, f64)> {
    rows.iter()
        .filter(|r| !r.signals.partial)
        .filter_map(|r| Some((r.signals.week_ms, pick(&r.signals)?)))
        .collect()
}

/// Trend of each signal as of the last complete week of `rows`.
///
/// Trends read at most the last 26 weeks (13 against the 13 before), so only those are handed
/// over: a new week costs the same however long the history.
pub fn trends_of(rows: &[WeekRow]) -> BTreeMap<&'static str, Trend> {
    let complete: Vec<&WeekSignals> = rows
        .iter()
        .rev()
        .filter(|r| !r.signals.partial)
        .take(super::trend::WEEKS_READ)
        .map(|r| &r.signals)
        .collect();
    TRENDS
        .iter()
        .map(|(name, pick)| {
            let s: Vec<Option<f64>> = complete.iter().rev().map(|w| pick(w)).collect();
            (*name, trend(&s))
        })
        .collect()
}

/// The weekly view, kept current.
pub struct Engine {
    settings: ViewSettings,
    org: Scope,
    services: BTreeMap<String, Scope>,
    /// Change points of P.
    p_detector: Detector,
    pressure: Arc<PressureReport>,
    correlations: Arc<Vec<Correlation>>,
    /// The monthly series the correlations were computed from.
    correlation_inputs: Vec<Vec<Option<f64>>>,
}

impl Engine {
    /// An engine with no data.
    pub fn new(settings: ViewSettings) -> Self {
        Self {
            settings,
            org: Scope::new(true),
            services: BTreeMap::new(),
            p_detector: Detector::new("pressure_index", Kind::Continuous),
            pressure: Arc::default(),
            correlations: Arc::default(),
            correlation_inputs: Vec::new(),
        }
    }

    /// Brings the view to these rows (the organisation's and each service's, oldest first; the
    /// last may be the current, partial week), redoing only what depends on what changed.
    pub fn update(&mut self, org: Vec<WeekRow>, services: ServiceRows) -> Updated {
        let mut done = Updated::default();
        self.services.retain(|name, _| services.contains_key(name));
        for (name, rows) in services {
            let scope = self
                .services
                .entry(name)
                .or_insert_with(|| Scope::new(false));
            let (changed, stepped) = scope.update(rows);
            done.scopes += usize::from(changed);
            done.stepped += stepped;
        }
        let (changed, stepped) = self.org.update(org);
        done.stepped += stepped;
        if !changed {
            return done;
        }
        done.scopes += 1;
        let signals: Vec<WeekSignals> = self
            .org
            .view
            .rows
            .iter()
            .map(|r| r.signals.clone())
            .collect();
        let mut report = pressure::pressure_unbacked(&signals, &self.settings.pressure);
        done.stepped += self.p_detector.update(&pressure::p_series(&report));
        let p_cps = self.p_detector.change_points();
        pressure::back_shifts(&mut report, &p_cps);
        let mut cps: Vec<ChangePoint> = self
            .org
            .view
            .change_points
            .as_deref()
            .cloned()
            .unwrap_or_default();
        cps.extend(p_cps);
        self.org.view.change_points = Some(Arc::new(cps));
        self.pressure = Arc::new(report);
        done.pressure = true;

        let inputs = monthly_inputs(&signals, self.settings.pressure.calendar);
        if inputs != self.correlation_inputs {
            self.correlations = Arc::new(monthly_correlations(&inputs, self.settings.min_months));
            self.correlation_inputs = inputs;
            done.correlations = true;
        }
        done
    }

    /// The view as it is now.
    pub fn snapshot(&self) -> Weekly {
        Weekly {
            org: self.org.view.clone(),
            services: self
                .services
                .iter()
                .map(|(n, s)| (n.clone(), s.view.clone()))
                .collect(),
            pressure: self.pressure.clone(),
            correlations: self.correlations.clone(),
        }
    }

    /// The change points of a service's signals, computed now if they never were; `None` for
    /// an unknown service.
    pub fn service_change_points(&mut self, name: &str) -> Option<Arc<Vec<ChangePoint>>> {
        let scope = self.services.get_mut(name)?;
        if scope.detectors.is_none() {
            scope.detectors = Some(detectors());
            scope.refresh_change_points();
        }
        scope.view.change_points.clone()
    }
}

/// Business signals (monthly by nature) and engineering signals (weekly).
const BUSINESS: [(&str, Pick); 4] = [
    ("mrr", |w| w.mrr),
    ("nrr", |w| w.nrr),
    ("grr", |w| w.grr),
    ("new_logos", |w| w.new_logos),
];
const ENGINEERING: [(&str, Pick); 4] = [
    ("incidents_per_week", |w| w.incidents),
    ("change_failure_rate", |w| w.cfr_4w),
    ("burn_rate", |w| w.burn_rate),
    ("deployments_per_week", |w| w.deployments),
];

/// The monthly series correlations are computed from: each business signal's value of the
/// month, then each engineering signal's mean over the month's weeks. A week belongs to the
/// month holding its Thursday; only months whose weeks are all complete count, so a new week
/// changes the inputs only when it completes a month.
fn monthly_inputs(weeks: &[WeekSignals], calendar: Calendar) -> Vec<Vec<Option<f64>>> {
    let mut months: Vec<(i32, Vec<&WeekSignals>)> = Vec::new();
    for w in weeks {
        let m = calendar.month_index(w.week_ms + 3 * super::DAY_MS);
        match months.last_mut() {
            Some((last, v)) if *last == m => v.push(w),
            _ => months.push((m, vec![w])),
        }
    }
    months.retain(|(_, ws)| ws.iter().all(|w| !w.partial));
    let series = |pick: Pick, mean: bool| -> Vec<Option<f64>> {
        months
            .iter()
            .map(|(_, ws)| {
                let v: Vec<f64> = ws.iter().filter_map(|w| pick(w)).collect();
                if v.is_empty() {
                    None
                } else if mean {
                    Some(v.iter().sum::<f64>() / v.len() as f64)
                } else {
                    v.last().copied()
                }
            })
            .collect()
    };
    let mut out: Vec<Vec<Option<f64>>> = BUSINESS.iter().map(|(_, p)| series(*p, false)).collect();
    out.extend(ENGINEERING.iter().map(|(_, p)| series(*p, true)));
    out
}

/// Every business signal against every engineering signal at lags of 0 to 6 months.
fn monthly_correlations(inputs: &[Vec<Option<f64>>], min_months: usize) -> Vec<Correlation> {
    let lags: Vec<i32> = (0..=6).collect();
    let pairs: Vec<(usize, usize)> = (0..BUSINESS.len())
        .flat_map(|i| (0..ENGINEERING.len()).map(move |j| (i, j)))
        .collect();
    super::parallel_map(&pairs, |&(i, j)| {
        correlate(
            BUSINESS[i].0,
            &inputs[i],
            ENGINEERING[j].0,
            &inputs[BUSINESS.len() + j],
            &lags,
            "month",
            min_months,
            499,
            (i * 16 + j) as u64,
        )
    })
}

#[cfg(test)]
mod tests;
