//! Views the API, `/metrics` and the CLI share: store reads handed to the pure analysis.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::revenue;
use super::settings::Settings;
use super::slo::{slo_weeks_at, SloDef};
use super::slo_rows::{SloRows, SloRowsStats};
use crate::analysis::bugs::BugFacts;
use crate::analysis::changepoints::ChangePoint;
use crate::analysis::dora::{self, DoraInput, DoraModel, Scope, ServiceSpec};
use crate::analysis::pressure::{week_range, WeekSignals};
use crate::analysis::reliability::WeekReliability;
use crate::analysis::revenue::{monthly as revenue_monthly, totals_monthly};
pub use crate::analysis::weekly::Weekly;
use crate::analysis::weekly::{Engine, ServiceRows, WeekRow};
use crate::analysis::WEEK_MS;
use crate::config::SloKind;
use crate::model::{series, Calendar, Coverage, Month, Product, SeriesKey};
use crate::model::{Change, Commit, Deployment, Event, Incident};
use crate::store::{Store, StoreError};

mod incremental;
mod model_changes;

/// A model, the event generation at which it last changed, and the revisions it went through.
type Modelled = (Arc<DoraModel>, u64, Arc<model_changes::History>);
pub use incremental::dora_model_of;
mod delivery_rows;
pub use delivery_rows::DeliveryRowsStats;
mod kept;
mod rows;
pub(super) use rows::carried;
use rows::{bugs_into, month_start_ms, revenue_into, scope_rows, MonthFacts};

fn all<E: Event>(store: &Store) -> Result<Vec<E>, StoreError> {
    // Sized from the store's count of the kind: collecting a `Result` iterator cannot know its
    // length, and growing a vector of a million events by doubling copies it a dozen times into
    // fresh pages (a third of the read, BENCHMARKS.md, issue 21).
    let stored = store.event_counts().get(E::KIND).copied().unwrap_or(0);
    let mut out = Vec::with_capacity(usize::try_from(stored).unwrap_or(0));
    for event in store.events::<E>() {
        out.push(event?);
    }
    Ok(out)
}

/// The result of a scoped thread of a read; its panic goes on in the caller.
fn joined<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The services to report: the configured ones, then any other seen in the stored deployments
/// (the demo organisation's).
pub fn services(settings: &Settings, deployments: &[Deployment]) -> Vec<ServiceSpec> {
    let mut out = settings.services.clone();
    for s in dora::services_from(deployments) {
        if !out.iter().any(|o| o.name == s.name) {
            out.push(s);
        }
    }
    out
}

/// Every delivery event of the store, by kind.
#[derive(Debug, Default)]
pub struct DeliveryEvents {
    /// Deployments, in natural-key order.
    pub deployments: Vec<Deployment>,
    /// Pull requests.
    pub changes: Vec<Change>,
    /// Commits.
    pub commits: Vec<Commit>,
    /// Incidents.
    pub incidents: Vec<Incident>,
}

impl DeliveryEvents {
    /// Reads the four kinds side by side: each is a sequential scan of its own blocks, and
    /// decoding the events is most of the cost, so on two cores the read takes about half as
    /// long as one kind after the other (BENCHMARKS.md, issue 21).
    pub fn read(store: &Store) -> Result<Self, StoreError> {
        std::thread::scope(|s| {
            let changes = s.spawn(|| all::<Change>(store));
            let commits = s.spawn(|| all::<Commit>(store));
            let deployments = all::<Deployment>(store);
            let incidents = all::<Incident>(store);
            Ok(Self {
                deployments: deployments?,
                changes: joined(changes)?,
                commits: joined(commits)?,
                incidents: incidents?,
            })
        })
    }

    /// The analysis' view of them.
    pub fn input(&self) -> DoraInput<'_> {
        DoraInput {
            deployments: &self.deployments,
            changes: &self.changes,
            commits: &self.commits,
            incidents: &self.incidents,
        }
    }
}

/// Reads every delivery event and analyses it.
pub fn dora_model(store: &Store, settings: &Settings) -> Result<DoraModel, StoreError> {
    let events = DeliveryEvents::read(store)?;
    let services = services(settings, &events.deployments);
    Ok(dora::analyse(events.input(), &services, &settings.dora))
}

/// (store generation, Monday of the current week).
type WeeklyKey = (u64, i64);

/// The live weekly engine and the snapshot readers share.
struct Live {
    key: WeeklyKey,
    engine: Engine,
    snapshot: Arc<Weekly>,
}

/// The analysed delivery history and weekly view shared by `/metrics` and the API: recomputed
/// only when a batch was committed since the last computation (or a new week began), so neither
/// a scrape-side refresh nor an API call re-reads every event of an unchanged store; and then
/// the weekly view is updated incrementally ([`Engine`]).
#[derive(Default)]
pub struct DoraCache {
    last: Mutex<Option<incremental::DoraState>>,
    /// Models built from every event, and models updated part by part (for tests and logs).
    builds: Mutex<DoraBuilds>,
    weekly: Mutex<Option<Live>>,
    /// Each product's view, kept and updated like the organisation's (by product name).
    products: Mutex<BTreeMap<String, Live>>,
    /// Whether the organisation's weekly view was attempted once in this process: until then a
    /// request may be answered from what the store kept (`query::rollup`), labelled as older.
    warmed: AtomicBool,
    /// The thread keeping the last model in the store, if one was started.
    keeping: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Whether the model the store kept was tried in this process.
    kept_tried: AtomicBool,
    /// Each SLO's weekly rows, recomputed only for the weeks the commits since changed.
    slo_rows: SloRows,
    /// The weekly delivery figures of the last model.
    delivery: delivery_rows::DeliveryRows,
    /// The stored bugs attributed against the last model.
    bugs: BugFactsCache,
}

/// The stored bugs attributed against a model, kept while neither the events nor the model
/// changed: the weekly rows, each product's, the page and `/metrics` all read them (a few
/// hundred milliseconds each on a large store).
#[derive(Default)]
struct BugFactsCache(Mutex<Option<KeptBugs>>);

/// (event generation, model revision, the facts).
type KeptBugs = (u64, u64, Arc<Vec<BugFacts>>);

impl BugFactsCache {
    /// The facts of the bugs stored now against `model`, last changed at event generation
    /// `revision`.
    fn facts(
        &self,
        store: &Store,
        model: &DoraModel,
        revision: u64,
        settings: &Settings,
    ) -> Result<Arc<Vec<BugFacts>>, StoreError> {
        // Read before the bugs: a commit landing meanwhile is read again next time.
        let generation = store.event_generation();
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, r, facts)) = &*last {
            if (*g, *r) == (generation, revision) {
                return Ok(facts.clone());
            }
        }
        let facts = Arc::new(super::bugs::bug_facts(store, model, settings)?);
        *last = Some((generation, revision, facts.clone()));
        Ok(facts)
    }
}

/// How a [`DoraCache`]'s models were made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DoraBuilds {
    /// From every event.
    pub full: u64,
    /// By re-analysing only the repositories written to.
    pub incremental: u64,
    /// From the model the store kept (brought up to date part by part).
    pub kept: u64,
}

impl DoraCache {
    /// How its models were made so far.
    pub fn builds(&self) -> DoraBuilds {
        *self.builds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps a state in the store for the next process, in the background; not while the
    /// last one is still being written (the state is kept at a later update then).
    fn keep(&self, state: &mut incremental::DoraState, store: &Store, settings: &Settings) {
        let mut keeping = self.keeping.lock().unwrap_or_else(|p| p.into_inner());
        if keeping.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        match state.keep(store, settings) {
            Ok(handle) => *keeping = Some(handle),
            Err(e) => tracing::warn!(error = %e, "could not start keeping the delivery model"),
        }
    }

    /// Waits until the model being kept in the store, if any, is written: before the daemon
    /// stops, so that the next one starts from it.
    pub fn settle(&self) {
        self.delivery.settle();
        self.slo_rows.settle();
        join_keeping(&self.keeping, "the delivery model");
    }

    /// What the weekly rows of the model at `generation` are kept in.
    fn keeping(
        &self,
        store: &Store,
        settings: &Settings,
        generation: u64,
        history: Arc<model_changes::History>,
    ) -> Keeping<'_> {
        Keeping {
            slo_rows: &self.slo_rows,
            delivery: &self.delivery,
            bugs: &self.bugs,
            generation,
            history,
            fingerprint: incremental::kept_fingerprint(store, settings),
        }
    }

    fn count(&self, f: impl FnOnce(&mut DoraBuilds)) {
        f(&mut self.builds.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The model of the store as it is now: rebuilt only when an event changed (a sync that
    /// wrote only points, or a cursor, leaves it be), and then only for the repositories the
    /// commits since wrote to, when the store can tell which (see `incremental`).
    pub fn get(&self, store: &Store, settings: &Settings) -> Result<Arc<DoraModel>, StoreError> {
        self.get_at(store, settings).map(|(model, _, _)| model)
    }

    /// The stored bugs attributed against the model of the store as it is now; computed again
    /// only when an event changed.
    pub fn bug_facts(
        &self,
        store: &Store,
        settings: &Settings,
    ) -> Result<(Arc<DoraModel>, Arc<Vec<BugFacts>>), StoreError> {
        let (model, revision, _) = self.get_at(store, settings)?;
        let facts = self.bugs.facts(store, &model, revision, settings)?;
        Ok((model, facts))
    }

    /// How the weekly delivery figures were made so far.
    pub fn delivery_rows_stats(&self) -> DeliveryRowsStats {
        self.delivery.stats()
    }

    /// [`DoraCache::get`], with the event generation at which the model last changed.
    fn get_at(&self, store: &Store, settings: &Settings) -> Result<Modelled, StoreError> {
        // Under the lock: two callers would do the same work twice, and the update needs the
        // state as it was.
        // A panic during an update may have left the state half updated: rebuilt whole then.
        let mut last = self.last.lock().unwrap_or_else(|p| {
            let mut last = p.into_inner();
            *last = None;
            last
        });
        self.last.clear_poison();
        // The kept model is tried once per process: after a failed update (or a panic) the
        // model is built whole, as what failed would fail again from the kept one.
        let first = last.is_none() && !self.kept_tried.swap(true, Ordering::AcqRel);
        if let Some(state) = &mut *last {
            if state.generation == store.event_generation() {
                return Ok(state.modelled());
            }
            match state.update(store, settings) {
                Ok(true) => {
                    self.count(|b| b.incremental += 1);
                    if state.worth_keeping() {
                        self.keep(state, store, settings);
                    }
                    return Ok(state.modelled());
                }
                Ok(false) => {}
                Err(e) => {
                    *last = None;
                    return Err(e);
                }
            }
        }
        *last = None;
        // The first model of this process: the one the store kept, brought up to date from
        // the groups of events changed since (issue 21), else built from every event. (A model
        // that could not be updated is not retried from the kept one: what failed its update
        // fails the kept one's too.)
        if let Some(mut state) = first
            .then(|| incremental::DoraState::kept(store, settings))
            .flatten()
        {
            if state.update(store, settings)? {
                self.count(|b| b.kept += 1);
                let model = state.modelled();
                *last = Some(state);
                return Ok(model);
            }
            tracing::debug!("the kept delivery model cannot be brought up to date: built whole");
        }
        let generation = store.event_generation();
        let mut state = incremental::DoraState::full(store, settings, generation)?;
        self.count(|b| b.full += 1);
        self.keep(&mut state, store, settings);
        let model = state.modelled();
        *last = Some(state);
        Ok(model)
    }

    /// A product's weekly view as of now, kept like the organisation's: brought up to date
    /// (incrementally) only when the store changed or a new week began.
    pub fn product_weekly(
        &self,
        store: &Store,
        settings: &Settings,
        slos: &[SloDef],
        product: &Product,
    ) -> Result<Arc<Weekly>, StoreError> {
        let now = crate::clock::now_ms();
        let key = (store.generation(), settings.calendar.week_start(now));
        let mut live = self.products.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = live.get(&product.name) {
            if l.key == key {
                return Ok(l.snapshot.clone());
            }
        }
        let (model, generation, history) = self.get_at(store, settings)?;
        let (org, services) = rows_kept(
            store,
            settings,
            &model,
            slos,
            now,
            ViewScope::Product(product),
            Some(self.keeping(store, settings, generation, history)),
        )?;
        let l = live.entry(product.name.clone()).or_insert_with(|| Live {
            key,
            engine: Engine::new(settings.view.clone()),
            snapshot: Arc::default(),
        });
        l.engine.update(org, services);
        l.key = key;
        l.snapshot = Arc::new(l.engine.snapshot());
        Ok(l.snapshot.clone())
    }

    /// The weekly view as of now, brought up to date when the store changed or a new week
    /// began.
    pub fn weekly(
        &self,
        store: &Store,
        settings: &Settings,
        slos: &[SloDef],
    ) -> Result<Arc<Weekly>, StoreError> {
        let now = crate::clock::now_ms();
        let key = (store.generation(), settings.calendar.week_start(now));
        let mut live = self.weekly.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = &*live {
            if l.key == key {
                return Ok(l.snapshot.clone());
            }
        }
        // Updated under the lock: the engine is one state, and two callers updating it at once
        // would do the same work twice. The first attempt, whether it succeeds or not, ends
        // the warm-up: a failing store then shows as errors, not as an older page forever.
        let started = std::time::Instant::now();
        let read = self
            .get_at(store, settings)
            .and_then(|(model, generation, history)| {
                let modelled = started.elapsed();
                let rows = rows_kept(
                    store,
                    settings,
                    &model,
                    slos,
                    now,
                    ViewScope::Org,
                    Some(self.keeping(store, settings, generation, history)),
                );
                tracing::debug!(
                    model_ms = modelled.as_millis() as u64,
                    rows_ms = started.elapsed().saturating_sub(modelled).as_millis() as u64,
                    "weekly view: delivery model and rows read"
                );
                rows
            });
        self.warmed.store(true, Ordering::Release);
        let (org, services) = read?;
        let l = live.get_or_insert_with(|| Live {
            key,
            engine: Engine::new(settings.view.clone()),
            snapshot: Arc::default(),
        });
        let done = l.engine.update(org, services);
        tracing::debug!(?done, "weekly view updated");
        l.key = key;
        l.snapshot = Arc::new(l.engine.snapshot());
        Ok(l.snapshot.clone())
    }

    /// Whether the organisation's weekly view was attempted once in this process: from then on
    /// it is kept current in place (incrementally, unless the services or their links
    /// changed, which rebuilds the delivery model whole); `false` while the first attempt runs.
    pub fn warmed(&self) -> bool {
        self.warmed.load(Ordering::Acquire)
    }

    /// How the SLO rows were made so far.
    pub fn slo_rows_stats(&self) -> SloRowsStats {
        self.slo_rows.stats()
    }

    /// The change points of one service (computed the first time they are asked for); `None`
    /// for an unknown service.
    pub fn service_change_points(
        &self,
        store: &Store,
        settings: &Settings,
        slos: &[SloDef],
        service: &str,
    ) -> Result<Option<Arc<Vec<ChangePoint>>>, StoreError> {
        self.weekly(store, settings, slos)?;
        let mut live = self.weekly.lock().unwrap_or_else(|p| p.into_inner());
        let Some(l) = &mut *live else {
            return Ok(None);
        };
        let cps = l.engine.service_change_points(service);
        l.snapshot = Arc::new(l.engine.snapshot());
        Ok(cps)
    }
}

/// Revenue carried into a week goes stale after this many weeks without a newer month.
const REVENUE_STALE_WEEKS: i64 = 5;

/// The weekly view computed once (for the CLI); `service` also computes that service's change
/// points.
pub fn weekly(
    store: &Store,
    settings: &Settings,
    model: &DoraModel,
    slos: &[SloDef],
    now_ms: i64,
    service: Option<&str>,
) -> Result<Weekly, StoreError> {
    let (org, services) = rows(store, settings, model, slos, now_ms)?;
    let mut engine = Engine::new(settings.view.clone());
    engine.update(org, services);
    if let Some(s) = service {
        engine.service_change_points(s);
    }
    Ok(engine.snapshot())
}

/// Whose weekly view: the organisation's, or one product's (the revenue of its segments and
/// plans, the delivery of its services pooled, the SLOs of its services).
#[derive(Debug, Clone, Copy)]
pub enum ViewScope<'a> {
    /// Everything.
    Org,
    /// One product.
    Product(&'a Product),
}

/// Rows of the organisation and of each service, from the first week with data to the current
/// one: revenue and SLO samples read from the store, delivery from `model`.
pub fn rows(
    store: &Store,
    settings: &Settings,
    model: &DoraModel,
    slos: &[SloDef],
    now_ms: i64,
) -> Result<(Vec<WeekRow>, ServiceRows), StoreError> {
    rows_for(store, settings, model, slos, now_ms, ViewScope::Org)
}

/// A product's weekly view (its rows, then its pressure index, regime and shifts), computed
/// afresh, for a one-shot command; the daemon keeps each product's view up to date in
/// [`DoraCache::product_weekly`].
pub fn product_weekly(
    store: &Store,
    settings: &Settings,
    model: &DoraModel,
    slos: &[SloDef],
    now_ms: i64,
    product: &Product,
) -> Result<Weekly, StoreError> {
    let (org, services) = rows_for(
        store,
        settings,
        model,
        slos,
        now_ms,
        ViewScope::Product(product),
    )?;
    let mut engine = Engine::new(settings.view.clone());
    engine.update(org, services);
    Ok(engine.snapshot())
}

/// [`rows`] of a scope: the organisation, or a product (whose first row is the product's).
pub fn rows_for(
    store: &Store,
    settings: &Settings,
    model: &DoraModel,
    slos: &[SloDef],
    now_ms: i64,
    scope: ViewScope<'_>,
) -> Result<(Vec<WeekRow>, ServiceRows), StoreError> {
    rows_kept(store, settings, model, slos, now_ms, scope, None)
}

/// Waits for the thread keeping `what` in the store, if one was started.
pub(crate) fn join_keeping(slot: &Mutex<Option<std::thread::JoinHandle<()>>>, what: &str) {
    let handle = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(h) = handle {
        if h.join().is_err() {
            tracing::warn!("keeping {what} in the store panicked");
        }
    }
}

/// Where a [`DoraCache`] keeps weekly rows: each SLO's, and the delivery figures of its model
/// (last changed at event generation `generation`; its kept form has the fingerprint `fingerprint`).
struct Keeping<'a> {
    slo_rows: &'a SloRows,
    delivery: &'a delivery_rows::DeliveryRows,
    bugs: &'a BugFactsCache,
    generation: u64,
    /// The revisions the model went through, and what changed at each.
    history: Arc<model_changes::History>,
    fingerprint: Vec<u8>,
}

/// [`rows_for`], with the SLO rows brought up to date and the delivery figures taken as they
/// were in `kept` when given (else computed from every sample and deployment).
fn rows_kept(
    store: &Store,
    settings: &Settings,
    model: &DoraModel,
    slos: &[SloDef],
    now_ms: i64,
    scope: ViewScope<'_>,
    kept: Option<Keeping<'_>>,
) -> Result<(Vec<WeekRow>, ServiceRows), StoreError> {
    let cal = settings.calendar;
    let current = cal.week_start(now_ms);
    let product = match scope {
        ViewScope::Org => None,
        ViewScope::Product(p) => Some(p),
    };
    let mine = |service: &str| product.is_none_or(|p| p.services.iter().any(|s| s == service));
    // Every service the organisation knows (deployed, configured or with an SLO): a ticket
    // naming one is attributed by it rather than by its customer.
    let known: HashSet<&str> = model
        .services
        .iter()
        .map(|s| s.name.as_str())
        .chain(slos.iter().map(|d| d.service.as_str()))
        .chain(
            product
                .iter()
                .flat_map(|p| p.services.iter().map(String::as_str)),
        )
        .collect();
    let slos: Vec<SloDef> = slos.iter().filter(|d| mine(&d.service)).cloned().collect();
    let slos = slos.as_slice();
    // Revenue by month, customer-level first, else a totals file (which has no segments, so a
    // product never reads it).
    let t0 = std::time::Instant::now();
    let snapshots = revenue::snapshots(store)?;
    let t_rev = t0.elapsed();
    let months: BTreeMap<i32, MonthFacts> = {
        let m = match product {
            None => revenue_monthly(&snapshots, settings.revenue, None),
            Some(p) if p.segments.is_empty() && p.plans.is_empty() => Vec::new(),
            Some(p) => crate::analysis::revenue::monthly_where(
                &snapshots,
                settings.revenue,
                |segment, plan| p.owns_revenue(segment, plan),
            ),
        };
        if m.is_empty() && product.is_some() {
            BTreeMap::new()
        } else if m.is_empty() {
            totals_monthly(&revenue::totals(store)?.into_values().collect::<Vec<_>>())
                .into_iter()
                .map(|t| {
                    (
                        t.month.index(),
                        MonthFacts {
                            label: t.month.to_string(),
                            mrr: t.mrr,
                            net_new: None,
                            nrr: t.nrr,
                            grr: t.grr,
                            new_logos: None,
                        },
                    )
                })
                .collect()
        } else {
            m.into_iter()
                .map(|r| {
                    (
                        r.month.index(),
                        MonthFacts {
                            label: r.month.to_string(),
                            mrr: r.mrr,
                            net_new: r.movements.as_ref().map(|m| m.net()),
                            nrr: r.nrr,
                            grr: r.grr,
                            new_logos: r.movements.as_ref().map(|m| m.new_customers as f64),
                        },
                    )
                })
                .collect()
        }
    };
    // The first week with any data.
    let mut first: Vec<i64> = Vec::new();
    if let Some(d) = model
        .deployments
        .iter()
        .filter(|d| mine(&d.service))
        .map(|d| d.at_ms)
        .min()
    {
        first.push(cal.week_start(d));
    }
    if let Some((m, _)) = months.first_key_value() {
        first.push(cal.week_start(month_start_ms(*m)));
    }
    for def in slos {
        let key = SeriesKey::new(
            if def.ratio {
                series::SLO_ERROR_RATIO
            } else {
                series::SLO_TOTAL
            },
            [
                ("slo", def.name.as_str()),
                ("service", def.service.as_str()),
            ],
        );
        // A key the SLO's names cannot form holds no samples.
        if let Ok(k) = key {
            if let Some(p) = store.first(&k)? {
                first.push(cal.week_start(p.ts));
            }
        }
    }
    let Some(start) = first.into_iter().min() else {
        return Ok((Vec::new(), BTreeMap::new()));
    };
    let weeks = week_range(start, current);
    let bands = &settings.bands;
    // Delivery of the organisation (or the product's services pooled) and of each service, on
    // every core.
    let head = match product {
        None => Scope::Org,
        Some(p) => Scope::Team {
            name: p.name.clone(),
            services: p.services.clone(),
        },
    };
    let scopes: Vec<Scope> = std::iter::once(head)
        .chain(
            model
                .services
                .iter()
                .filter(|s| mine(&s.name))
                .map(|s| Scope::Service(s.name.clone())),
        )
        .collect();
    // The delivery figures on a thread of their own while this one reads the SLO rows, the
    // bugs, tickets and cost: after a restart each is a file or the store to read and decode
    // (issue 21).
    let t1 = std::time::Instant::now();
    let (delivery, rest) = std::thread::scope(|s| {
        let delivery = s.spawn(|| {
            let rows = match &kept {
                Some(k) => k.delivery.rows(
                    store,
                    model,
                    k.generation,
                    &k.history,
                    &k.fingerprint,
                    &scopes,
                    &weeks,
                    bands,
                    product.is_none(),
                ),
                None => Arc::new(crate::analysis::dora::weekly_scopes(
                    model, &scopes, &weeks, bands,
                )),
            };
            (rows, t1.elapsed())
        });
        let rest = (|| -> Result<_, StoreError> {
            // Each SLO's samples are read and summed on their own (a cold store spends most of
            // a large history's first page here, in sled's reads): on every core, kept in
            // configuration order.
            let computed: Vec<Vec<WeekReliability>> = match &kept {
                Some(kept) => kept.slo_rows.rows(store, slos, &weeks, now_ms)?,
                None => {
                    crate::analysis::parallel_map(slos, |d| slo_weeks_at(store, d, &weeks, now_ms))
                        .into_iter()
                        .collect::<Result<_, StoreError>>()?
                }
            };
            let t_slo = t1.elapsed();
            // Bug inflow, the index's optional component.
            let facts = match &kept {
                Some(k) => k.bugs.facts(store, model, k.generation, settings)?,
                None => Arc::new(super::bugs::bug_facts(store, model, settings)?),
            };
            // Support and cost, the index's other optional components and its profitability
            // tag: the organisation's, or what can be attributed to the product.
            let business = match product {
                None => super::business_rows::organisation(store, settings, &snapshots)?,
                Some(p) => {
                    let revenue: BTreeMap<i32, f64> =
                        months.iter().map(|(m, f)| (*m, f.mrr)).collect();
                    super::business_rows::product(store, settings, &snapshots, p, &known, &revenue)?
                }
            };
            Ok((computed, t_slo, facts, business))
        })();
        let delivery = delivery
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (delivery, rest)
    });
    let ((delivery, t_delivery), (computed, t_slo, facts, business)) = (delivery, rest?);
    let slo_rows: Vec<(&SloDef, Vec<WeekReliability>)> = slos.iter().zip(computed).collect();
    let org_slos: Vec<&(&SloDef, Vec<WeekReliability>)> = slo_rows.iter().collect();
    let mut org = scope_rows(&weeks, current, delivery.first(), &org_slos);
    for (row, w) in org.iter_mut().zip(&weeks) {
        revenue_into(row, *w, &months, cal);
    }
    // The organisation's bugs, or those of the product's services.
    let opened: Vec<i64> = facts
        .iter()
        .filter(|b| product.is_none_or(|_| b.service.as_deref().is_some_and(&mine)))
        .map(|b| cal.week_start(b.created_ms))
        .collect();
    bugs_into(&mut org, &opened);
    super::business_rows::support_into(&mut org, &business, &cal);
    super::business_rows::cost_into(&mut org, &business, cal);
    tracing::debug!(
        revenue_ms = t_rev.as_millis() as u64,
        delivery_ms = t_delivery.as_millis() as u64,
        slo_ms = t_slo.as_millis() as u64,
        rest_ms = t0
            .elapsed()
            .saturating_sub(t_rev + t_delivery.max(t_slo))
            .as_millis() as u64,
        "weekly rows (the delivery figures beside the rest)"
    );
    // Each service with deployments, then each with SLOs only; a service's reliability is that
    // of its own SLOs.
    let slos_of = |name: &str| -> Vec<&(&SloDef, Vec<WeekReliability>)> {
        slo_rows.iter().filter(|(d, _)| d.service == name).collect()
    };
    let mut services = BTreeMap::new();
    for (scope, d) in scopes.iter().zip(delivery.iter()).skip(1) {
        let Scope::Service(name) = scope else {
            continue;
        };
        services.insert(
            name.clone(),
            scope_rows(&weeks, current, Some(d), &slos_of(name)),
        );
    }
    for (def, _) in &slo_rows {
        if !services.contains_key(&def.service) {
            let rows = scope_rows(&weeks, current, None, &slos_of(&def.service));
            services.insert(def.service.clone(), rows);
        }
    }
    Ok((org, services))
}

#[cfg(test)]
mod tests;
