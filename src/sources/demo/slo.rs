//! The demo SLOs: hourly good/total event counts and p95 latency per service, with the outages
//! that failed deployments caused, one service-week per atomic batch.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::{manifest_cursor, strain, utc, ChunkManifest, RepoSpec, Summary, SOURCE, WEEKS};
use crate::model::{series, SeriesKey};
use crate::store::{Store, StoreError, WriteBatch};

/// Hourly SLO event counts and p95 latency for one service.
pub(super) fn reliability(
    store: &Store,
    spec: &RepoSpec,
    start: NaiveDate,
    outages: &[(DateTime<Utc>, DateTime<Utc>, f64)],
    rng: &mut ChaCha8Rng,
    summary: &mut Summary,
) -> Result<(), StoreError> {
    let slo = format!("{}-availability", spec.service);
    let labels = [("slo", slo.as_str()), ("service", spec.service)];
    let total_key = key(series::SLO_TOTAL, &labels)?;
    let good_key = key(series::SLO_GOOD, &labels)?;
    let latency_key = latency_key(spec.service)?;
    let noise = noise()?;
    let base = if spec.service == "api" {
        42_000.0
    } else {
        18_000.0
    };
    for w in 0..WEEKS {
        let mut batch = WriteBatch::new();
        let mut manifest = ChunkManifest::default();
        let s = strain(w as f64);
        for h in 0..(7 * 24) {
            let t = utc(start) + Duration::weeks(w) + Duration::hours(h);
            let hour = f64::from(t.hour());
            let diurnal = 0.55 + 0.45 * ((hour - 15.0) / 24.0 * std::f64::consts::TAU).cos();
            let weekday = if t.weekday().num_days_from_monday() >= 5 {
                0.6
            } else {
                1.0
            };
            let growth = 1.0 + 0.9 * (w as f64 / WEEKS as f64);
            let total = (base * diurnal * weekday * growth * (1.0 + noise.sample(rng)))
                .max(100.0)
                .round();
            let mut ratio = (0.0002 + 0.0006 * s) * (1.0 + 3.0 * noise.sample(rng).abs());
            let mut latency = 0.18 + 0.12 * s + 0.02 * noise.sample(rng).abs();
            for (from, to, severity) in outages {
                if t + Duration::hours(1) > *from && t < *to {
                    ratio += severity;
                    latency *= 2.5;
                }
            }
            let errors = (total * ratio.min(1.0)).round();
            let ms = t.timestamp_millis();
            batch.put_point(&total_key, ms, total);
            batch.put_point(&good_key, ms, total - errors);
            batch.put_point(&latency_key, ms, latency);
            manifest.points += 3;
        }
        summary.points += manifest.points;
        batch.set_cursor(
            SOURCE,
            &format!("reliability/{}/{w}", spec.service),
            manifest_cursor(&manifest),
        );
        store.commit(batch)?;
    }
    Ok(())
}

/// The series a `[[prometheus.query]]` named `latency_p95` fills for `service`.
fn latency_key(service: &str) -> Result<SeriesKey, StoreError> {
    key(
        series::QUERY,
        &[
            ("query", "latency_p95"),
            ("service", service),
            ("unit", "seconds"),
        ],
    )
}

/// The demo's relative noise.
fn noise() -> Result<Normal<f64>, StoreError> {
    Normal::new(0.0, 0.08).map_err(|e| StoreError::Invalid {
        what: "demo noise".into(),
        reason: e.to_string(),
    })
}

fn key(name: &str, labels: &[(&str, &str)]) -> Result<SeriesKey, StoreError> {
    SeriesKey::new(name, labels.iter().copied()).map_err(|e| StoreError::Invalid {
        what: format!("series {name}"),
        reason: e.to_string(),
    })
}

/// The demo's latency-only services: (service, p95 at rest in seconds, rise under full strain).
/// They have no availability SLO, but their p95 is scraped like the SLO services' (so the system
/// map and the service pages show every delivered and internal service's latency).
pub(super) const LATENCY_ONLY: &[(&str, f64, f64)] = &[
    ("mobile", 0.21, 0.08),
    ("billing", 0.26, 0.06),
    ("auth", 0.04, 0.02),
    ("search", 0.09, 0.05),
    ("notifications", 0.12, 0.03),
];

/// Hourly p95 latency of a service without an SLO: `base + rise × strain`, with noise and ×2.5
/// during its outages, one service-week per atomic batch (cursor `latency/<service>/<week>`).
pub(super) fn latency_only(
    store: &Store,
    (service, base, rise): (&str, f64, f64),
    start: NaiveDate,
    outages: &[(DateTime<Utc>, DateTime<Utc>, f64)],
    rng: &mut ChaCha8Rng,
    summary: &mut Summary,
) -> Result<(), StoreError> {
    let latency_key = latency_key(service)?;
    let noise = noise()?;
    for w in 0..WEEKS {
        let mut batch = WriteBatch::new();
        let mut manifest = ChunkManifest::default();
        let s = strain(w as f64);
        for h in 0..(7 * 24) {
            let t = utc(start) + Duration::weeks(w) + Duration::hours(h);
            let mut latency = (base + rise * s) * (1.0 + f64::abs(noise.sample(rng)));
            if outages
                .iter()
                .any(|(from, to, _)| t + Duration::hours(1) > *from && t < *to)
            {
                latency *= 2.5;
            }
            batch.put_point(&latency_key, t.timestamp_millis(), latency);
            manifest.points += 1;
        }
        summary.points += manifest.points;
        batch.set_cursor(
            SOURCE,
            &format!("latency/{service}/{w}"),
            manifest_cursor(&manifest),
        );
        store.commit(batch)?;
    }
    Ok(())
}
