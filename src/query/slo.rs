//! SLO definitions and their weekly figures, read from the store.

use crate::analysis::reliability::{weekly, SliPoints, SloSamples, SloSpec, WeekReliability};
use crate::analysis::WEEK_MS;
use crate::config::{Config, Sli, SloKind};
use crate::model::{series, Point, SeriesKey};
use crate::store::{Store, StoreError};

/// An SLO whose figures are exported.
#[derive(Debug, Clone)]
pub struct SloDef {
    /// `slo` label.
    pub name: String,
    /// `service` label.
    pub service: String,
    /// Whether the SLI is stored as an error ratio (else as good/total counts).
    pub ratio: bool,
    /// Target, window and step.
    pub spec: SloSpec,
    /// Availability or latency: the pressure index reads latency SLOs apart.
    pub kind: SloKind,
}

/// Weekly figures of one SLO for the given weeks (Mondays, ms), read from the store: the samples
/// from one budget window before the first week to the end of the last. The week holding
/// business time ([`crate::clock::now_ms`]) is flagged partial.
pub fn slo_weeks(
    store: &Store,
    def: &SloDef,
    weeks: &[i64],
) -> Result<Vec<WeekReliability>, StoreError> {
    slo_weeks_at(store, def, weeks, crate::clock::now_ms())
}

/// [`slo_weeks`] with business time given.
pub fn slo_weeks_at(
    store: &Store,
    def: &SloDef,
    weeks: &[i64],
    now_ms: i64,
) -> Result<Vec<WeekReliability>, StoreError> {
    let Some(first) = weeks.iter().min() else {
        return Ok(Vec::new());
    };
    let from = first + WEEK_MS - def.spec.window_ms.max(WEEK_MS);
    slo_weeks_from(store, def, weeks, now_ms, from)
}

/// The series an SLO's figures are read from ([`slo_weeks_from`]), by name.
pub(super) fn series_read(def: &SloDef) -> &'static [&'static str] {
    if def.ratio {
        &[
            series::SLO_ERROR_RATIO,
            series::SLO_BAD_MINUTES,
            series::SLO_KNOWN_MINUTES,
            series::SLO_WINDOW_ERROR_RATIO,
        ]
    } else {
        &[
            series::SLO_GOOD,
            series::SLO_TOTAL,
            series::SLO_BAD_MINUTES,
            series::SLO_KNOWN_MINUTES,
            series::SLO_WEEK_GOOD,
            series::SLO_WEEK_TOTAL,
            series::SLO_WINDOW_GOOD,
            series::SLO_WINDOW_TOTAL,
        ]
    }
}

/// The key of one of an SLO's series; `None` for names the key refuses (nothing can have been
/// stored under them).
pub(super) fn slo_key(def: &SloDef, name: &str) -> Option<SeriesKey> {
    SeriesKey::new(
        name,
        [
            ("slo", def.name.as_str()),
            ("service", def.service.as_str()),
        ],
    )
    .ok()
}

/// [`slo_weeks_at`] with the per-step samples read from `from` on (the per-week ones from the
/// first week on): `from` must reach back as far as every rolling figure of the weeks does.
pub(super) fn slo_weeks_from(
    store: &Store,
    def: &SloDef,
    weeks: &[i64],
    now_ms: i64,
    from: i64,
) -> Result<Vec<WeekReliability>, StoreError> {
    let (Some(first), Some(last)) = (weeks.iter().min(), weeks.iter().max()) else {
        return Ok(Vec::new());
    };
    let to = last + WEEK_MS;
    // A name or service the key refuses cannot have been stored either: no samples. A store
    // error is the caller's to report. Every series read here is listed in `series_read`.
    let read_from = |name: &str, from: i64| -> Result<Vec<Point>, StoreError> {
        match slo_key(def, name) {
            Some(k) => store.range(&k, from, to),
            None => Ok(Vec::new()),
        }
    };
    let read = |name: &str| read_from(name, from);
    let weekly_read = |name: &str| read_from(name, *first);
    let (bad_minutes, known_minutes) = (
        weekly_read(series::SLO_BAD_MINUTES)?,
        weekly_read(series::SLO_KNOWN_MINUTES)?,
    );
    Ok(if def.ratio {
        let ratio = read(series::SLO_ERROR_RATIO)?;
        let window = weekly_read(series::SLO_WINDOW_ERROR_RATIO)?;
        let samples = SloSamples {
            bad_minutes: &bad_minutes,
            known_minutes: &known_minutes,
            window_error_ratio: &window,
            ..SloSamples::steps_only(SliPoints::Ratio(&ratio))
        };
        weekly(&def.spec, &samples, weeks, now_ms)
    } else {
        let (good, total) = (read(series::SLO_GOOD)?, read(series::SLO_TOTAL)?);
        let (week_good, week_total) = (
            weekly_read(series::SLO_WEEK_GOOD)?,
            weekly_read(series::SLO_WEEK_TOTAL)?,
        );
        let window = window_ratio(
            &weekly_read(series::SLO_WINDOW_GOOD)?,
            &weekly_read(series::SLO_WINDOW_TOTAL)?,
        );
        let samples = SloSamples {
            bad_minutes: &bad_minutes,
            known_minutes: &known_minutes,
            window_error_ratio: &window,
            week_good: &week_good,
            week_total: &week_total,
            ..SloSamples::steps_only(SliPoints::Counts {
                good: &good,
                total: &total,
            })
        };
        weekly(&def.spec, &samples, weeks, now_ms)
    })
}

/// Error ratio 1 − good / total of the window counts stored at the same week start.
fn window_ratio(good: &[Point], total: &[Point]) -> Vec<Point> {
    total
        .iter()
        .filter(|t| t.value > 0.0)
        .filter_map(|t| {
            let g = good.iter().find(|g| g.ts == t.ts)?;
            Some(Point {
                ts: t.ts,
                value: ((t.value - g.value) / t.value).clamp(0.0, 1.0),
            })
        })
        .collect()
}

/// The SLOs to report: the configured ones, then `extra` ones (name, service, target) whose name
/// is not configured (the demo organisation's, when serving it).
pub fn slo_defs(config: &Config, extra: &[(&str, &str, f64)]) -> Vec<SloDef> {
    let step_ms = i64::try_from(config.prometheus.step.as_millis()).unwrap_or(3_600_000);
    let mut defs: Vec<SloDef> = config
        .prometheus
        .slo
        .iter()
        .map(|s| SloDef {
            name: s.name.clone(),
            service: s.service.clone(),
            ratio: matches!(s.sli, Sli::ErrorRatio { .. }),
            spec: SloSpec {
                target: s.target,
                window_ms: i64::try_from(s.window.as_millis()).unwrap_or(i64::MAX),
                step_ms,
            },
            kind: s.kind,
        })
        .collect();
    for (name, service, target) in extra {
        if defs.iter().all(|d| d.name != *name) {
            defs.push(SloDef {
                name: (*name).into(),
                service: (*service).into(),
                ratio: false,
                spec: SloSpec {
                    target: *target,
                    window_ms: 28 * 86_400_000,
                    step_ms: 3_600_000,
                },
                kind: SloKind::Availability,
            });
        }
    }
    defs
}
