//! Applying revenue files to the store, all or nothing, and reading the authoritative rows back.
//!
//! A file's rows are written under an import id (the hash of source and content) in store-sized
//! chunks that nothing reads yet; then one small batch points each (source, month) the file
//! covers at the new import and records the import. Only that batch makes the file visible, so a
//! crash or error before it leaves the previous data exactly as it was; afterwards the rows of the
//! imports it replaced are deleted. Importing the same file again finds every month already
//! pointing at it and writes nothing. Attributes files take the same steps per source instead
//! of per month ([`super::revenue_attributes`]).

use std::collections::BTreeSet;

use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::revenue_attributes;
use super::revenue_csv::{self, FileErrors, Layout, ParseOptions, Parsed};
use crate::config::RevenueConfig;
use crate::model::revenue::{MonthIdx, Snapshots};
use crate::model::{
    CodedMonthRows, ImportCustomers, ImportRecord, Month, RevenueMonth, RevenueMonthRows,
    RevenueTotal,
};
use crate::store::{Store, StoreError, WriteBatch, BATCH_ENTRIES};

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file has problems; nothing was applied.
    #[error(transparent)]
    Invalid(#[from] FileErrors),
    /// The file cannot be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store failed; nothing was applied.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did (or, on a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    /// The file.
    pub file: String,
    /// The layout.
    pub layout: Layout,
    /// Data rows.
    pub rows: u64,
    /// Months covered.
    pub months: Vec<Month>,
    /// Months whose data changes (new, or replaced by different content).
    pub months_changed: Vec<Month>,
    /// `applied`, `unchanged`, or `dry-run`.
    pub outcome: &'static str,
    /// SHA-256 of the content.
    pub sha256: String,
    /// The MRR of the file's last month, as it is (or would be) stored: what a dry run is for
    /// when the amount scale is in doubt. Absent for totals and attributes.
    pub latest: Option<LatestMrr>,
}

/// The MRR of a file's last month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatestMrr {
    /// The month.
    pub month: Month,
    /// Σ customers' MRR in it, after the amount scale.
    pub mrr: f64,
    /// `revenue.currency`.
    pub currency: String,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.layout == Layout::Attributes {
            return write!(
                f,
                "{}: {} (attributes layout, {} customers)",
                self.file, self.outcome, self.rows
            );
        }
        let span = match (self.months.first(), self.months.last()) {
            (Some(a), Some(b)) if a != b => format!("{a}..{b}"),
            (Some(a), _) => a.to_string(),
            _ => "no months".into(),
        };
        write!(
            f,
            "{}: {} ({} layout, {} rows, {} months {span}, {} changed)",
            self.file,
            self.outcome,
            self.layout,
            self.rows,
            self.months.len(),
            self.months_changed.len()
        )?;
        if let Some(l) = &self.latest {
            write!(f, "; MRR {:.2} {} in {}", l.mrr, l.currency, l.month)?;
        }
        Ok(())
    }
}

/// Options of one import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The revenue source the file belongs to.
    pub source: String,
    /// Force a layout instead of detecting it.
    pub layout: Option<Layout>,
    /// Validate and report without writing.
    pub dry_run: bool,
    /// The amount factor for this import instead of `revenue.amount_scale` (see
    /// [`ParseOptions::amount_scale`]).
    pub amount_scale: Option<f64>,
}

impl ImportOptions {
    /// An import into `source` with the layout detected and the configured amount scale.
    pub fn new(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            layout: None,
            dry_run: false,
            amount_scale: None,
        }
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Validates `bytes` whole, then applies them atomically (see the module docs).
pub fn import(
    store: &Store,
    config: &RevenueConfig,
    file: &str,
    bytes: &[u8],
    options: &ImportOptions,
    progress: impl FnMut(u64),
) -> Result<ImportSummary, ImportError> {
    // Hash on a second core while this one parses: both read the whole file.
    let (sha256, parsed) = std::thread::scope(|scope| {
        let hasher = scope.spawn(|| hex(&Sha256::digest(bytes)));
        let parse_options = ParseOptions {
            layout: options.layout,
            amount_scale: options.amount_scale,
        };
        let parsed = revenue_csv::parse(file, bytes, &parse_options, config, progress);
        let sha256 = hasher
            .join()
            .unwrap_or_else(|_| hex(&Sha256::digest(bytes)));
        (sha256, parsed)
    });
    let parsed = match parsed {
        Ok(p) => p,
        Err(errors) => {
            if !options.dry_run {
                let mut b = WriteBatch::new();
                b.upsert_event(&history_entry(
                    file,
                    &sha256,
                    options,
                    ("rejected", None, 0),
                    vec![],
                    errors.errors.len(),
                ));
                store.commit(b)?;
            }
            return Err(errors.into());
        }
    };
    let layout = parsed.layout();
    // Same content, source and layout → same id: a re-import finds its months already current.
    let mut id_hash = Sha256::new();
    id_hash.update(options.source.as_bytes());
    id_hash.update([0]);
    id_hash.update(layout.to_string().as_bytes());
    id_hash.update([0]);
    id_hash.update(sha256.as_bytes());
    // The same bytes read at another scale are other data. Scale 1 adds nothing, so the ids of
    // imports made before the scale counted stay as they were; attributes have no amounts.
    let scale = options.amount_scale.unwrap_or(config.amount_scale);
    if scale != 1.0 && layout != Layout::Attributes {
        id_hash.update([0]);
        id_hash.update(scale.to_bits().to_be_bytes());
    }
    let import_id = hex(&id_hash.finalize()[..12]);
    if let Parsed::Attributes(customers) = &parsed {
        let rows = customers.len() as u64;
        let history = history_entry(
            file,
            &sha256,
            options,
            ("applied", Some(layout), rows),
            vec![],
            0,
        );
        let outcome = revenue_attributes::apply(
            store,
            customers,
            &import_id,
            &options.source,
            options.dry_run,
            history,
        )?
        .word();
        return Ok(ImportSummary {
            file: file.to_owned(),
            layout,
            rows,
            months: vec![],
            months_changed: vec![],
            outcome,
            sha256,
            latest: None,
        });
    }
    // Movements become a table once, here; staging writes that same table.
    let table = parsed.snapshots();
    let months: Vec<Month> = match &table {
        Some(t) => t.months().map(Month::from_index).collect(),
        None => parsed.months().into_iter().map(Month::from_index).collect(),
    };

    let mut months_changed = Vec::new();
    let mut replaced: BTreeSet<(String, Month)> = BTreeSet::new();
    for &month in &months {
        let current = store.event::<RevenueMonth>(&format!("{}/{month}", options.source))?;
        match current {
            Some(c) if c.import_id == import_id => {}
            Some(c) => {
                replaced.insert((c.import_id, month));
                months_changed.push(month);
            }
            None => months_changed.push(month),
        }
    }
    let mut summary = ImportSummary {
        file: file.to_owned(),
        layout,
        rows: parsed.rows() as u64,
        months: months.clone(),
        months_changed: months_changed.clone(),
        outcome: "applied",
        sha256: sha256.clone(),
        latest: table.as_deref().and_then(|t| {
            let month = t.months().last()?;
            Some(LatestMrr {
                month: Month::from_index(month),
                mrr: t.month_rows(month).map(|r| r.mrr).sum(),
                currency: config.currency.clone(),
            })
        }),
    };
    if options.dry_run {
        summary.outcome = "dry-run";
        return Ok(summary);
    }
    if months_changed.is_empty() {
        summary.outcome = "unchanged";
        return Ok(summary);
    }

    // 1. Stage the rows under the new import id: invisible until step 2.
    stage(
        store,
        config,
        &parsed,
        table.as_deref(),
        &import_id,
        &options.source,
    )?;

    // 2. One batch flips the months to the new import and records it.
    let mut flip = WriteBatch::new();
    for &month in &months {
        flip.upsert_event(&RevenueMonth {
            source: options.source.clone(),
            month,
            import_id: import_id.clone(),
            layout: layout.to_string(),
        });
    }
    flip.upsert_event(&history_entry(
        file,
        &sha256,
        options,
        ("applied", Some(layout), parsed.rows() as u64),
        months,
        0,
    ));
    store.commit(flip)?;

    // 3. Drop the rows the new import replaced. A crash here leaves unreachable rows, never
    //    wrong figures.
    let old: BTreeSet<String> = replaced.iter().map(|(old, _)| old.clone()).collect();
    for (old, month) in replaced {
        purge(store, &old, month)?;
    }
    //    An import's customer list goes with the last of its months.
    if !old.is_empty() {
        let mut live = BTreeSet::new();
        for m in store.events::<RevenueMonth>() {
            live.insert(m?.import_id);
        }
        let mut b = WriteBatch::new();
        for gone in old.difference(&live) {
            b.delete_revenue_customers(gone);
        }
        store.commit(b)?;
    }
    Ok(summary)
}

/// One entry of the import history.
fn history_entry(
    file: &str,
    sha256: &str,
    options: &ImportOptions,
    outcome: (&str, Option<Layout>, u64),
    months: Vec<Month>,
    errors: usize,
) -> ImportRecord {
    let layout = outcome.1.map(|l| l.to_string());
    record(
        file,
        sha256,
        &options.source,
        (outcome.0, layout.as_deref(), outcome.2),
        months,
        errors,
    )
}

/// One entry of the import history, for any kind of import: (outcome, layout, rows).
pub(super) fn record(
    file: &str,
    sha256: &str,
    source: &str,
    outcome: (&str, Option<&str>, u64),
    months: Vec<Month>,
    errors: usize,
) -> ImportRecord {
    let now = Utc::now();
    ImportRecord {
        id: format!("{}-{}", now.format("%Y%m%dT%H%M%S%.6fZ"), &sha256[..12]),
        at: now,
        file: file.to_owned(),
        sha256: sha256.to_owned(),
        source: source.to_owned(),
        layout: outcome.1.unwrap_or("?").to_owned(),
        rows: outcome.2,
        months,
        outcome: outcome.0.to_owned(),
        errors: errors as u64,
    }
}

fn stage(
    store: &Store,
    config: &RevenueConfig,
    parsed: &Parsed,
    table: Option<&Snapshots>,
    import_id: &str,
    source: &str,
) -> Result<(), StoreError> {
    let mut batch = WriteBatch::new();
    let mut n = 0;
    let flush = |batch: &mut WriteBatch, n: &mut usize, force: bool| {
        if *n >= BATCH_ENTRIES || (force && *n > 0) {
            *n = 0;
            store.commit(std::mem::take(batch)).map(|_| ())
        } else {
            Ok(())
        }
    };
    match parsed {
        Parsed::Totals(rows) => {
            for r in rows {
                batch.upsert_event(&RevenueTotal {
                    import_id: import_id.into(),
                    source: source.into(),
                    month: Month::from_index(r.month),
                    arr: r.arr,
                    mrr: r.mrr,
                    nrr: r.nrr,
                    grr: r.grr,
                    customers: r.customers,
                    currency: config.currency.clone(),
                });
                n += 1;
                flush(&mut batch, &mut n, false)?;
            }
        }
        _ => {
            let Some(table) = table else {
                return Ok(());
            };
            let months: Vec<MonthIdx> = table.months().collect();
            let (early, late) = months.split_at(months.len() / 2);
            let mut customers = ImportCustomers::new();
            for id in table.customer_names() {
                customers.push(id);
            }
            // Two cores build, encode and write the months' rows at once: staged rows are
            // invisible until the flip, so the order of their commits does not matter.
            let stage_months = |months: &[MonthIdx], customers: Option<&ImportCustomers>| {
                stage_months(store, config, table, months, (import_id, source), customers)
            };
            return std::thread::scope(|scope| {
                let late = scope.spawn(|| stage_months(late, None));
                let early = stage_months(early, Some(&customers));
                // A panic there is one here.
                let late = late
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                early.and(late)
            });
        }
    }
    flush(&mut batch, &mut n, true)
}

/// Stages the rows of `months` of `table` under (import id, source), coded against the
/// import's customer list, which is staged with them when given.
fn stage_months(
    store: &Store,
    config: &RevenueConfig,
    table: &Snapshots,
    months: &[MonthIdx],
    (import_id, source): (&str, &str),
    customers: Option<&ImportCustomers>,
) -> Result<(), StoreError> {
    let mut batch = WriteBatch::new();
    let mut n = 0;
    if let Some(customers) = customers {
        batch.put_revenue_customers(import_id, source, customers);
        n += BATCH_ENTRIES / 16;
    }
    for &month in months {
        let mut rows = CodedMonthRows::new(
            import_id,
            source,
            Month::from_index(month),
            &config.currency,
            table.month_len(month),
        );
        let mut plans = MonthNames::new(table.plan_names());
        let mut segments = MonthNames::new(table.segment_names());
        for (customer, mrr, plan, segment) in table.month_codes(month) {
            rows.customers.push(customer);
            rows.mrr.push(mrr);
            rows.plan.push(plans.code(plan, &mut rows.plans));
            rows.segment
                .push(segments.code(segment, &mut rows.segments));
        }
        batch.put_revenue_month(&rows);
        // A month of customers is one entry, but can be megabytes: commit every few.
        n += BATCH_ENTRIES / 16;
        if n >= BATCH_ENTRIES {
            n = 0;
            store.commit(std::mem::take(&mut batch))?;
        }
    }
    if n > 0 {
        store.commit(batch)?;
    }
    Ok(())
}

/// A month's own list of plan (or segment) names, in the order its rows first use them, as
/// [`RevenueMonthRows::push`] builds it: readers intern the names in that order.
struct MonthNames<'t> {
    table: &'t [String],
    /// 1 + the index in the month's list of each of the table's names (0: not used yet).
    local: Vec<u32>,
}

impl<'t> MonthNames<'t> {
    fn new(table: &'t [String]) -> Self {
        Self {
            table,
            local: vec![0; table.len()],
        }
    }

    /// The month's code of the table's `code` (1 + an index into `names`, 0 = none).
    fn code(&mut self, code: Option<u32>, names: &mut Vec<String>) -> u32 {
        let Some(c) = code else { return 0 };
        let (Some(local), Some(name)) =
            (self.local.get_mut(c as usize), self.table.get(c as usize))
        else {
            return 0;
        };
        if *local == 0 {
            names.push(name.clone());
            *local = u32::try_from(names.len()).unwrap_or(0);
        }
        *local
    }
}

fn purge(store: &Store, import_id: &str, month: Month) -> Result<(), StoreError> {
    let mut b = WriteBatch::new();
    b.delete_event::<RevenueMonthRows>(&format!("{import_id}/{month}"));
    b.delete_event::<RevenueTotal>(&format!("{import_id}/{month}"));
    store.commit(b)?;
    Ok(())
}
