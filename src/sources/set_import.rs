//! Importing support tickets and business metrics: the revenue imports' guarantees (the whole
//! file validated first, atomic, idempotent, every attempt in the import history) for files
//! that replace the whole set of their source ([`super::chunked`]).

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::chunked::{self, Outcome, Rows, TicketStager};
use super::revenue_csv::FileErrors;
use super::revenue_import::{hex, record, ImportError};
use super::tickets_csv::Staged;
use super::{metrics_csv, tickets_csv};
use crate::config::RevenueConfig;
use crate::model::business::{ChunkRow, ImportCurrent};
use crate::model::{ImportRecord, Month, Ticket};
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

/// What every history entry of one import attempt shares.
struct History<'a> {
    kind: &'static str,
    file: &'a str,
    sha256: &'a str,
    source: &'a str,
}

impl History<'_> {
    /// The entry of an attempt: its outcome, layout (`None`: unknown), rows, months and errors.
    fn entry(
        &self,
        outcome: &str,
        layout: Option<&str>,
        rows: u64,
        months: Vec<Month>,
        errors: usize,
    ) -> ImportRecord {
        let layout = layout.map(|l| format!("{}:{l}", self.kind));
        record(
            self.file,
            self.sha256,
            self.source,
            (outcome, layout.as_deref(), rows),
            months,
            errors,
        )
    }

    /// Lists a refused file in `import list` (not in a dry run) and hands its errors back.
    fn reject(
        &self,
        store: &Store,
        options: &SetOptions,
        errors: FileErrors,
    ) -> Result<SetSummary, ImportError> {
        if !options.dry_run {
            let mut b = WriteBatch::new();
            b.upsert_event(&self.entry("rejected", None, 0, vec![], errors.errors.len()));
            store.commit(b)?;
        }
        Err(errors.into())
    }
}

/// Same content, kind, source and layout → same id: a re-import finds its source already
/// current.
fn import_id(kind: &str, source: &str, layout: &str, sha256: &str) -> String {
    let mut id_hash = Sha256::new();
    for part in [kind, source, layout, sha256] {
        id_hash.update(part.as_bytes());
        id_hash.update([0]);
    }
    hex(&id_hash.finalize()[..12])
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
    let history = History {
        kind,
        file,
        sha256: &sha256,
        source: &options.source,
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(errors) => return history.reject(store, options, errors),
    };
    let import_id = import_id(kind, &options.source, &parsed.layout, &sha256);
    let rows = parsed.rows.len() as u64;
    let entry = history.entry(
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
///
/// The tickets are staged while the file is read (a chunk of [`Ticket::PER_CHUNK`] at a
/// time, invisible until the flip), so the import holds the file and a chunk, not every
/// ticket; a row refused later deletes what was staged. The import id needs the content's
/// hash and the layout: the header is read on its own first, and the file is hashed on
/// another thread, which then writes the chunks while the file is read (a big file in two
/// parts at once, see [`tickets_csv::parse`]).
pub fn import_tickets(
    store: &Store,
    config: &RevenueConfig,
    file: &str,
    bytes: &[u8],
    options: &SetOptions,
    progress: impl FnMut(u64) + Send,
) -> Result<SetSummary, ImportError> {
    import_tickets_as(
        store,
        config,
        (file, bytes),
        options,
        tickets_csv::layout(bytes),
        progress,
    )
}

/// [`import_tickets`] with the layout the header gave (`None`: not a valid tickets header).
fn import_tickets_as(
    store: &Store,
    config: &RevenueConfig,
    (file, bytes): (&str, &[u8]),
    options: &SetOptions,
    layout: Option<&'static str>,
    mut progress: impl FnMut(u64) + Send,
) -> Result<SetSummary, ImportError> {
    const KIND: &str = "tickets";
    let current = store.event::<ImportCurrent<Ticket>>(&options.source)?;
    let is_current = |id: &str| current.as_ref().is_some_and(|c| c.import_id == id);
    let target = |sha256: &str| {
        layout
            .map(|l| import_id(KIND, &options.source, l, sha256))
            .filter(|id| !options.dry_run && !is_current(id))
    };
    // A thread of its own hashes the file, then stages the chunks the parsers send it
    // (encoding and committing them). Chunks parsed before the hash, hence the import id, is
    // known wait in the channel, at most `WAITING` of them (a few MB each); then the parsers
    // wait (the hash takes ~0.1 s of the import).
    const WAITING: usize = 2;
    let (sha256, stager, parsed) = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Staged>(WAITING);
        let writer = scope.spawn(|| {
            let sha256 = hex(&Sha256::digest(bytes));
            let mut stager = TicketStager::new(store, target(&sha256));
            for staged in rx {
                stager.take(staged);
            }
            (sha256, stager)
        });
        let parsed = tickets_csv::parse(file, bytes, config, &mut progress, &|staged| {
            // Fails only when the writer is gone, i.e. panicked: joining it resumes the panic.
            if tx.send(staged).is_err() {
                tracing::error!("the tickets writer thread ended early");
            }
        });
        drop(tx);
        let (sha256, stager) = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (sha256, stager, parsed)
    });
    let history = History {
        kind: KIND,
        file,
        sha256: &sha256,
        source: &options.source,
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(errors) => {
            stager.discard()?;
            return history.reject(store, options, errors);
        }
    };
    if layout != Some(parsed.layout) {
        // The header alone did not give the layout the whole file did (it always does; this
        // keeps the import id right if that ever changes): read again with the file's.
        stager.discard()?;
        return import_tickets_as(
            store,
            config,
            (file, bytes),
            options,
            Some(parsed.layout),
            progress,
        );
    }
    let id = import_id(KIND, &options.source, parsed.layout, &sha256);
    let outcome = if options.dry_run {
        Outcome::DryRun
    } else if is_current(&id) {
        Outcome::Unchanged
    } else {
        let entry = history.entry(
            "applied",
            Some(parsed.layout),
            parsed.rows,
            parsed.months.clone(),
            0,
        );
        stager.flip(&options.source, current.as_ref(), entry)?;
        Outcome::Applied
    };
    Ok(SetSummary {
        file: file.to_owned(),
        kind: KIND,
        layout: parsed.layout.to_owned(),
        rows: parsed.rows,
        months: parsed.months,
        outcome: outcome.word(),
        sha256,
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
