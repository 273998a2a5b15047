//! Reading support tickets and business metrics back from the store, and the support and cost
//! views built from them with the revenue data joined.

use std::collections::HashMap;

use crate::analysis::cost::{self, CostReport, RevenueMonth};
use crate::analysis::support::{self, ArrByMonth, SupportReport};
use crate::model::attributes::chunk_key;
use crate::model::business::{ChunkRow, ImportChunk, ImportCurrent};
use crate::model::calendar::WEEK_MS;
use crate::model::revenue::Snapshots;
use crate::model::{MetricRow, Month, Ticket};
use crate::store::{Store, StoreError};

use super::Settings;

/// Weeks of support history a view covers at most.
pub const SUPPORT_WEEKS: i64 = 104;

/// Weeks the "top customer pains" table covers.
pub const PAIN_WEEKS: usize = 4;

/// Every row of every source's current import.
fn rows<T: ChunkRow>(store: &Store) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for current in store.events::<ImportCurrent<T>>() {
        let current = current?;
        // Sized up front: growing a million-row Vec by doubling copies it ~20 times.
        out.reserve(usize::try_from(current.rows).unwrap_or(0));
        for chunk in 0..current.chunks {
            let key = chunk_key(&current.import_id, chunk);
            if let Some(c) = store.event::<ImportChunk<T>>(&key)? {
                out.extend(c.rows);
            }
        }
    }
    Ok(out)
}

/// Every ticket of every source.
pub fn tickets(store: &Store) -> Result<Vec<Ticket>, StoreError> {
    rows(store)
}

/// Every metrics row of every source.
pub fn metrics(store: &Store) -> Result<Vec<MetricRow>, StoreError> {
    rows(store)
}

/// Each paying customer's ARR (12 × MRR) per month, from the per-customer revenue data.
pub fn arr_by_month(store: &Store) -> Result<ArrByMonth, StoreError> {
    Ok(arr_where(&super::revenue::snapshots(store)?, |_| true))
}

/// [`arr_by_month`] of the customers `keep` accepts (a product's).
pub fn arr_where(snapshots: &Snapshots, keep: impl Fn(&str) -> bool) -> ArrByMonth {
    let mut out = ArrByMonth::new();
    for m in snapshots.months() {
        let customers: HashMap<String, f64> = snapshots
            .month_rows(m)
            .filter(|r| keep(r.customer_id))
            .map(|r| (r.customer_id.to_owned(), r.mrr * 12.0))
            .collect();
        out.insert(Month::from_index(m), customers);
    }
    out
}

/// The support view up to the week holding `now_ms`, or `None` when no tickets were imported.
pub fn support_report(
    store: &Store,
    settings: &Settings,
    now_ms: i64,
) -> Result<Option<SupportReport>, StoreError> {
    let tickets = tickets(store)?;
    let Some(first) = tickets.iter().map(|t| t.created_ms).min() else {
        return Ok(None);
    };
    let cal = &settings.calendar;
    let last = cal.week_start(now_ms);
    let first = cal
        .week_start(first)
        .max(last - (SUPPORT_WEEKS - 1) * WEEK_MS);
    let weeks: Vec<i64> = (0..)
        .map(|i| first + i * WEEK_MS)
        .take_while(|w| *w <= last)
        .collect();
    let arr = arr_by_month(store)?;
    Ok(Some(support::support(
        &tickets, &weeks, cal, &arr, PAIN_WEEKS,
    )))
}

/// Revenue per month for the cost view: the per-customer data's MRR, else the totals file's.
pub fn revenue_months(store: &Store) -> Result<Vec<RevenueMonth>, StoreError> {
    let snapshots = super::revenue::snapshots(store)?;
    let mut out: Vec<RevenueMonth> = snapshots
        .months()
        .map(|m| {
            let mrr: f64 = snapshots.month_rows(m).map(|r| r.mrr).sum();
            RevenueMonth {
                month: Month::from_index(m),
                mrr,
            }
        })
        .collect();
    if out.is_empty() {
        out = super::revenue::totals(store)?
            .into_values()
            .map(|t| RevenueMonth {
                month: t.month,
                mrr: t.mrr.unwrap_or(t.arr / 12.0),
            })
            .collect();
    }
    Ok(out)
}

/// The cost view, or `None` when no metrics were imported.
pub fn cost_report(store: &Store, settings: &Settings) -> Result<Option<CostReport>, StoreError> {
    let metrics = metrics(store)?;
    if metrics.is_empty() {
        return Ok(None);
    }
    let revenue = revenue_months(store)?;
    Ok(Some(cost::report(
        &metrics,
        &revenue,
        settings.rule_of_40_margin,
    )))
}
