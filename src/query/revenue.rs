//! Reading revenue back from the store: the authoritative rows of every import, with each
//! source's customer attributes joined to its rows.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rustc_hash::FxHashMap;

use crate::model::attributes::chunk_key;
use crate::model::revenue::MonthIdx;
use crate::model::revenue::Snapshots;
use crate::model::{
    CodedMonthRows, CustomerAttributes, ImportCustomers, ImportRecord, Month, RevenueAttributes,
    RevenueAttributesCurrent, RevenueMonth, RevenueMonthRows, RevenueTotal,
};
use crate::store::{Store, StoreError, StoredMonth};

/// Each source's customer attributes, by customer id.
type Attributes = BTreeMap<String, FxHashMap<String, CustomerAttributes>>;

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
    // Per import: its customer list, and each listed customer's code in `out` once it has one
    // (given in reading order, as the rows were when every month named its customers).
    let mut lists: HashMap<String, (ImportCustomers, Vec<u32>)> = HashMap::new();
    for m in months.iter().filter(|m| m.layout != "totals") {
        let Some(month) = store.revenue_month(&m.import_id, m.month)? else {
            continue;
        };
        let idx = m.month.index();
        out.touch(idx);
        match month {
            StoredMonth::Named(month) => add_named(&mut out, &month, idx, &attributes, qualify),
            StoredMonth::Coded(month) => {
                let (list, codes) = match lists.entry(m.import_id.clone()) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => {
                        let list = store.revenue_customers(&m.import_id)?.ok_or_else(|| {
                            StoreError::Corrupt(format!(
                                "revenue import {} has months but no customer list",
                                m.import_id
                            ))
                        })?;
                        let codes = vec![u32::MAX; list.len()];
                        e.insert((list, codes))
                    }
                };
                add_coded(&mut out, &month, idx, (list, codes), &attributes, qualify)?;
            }
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

/// The customer id under which `out` knows a source's customer.
fn qualified<'a>(source: &str, customer: &'a str, qualify: bool) -> Cow<'a, str> {
    if qualify {
        Cow::Owned(format!("{source}:{customer}"))
    } else {
        Cow::Borrowed(customer)
    }
}

/// A row's plan and segment: its own, else the customer's attributes'.
fn labels(
    out: &mut Snapshots,
    (plan, segment): (Option<u32>, Option<u32>),
    attr: Option<&CustomerAttributes>,
) -> (Option<u32>, Option<u32>) {
    let plan = plan.or_else(|| Some(out.plan_code(attr?.plan.as_deref()?)));
    let segment = segment.or_else(|| Some(out.segment_code(attr?.segment.as_deref()?)));
    (plan, segment)
}

/// `out`'s codes of a stored month's plan or segment names.
fn recode(names: &[String], mut code: impl FnMut(&str) -> u32) -> Vec<u32> {
    names.iter().map(|n| code(n)).collect()
}

/// The name code `code` (1 + an index into the month's names, 0 = none) stands for in `out`.
fn decode(names: &[u32], code: Option<&u32>) -> Option<u32> {
    code.and_then(|c| c.checked_sub(1))
        .and_then(|c| names.get(c as usize).copied())
}

/// Adds a month stored with its customer ids (the demo's, and imports of earlier versions).
fn add_named(
    out: &mut Snapshots,
    month: &RevenueMonthRows,
    idx: MonthIdx,
    attributes: &Attributes,
    qualify: bool,
) {
    let plans = recode(&month.plans, |p| out.plan_code(p));
    let segments = recode(&month.segments, |s| out.segment_code(s));
    let attrs = attributes.get(&month.source);
    let mut prev = None;
    let mut repeated = 0u64;
    for (i, customer) in month.customers.iter().enumerate() {
        let attr = attrs.and_then(|a| a.get(customer));
        let stated = (
            decode(&plans, month.plan.get(i)),
            decode(&segments, month.segment.get(i)),
        );
        let (plan, segment) = labels(out, stated, attr);
        let key = qualified(&month.source, customer, qualify);
        let mrr = month.mrr.get(i).copied().unwrap_or(0.0);
        let code = out.customer_code_after(&key, prev);
        prev = Some(code);
        // One row per customer and month within an import (checked when imported); across
        // sources ids are qualified. A repeat can only come from a damaged store: the first
        // row stands, and the repeats are reported.
        if out
            .insert_customer(idx, code, mrr, plan, segment, 0)
            .is_err()
        {
            repeated += 1;
        }
    }
    warn_repeated(&month.source, &month.month, repeated);
}

/// Reports the rows of a stored month that named a customer again (the first row was kept),
/// once per source and month in this process: the months are read again at every refresh.
fn warn_repeated(source: &str, month: &impl std::fmt::Display, repeated: u64) {
    static WARNED: std::sync::OnceLock<std::sync::Mutex<HashSet<(String, String)>>> =
        std::sync::OnceLock::new();
    if repeated == 0 {
        return;
    }
    let first = WARNED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert((source.to_owned(), month.to_string()));
    if first {
        tracing::warn!(
            source,
            %month,
            repeated,
            "a stored revenue month names customers more than once (ids qualified by their \
             source when there are several); the first row of each is used"
        );
    }
}

/// Adds a month stored with customer codes into its import's list; `codes` holds `out`'s code
/// of each listed customer met so far (`u32::MAX`: not yet).
fn add_coded(
    out: &mut Snapshots,
    month: &CodedMonthRows,
    idx: MonthIdx,
    (list, codes): (&ImportCustomers, &mut [u32]),
    attributes: &Attributes,
    qualify: bool,
) -> Result<(), StoreError> {
    let plans = recode(&month.plans, |p| out.plan_code(p));
    let segments = recode(&month.segments, |s| out.segment_code(s));
    let attrs = attributes.get(&month.source);
    let mut prev = None;
    let mut repeated = 0u64;
    for (i, &listed) in month.customers.iter().enumerate() {
        let bad = || {
            StoreError::Corrupt(format!(
                "revenue month {}/{} names customer {listed}, past its import's list",
                month.import_id, month.month
            ))
        };
        let slot = codes.get_mut(listed as usize).ok_or_else(bad)?;
        let stated = (
            decode(&plans, month.plan.get(i)),
            decode(&segments, month.segment.get(i)),
        );
        let attr = match attrs {
            Some(a) => a.get(list.get(listed).ok_or_else(bad)?),
            None => None,
        };
        let (plan, segment) = labels(out, stated, attr);
        if *slot == u32::MAX {
            let customer = list.get(listed).ok_or_else(bad)?;
            *slot = out.customer_code_after(&qualified(&month.source, customer, qualify), prev);
        }
        let code = *slot;
        prev = Some(code);
        let mrr = month.mrr.get(i).copied().unwrap_or(0.0);
        // As in `add_named`.
        if out
            .insert_customer(idx, code, mrr, plan, segment, 0)
            .is_err()
        {
            repeated += 1;
        }
    }
    warn_repeated(&month.source, &month.month, repeated);
    Ok(())
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
