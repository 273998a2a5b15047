//! The demo's support tickets and business metrics, consistent with its story: tickets grow with
//! the customer base, then flood after the shift (checkout and API problems from the paying
//! customers, slower replies); cloud cost grows faster than revenue once strain builds, and the
//! margins fall. Stored as the imports store them (one set per source), with an RNG of their own
//! so that no other record of the demo changes.

use chrono::{Datelike, Duration, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{poisson, strain, utc, SOURCE, WEEKS};
use crate::model::business::{ChunkRow, ImportChunk, ImportCurrent};
use crate::model::{Grain, MetricRow, Ticket};
use crate::store::{Store, StoreError, WriteBatch};

/// Components customers write about; after the shift checkout and the API dominate.
const CALM: [(&str, f64); 5] = [
    ("billing", 0.3),
    ("login", 0.2),
    ("export", 0.2),
    ("checkout", 0.15),
    ("api", 0.15),
];
const STRAINED: [(&str, f64); 5] = [
    ("checkout", 0.4),
    ("api", 0.3),
    ("billing", 0.1),
    ("login", 0.1),
    ("export", 0.1),
];

fn pick(rng: &mut ChaCha8Rng, s: f64) -> &'static str {
    let r: f64 = rng.random();
    let mut acc = 0.0;
    for (name, calm) in CALM {
        // Weights blend from the calm mix to the strained one as strain rises.
        let strained = STRAINED
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0.0, |(_, w)| *w);
        acc += calm * (1.0 - s) + strained * s;
        if r < acc {
            return name;
        }
    }
    "api"
}

fn write_set<T: ChunkRow>(store: &Store, rows: &[T]) -> Result<(), StoreError> {
    let mut chunks = 0u32;
    for (i, part) in rows.chunks(T::PER_CHUNK).enumerate() {
        let no = u32::try_from(i).unwrap_or(u32::MAX);
        let mut batch = WriteBatch::new();
        batch.upsert_event(&ImportChunk {
            import_id: SOURCE.to_owned(),
            source: SOURCE.to_owned(),
            chunk: no,
            rows: part.to_vec(),
        });
        store.commit(batch)?;
        chunks = no + 1;
    }
    let mut batch = WriteBatch::new();
    batch.upsert_event(&ImportCurrent::<T>::new(
        SOURCE,
        SOURCE,
        chunks,
        rows.len() as u64,
    ));
    store.commit(batch)?;
    Ok(())
}

/// Weekly tickets and monthly metrics from `start` to `end` (Mondays).
pub(super) fn business(
    store: &Store,
    start: NaiveDate,
    end: NaiveDate,
    rng: &mut ChaCha8Rng,
) -> Result<(), StoreError> {
    let end_ms = utc(end).timestamp_millis();
    let mut tickets = Vec::new();
    for w in 0..WEEKS {
        let s = strain(w as f64);
        let monday = utc(start) + Duration::weeks(w);
        // Load grows with the customer base, then floods once strain builds.
        let mean = (18.0 + 12.0 * w as f64 / WEEKS as f64) * (1.0 + 1.8 * s);
        for _ in 0..poisson(rng, mean) {
            let created = monday
                + Duration::days(rng.random_range(0..7))
                + Duration::minutes(rng.random_range(0..24 * 60));
            let created_ms = created.timestamp_millis();
            let component = pick(rng, s);
            // Paying customers raise most tickets (ids of the demo's revenue); some come from
            // free-tier accounts the revenue data does not know.
            let customer = if rng.random_bool(0.85) {
                format!("cus_{:04}", rng.random_range(0..110))
            } else {
                format!("free_{:04}", rng.random_range(0..400))
            };
            let reply_h = rng.random_range(0.2..2.0) * (1.0 + 3.0 * s);
            let resolve_h = reply_h + rng.random_range(2.0..48.0) * (1.0 + 2.0 * s);
            let solved_ms = created_ms + (resolve_h * 3_600_000.0) as i64;
            tickets.push(Ticket {
                id: format!("{}", 10_000 + tickets.len()),
                created_ms,
                solved_ms: (solved_ms < end_ms).then_some(solved_ms),
                first_reply_minutes: Some((reply_h * 60.0).round()),
                customer: Some(customer),
                priority: Some(
                    if rng.random_bool(0.1 + 0.3 * s) {
                        "high"
                    } else {
                        "normal"
                    }
                    .into(),
                ),
                tags: vec![],
                kind: Some("incident".into()),
                components: vec![component.to_owned()],
            });
        }
    }
    write_set(store, &tickets)?;

    let mut rows = Vec::new();
    let mut month = NaiveDate::from_ymd_opt(start.year(), start.month(), 1).unwrap_or(start);
    let (mut cost, mut engineers) = (38_000.0f64, 24.0f64);
    while month < end {
        let week = (month - start).num_days() as f64 / 7.0;
        let s = strain(week);
        // Cost follows usage in the growth phase; under strain, retries, over-provisioning and
        // incident capacity make it grow faster than the revenue it serves.
        cost *= 1.0 + 0.02 + 0.03 * s + rng.random_range(-0.005..0.005);
        engineers += 0.5;
        let metric = |metric: &str, value: f64, labels: &[(&str, &str)]| MetricRow {
            metric: metric.to_owned(),
            grain: Grain::Month,
            start: month,
            value,
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        rows.push(metric(
            "cloud_cost",
            (cost * 0.8).round(),
            &[("provider", "aws")],
        ));
        rows.push(metric(
            "cloud_cost",
            (cost * 0.2).round(),
            &[("provider", "gcp")],
        ));
        rows.push(metric("gross_margin_ratio", 0.78 - 0.08 * s, &[]));
        rows.push(metric("operating_margin_ratio", 0.06 - 0.16 * s, &[]));
        rows.push(metric("engineering_headcount", engineers.floor(), &[]));
        rows.push(metric("support_headcount", (5.0 + 4.0 * s).round(), &[]));
        rows.push(metric("nps", (42.0 - 20.0 * s).round(), &[]));
        month = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(end);
    }
    write_set(store, &rows)
}
