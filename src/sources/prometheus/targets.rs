//! What to fetch: the range targets (per step) and the per-week targets each SLO and named query
//! of the configuration asks for, with the PromQL they send.

use std::time::Duration;

use super::prom_duration;
use crate::config::{PrometheusConfig, Sli};
use crate::model::{series, SeriesKey};
use crate::store::StoreError;

/// One thing to fetch: a query and the series it fills.
#[derive(Debug, Clone)]
pub struct Target {
    /// `slo <name> good`, `query <name>` …: names it in errors and cursors.
    pub name: String,
    /// PromQL with `${step}` already substituted.
    pub query: String,
    /// Where the values go.
    pub key: SeriesKey,
}

pub(super) fn series_key(name: &str, labels: Vec<(&str, &str)>) -> Result<SeriesKey, StoreError> {
    SeriesKey::new(name, labels).map_err(|e| StoreError::Invalid {
        what: format!("series {name}"),
        reason: e.to_string(),
    })
}

pub(super) const MINUTE_MS: i64 = 60_000;

/// The step in milliseconds (at least 1).
pub(super) fn step_ms(config: &PrometheusConfig) -> i64 {
    i64::try_from(config.step.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

/// The PromQL that is 1 for a minute whose own error ratio exceeds the budget, 0 for a minute
/// within it (or without traffic), and absent for a minute without data.
pub(super) fn bad_minute_expr(sli: &Sli, budget: f64) -> String {
    let m = |q: &str| q.replace("${step}", "1m");
    match sli {
        Sli::Counts {
            good_query,
            total_query,
        } => format!(
            "((({t}) - ({g})) / ({t})) > bool {budget:?}",
            t = m(total_query),
            g = m(good_query)
        ),
        Sli::ErrorRatio { error_ratio_query } => {
            format!("({}) > bool {budget:?}", m(error_ratio_query))
        }
    }
}

/// Every target the configuration asks for.
pub fn targets(config: &PrometheusConfig) -> Result<Vec<Target>, StoreError> {
    let step = prom_duration(config.step);
    let sub = |q: &str| q.replace("${step}", &step);
    let key = series_key;
    let step_ms = step_ms(config);
    let mut out = Vec::new();
    for slo in &config.slo {
        let labels = vec![
            ("slo", slo.name.as_str()),
            ("service", slo.service.as_str()),
        ];
        // Minute counts need whole minutes per step. The subquery's range is one millisecond
        // short of the step so that it holds exactly the step's minutes (t − step, t]: Prometheus
        // 2.x closes ranges at both ends, and would otherwise count the boundary minute twice.
        let minutes = (step_ms >= MINUTE_MS && step_ms % MINUTE_MS == 0).then(|| {
            let expr = bad_minute_expr(&slo.sli, 1.0 - slo.target);
            let range = format!("{}ms", step_ms - 1);
            [
                (
                    "bad_minutes",
                    format!("sum_over_time(({expr})[{range}:1m])"),
                    series::SLO_BAD_MINUTES,
                ),
                (
                    "known_minutes",
                    format!("count_over_time(({expr})[{range}:1m])"),
                    series::SLO_KNOWN_MINUTES,
                ),
            ]
        });
        match &slo.sli {
            Sli::Counts {
                good_query,
                total_query,
            } => {
                out.push(Target {
                    name: format!("slo {} good_query", slo.name),
                    query: sub(good_query),
                    key: key(series::SLO_GOOD, labels.clone())?,
                });
                out.push(Target {
                    name: format!("slo {} total_query", slo.name),
                    query: sub(total_query),
                    key: key(series::SLO_TOTAL, labels.clone())?,
                });
            }
            Sli::ErrorRatio { error_ratio_query } => out.push(Target {
                name: format!("slo {} error_ratio_query", slo.name),
                query: sub(error_ratio_query),
                key: key(series::SLO_ERROR_RATIO, labels.clone())?,
            }),
        }
        for (role, query, series) in minutes.into_iter().flatten() {
            out.push(Target {
                name: format!("slo {} {role}", slo.name),
                query,
                key: key(series, labels.clone())?,
            });
        }
    }
    for q in &config.query {
        let mut labels = vec![("query", q.name.as_str()), ("unit", q.unit.as_str())];
        if let Some(service) = &q.service {
            labels.push(("service", service.as_str()));
        }
        out.push(Target {
            name: format!("query {}", q.name),
            query: sub(&q.query),
            key: key(series::QUERY, labels)?,
        });
    }
    Ok(out)
}

/// What a per-week target counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// The week itself (so far, for the current week).
    Week,
    /// The SLO's rolling window, ending at the week's end.
    Window(Duration),
}

/// A query evaluated at each week's end (and at the last step of the current week), its value
/// stored at the week's start.
#[derive(Debug, Clone)]
pub struct WeekTarget {
    /// `slo <name> week total` …: names it in errors and cursors.
    pub name: String,
    /// PromQL with `${step}` still in it: it becomes the span.
    pub template: String,
    /// What `${step}` covers.
    pub span: Span,
    /// Where the values go.
    pub key: SeriesKey,
}

/// The per-week targets of the SLOs: the week's and the window's own counts of a counter-based
/// SLO, the window's error ratio of an error-ratio SLO.
pub fn week_targets(config: &PrometheusConfig) -> Result<Vec<WeekTarget>, StoreError> {
    let mut out = Vec::new();
    for slo in &config.slo {
        let labels = vec![
            ("slo", slo.name.as_str()),
            ("service", slo.service.as_str()),
        ];
        let window = Span::Window(slo.window);
        let mut add = |role: &str, template: &str, span: Span, series: &str| {
            out.push(WeekTarget {
                name: format!("slo {} {role}", slo.name),
                template: template.to_owned(),
                span,
                key: series_key(series, labels.clone())?,
            });
            Ok::<_, StoreError>(())
        };
        match &slo.sli {
            Sli::Counts {
                good_query,
                total_query,
            } => {
                add("week good", good_query, Span::Week, series::SLO_WEEK_GOOD)?;
                add(
                    "week total",
                    total_query,
                    Span::Week,
                    series::SLO_WEEK_TOTAL,
                )?;
                add("window good", good_query, window, series::SLO_WINDOW_GOOD)?;
                add(
                    "window total",
                    total_query,
                    window,
                    series::SLO_WINDOW_TOTAL,
                )?;
            }
            Sli::ErrorRatio { error_ratio_query } => add(
                "window error_ratio",
                error_ratio_query,
                window,
                series::SLO_WINDOW_ERROR_RATIO,
            )?,
        }
    }
    Ok(out)
}
