//! Importing support tickets and business metrics: the revenue imports' guarantees (the whole
//! file validated first, atomic, idempotent, every attempt in the import history) for files
//! that replace the whole set of their source ([`super::chunked`]).

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::chunked::{self, Rows};
use super::revenue_csv::FileErrors;
use super::revenue_import::{hex, record, ImportError};
use super::{metrics_csv, tickets_csv};
use crate::config::RevenueConfig;
use crate::model::business::ChunkRow;
use crate::model::{ImportRecord, Month};
use crate::store::{Store, WriteBatch};

/// What a tickets or metrics import did (or, on a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct SetSummary {
    /// The file.
    pub file: String,
    /// `tickets` or `metrics`.
    pub kind: &'static str,
    /// The layout: `zendesk`, `intercom`, `jsm`, `tickets` or `metrics`.
    pub layout: String,
    /// Data rows.
    pub rows: u64,
    /// Months covered.
    pub months: Vec<Month>,
    /// `applied`, `unchanged`, or `dry-run`.
    pub outcome: &'static str,
    /// SHA-256 of the content.
    pub sha256: String,
}

impl std::fmt::Display for SetSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let span = match (self.months.first(), self.months.last()) {
            (Some(a), Some(b)) if a != b => format!("{a}..{b}"),
            (Some(a), _) => a.to_string(),
            _ => "no months".into(),
        };
        write!(
            f,
            "{}: {} ({} layout, {} {}, {span})",
            self.file, self.outcome, self.layout, self.rows, self.kind
        )
    }
}

/// Options of one import.
#[derive(Debug, Clone)]
pub struct SetOptions {
    /// The source the file belongs to; the file replaces the source's whole set.
    pub source: String,
    /// Validate and report without writing.
    pub dry_run: bool,
}

impl SetOptions {
    /// An import into `source`.
    pub fn new(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            dry_run: false,
        }
    }
}

/// A parsed file: its layout, rows and months.
struct Parsed<T> {
    layout: String,
    rows: Vec<T>,
    months: Vec<Month>,
}

fn import_set<T: ChunkRow>(
    store: &Store,
    kind: &'static str,
    file: &str,
    bytes: &[u8],
    options: &SetOptions,
    parse: impl FnOnce() -> Result<Parsed<T>, FileErrors> + Send,
) -> Result<SetSummary, ImportError> {
    let (sha256, parsed) = std::thread::scope(|scope| {
        let hasher = scope.spawn(|| hex(&Sha256::digest(bytes)));
        let parsed = parse();
        let sha256 = hasher
            .join()
            .unwrap_or_else(|_| hex(&Sha256::digest(bytes)));
        (sha256, parsed)
    });
    let history =
        |outcome: &str, layout: Option<&str>, rows: u64, months, errors| -> ImportRecord {
            let layout = layout.map(|l| format!("{kind}:{l}"));
            record(
                file,
                &sha256,
                &options.source,
                (outcome, layout.as_deref(), rows),
                months,
                errors,
            )
        };
    let parsed = match parsed {
        Ok(p) => p,
        Err(errors) => {
            if !options.dry_run {
                let mut b = WriteBatch::new();
                b.upsert_event(&history("rejected", None, 0, vec![], errors.errors.len()));
                store.commit(b)?;
            }
            return Err(errors.into());
        }
    };
    // Same content, kind and source → same id: a re-import finds its source already current.
    let mut id_hash = Sha256::new();
    for part in [
        kind,
        options.source.as_str(),
        parsed.layout.as_str(),
        &sha256,
    ] {
        id_hash.update(part.as_bytes());
        id_hash.update([0]);
    }
    let import_id = hex(&id_hash.finalize()[..12]);
    let rows = parsed.rows.len() as u64;
    let entry = history(
        "applied",
        Some(&parsed.layout),
        rows,
        parsed.months.clone(),
        0,
    );
    let outcome = chunked::apply::<Rows<T>>(
        store,
        parsed.rows,
        &import_id,
        &options.source,
        options.dry_run,
        entry,
    )?;
    Ok(SetSummary {
        file: file.to_owned(),
        kind,
        layout: parsed.layout,
        rows,
        months: parsed.months,
        outcome: outcome.word(),
        sha256,
    })
}

/// Validates a tickets file whole, then makes it the ticket set of `options.source`.
pub fn import_tickets(
    store: &Store,
    config: &RevenueConfig,
    file: &str,
    bytes: &[u8],
    options: &SetOptions,
    progress: impl FnMut(u64) + Send,
) -> Result<SetSummary, ImportError> {
    import_set(store, "tickets", file, bytes, options, || {
        let p = tickets_csv::parse(file, bytes, config, progress)?;
        Ok(Parsed {
            layout: p.layout.to_owned(),
            months: p.months(),
            rows: p.tickets,
        })
    })
}

/// Validates a metrics file whole, then makes it the metrics set of `options.source`.
pub fn import_metrics(
    store: &Store,
    config: &RevenueConfig,
    file: &str,
    bytes: &[u8],
    options: &SetOptions,
) -> Result<SetSummary, ImportError> {
    import_set(store, "metrics", file, bytes, options, || {
        let rows = metrics_csv::parse(file, bytes, config)?;
        let mut months: Vec<Month> = rows.iter().map(|r| Month::of(r.start)).collect();
        months.sort_unstable();
        months.dedup();
        Ok(Parsed {
            layout: "metrics".to_owned(),
            months,
            rows,
        })
    })
}
