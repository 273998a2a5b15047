//! SLO definitions and their weekly figures, read from the store.

use crate::analysis::reliability::{weekly, SliPoints, SloSpec, WeekReliability};
use crate::analysis::WEEK_MS;
use crate::config::{Config, Sli};
use crate::model::{series, SeriesKey};
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
}

/// Weekly figures of one SLO for the given weeks (Mondays, ms), read from the store: the samples
/// from one budget window before the first week to the end of the last.
pub fn slo_weeks(
    store: &Store,
    def: &SloDef,
    weeks: &[i64],
) -> Result<Vec<WeekReliability>, StoreError> {
    let (Some(first), Some(last)) = (weeks.iter().min(), weeks.iter().max()) else {
        return Ok(Vec::new());
    };
    let from = first + WEEK_MS - def.spec.window_ms.max(WEEK_MS);
    let to = last + WEEK_MS;
    let labels = [
        ("slo", def.name.as_str()),
        ("service", def.service.as_str()),
    ];
    // A name or service the key refuses cannot have been stored either: no samples. A store
    // error is the caller's to report.
    let read = |name: &str| -> Result<Vec<crate::model::Point>, StoreError> {
        match SeriesKey::new(name, labels) {
            Ok(k) => store.range(&k, from, to),
            Err(_) => Ok(Vec::new()),
        }
    };
    Ok(if def.ratio {
        let ratio = read(series::SLO_ERROR_RATIO)?;
        weekly(&def.spec, SliPoints::Ratio(&ratio), weeks)
    } else {
        let (good, total) = (read(series::SLO_GOOD)?, read(series::SLO_TOTAL)?);
        weekly(
            &def.spec,
            SliPoints::Counts {
                good: &good,
                total: &total,
            },
            weeks,
        )
    })
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
            });
        }
    }
    defs
}
