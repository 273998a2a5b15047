//! The demo's bug issues: a few a week per service while the company grows, more, older and more
//! often reopened under strain. Drawn from an RNG of their own, so that adding them changed none
//! of the other demo records.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{poisson, strain, utc, ChunkManifest, Summary, REPOS, SOURCE, WEEKS};
use crate::model::Bug;
use crate::store::{Cursor, Store, StoreError, WriteBatch};
use tokio_util::sync::CancellationToken;

const TOPICS: &[&str] = &[
    "totals off by a cent",
    "blank page on Safari",
    "timeout on large carts",
    "duplicate emails",
    "stale cache after deploy",
    "wrong time zone in export",
    "crash on empty list",
    "slow search",
];

fn exp_days(rng: &mut ChaCha8Rng, mean_days: f64) -> Duration {
    let u: f64 = rng.random_range(1e-9..1.0);
    Duration::minutes((-u.ln() * mean_days * 1440.0) as i64)
}

fn severity(rng: &mut ChaCha8Rng, s: f64) -> Option<&'static str> {
    let x: f64 = rng.random();
    // Under strain more of them are severe.
    if x < 0.04 + 0.06 * s {
        Some("sev1")
    } else if x < 0.22 + 0.1 * s {
        Some("sev2")
    } else if x < 0.7 {
        Some("sev3")
    } else {
        None
    }
}

/// Writes the bugs of every demo repository, one batch per repository.
pub(super) fn bugs(
    store: &Store,
    start: NaiveDate,
    end: NaiveDate,
    rng: &mut ChaCha8Rng,
    summary: &mut Summary,
    cancel: &CancellationToken,
) -> Result<(), StoreError> {
    let end: DateTime<Utc> = utc(end);
    for spec in REPOS {
        // Stopped between batches, like every other step of the seeding.
        if cancel.is_cancelled() {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        let mut number = 50_000;
        for w in 0..WEEKS {
            let s = strain(w as f64);
            let monday = utc(start) + Duration::weeks(w);
            let mean = (0.3 + 0.1 * spec.deploys_per_week) * (1.0 + 2.5 * s);
            for _ in 0..poisson(rng, mean) {
                number += 1;
                let created = monday
                    + Duration::days(rng.random_range(0..5))
                    + Duration::minutes(rng.random_range(8 * 60..19 * 60));
                let mut labels = vec!["bug".to_owned(), format!("service:{}", spec.service)];
                if let Some(sev) = severity(rng, s) {
                    labels.push(sev.to_owned());
                }
                let first_close = created + exp_days(rng, 3.0 + 9.0 * s);
                let reopens = rng.random_bool(0.06 + 0.1 * s);
                let (closed_at, reopened_at) = if !reopens {
                    ((first_close < end).then_some(first_close), Vec::new())
                } else {
                    let reopened = first_close + exp_days(rng, 2.0);
                    let closed_again = reopened + exp_days(rng, 2.0 + 4.0 * s);
                    if first_close >= end {
                        (None, Vec::new())
                    } else if reopened >= end {
                        (Some(first_close), Vec::new())
                    } else if closed_again >= end {
                        (None, vec![reopened])
                    } else {
                        // Closed, reopened and closed again between two syncs: the reopen is
                        // dated by the close it followed, as the GitHub source records it.
                        (Some(closed_again), vec![first_close])
                    }
                };
                batch.upsert_event(&Bug {
                    repo: spec.repo.into(),
                    number,
                    title: format!(
                        "{}: {}",
                        spec.service,
                        TOPICS[rng.random_range(0..TOPICS.len())]
                    ),
                    labels,
                    created_at: created,
                    closed_at,
                    reopened_at,
                });
                summary.bugs += 1;
            }
        }
        batch.set_cursor(
            SOURCE,
            &format!("bugs/{}", spec.repo),
            Cursor {
                position: serde_json::to_string(&ChunkManifest::default()).ok(),
                ..Cursor::default()
            },
        );
        store.commit(batch)?;
    }
    Ok(())
}
