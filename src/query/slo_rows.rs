//! Each SLO's weekly rows, kept in memory and in the store (issue 21): after a commit, or a
//! restart, only the weeks whose samples may have changed are recomputed, instead of every week
//! of every SLO from every stored sample.
//!
//! A week's row depends only on samples before its end (the week's own, and the budget and
//! burn-rate windows, which reach back from the week's end: `analysis::reliability::weekly`),
//! and its sums do not depend on where the read began (the analysis sums whole days). So a kept
//! row stays right until a commit writes a point before its week's end, which the store's
//! per-series write log tells ([`Store::points_written_since`]). The week holding business time
//! is partial (its figures depend on the time) and is never kept.
//!
//! The rows of complete weeks are also kept as one file of the data directory (`kept/slo_rows`),
//! each SLO's stamped with the data generation it was computed from and keyed by its whole
//! definition, the file fingerprinted with this store and this build: a restarted daemon reads
//! it once and brings each SLO up to date the same way. One file rather than a sled rollup per
//! SLO: reading 200 rollups (sled keeps each as a blob file of its own) was most of a restart's
//! SLO rows (issue 21).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::slo::{series_read, slo_key, slo_weeks_from, SloDef};
use crate::analysis::reliability::{WeekReliability, BURN_WINDOWS_H};
use crate::analysis::WEEK_MS;
use crate::store::{Store, StoreError, Written};

/// Bump when the kept rows' encoding changes.
const FORMAT: u32 = 2;

/// The file the rows are kept in.
const KEPT: &str = "slo_rows";

/// An SLO's kept rows: the complete weeks, by week start, as of a data generation.
#[derive(Debug, Clone, Default)]
struct Kept {
    /// The whole definition the rows were computed for ([`def_key`]).
    def: String,
    generation: u64,
    rows: BTreeMap<i64, WeekReliability>,
    /// Whether the store's rollup lags behind these rows.
    unsaved: bool,
}

/// How the rows were made so far (for tests and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SloRowsStats {
    /// SLOs whose rows were taken from the store's rollup.
    pub loaded: u64,
    /// SLOs recomputed whole (nothing kept, or what changed since is unknown).
    pub whole: u64,
    /// Weeks computed, the partial ones included.
    pub weeks_computed: u64,
    /// SLOs whose rows were handed to be kept in the store's file.
    pub saved: u64,
}

/// Kept SLO rows; [`SloRows::rows`] answers as `query::slo_weeks_at` would.
#[derive(Debug, Default)]
pub struct SloRows {
    /// By [`slo_id`].
    kept: Mutex<HashMap<String, Kept>>,
    /// Whether the kept file was read in this process (once: then the rows in memory are the
    /// newer ones).
    looked: Mutex<bool>,
    /// The thread writing the kept file, if one was started.
    keeping: Mutex<Option<std::thread::JoinHandle<()>>>,
    stats: Mutex<SloRowsStats>,
}

/// One SLO's entry in the kept file.
#[derive(Serialize, Deserialize)]
struct KeptEntry {
    id: String,
    def: String,
    generation: u64,
    rows: Vec<WeekReliability>,
}

/// What an SLO's rows depend on besides the samples: the whole definition.
fn def_key(def: &SloDef) -> String {
    format!("{FORMAT} {def:?}")
}

/// Which SLO: its service and name (quoted, so no two SLOs share it). Rows kept for an
/// earlier definition of the same SLO are replaced, not kept beside.
fn slo_id(def: &SloDef) -> String {
    format!("{:?} {:?}", def.service, def.name)
}

/// What the kept file depends on besides each SLO's definition: this store (a file copied
/// beside another store is never taken) and this build.
fn file_fingerprint(store: &Store) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(store.id());
    h.update(FORMAT.to_be_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update([0]);
    h.update(super::rollup::build_id().as_bytes());
    h.finalize().to_vec()
}

/// How far before its start a week's figures read: its budget window or longest burn window,
/// ending at the week's end, or, for the current week, at a step as early as its start.
fn reach(def: &SloDef) -> i64 {
    let burn = BURN_WINDOWS_H.iter().max().copied().unwrap_or(0) * 3_600_000;
    def.spec.window_ms.max(burn)
}

impl SloRows {
    /// How the rows were made so far.
    pub fn stats(&self) -> SloRowsStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, f: impl FnOnce(&mut SloRowsStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Each SLO's rows for `weeks` (Mondays, ms) at business time `now_ms`, equal to
    /// `slo_weeks_at(store, def, weeks, now_ms)`, in the order of `defs`; computed on every
    /// core, recomputing only the weeks the commits since the kept rows may have changed.
    pub fn rows(
        &self,
        store: &Store,
        defs: &[SloDef],
        weeks: &[i64],
        now_ms: i64,
    ) -> Result<Vec<Vec<WeekReliability>>, StoreError> {
        // Read before any sample: a commit landing meanwhile is told by the log next time.
        let generation = store.data_generation();
        // Held throughout: two views brought up to date at once (the organisation's and a
        // product's) would otherwise each miss what the other took, and do its work again.
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if !std::mem::replace(
            &mut *self.looked.lock().unwrap_or_else(|p| p.into_inner()),
            true,
        ) {
            for (key, k) in self.load(store, generation) {
                kept.entry(key).or_insert(k);
            }
        }
        let taken: Vec<(&SloDef, Mutex<Option<Kept>>)> = defs
            .iter()
            .map(|d| {
                let k = kept.remove(&slo_id(d)).filter(|k| k.def == def_key(d));
                (d, Mutex::new(k))
            })
            .collect();
        let done = crate::analysis::parallel_map(&taken, |(def, kept)| {
            let kept = kept.lock().unwrap_or_else(|p| p.into_inner()).take();
            self.one(store, def, kept, weeks, now_ms, generation)
        });
        let mut unsaved = 0;
        // Every SLO that succeeded keeps its rows, also when another failed.
        let mut out = Vec::with_capacity(defs.len());
        let mut failed = None;
        for (def, result) in defs.iter().zip(done) {
            match result {
                Ok((rows, k)) => {
                    unsaved += u64::from(k.unsaved);
                    kept.insert(slo_id(def), k);
                    out.push(rows);
                }
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        if unsaved > 0 {
            self.save(store, &mut kept, unsaved);
        }
        failed.map_or(Ok(out), Err)
    }

    /// One SLO's rows, and what to keep of them.
    fn one(
        &self,
        store: &Store,
        def: &SloDef,
        kept: Option<Kept>,
        weeks: &[i64],
        now_ms: i64,
        generation: u64,
    ) -> Result<(Vec<WeekReliability>, Kept), StoreError> {
        let mut kept = match kept {
            Some(k) => up_to_date(store, def, k)?,
            None => None,
        }
        .unwrap_or_else(|| {
            self.count(|s| s.whole += 1);
            Kept {
                def: def_key(def),
                ..Kept::default()
            }
        });
        let mut wanted: Vec<i64> = weeks
            .iter()
            .copied()
            .filter(|w| (*w <= now_ms && now_ms < w + WEEK_MS) || !kept.rows.contains_key(w))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        // Contiguous runs, each read on its own: a week added at the start of the list and the
        // current week do not read the years between.
        let mut computed: BTreeMap<i64, WeekReliability> = BTreeMap::new();
        let list_first = weeks.iter().min().copied();
        for run in wanted.chunk_by(|a, b| b - a == WEEK_MS) {
            let first = run[0];
            // The list's first week reads as `slo_weeks_at` does (so that a partial first week
            // is cut where it cuts it); any other reaches back as far as its figures do.
            let from = if Some(first) == list_first {
                first + WEEK_MS - def.spec.window_ms.max(WEEK_MS)
            } else {
                first - reach(def)
            };
            for row in slo_weeks_from(store, def, run, now_ms, from)? {
                computed.insert(row.week_start, row);
            }
            self.count(|s| s.weeks_computed += run.len() as u64);
        }
        let out = weeks
            .iter()
            .map(|w| computed.get(w).or_else(|| kept.rows.get(w)).cloned())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                StoreError::Corrupt("an SLO week was neither kept nor computed".into())
            })?;
        for (ws, row) in computed {
            if !row.partial && ws + WEEK_MS <= now_ms {
                kept.rows.insert(ws, row);
                kept.unsaved = true;
            }
        }
        kept.generation = generation;
        Ok((out, kept))
    }

    /// The rows kept in the store's file by this build for this store, by [`slo_id`]; none
    /// (warned about) when the file cannot be read or decoded: what was kept only saves work.
    /// An entry stamped past the store's `generation` (a file from another history) is left out.
    fn load(&self, store: &Store, generation: u64) -> HashMap<String, Kept> {
        let fingerprint = file_fingerprint(store);
        let found = match store.kept_files().get(KEPT, |f| f == fingerprint) {
            Ok(Some(found)) => found,
            Ok(None) => return HashMap::new(),
            Err(e) => {
                tracing::warn!(error = %e, "the kept SLO rows cannot be read: computed again");
                return HashMap::new();
            }
        };
        let entries = match postcard::from_bytes::<Vec<KeptEntry>>(&found.payload) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(error = %e, "the kept SLO rows do not decode: computed again");
                return HashMap::new();
            }
        };
        let mut out = HashMap::with_capacity(entries.len());
        for e in entries {
            if e.generation > generation {
                tracing::warn!(
                    kept = e.generation,
                    store = generation,
                    "kept SLO rows are ahead of the store: computed again"
                );
                continue;
            }
            self.count(|s| s.loaded += 1);
            let rows = e.rows.into_iter().map(|r| (r.week_start, r)).collect();
            out.insert(
                e.id,
                Kept {
                    def: e.def,
                    generation: e.generation,
                    rows,
                    unsaved: false,
                },
            );
        }
        out
    }

    /// Keeps every SLO's rows in the store's file, on a thread of its own (a few megabytes,
    /// synced); `unsaved` of them changed. An earlier write still running is waited for (rows
    /// change in the store only when a week ends or samples are backfilled, so rarely). A
    /// failure only costs the next process their computation, so it is warned about.
    fn save(&self, store: &Store, kept: &mut HashMap<String, Kept>, unsaved: u64) {
        self.settle();
        let mut keeping = self.keeping.lock().unwrap_or_else(|p| p.into_inner());
        let entries: Vec<KeptEntry> = kept
            .iter()
            .map(|(id, k)| KeptEntry {
                id: id.clone(),
                def: k.def.clone(),
                generation: k.generation,
                rows: k.rows.values().cloned().collect(),
            })
            .collect();
        // The newest generation named: the store is flushed past it before the file is written.
        let stamp = entries.iter().map(|e| e.generation).max().unwrap_or(0);
        let spawned = store.kept_files().put_in_background(
            KEPT,
            stamp,
            file_fingerprint(store),
            "the SLO rows",
            move || postcard::to_allocvec(&entries).map_err(|e| e.to_string()),
        );
        match spawned {
            Ok(h) => {
                *keeping = Some(h);
                for k in kept.values_mut() {
                    k.unsaved = false;
                }
                self.count(|s| s.saved += unsaved);
            }
            Err(e) => tracing::warn!(error = %e, "could not start keeping the SLO rows"),
        }
    }

    /// Waits until the rows being kept, if any, are written.
    pub fn settle(&self) {
        super::views::join_keeping(&self.keeping, "the SLO rows");
    }
}

/// `kept` without the weeks the commits since its generation may have changed: those ending
/// after the earliest point written since to any series the SLO reads. `None` when that is
/// unknown (the store's logs start later, or do not decode).
fn up_to_date(store: &Store, def: &SloDef, mut kept: Kept) -> Result<Option<Kept>, StoreError> {
    let mut earliest: Option<i64> = None;
    for name in series_read(def) {
        let Some(key) = slo_key(def, name) else {
            continue;
        };
        match store.points_written_since(&key, kept.generation)? {
            Written::Nothing => {}
            Written::From(ts) => earliest = Some(earliest.map_or(ts, |e| e.min(ts))),
            Written::Unknown => return Ok(None),
        }
    }
    if let Some(ts) = earliest {
        let before = kept.rows.len();
        kept.rows.retain(|ws, _| ws + WEEK_MS <= ts);
        kept.unsaved |= kept.rows.len() != before;
    }
    Ok(Some(kept))
}
