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
//! The rows of complete weeks are also kept in the store as a rollup per SLO, stamped with the
//! data generation they were computed from and fingerprinted with the SLO's definition and this
//! build: a restarted daemon brings them up to date the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::rollup::{self, Fingerprint};
use super::slo::{series_read, slo_key, slo_weeks_from, SloDef};
use crate::analysis::reliability::{WeekReliability, BURN_WINDOWS_H};
use crate::analysis::WEEK_MS;
use crate::store::{Store, StoreError, Written};

/// Bump when the kept rows' encoding changes.
const FORMAT: u32 = 1;

/// An SLO's kept rows: the complete weeks, by week start, as of a data generation.
#[derive(Debug, Clone, Default)]
struct Kept {
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
    /// Rollups written to the store.
    pub saved: u64,
}

/// Kept SLO rows; [`SloRows::rows`] answers as `query::slo_weeks_at` would.
#[derive(Debug, Default)]
pub struct SloRows {
    /// By [`def_key`].
    kept: Mutex<HashMap<String, Kept>>,
    stats: Mutex<SloRowsStats>,
}

/// What an SLO's rows depend on besides the samples: the whole definition.
fn def_key(def: &SloDef) -> String {
    format!("{FORMAT} {def:?}")
}

/// The rollup an SLO's rows are kept under (the definition's strings quoted, so no two SLOs
/// share it).
fn rollup_name(def: &SloDef) -> String {
    format!("slo_rows {:?} {:?}", def.service, def.name)
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
        let taken: Vec<(&SloDef, Mutex<Option<Kept>>)> = defs
            .iter()
            .map(|d| (d, Mutex::new(kept.remove(&def_key(d)))))
            .collect();
        let done = crate::analysis::parallel_map(&taken, |(def, kept)| {
            let kept = kept.lock().unwrap_or_else(|p| p.into_inner()).take();
            self.one(store, def, kept, weeks, now_ms, generation)
        });
        // Every SLO that succeeded keeps its rows, also when another failed.
        let mut out = Vec::with_capacity(defs.len());
        let mut failed = None;
        for (def, result) in defs.iter().zip(done) {
            match result {
                Ok((rows, k)) => {
                    kept.insert(def_key(def), k);
                    out.push(rows);
                }
                Err(e) => failed = failed.or(Some(e)),
            }
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
        let fingerprint = Fingerprint::of(&def_key(def));
        let kept = match kept {
            Some(k) => Some(k),
            // What was kept only saves work: one that cannot be read is recomputed (and kept
            // again over it), never a failed view.
            None => self.load(store, def, &fingerprint).unwrap_or_else(|e| {
                tracing::warn!(slo = %def.name, error = %e, "the kept SLO rows cannot be read: computed again");
                None
            }),
        };
        let mut kept = match kept {
            Some(k) => up_to_date(store, def, k)?,
            None => None,
        }
        .unwrap_or_else(|| {
            self.count(|s| s.whole += 1);
            Kept::default()
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
        if kept.unsaved {
            kept.unsaved = !self
                .save(store, def, &fingerprint, &kept)
                .unwrap_or_else(|e| {
                    tracing::warn!(slo = %def.name, error = %e, "could not keep the SLO rows in the store");
                    false
                });
        }
        Ok((out, kept))
    }

    /// The rows the store kept for `def` by this build, if any.
    fn load(
        &self,
        store: &Store,
        def: &SloDef,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Kept>, StoreError> {
        let Some(found) = rollup::get_kept(store, &rollup_name(def), fingerprint)? else {
            return Ok(None);
        };
        // Another build may encode rows otherwise: never decoded as this one's.
        if !found.same_build {
            return Ok(None);
        }
        match postcard::from_bytes::<Vec<WeekReliability>>(&found.rollup.payload) {
            Ok(rows) => {
                self.count(|s| s.loaded += 1);
                Ok(Some(Kept {
                    generation: found.rollup.generation,
                    rows: rows.into_iter().map(|r| (r.week_start, r)).collect(),
                    unsaved: false,
                }))
            }
            Err(e) => {
                tracing::warn!(slo = %def.name, error = %e, "kept SLO rows do not decode: recomputed");
                Ok(None)
            }
        }
    }

    /// Keeps `kept` in the store; `false` when a commit landed since its generation (kept
    /// next time).
    fn save(
        &self,
        store: &Store,
        def: &SloDef,
        fingerprint: &Fingerprint,
        kept: &Kept,
    ) -> Result<bool, StoreError> {
        let rows: Vec<&WeekReliability> = kept.rows.values().collect();
        let payload = match postcard::to_allocvec(&rows) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(slo = %def.name, error = %e, "SLO rows do not encode: not kept");
                return Ok(false);
            }
        };
        let saved = rollup::put(
            store,
            &rollup_name(def),
            kept.generation,
            fingerprint,
            &payload,
        )?;
        if saved {
            self.count(|s| s.saved += 1);
        }
        Ok(saved)
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
