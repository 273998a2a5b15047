//! The demo revenue: monthly customer snapshots whose churn and contraction follow engineering
//! strain, one month per atomic batch.

use chrono::{Datelike, Duration, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{manifest_cursor, poisson, strain, ChunkManifest, Summary, SOURCE};
use crate::model::{Month, RevenueMonth, RevenueMonthRows};
use crate::store::{Store, StoreError, WriteBatch};

fn month_index(d: NaiveDate) -> i32 {
    d.year() * 12 + d.month0() as i32
}

struct Customer {
    id: String,
    mrr: f64,
    plan: &'static str,
    segment: &'static str,
}

fn new_customer(rng: &mut ChaCha8Rng, n: usize) -> Customer {
    let r: f64 = rng.random();
    let (plan, segment, lo, hi) = if r < 0.6 {
        ("starter", "smb", 150.0, 800.0)
    } else if r < 0.9 {
        ("growth", "mid-market", 1_000.0, 4_000.0)
    } else {
        ("enterprise", "enterprise", 6_000.0, 18_000.0)
    };
    Customer {
        id: format!("cus_{n:04}"),
        mrr: (rng.random_range(lo..hi) / 10.0_f64).round() * 10.0,
        plan,
        segment,
    }
}

/// Monthly revenue snapshots. Churn and contraction follow engineering strain with a two-month
/// lag, which is the story the correlation view should find.
pub(super) fn revenue(
    store: &Store,
    start: NaiveDate,
    end: NaiveDate,
    incident_weeks: &[u32],
    rng: &mut ChaCha8Rng,
    summary: &mut Summary,
) -> Result<(), StoreError> {
    let first = month_index(start);
    let last = month_index(end - Duration::days(1)) - 1;
    let mut customers: Vec<Customer> = (0..110).map(|n| new_customer(rng, n)).collect();
    let mut seen = customers.len();
    for m in first..=last {
        let mid = NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 15)
            .unwrap_or(start);
        let week = (mid - start).num_days() as f64 / 7.0;
        let s = strain(week - 8.0);
        // A few recent incidents add to churn risk beyond the trend.
        let recent: u32 = incident_weeks
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let d = week - 8.0 - *i as f64;
                (0.0..8.0).contains(&d)
            })
            .map(|(_, n)| *n)
            .sum();
        let churn_p = 0.004 + 0.014 * s + 0.0004 * f64::from(recent);
        let expand_p = 0.09 - 0.055 * s;
        let contract_p = 0.015 + 0.035 * s;
        for c in customers.iter_mut().filter(|c| c.mrr > 0.0) {
            let r: f64 = rng.random();
            if r < churn_p {
                c.mrr = 0.0;
            } else if r < churn_p + expand_p {
                c.mrr = (c.mrr * rng.random_range(1.1..1.45) / 10.0).round() * 10.0;
            } else if r < churn_p + expand_p + contract_p {
                c.mrr = (c.mrr * rng.random_range(0.65..0.9) / 10.0).round() * 10.0;
            }
        }
        let new_logos = poisson(rng, 13.0 - 9.0 * s);
        for _ in 0..new_logos {
            customers.push(new_customer(rng, seen));
            seen += 1;
        }
        let mut batch = WriteBatch::new();
        let mut manifest = ChunkManifest::default();
        let month = Month::from_index(m);
        let mut rows = RevenueMonthRows::new(SOURCE, SOURCE, month, "USD");
        for c in customers.iter().filter(|c| c.mrr > 0.0) {
            rows.push(&c.id, c.mrr, Some(c.plan), Some(c.segment));
        }
        manifest.revenue_rows = rows.len() as u64;
        batch.upsert_event(&rows);
        summary.revenue_rows += manifest.revenue_rows;
        batch.upsert_event(&RevenueMonth {
            source: SOURCE.into(),
            month,
            import_id: SOURCE.into(),
            layout: "snapshots".into(),
        });
        batch.set_cursor(
            SOURCE,
            &format!("revenue/{month}"),
            manifest_cursor(&manifest),
        );
        store.commit(batch)?;
    }
    summary.customers = seen as u64;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_labels_round_trip() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        assert_eq!(Month::from_index(month_index(d)).to_string(), "2026-11");
        assert_eq!(Month::from_index(2026 * 12).to_string(), "2026-01");
    }
}
