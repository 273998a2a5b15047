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

use super::model_changes::{Changed, History};
use crate::analysis::dora::{self, BandTable, DoraFigures, DoraModel, DoraWeek, Scope};
use crate::store::Store;

/// The file the organisation's figures are kept in.
const KEPT: &str = "delivery_rows";

/// Bump when the kept layout changes without a new crate version.
const FORMAT: u32 = 3;

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
    /// How the figures were made (for tests and logs).
    stats: Mutex<DeliveryRowsStats>,
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

/// The kept file's layout.
#[derive(Serialize, Deserialize)]
struct KeptRows<'a> {
    /// The revision of the model file kept beside, and what changed from it to these figures'
    /// revision; `None` when not known (the figures are then taken only for their own).
    from_kept: Option<(u64, Changed)>,
    /// Each scope's weeks, encoded on its own (decoded on every core).
    #[serde(borrow)]
    scopes: Vec<&'a [u8]>,
}

/// How the figures were made so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRowsStats {
    /// Taken as they were (computed for the same model, in this process or kept).
    pub taken: u64,
    /// Brought up to date from those of an earlier model: only the scopes and weeks whose
    /// facts changed computed again.
    pub updated: u64,
    /// Computed whole.
    pub computed: u64,
}

/// Figures found for an earlier or the same model: its revision, what changed from the model
/// file kept beside them to that revision (`Some`: kept by another process; `Some(None)`: not
/// known), and the figures.
type Found = (u64, Option<Option<(u64, Changed)>>, Rows);

/// `rows` (computed for an earlier model) brought up to date for `model` by computing again
/// the weeks `changed` touches of the scopes it touches; `None` when `rows` are not of `scopes`
/// and `weeks`. Changed in place when nothing else holds them (the usual case), else copied.
fn brought_up_to_date(
    model: &DoraModel,
    scopes: &[Scope],
    weeks: &[i64],
    bands: &BandTable,
    rows: Rows,
    changed: &Changed,
) -> Option<Rows> {
    if rows.len() != scopes.len() || rows.iter().any(|r| r.len() != weeks.len()) {
        return None;
    }
    let Some((first, last)) = changed.weeks_touched() else {
        return Some(rows);
    };
    let (from, to) = (
        weeks.partition_point(|w| *w < first),
        weeks.partition_point(|w| *w <= last),
    );
    let touched: Vec<usize> = (0..scopes.len())
        .filter(|&i| changed.touches(&scopes[i]))
        .collect();
    let again = crate::analysis::parallel_map(&touched, |&i| {
        scopes[i].weekly(model, &weeks[from..to], bands)
    });
    let mut out: Vec<Vec<DoraWeek>> = Arc::unwrap_or_clone(rows);
    for (i, weeks) in touched.into_iter().zip(again) {
        out[i].splice(from..to, weeks);
    }
    Some(Arc::new(out))
}

impl DeliveryRows {
    /// How the figures were made so far.
    pub(super) fn stats(&self) -> DeliveryRowsStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The figures of `scopes` over `weeks` from `model`, as of event generation `generation`:
    /// those computed before for the same; else those computed for an earlier model brought
    /// up to date, when `history` tells what changed since; else computed now. `org` says
    /// whether they are the organisation's (kept for the next process).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn rows(
        &self,
        store: &Store,
        model: &DoraModel,
        generation: u64,
        history: &History,
        fingerprint: &[u8],
        scopes: &[Scope],
        weeks: &[i64],
        bands: &BandTable,
        org: bool,
    ) -> Rows {
        let key = key(scopes, weeks, bands, fingerprint);
        let mut computed = self.computed.lock().unwrap_or_else(|p| p.into_inner());
        // Taken out: an update changes them in place.
        let mut found: Option<Found> = computed.remove(&key).map(|(g, rows)| (g, None, rows));
        if found.is_none() && org {
            found = self.kept(store, &key);
        }
        let rows = match found {
            Some((g, _, rows)) if g == generation => {
                self.count(|s| s.taken += 1);
                computed.insert(key, (generation, rows.clone()));
                return rows;
            }
            // Figures of a later model (another caller's) are never taken back.
            Some((g, from_kept, rows)) if g < generation => {
                // Kept by another process: what changed from the model file it kept beside to
                // those figures, and what changed from that model in this process.
                let changed = match from_kept {
                    None => history.since(g),
                    Some(None) => None,
                    Some(Some((base, before))) => history.since(base).map(|c| c.union(&before)),
                };
                changed.and_then(|c| brought_up_to_date(model, scopes, weeks, bands, rows, &c))
            }
            _ => None,
        };
        let rows = match rows {
            Some(rows) => {
                self.count(|s| s.updated += 1);
                rows
            }
            None => {
                self.count(|s| s.computed += 1);
                Arc::new(dora::weekly_scopes(model, scopes, weeks, bands))
            }
        };
        if org {
            self.keep(
                store,
                &key,
                generation,
                history.since_kept_file(generation),
                &rows,
            );
        }
        // One entry per view (the organisation, each product), each the latest figures of its
        // scopes and weeks: an older model's are what the next update of that view starts
        // from. Views of an earlier week list (before a new week began) go.
        let current = weeks.last().copied();
        computed.retain(|_, (_, rows)| {
            rows.first().and_then(|r| r.last()).map(|w| w.week_ms) == current
        });
        computed.insert(key, (generation, rows.clone()));
        rows
    }

    fn count(&self, f: impl FnOnce(&mut DeliveryRowsStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The kept figures, the first time in this process, when they are of these scopes, weeks
    /// and settings.
    fn kept(&self, store: &Store, key: &[u8]) -> Option<Found> {
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
        let file = match postcard::from_bytes::<KeptRows>(&kept.payload) {
            Ok(file) => file,
            Err(e) => {
                tracing::warn!(error = %e, "the kept delivery figures do not decode: computed again");
                return None;
            }
        };
        let decoded = crate::analysis::parallel_map(&file.scopes, |bytes| {
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
            Ok(rows) => Some((kept.generation, Some(file.from_kept), Arc::new(rows))),
            Err(e) => {
                tracing::warn!(error = %e, "the kept delivery figures do not decode: computed again");
                None
            }
        }
    }

    /// Keeps the organisation's figures for the next process, on a thread of its own (a few
    /// megabytes); a failure only costs the next process their computation, so it is warned about.
    fn keep(
        &self,
        store: &Store,
        key: &[u8],
        generation: u64,
        from_kept: Option<(u64, Changed)>,
        rows: &Rows,
    ) {
        let mut keeping = self.keeping.lock().unwrap_or_else(|p| p.into_inner());
        if keeping.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let rows = rows.clone();
        let encode = move || {
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
            scopes
                .and_then(|scopes| {
                    postcard::to_allocvec(&KeptRows {
                        from_kept,
                        scopes: scopes.iter().map(Vec::as_slice).collect(),
                    })
                })
                .map_err(|e| e.to_string())
        };
        let spawned = store.kept_files().put_in_background(
            KEPT,
            generation,
            key.to_vec(),
            "the delivery figures",
            encode,
        );
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

#[cfg(test)]
mod tests {
    use super::super::incremental::DoraState;
    use super::*;
    use crate::analysis::pressure::week_range;
    use crate::config::{Config, Sources};
    use crate::model::{DeploySource, DeployState, Deployment};
    use crate::query::settings::Settings;
    use crate::store::WriteBatch;

    /// Every figure of every scope (the 13-week windows too, which the weekly view does not
    /// read) brought up to date after deployments equals the figures computed whole: a failed
    /// one 30 weeks back (its 13-week windows end long before the last week), then a redeploy in
    /// the last week of another service.
    #[test]
    fn figures_brought_up_to_date_equal_the_whole_computation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        // 60 weeks of three services deploying twice a day on weekdays, one in six failing
        // (restored by the next), each of its own SHA.
        let start = end_ms(end) - 60 * crate::analysis::WEEK_MS;
        let mut batch = WriteBatch::new();
        for service in 0..3u64 {
            for day in 0..420i64 {
                if day % 7 >= 5 {
                    continue;
                }
                for k in 0..2u64 {
                    let n = (service * 1_000 + day as u64) * 2 + k;
                    let at = start + day * 86_400_000 + (9 + 4 * k as i64) * 3_600_000;
                    let created_at = chrono::DateTime::from_timestamp_millis(at).expect("time");
                    batch.upsert_event(&Deployment {
                        repo: format!("org/svc{service}"),
                        service: format!("svc{service}"),
                        environment: "production".into(),
                        id: n,
                        source: DeploySource::DeploymentsApi,
                        sha: format!("{n:040x}"),
                        git_ref: "main".into(),
                        created_at,
                        state: if n % 6 == 0 {
                            DeployState::Failure
                        } else {
                            DeployState::Success
                        },
                        finished_at: Some(created_at + chrono::Duration::minutes(5)),
                    });
                }
            }
            store.commit(std::mem::take(&mut batch)).expect("commit");
        }
        let config = Config::load(&Sources {
            env: Some(Default::default()),
            ..Sources::default()
        })
        .expect("the default configuration");
        let settings = Settings::new(&config).expect("settings");
        let mut state =
            DoraState::full(&store, &settings, store.event_generation()).expect("model");
        let model = state.model.clone();
        let scopes: Vec<Scope> = std::iter::once(Scope::Org)
            .chain(
                model
                    .services
                    .iter()
                    .map(|s| Scope::Service(s.name.clone())),
            )
            .chain(std::iter::once(Scope::Team {
                name: "pool".into(),
                services: model
                    .services
                    .iter()
                    .take(2)
                    .map(|s| s.name.clone())
                    .collect(),
            }))
            .collect();
        let first = model
            .deployments
            .iter()
            .map(|d| d.at_ms)
            .min()
            .expect("deployments");
        let cal = settings.calendar;
        let weeks = week_range(cal.week_start(first), cal.week_start(end_ms(end)));
        let bands = &settings.bands;
        let mut rows: Rows = Arc::new(dora::weekly_scopes(&model, &scopes, &weeks, bands));
        for (k, weeks_back, state_now) in
            [(0, 30, DeployState::Failure), (2, 0, DeployState::Success)]
        {
            let revision = state.revision;
            let name = state.model.services[k].name.clone();
            let d = state
                .model
                .deployments_of(Some(&name))
                .last()
                .expect("one")
                .clone();
            let at = d.at_ms - weeks_back * crate::analysis::WEEK_MS + 60_000;
            let mut batch = WriteBatch::new();
            batch.upsert_event(&Deployment {
                repo: d.repo.clone(),
                service: d.service.clone(),
                environment: "production".into(),
                id: d.id + 1_000_000,
                source: DeploySource::DeploymentsApi,
                sha: d.sha.clone(),
                git_ref: "main".into(),
                created_at: chrono::DateTime::from_timestamp_millis(at).expect("time"),
                state: state_now,
                finished_at: chrono::DateTime::from_timestamp_millis(at + 60_000),
            });
            store.commit(batch).expect("commit");
            assert!(
                state.update(&store, &settings).expect("update"),
                "updated in place"
            );
            let changed = state.history.since(revision).expect("a revision it passed");
            assert!(changed.touches(&Scope::Service(name.clone())));
            let untouched = scopes.iter().filter(|s| !changed.touches(s)).count();
            assert!(
                untouched > 0,
                "other services' figures are left as they were"
            );
            rows = brought_up_to_date(&state.model, &scopes, &weeks, bands, rows, &changed)
                .expect("same scopes and weeks");
            let whole = dora::weekly_scopes(&state.model, &scopes, &weeks, bands);
            assert_eq!(*rows, whole, "after {name}'s deployment");
        }
    }

    fn end_ms(day: chrono::NaiveDate) -> i64 {
        day.and_hms_opt(12, 0, 0)
            .expect("noon")
            .and_utc()
            .timestamp_millis()
    }
}
