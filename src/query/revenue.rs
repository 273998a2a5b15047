//! Reading revenue back from the store: the authoritative rows of every import, with each
//! source's customer attributes joined to its rows.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use crate::model::attributes::chunk_key;
use crate::model::revenue::Snapshots;
use crate::model::{
    CustomerAttributes, ImportRecord, Month, RevenueAttributes, RevenueAttributesCurrent,
    RevenueMonth, RevenueMonthRows, RevenueTotal,
};
use crate::store::{Store, StoreError};

/// The current customer attributes of each source, by customer id.
pub fn attributes(
    store: &Store,
) -> Result<BTreeMap<String, FxHashMap<String, CustomerAttributes>>, StoreError> {
    let mut out: BTreeMap<String, FxHashMap<String, CustomerAttributes>> = BTreeMap::new();
    for current in store.events::<RevenueAttributesCurrent>() {
        let current = current?;
        let by_id = out.entry(current.source.clone()).or_default();
        for chunk in 0..current.chunks {
            let key = chunk_key(&current.import_id, chunk);
            if let Some(c) = store.event::<RevenueAttributes>(&key)? {
                by_id.extend(c.customers.into_iter().map(|a| (a.customer_id.clone(), a)));
            }
        }
    }
    Ok(out)
}

/// The authoritative customer MRR per month, across sources (a customer is `source:id` when
/// several sources exist).
///
/// A row without a segment (or plan) takes the one its source's attributes file gives the
/// customer: billing tools export customers apart from MRR, and the segment breakdowns read
/// the segments from here. A segment in the MRR row itself wins, since it can change by month.
pub fn snapshots(store: &Store) -> Result<Snapshots, StoreError> {
    let attributes = attributes(store)?;
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
        let attrs = attributes.get(&month.source);
        let mut prev = None;
        for (i, customer) in month.customers.iter().enumerate() {
            let attr = attrs.and_then(|a| a.get(customer));
            let plan = decode(&plans, month.plan.get(i))
                .or_else(|| Some(out.plan_code(attr?.plan.as_deref()?)));
            let segment = decode(&segments, month.segment.get(i))
                .or_else(|| Some(out.segment_code(attr?.segment.as_deref()?)));
            let key = if qualify {
                Cow::Owned(format!("{}:{customer}", month.source))
            } else {
                Cow::Borrowed(customer.as_str())
            };
            let mrr = month.mrr.get(i).copied().unwrap_or(0.0);
            let code = out.customer_code_after(&key, prev);
            prev = Some(code);
            // One row per customer and month within an import; across sources ids are qualified.
            let _ = out.insert_customer(idx, code, mrr, plan, segment, 0);
        }
    }
    for (source, customers) in &attributes {
        for a in customers.values() {
            if let Some(first) = a.first_month {
                let key = if qualify {
                    Cow::Owned(format!("{source}:{}", a.customer_id))
                } else {
                    Cow::Borrowed(a.customer_id.as_str())
                };
                out.set_first_month(&key, first.index());
            }
        }
    }
    Ok(out)
}

/// The authoritative totals rows per month.
pub fn totals(store: &Store) -> Result<BTreeMap<Month, RevenueTotal>, StoreError> {
    let mut out = BTreeMap::new();
    for m in store.events::<RevenueMonth>() {
        let m = m?;
        if m.layout == "totals" {
            if let Some(t) = store.event::<RevenueTotal>(&format!("{}/{}", m.import_id, m.month))? {
                out.insert(m.month, t);
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
