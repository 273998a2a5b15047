//! Reading support tickets and business metrics back from the store, and the support and cost
//! views built from them with the revenue data joined.

use std::collections::HashMap;

use crate::analysis::cost::{self, CostReport, RevenueMonth};
use crate::analysis::support::{self, ArrByMonth, SupportReport};
use crate::model::attributes::chunk_key;
use crate::model::business::{ChunkRow, ImportChunk, ImportCurrent};
use crate::model::calendar::WEEK_MS;
use crate::model::revenue::Snapshots;
use crate::model::{MetricRow, Month, Ticket, TicketColumns};
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

/// Every chunk of tickets of every source's current import, in order, one at a time.
///
/// The chunks are read and decoded on another core while `each` works on the previous one
/// (at most two wait): reading was about a third of deriving the support figures.
pub fn ticket_chunks(store: &Store, mut each: impl FnMut(TicketColumns)) -> Result<(), StoreError> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        let reader = scope.spawn(move || -> Result<(), StoreError> {
            for current in store.events::<ImportCurrent<Ticket>>() {
                let current = current?;
                for chunk in 0..current.chunks {
                    if let Some(c) = store.ticket_chunk(&current.import_id, chunk)? {
                        if tx.send(c).is_err() {
                            return Ok(());
                        }
                    }
                }
            }
            Ok(())
        });
        for chunk in rx {
            each(chunk);
        }
        reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Every ticket of every source.
pub fn tickets(store: &Store) -> Result<Vec<Ticket>, StoreError> {
    let mut out = Vec::new();
    ticket_chunks(store, |c| out.extend(c.iter().map(|t| t.to_ticket())))?;
    Ok(out)
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
///
/// The tickets are folded in a chunk at a time over the last [`SUPPORT_WEEKS`] weeks; the view
/// then starts at the week of the first ticket. The weeks cut off before it hold nothing (a
/// ticket is solved after it is opened) and leave no backlog, so the figures are those of
/// folding over the shorter list.
pub fn support_report(
    store: &Store,
    settings: &Settings,
    now_ms: i64,
) -> Result<Option<SupportReport>, StoreError> {
    let cal = &settings.calendar;
    let last = cal.week_start(now_ms);
    let window_first = last - (SUPPORT_WEEKS - 1) * WEEK_MS;
    let weeks: Vec<i64> = (0..SUPPORT_WEEKS)
        .map(|i| window_first + i * WEEK_MS)
        .collect();
    let arr = arr_by_month(store)?;
    let mut fold = support::SupportFold::new(&weeks, cal, &arr, PAIN_WEEKS);
    ticket_chunks(store, |c| fold.add_chunk(&c))?;
    let Some(earliest) = fold.earliest() else {
        return Ok(None);
    };
    let first = cal.week_start(earliest).max(window_first);
    let mut report = fold.finish();
    report.weeks.retain(|w| w.week_start >= first);
    if report.weeks.is_empty() {
        // Every ticket opened after `now`: no weeks, so no pain window either.
        report.pains.clear();
    }
    Ok(Some(report))
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
