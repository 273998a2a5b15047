//! `barometer export openmetrics`: the stored weekly history in the OpenMetrics text format, with
//! timestamps, for `promtool tsdb create-blocks-from openmetrics` — so that a central Prometheus,
//! Thanos or Mimir can hold the history once one machine is outgrown.
//!
//! Each weekly value is stamped at its week's Monday 00:00 UTC (the `week_start` the JSON API
//! uses). Metric names are the ones `/metrics` exports, so dashboards work on either.

use std::fmt::Write as _;

use crate::analysis::revenue::{monthly, weekly as revenue_weekly, RetentionWindow};
use crate::analysis::WEEK_MS;
use crate::query::Settings;
use crate::query::{slo_weeks, SloDef};
use crate::store::{Store, StoreError};

/// A sample's labels, by name.
pub type Labels = Vec<(&'static str, String)>;

/// One metric family of the weekly history: its samples, grouped as OpenMetrics requires.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The metric name, as `/metrics` exports it.
    pub name: &'static str,
    /// Its help text.
    pub help: &'static str,
    /// Labels, value and the week's start (ms) of each sample.
    pub samples: Vec<(Labels, f64, i64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            samples: Vec::new(),
        }
    }

    fn sample(&mut self, labels: &[(&'static str, &str)], value: f64, week: i64) {
        let labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        self.samples.push((labels, value, week));
    }

    fn write(&self, out: &mut String, shard: Option<&str>) {
        if self.samples.is_empty() {
            return;
        }
        let _ = writeln!(out, "# TYPE {} gauge", self.name);
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        for (labels, value, week) in &self.samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .chain(shard.map(|s| ("shard", s)))
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = writeln!(
                out,
                "{}{{{}}} {} {}",
                self.name,
                labels.join(","),
                number(*value),
                week / 1000
            );
        }
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        // Rust prints the shortest representation that reads back to the same f64.
        format!("{v}")
    }
}

/// The weekly history from the week holding `since` (ms) to the last complete week before
/// `now` (ms), as an OpenMetrics document ending in `# EOF`; every sample carries the `shard`
/// label when one is given.
pub fn openmetrics(
    store: &Store,
    settings: &Settings,
    slos: &[SloDef],
    since: Option<i64>,
    now: i64,
    shard: Option<&str>,
) -> Result<String, StoreError> {
    let mut out = String::new();
    for f in history(store, settings, slos, since, now)? {
        f.write(&mut out, shard);
    }
    out.push_str("# EOF\n");
    Ok(out)
}

/// The weekly history the export writes, as families: also what remote-write sends with week
/// timestamps.
pub fn history(
    store: &Store,
    settings: &Settings,
    slos: &[SloDef],
    since: Option<i64>,
    now: i64,
) -> Result<Vec<Family>, StoreError> {
    let cal = settings.calendar;
    let last = cal.week_start(now) - WEEK_MS;
    let snapshots = crate::query::revenue::snapshots(store)?;
    let mut first_sli = None;
    for d in slos {
        if let Some(ts) = first_sli_point(store, d)? {
            first_sli = Some(first_sli.map_or(ts, |f: i64| f.min(ts)));
        }
    }
    let first_data = snapshots
        .months()
        .next()
        .map(|m| {
            chrono::NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map_or(last, |d| d.and_utc().timestamp_millis())
        })
        .into_iter()
        .chain(first_sli)
        .min()
        .unwrap_or(last);
    let first = cal.week_start(since.unwrap_or(first_data).max(first_data));
    let weeks: Vec<i64> = (0..)
        .map(|i| first + i * WEEK_MS)
        .take_while(|w| *w <= last)
        .collect();

    let mut availability = Family::new(
        "barometer_slo_availability_ratio",
        "Availability (good / total events) over the ISO week.",
    );
    let mut budget = Family::new(
        "barometer_slo_error_budget_remaining_ratio",
        "Error budget left over the SLO's rolling window at the end of the week.",
    );
    let mut bad = Family::new(
        "barometer_slo_bad_time_seconds",
        "Time in the week whose steps missed the SLO.",
    );
    for def in slos {
        let labels = [
            ("slo", def.name.as_str()),
            ("service", def.service.as_str()),
        ];
        for w in slo_weeks(store, def, &weeks)? {
            if let Some(a) = w.availability {
                availability.sample(&labels, a, w.week_start);
            }
            if let Some(b) = w.error_budget_remaining {
                budget.sample(&labels, b, w.week_start);
            }
            if let Some(m) = w.bad_minutes {
                bad.sample(&labels, m * 60.0, w.week_start);
            }
        }
    }

    let formula = match settings.revenue.window {
        RetentionWindow::Cohort12m => "cohort_12m",
        RetentionWindow::Monthly => "monthly",
    };
    let currency = settings.currency.as_str();
    let mut arr = Family::new(
        "barometer_revenue_arr",
        "Annual recurring revenue, as of the month holding the week's Thursday.",
    );
    let mut mrr = Family::new(
        "barometer_revenue_mrr",
        "Monthly recurring revenue, as of the month holding the week's Thursday.",
    );
    let mut nrr = Family::new("barometer_revenue_nrr_ratio", "Net revenue retention.");
    let mut grr = Family::new("barometer_revenue_grr_ratio", "Gross revenue retention.");
    for w in revenue_weekly(&monthly(&snapshots, settings.revenue, None), &weeks) {
        arr.sample(&[("currency", currency)], w.arr, w.week_start);
        mrr.sample(&[("currency", currency)], w.mrr, w.week_start);
        if let Some(v) = w.nrr {
            nrr.sample(&[("formula", formula)], v, w.week_start);
        }
        if let Some(v) = w.grr {
            grr.sample(&[("formula", formula)], v, w.week_start);
        }
    }

    Ok(vec![availability, budget, bad, arr, mrr, nrr, grr])
}

/// When the SLO's stored SLI starts; a store read error is the export's error, never "no data".
fn first_sli_point(store: &Store, def: &SloDef) -> Result<Option<i64>, StoreError> {
    use crate::model::{series, SeriesKey};
    let name = if def.ratio {
        series::SLO_ERROR_RATIO
    } else {
        series::SLO_TOTAL
    };
    let key = SeriesKey::new(
        name,
        [
            ("slo", def.name.as_str()),
            ("service", def.service.as_str()),
        ],
    )
    .map_err(|e| StoreError::Invalid {
        what: format!("series {name}"),
        reason: e.to_string(),
    })?;
    Ok(store.first(&key)?.map(|p| p.ts))
}
