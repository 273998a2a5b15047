//! The weekly delivery figures of each scope (the organisation or a product, then each
//! service), kept while the delivery model they come from is the same (issue 21): a refresh
//! after a sync that wrote only points, or a restart after one, takes them as they were
//! instead of pooling every deployment of every week again (about half a second for 200
//! services over five years).
//!
//! Kept in memory per set of scopes, weeks and bands, and the organisation's also as a file
//! of the data directory, stamped with the event generation of the model's last change and fingerprinted like the
//! kept model (the settings and this build), for the next process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::analysis::dora::{self, BandTable, DoraFigures, DoraModel, DoraWeek, Scope};
use crate::store::Store;

/// The file the organisation's figures are kept in.
const KEPT: &str = "delivery_rows";

/// Bump when the kept layout changes without a new crate version.
const FORMAT: u32 = 2;

/// Each scope's weeks, in the order of the scopes.
pub(super) type Rows = Arc<Vec<Vec<DoraWeek>>>;

/// Figures as computed for a model, by what they were asked for.
#[derive(Debug, Default)]
pub(super) struct DeliveryRows {
    /// By [`key`]: the model's event generation and the figures.
    computed: Mutex<HashMap<Vec<u8>, (u64, Rows)>>,
    /// Whether the kept file was looked at in this process.
    looked: Mutex<bool>,
    /// The thread keeping the organisation's figures, if one was started.
    keeping: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Figures taken as they were, and computed (for tests and logs).
    stats: Mutex<(u64, u64)>,
}

/// What the figures depend on besides the model: the scopes, the weeks, the bands, the kept
/// model's fingerprint (the settings, this build).
fn key(scopes: &[Scope], weeks: &[i64], bands: &BandTable, fingerprint: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(FORMAT.to_be_bytes());
    h.update(fingerprint);
    h.update(format!("{scopes:?}{bands:?}").as_bytes());
    for w in weeks {
        h.update(w.to_be_bytes());
    }
    h.finalize().to_vec()
}

/// A week in the kept layout (the JSON form leaves `team` out when empty, which postcard
/// cannot carry back).
#[derive(Serialize, Deserialize)]
struct Week {
    week_ms: i64,
    service: Option<String>,
    team: Option<String>,
    week: DoraFigures,
    rolling_4w: DoraFigures,
    rolling_13w: DoraFigures,
}

impl DeliveryRows {
    /// (taken as they were, computed) so far.
    pub(super) fn stats(&self) -> (u64, u64) {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The figures of `scopes` over `weeks` from `model`, as of event generation `generation`:
    /// those computed before for the same, else computed now. `org` says whether they are the
    /// organisation's (kept for the next process).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn rows(
        &self,
        store: &Store,
        model: &DoraModel,
        generation: u64,
        fingerprint: &[u8],
        scopes: &[Scope],
        weeks: &[i64],
        bands: &BandTable,
        org: bool,
    ) -> Rows {
        let key = key(scopes, weeks, bands, fingerprint);
        let mut computed = self.computed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, rows)) = computed.get(&key) {
            if *g == generation {
                self.count(true);
                return rows.clone();
            }
        }
        if org {
            if let Some(rows) = self.kept(store, &key, generation) {
                self.count(true);
                computed.insert(key, (generation, rows.clone()));
                return rows;
            }
        }
        let rows: Rows = Arc::new(dora::weekly_scopes(model, scopes, weeks, bands));
        self.count(false);
        if org {
            self.keep(store, &key, generation, &rows);
        }
        // One entry per view (the organisation, each product): an older model's go.
        computed.retain(|_, (g, _)| *g == generation);
        computed.insert(key, (generation, rows.clone()));
        rows
    }

    fn count(&self, taken: bool) {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        if taken {
            s.0 += 1;
        } else {
            s.1 += 1;
        }
    }

    /// The kept figures, the first time in this process, when they are those asked for.
    fn kept(&self, store: &Store, key: &[u8], generation: u64) -> Option<Rows> {
        let mut looked = self.looked.lock().unwrap_or_else(|p| p.into_inner());
        if std::mem::replace(&mut *looked, true) {
            return None;
        }
        let kept = match store.kept_files().get(KEPT, |f| f == key) {
            Ok(Some(k)) => k,
            Ok(None) => {
                tracing::debug!("no kept delivery figures for these scopes, weeks and settings");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the kept delivery figures cannot be read: computed again");
                return None;
            }
        };
        if kept.generation != generation {
            tracing::debug!(
                kept = kept.generation,
                model = generation,
                "the kept delivery figures are of another model"
            );
            return None;
        }
        // Each scope encoded on its own, decoded on every core.
        let scopes = match postcard::from_bytes::<Vec<&[u8]>>(&kept.payload) {
            Ok(scopes) => scopes,
            Err(e) => {
                tracing::warn!(error = %e, "the kept delivery figures do not decode: computed again");
                return None;
            }
        };
        let decoded = crate::analysis::parallel_map(&scopes, |bytes| {
            postcard::from_bytes::<Vec<Week>>(bytes).map(|weeks| {
                weeks
                    .into_iter()
                    .map(|w| DoraWeek {
                        week_ms: w.week_ms,
                        service: w.service,
                        team: w.team,
                        week: w.week,
                        rolling_4w: w.rolling_4w,
                        rolling_13w: w.rolling_13w,
                    })
                    .collect::<Vec<_>>()
            })
        });
        match decoded.into_iter().collect::<Result<Vec<_>, _>>() {
            Ok(rows) => Some(Arc::new(rows)),
            Err(e) => {
                tracing::warn!(error = %e, "the kept delivery figures do not decode: computed again");
                None
            }
        }
    }

    /// Keeps the organisation's figures for the next process, on a thread of its own (a few
    /// megabytes); a failure only costs the next process their computation, so it is warned about.
    fn keep(&self, store: &Store, key: &[u8], generation: u64, rows: &Rows) {
        let mut keeping = self.keeping.lock().unwrap_or_else(|p| p.into_inner());
        if keeping.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let (files, key, rows) = (store.kept_files(), key.to_vec(), rows.clone());
        let spawned = std::thread::Builder::new()
            .name("keep-delivery".into())
            .spawn(move || {
                let scopes: Result<Vec<Vec<u8>>, _> = rows
                    .iter()
                    .map(|scope| {
                        let weeks: Vec<Week> = scope
                            .iter()
                            .map(|w| Week {
                                week_ms: w.week_ms,
                                service: w.service.clone(),
                                team: w.team.clone(),
                                week: w.week.clone(),
                                rolling_4w: w.rolling_4w.clone(),
                                rolling_13w: w.rolling_13w.clone(),
                            })
                            .collect();
                        postcard::to_allocvec(&weeks)
                    })
                    .collect();
                let kept = scopes
                    .and_then(|scopes| {
                        let scopes: Vec<&[u8]> = scopes.iter().map(Vec::as_slice).collect();
                        postcard::to_allocvec(&scopes)
                    })
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| {
                        files
                            .put(KEPT, generation, &key, &bytes)
                            .map_err(|e| e.to_string())
                    });
                if let Err(e) = kept {
                    tracing::warn!(error = %e, "could not keep the delivery figures in the store");
                }
            });
        match spawned {
            Ok(h) => *keeping = Some(h),
            Err(e) => tracing::warn!(error = %e, "could not start keeping the delivery figures"),
        }
    }

    /// Waits until the figures being kept, if any, are written.
    pub(super) fn settle(&self) {
        super::join_keeping(&self.keeping, "the delivery figures");
    }
}
