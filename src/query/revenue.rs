//! Reading revenue back from the store: the authoritative rows of every import.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::model::revenue::Snapshots;
use crate::model::{ImportRecord, RevenueMonth, RevenueMonthRows, RevenueTotal};
use crate::store::{Store, StoreError};

/// The authoritative customer MRR per month, across sources (a customer is `source:id` when
/// several sources exist).
pub fn snapshots(store: &Store) -> Result<Snapshots, StoreError> {
    let months: Vec<RevenueMonth> = store.events().collect::<Result<_, _>>()?;
    let sources: BTreeSet<&str> = months.iter().map(|m| m.source.as_str()).collect();
    let qualify = sources.len() > 1;
    let mut out = Snapshots::new();
    for m in months.iter().filter(|m| m.layout != "totals") {
        let Some(month) =
            store.event::<RevenueMonthRows>(&format!("{}/{}", m.import_id, m.month))?
        else {
            continue;
        };
        let idx = m.month.index();
        out.touch(idx);
        let plans: Vec<u32> = month.plans.iter().map(|p| out.plan_code(p)).collect();
        let segments: Vec<u32> = month.segments.iter().map(|s| out.segment_code(s)).collect();
        let decode = |names: &[u32], code: Option<&u32>| {
            code.and_then(|c| c.checked_sub(1))
                .and_then(|c| names.get(c as usize).copied())
        };
        for (i, customer) in month.customers.iter().enumerate() {
            let key = if qualify {
                Cow::Owned(format!("{}:{customer}", month.source))
            } else {
                Cow::Borrowed(customer.as_str())
            };
            let mrr = month.mrr.get(i).copied().unwrap_or(0.0);
            // One row per customer and month within an import; across sources ids are qualified.
            let _ = out.insert_coded(
                idx,
                &key,
                mrr,
                decode(&plans, month.plan.get(i)),
                decode(&segments, month.segment.get(i)),
                0,
            );
        }
    }
    Ok(out)
}

/// The authoritative totals rows per month.
pub fn totals(store: &Store) -> Result<BTreeMap<String, RevenueTotal>, StoreError> {
    let mut out = BTreeMap::new();
    for m in store.events::<RevenueMonth>() {
        let m = m?;
        if m.layout == "totals" {
            if let Some(t) = store.event::<RevenueTotal>(&format!("{}/{}", m.import_id, m.month))? {
                out.insert(m.month.to_string(), t);
            }
        }
    }
    Ok(out)
}

/// Totals with growth, for views: see [`crate::analysis::revenue::totals_monthly`].
pub fn totals_view(
    store: &Store,
) -> Result<Vec<crate::analysis::revenue::TotalsMonth>, StoreError> {
    let rows: Vec<RevenueTotal> = totals(store)?.into_values().collect();
    Ok(crate::analysis::revenue::totals_monthly(&rows))
}

/// The import history, oldest first.
pub fn history(store: &Store) -> Result<Vec<ImportRecord>, StoreError> {
    store.events().collect()
}
