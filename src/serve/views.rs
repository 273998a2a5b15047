//! Views the API, `/metrics` and the CLI share: store reads handed to the pure analysis.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::metrics::{slo_weeks, SloDef};
use crate::analysis::pressure::{
    week_range, Component, PressureReport, PressureSettings, WeekSignals,
};
use crate::analysis::revenue::{monthly as revenue_monthly, totals_monthly, RevenueSettings};
use crate::analysis::{week_start, WEEK_MS};
use crate::model::{series, SeriesKey};
use crate::sources::revenue_import;

use crate::analysis::dora::{
    self, bands, BandTable, DoraInput, DoraModel, DoraSettings, ServiceSpec,
};
use crate::config::Config;
use crate::model::{Change, Commit, Deployment, Event, Incident};
use crate::store::{Store, StoreError};

fn all<E: Event>(store: &Store) -> Result<Vec<E>, StoreError> {
    store.events::<E>().collect()
}

/// The band table the configuration chose (validated at load).
pub fn band_table(config: &Config) -> BandTable {
    bands::table(config.analysis.dora_report_year).unwrap_or_else(|| DoraSettings::default().bands)
}

/// The DORA settings of the configuration.
pub fn dora_settings(config: &Config) -> DoraSettings {
    DoraSettings {
        incident_window_ms: i64::try_from(config.github.incident_window.as_millis())
            .unwrap_or(i64::MAX),
        first_lookback_commits: config.github.first_deploy_lookback as usize,
        bands: band_table(config),
    }
}

/// The services to report: the configured ones, then any other seen in the stored deployments
/// (the demo organisation's).
pub fn services(config: &Config, deployments: &[Deployment]) -> Vec<ServiceSpec> {
    let mut out: Vec<ServiceSpec> = config
        .github
        .services
        .iter()
        .map(|s| ServiceSpec {
            name: s.name.clone(),
            repo: s.repo.clone(),
            paths: s.paths.clone(),
        })
        .collect();
    for s in dora::services_from(deployments) {
        if !out.iter().any(|o| o.name == s.name) {
            out.push(s);
        }
    }
    out
}

/// Reads every delivery event and analyses it.
pub fn dora_model(store: &Store, config: &Config) -> Result<DoraModel, StoreError> {
    let deployments: Vec<Deployment> = all(store)?;
    let changes: Vec<Change> = all(store)?;
    let commits: Vec<Commit> = all(store)?;
    let incidents: Vec<Incident> = all(store)?;
    let services = services(config, &deployments);
    Ok(dora::analyse(
        DoraInput {
            deployments: &deployments,
            changes: &changes,
            commits: &commits,
            incidents: &incidents,
        },
        &services,
        &dora_settings(config),
    ))
}

/// (store generation, Monday of the current week).
type WeeklyKey = (u64, i64);

/// The analysed delivery history shared by `/metrics` and the API: recomputed only when a batch
/// was committed since the last computation, so neither a scrape-side refresh nor an API call
/// re-reads every event of an unchanged store.
#[derive(Default)]
pub struct DoraCache {
    last: Mutex<Option<(u64, Arc<DoraModel>)>>,
    /// The weekly table and the index, with the (store generation, current week) they are of.
    weekly: Mutex<Option<(WeeklyKey, Arc<Weekly>)>>,
}

impl DoraCache {
    /// The model of the store as it is now.
    pub fn get(&self, store: &Store, config: &Config) -> Result<Arc<DoraModel>, StoreError> {
        let generation = store.generation();
        if let Some((g, m)) = &*self.last.lock().unwrap_or_else(|p| p.into_inner()) {
            if *g == generation {
                return Ok(m.clone());
            }
        }
        // Computed outside the lock: a concurrent caller may compute the same model once more,
        // which is cheaper than making every reader wait.
        let model = Arc::new(dora_model(store, config)?);
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((generation, model.clone()));
        Ok(model)
    }

    /// The weekly table and the pressure index as of now, recomputed when the store changed or
    /// a new week began.
    pub fn weekly(
        &self,
        store: &Store,
        config: &Config,
        slos: &[SloDef],
    ) -> Result<Arc<Weekly>, StoreError> {
        let now = chrono::Utc::now().timestamp_millis();
        let key = (store.generation(), week_start(now));
        if let Some((k, w)) = &*self.weekly.lock().unwrap_or_else(|p| p.into_inner()) {
            if *k == key {
                return Ok(w.clone());
            }
        }
        let model = self.get(store, config)?;
        let w = Arc::new(weekly(store, config, &model, slos, now)?);
        *self.weekly.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, w.clone()));
        Ok(w)
    }
}

/// Revenue carried into a week goes stale after this many weeks without a newer month.
const REVENUE_STALE_WEEKS: i64 = 5;

/// One week of the organisation-wide table: the index's inputs, with where each came from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WeekRow {
    /// The signals (the index's inputs and the responses it is related to).
    #[serde(flatten)]
    pub signals: WeekSignals,
    /// Coverage of each signal: "complete", "partial week", "missing" or "stale".
    pub coverage: BTreeMap<&'static str, &'static str>,
}

/// Everything on the weekly axis, for the API, `/metrics`, the report and the digest.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Weekly {
    /// One row per ISO week, oldest first; the last is the current, partial week.
    pub weeks: Vec<WeekRow>,
    /// The pressure index, regimes and shifts.
    pub pressure: PressureReport,
    /// Lagged associations between business and engineering signals, month by month.
    pub correlations: Vec<crate::analysis::correlate::Correlation>,
    /// Trend of each signal as of the last complete week.
    pub trends: BTreeMap<&'static str, crate::analysis::trend::Trend>,
    /// Change points of each weekly signal (BOCPD), with their event study.
    pub change_points: Vec<crate::analysis::changepoints::ChangePoint>,
}

/// The pressure settings of the configuration.
pub fn pressure_settings(config: &Config) -> PressureSettings {
    let mut s = PressureSettings::with_bands(band_table(config));
    s.growth_plan = config.analysis.growth_plan;
    s.min_points = config.analysis.min_points as usize;
    for c in Component::ALL {
        if let Some(w) = config.analysis.weights.get(c.as_str()) {
            s.weights.insert(c, *w);
        }
    }
    s
}

/// The organisation's weeks from the first with data to the current one, and the index over
/// them. Reads revenue and SLO samples from the store; delivery comes from `model`.
pub fn weekly(
    store: &Store,
    config: &Config,
    model: &DoraModel,
    slos: &[SloDef],
    now_ms: i64,
) -> Result<Weekly, StoreError> {
    let current = week_start(now_ms);
    // Revenue by month, customer-level first, else a totals file.
    let snapshots = revenue_import::snapshots(store)?;
    let settings = RevenueSettings {
        window: config.revenue.retention_window,
        reactivation_as_expansion: config.revenue.reactivation_as_expansion,
    };
    let months: BTreeMap<i32, MonthFacts> = {
        let m = revenue_monthly(&snapshots, settings, None);
        if m.is_empty() {
            totals_monthly(
                &revenue_import::totals(store)?
                    .into_values()
                    .collect::<Vec<_>>(),
            )
            .into_iter()
            .filter_map(|t| {
                Some((
                    month_index(&t.month)?,
                    MonthFacts {
                        label: t.month,
                        mrr: t.mrr,
                        net_new: None,
                        nrr: t.nrr,
                        grr: t.grr,
                        new_logos: None,
                    },
                ))
            })
            .collect()
        } else {
            m.into_iter()
                .filter_map(|r| {
                    Some((
                        month_index(&r.month)?,
                        MonthFacts {
                            label: r.month.clone(),
                            mrr: r.mrr,
                            net_new: r.movements.as_ref().map(|m| m.net()),
                            nrr: r.nrr,
                            grr: r.grr,
                            new_logos: r.movements.as_ref().map(|m| m.new_customers as f64),
                        },
                    ))
                })
                .collect()
        }
    };
    // The first week with any data.
    let mut first: Vec<i64> = Vec::new();
    if let Some(d) = model.deployments.iter().map(|d| d.at_ms).min() {
        first.push(week_start(d));
    }
    if let Some((m, _)) = months.first_key_value() {
        first.push(week_start(month_start_ms(*m)));
    }
    for def in slos {
        let key = SeriesKey::new(
            if def.ratio {
                series::SLO_ERROR_RATIO
            } else {
                series::SLO_TOTAL
            },
            [
                ("slo", def.name.as_str()),
                ("service", def.service.as_str()),
            ],
        );
        if let Some(p) = key.ok().and_then(|k| store.first(&k).ok().flatten()) {
            first.push(week_start(p.ts));
        }
    }
    let Some(start) = first.into_iter().min() else {
        return Ok(Weekly::default());
    };
    let weeks = week_range(start, current);
    let dora_weeks = (!model.services.is_empty())
        .then(|| crate::analysis::dora::weekly(model, None, &weeks, &band_table(config)));
    let slo_rows: Vec<(f64, Vec<crate::analysis::reliability::WeekReliability>)> = slos
        .iter()
        .map(|d| (d.spec.target, slo_weeks(store, d, &weeks)))
        .collect();

    let mut rows = Vec::with_capacity(weeks.len());
    for (i, &w) in weeks.iter().enumerate() {
        let partial = w == current;
        let mut cov: BTreeMap<&'static str, &'static str> = BTreeMap::new();
        let mut s = WeekSignals {
            week_ms: w,
            partial,
            ..WeekSignals::default()
        };
        // Revenue: the month holding the week's Thursday, else the latest earlier month while it
        // is less than 5 weeks old; never interpolated.
        let thursday = w + 3 * 86_400_000;
        let month = month_of_ms(thursday);
        let carried = months.range(..=month).next_back().filter(|(m, _)| {
            **m == month || thursday - month_start_ms(**m + 1) < REVENUE_STALE_WEEKS * WEEK_MS
        });
        let revenue_cov = match carried {
            None => "missing",
            Some((m, _)) if *m != month => "stale",
            _ if partial => "partial week",
            _ => "complete",
        };
        if let Some((m, f)) = carried {
            s.revenue_as_of = Some(f.label.clone());
            s.mrr = Some(f.mrr);
            s.mrr_3m_ago = months.get(&(m - 3)).map(|x| x.mrr);
            s.net_new_mrr = f.net_new;
            s.nrr = f.nrr;
            s.grr = f.grr;
            s.new_logos = f.new_logos;
        }
        for k in ["mrr", "net_new_mrr", "nrr", "grr", "new_logos"] {
            cov.insert(k, revenue_cov);
        }
        // Delivery.
        if let Some(d) = &dora_weeks {
            let d = &d[i];
            s.deployments = Some(d.week.deployments as f64);
            s.incidents = Some(d.week.incidents as f64);
            s.lead_time_s = d.week.lead_time.map(|q| q.p50);
            s.cfr_4w = d.rolling_4w.change_failure_rate.map(|r| r.value);
            s.recovery_4w_s = d.rolling_4w.recovery_time.map(|q| q.p50);
        }
        let delivery_cov = if dora_weeks.is_none() {
            "missing"
        } else if partial {
            "partial week"
        } else {
            "complete"
        };
        for k in [
            "deployments",
            "incidents",
            "lead_time",
            "cfr_4w",
            "recovery_4w",
        ] {
            cov.insert(k, delivery_cov);
        }
        // Reliability: the worst SLO.
        let mut rel_cov = "missing";
        for (target, rows) in &slo_rows {
            let Some(r) = rows.iter().find(|r| r.week_start == w) else {
                continue;
            };
            if let Some(a) = r.availability {
                let burn = (1.0 - a) / (1.0 - target).max(1e-9);
                s.burn_rate = Some(s.burn_rate.map_or(burn, |b: f64| b.max(burn)));
            }
            if let Some(left) = r.error_budget_remaining {
                let spent = 1.0 - left;
                s.budget_consumed_4w =
                    Some(s.budget_consumed_4w.map_or(spent, |b: f64| b.max(spent)));
            }
            rel_cov = if partial || r.coverage < 0.99 {
                "partial week"
            } else if rel_cov == "partial week" {
                rel_cov
            } else {
                "complete"
            };
        }
        cov.insert("burn_rate", rel_cov);
        cov.insert("budget_consumed_4w", rel_cov);
        rows.push(WeekRow {
            signals: s,
            coverage: cov,
        });
    }
    let signals: Vec<WeekSignals> = rows.iter().map(|r| r.signals.clone()).collect();
    let pressure = crate::analysis::pressure::pressure(&signals, &pressure_settings(config));
    let correlations = monthly_correlations(&signals, config.analysis.min_points as usize * 2);
    let complete: Vec<&WeekSignals> = signals.iter().filter(|w| !w.partial).collect();
    type Pick = fn(&WeekSignals) -> Option<f64>;
    let picks: [(&'static str, Pick); 10] = [
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
    let mut trends = BTreeMap::new();
    for (name, pick) in picks {
        let series: Vec<Option<f64>> = complete.iter().map(|w| pick(w)).collect();
        trends.insert(name, crate::analysis::trend::trend(&series));
    }
    let p: Vec<Option<f64>> = pressure
        .weeks
        .iter()
        .filter(|w| w.status != "partial week")
        .map(|w| w.p)
        .collect();
    trends.insert("pressure_index", crate::analysis::trend::trend(&p));
    use crate::analysis::changepoints::{change_points as detect, Kind};
    let signals_for_cp: [(&str, Pick, Kind); 5] = [
        ("deployments", |w| w.deployments, Kind::Counts),
        ("incidents", |w| w.incidents, Kind::Counts),
        ("lead_time", |w| w.lead_time_s, Kind::Continuous),
        ("burn_rate", |w| w.burn_rate, Kind::Continuous),
        ("cfr_4w", |w| w.cfr_4w, Kind::Continuous),
    ];
    let mut change_points = Vec::new();
    for (name, pick, kind) in signals_for_cp {
        let series: Vec<(i64, f64)> = complete
            .iter()
            .filter_map(|w| Some((w.week_ms, pick(w)?)))
            .collect();
        change_points.extend(detect(name, &series, kind));
    }
    let p_raw: Vec<(i64, f64)> = pressure
        .weeks
        .iter()
        .filter(|w| w.status != "partial week")
        .filter_map(|w| Some((w.week_ms, w.p_raw?)))
        .collect();
    change_points.extend(detect("pressure_index", &p_raw, Kind::Continuous));
    Ok(Weekly {
        weeks: rows,
        pressure,
        correlations,
        trends,
        change_points,
    })
}

/// Business signals (monthly by nature) against engineering signals averaged over the same
/// months, at lags of 0 to 6 months; only complete months count.
fn monthly_correlations(
    weeks: &[WeekSignals],
    min_months: usize,
) -> Vec<crate::analysis::correlate::Correlation> {
    type Pick = fn(&WeekSignals) -> Option<f64>;
    let business: [(&str, Pick); 4] = [
        ("mrr", |w| w.mrr),
        ("nrr", |w| w.nrr),
        ("grr", |w| w.grr),
        ("new_logos", |w| w.new_logos),
    ];
    let engineering: [(&str, Pick); 4] = [
        ("incidents_per_week", |w| w.incidents),
        ("change_failure_rate", |w| w.cfr_4w),
        ("burn_rate", |w| w.burn_rate),
        ("deployments_per_week", |w| w.deployments),
    ];
    // Months by their Thursday rule, in order; the current partial week is left out.
    let mut months: Vec<(i32, Vec<&WeekSignals>)> = Vec::new();
    for w in weeks.iter().filter(|w| !w.partial) {
        let m = month_of_ms(w.week_ms + 3 * 86_400_000);
        match months.last_mut() {
            Some((last, v)) if *last == m => v.push(w),
            _ => months.push((m, vec![w])),
        }
    }
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
    let lags: Vec<i32> = (0..=6).collect();
    let mut out = Vec::new();
    for (i, (bx, pick_x)) in business.iter().enumerate() {
        let x = series(*pick_x, false);
        for (j, (ey, pick_y)) in engineering.iter().enumerate() {
            let y = series(*pick_y, true);
            out.push(crate::analysis::correlate::correlate(
                bx,
                &x,
                ey,
                &y,
                &lags,
                "month",
                min_months,
                499,
                (i * 16 + j) as u64,
            ));
        }
    }
    out
}

/// What the weekly table reads of one month of revenue.
struct MonthFacts {
    label: String,
    mrr: f64,
    net_new: Option<f64>,
    nrr: Option<f64>,
    grr: Option<f64>,
    new_logos: Option<f64>,
}

/// `YYYY-MM` → months since year 0.
fn month_index(label: &str) -> Option<i32> {
    let (y, m) = label.split_once('-')?;
    let (y, m): (i32, i32) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some(y * 12 + m - 1)
}

fn month_of_ms(ms: i64) -> i32 {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_millis(ms).map_or(0, |t| t.year() * 12 + t.month0() as i32)
}

fn month_start_ms(index: i32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |d| d.and_utc().timestamp_millis())
}
