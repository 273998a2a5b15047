//! Views the API, `/metrics` and the CLI share: store reads handed to the pure analysis.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use super::revenue;
use super::settings::Settings;
use super::slo::{slo_weeks, SloDef};
use crate::analysis::changepoints::ChangePoint;
use crate::analysis::dora::{self, DoraInput, DoraModel, Scope, ServiceSpec};
use crate::analysis::pressure::{week_range, WeekSignals};
use crate::analysis::reliability::WeekReliability;
use crate::analysis::revenue::{monthly as revenue_monthly, totals_monthly};
pub use crate::analysis::weekly::Weekly;
use crate::analysis::weekly::{Engine, ServiceRows, WeekRow};
use crate::analysis::WEEK_MS;
use crate::model::{series, Calendar, Coverage, Month, Product, SeriesKey};
use crate::model::{Change, Commit, Deployment, Event, Incident};
use crate::store::{Store, StoreError};

fn all<E: Event>(store: &Store) -> Result<Vec<E>, StoreError> {
    store.events::<E>().collect()
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

/// Reads every delivery event and analyses it.
pub fn dora_model(store: &Store, settings: &Settings) -> Result<DoraModel, StoreError> {
    let deployments: Vec<Deployment> = all(store)?;
    let changes: Vec<Change> = all(store)?;
    let commits: Vec<Commit> = all(store)?;
    let incidents: Vec<Incident> = all(store)?;
    let services = services(settings, &deployments);
    Ok(dora::analyse(
        DoraInput {
            deployments: &deployments,
            changes: &changes,
            commits: &commits,
            incidents: &incidents,
        },
        &services,
        &settings.dora,
    ))
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
    last: Mutex<Option<(u64, Arc<DoraModel>)>>,
    weekly: Mutex<Option<Live>>,
    /// Each product's view, kept and updated like the organisation's (by product name).
    products: Mutex<BTreeMap<String, Live>>,
}

impl DoraCache {
    /// The model of the store as it is now: rebuilt only when an event changed (a sync that
    /// wrote only points, or a cursor, leaves it be).
    pub fn get(&self, store: &Store, settings: &Settings) -> Result<Arc<DoraModel>, StoreError> {
        let generation = store.event_generation();
        if let Some((g, m)) = &*self.last.lock().unwrap_or_else(|p| p.into_inner()) {
            if *g == generation {
                return Ok(m.clone());
            }
        }
        // Computed outside the lock: a concurrent caller may compute the same model once more,
        // which is cheaper than making every reader wait.
        let model = Arc::new(dora_model(store, settings)?);
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((generation, model.clone()));
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
        let model = self.get(store, settings)?;
        let (org, services) = rows_for(
            store,
            settings,
            &model,
            slos,
            now,
            ViewScope::Product(product),
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
        // would do the same work twice.
        let model = self.get(store, settings)?;
        let (org, services) = rows(store, settings, &model, slos, now)?;
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
    let snapshots = revenue::snapshots(store)?;
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
    let delivery = crate::analysis::dora::weekly_scopes(model, &scopes, &weeks, bands);
    let slo_rows: Vec<(&SloDef, Vec<WeekReliability>)> = slos
        .iter()
        .map(|d| Ok((d, slo_weeks(store, d, &weeks)?)))
        .collect::<Result<_, StoreError>>()?;

    let org_slos: Vec<&(&SloDef, Vec<WeekReliability>)> = slo_rows.iter().collect();
    let mut org = scope_rows(&weeks, current, delivery.first(), &org_slos);
    for (row, w) in org.iter_mut().zip(&weeks) {
        revenue_into(row, *w, &months, cal);
    }
    // Bug inflow, the index's optional component: the organisation's bugs, or those of the
    // product's services.
    let opened: Vec<i64> = super::bugs::bug_facts(store, model, settings)?
        .iter()
        .filter(|b| product.is_none_or(|_| b.service.as_deref().is_some_and(&mine)))
        .map(|b| cal.week_start(b.created_ms))
        .collect();
    bugs_into(&mut org, &opened);
    // Support and cost, the index's other optional components and its profitability tag: the
    // organisation's, or what can be attributed to the product.
    let business = match product {
        None => super::business_rows::organisation(store, settings, &snapshots)?,
        Some(p) => {
            let revenue: BTreeMap<i32, f64> = months.iter().map(|(m, f)| (*m, f.mrr)).collect();
            super::business_rows::product(store, settings, &snapshots, p, &known, &revenue)?
        }
    };
    super::business_rows::support_into(&mut org, &business, &cal);
    super::business_rows::cost_into(&mut org, &business, cal);
    // Each service with deployments, then each with SLOs only; a service's reliability is that
    // of its own SLOs.
    let slos_of = |name: &str| -> Vec<&(&SloDef, Vec<WeekReliability>)> {
        slo_rows.iter().filter(|(d, _)| d.service == name).collect()
    };
    let mut services = BTreeMap::new();
    for (scope, d) in scopes.iter().zip(&delivery).skip(1) {
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

/// Delivery and reliability rows of one scope. Delivery counts as missing (never zero) before
/// the scope's first deployment.
fn scope_rows(
    weeks: &[i64],
    current: i64,
    delivery: Option<&Vec<crate::analysis::dora::DoraWeek>>,
    slos: &[&(&SloDef, Vec<WeekReliability>)],
) -> Vec<WeekRow> {
    let first_deploy =
        delivery.and_then(|d| d.iter().find(|w| w.week.attempted > 0).map(|w| w.week_ms));
    weeks
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let partial = w == current;
            let mut cov: BTreeMap<&'static str, Coverage> = BTreeMap::new();
            let mut s = WeekSignals {
                week_ms: w,
                partial,
                ..WeekSignals::default()
            };
            let mut cfr_4w_detail = None;
            let delivered = delivery
                .map(|d| &d[i])
                .filter(|_| first_deploy.is_some_and(|f| w >= f));
            if let Some(d) = delivered {
                s.deployments = Some(d.week.deployments as f64);
                s.incidents = Some(d.week.incidents as f64);
                s.lead_time_s = d.week.lead_time.map(|q| q.p50);
                cfr_4w_detail = d.rolling_4w.change_failure_rate;
                s.cfr_4w = cfr_4w_detail.map(|r| r.value);
                s.recovery_4w_s = d.rolling_4w.recovery_time.map(|q| q.p50);
                // The week alone too: the detector pools 2 weeks of these, so a change in
                // delivery stability shows before the 4-week window fills.
                s.attempted_week = Some(d.week.attempted as f64);
                s.failures_week = d.week.change_failure_rate.map(|r| r.k as f64);
                s.recovery_week_s = d.week.recovery_time.map(|q| q.p50);
                s.recoveries_week = d.week.recovery_time.map(|q| q.n as f64);
            }
            let delivery_cov = match delivered {
                None => Coverage::Missing,
                Some(_) if partial => Coverage::PartialWeek,
                Some(_) => Coverage::Complete,
            };
            for k in [
                "deployments",
                "incidents",
                "lead_time",
                "cfr_4w",
                "recovery_4w",
            ] {
                cov.insert(k, delivery_cov);
            }
            // Reliability: the worst SLO.
            let mut rel_cov = Coverage::Missing;
            for (def, rows) in slos {
                let Some(r) = rows.get(i).filter(|r| r.week_start == w) else {
                    continue;
                };
                if r.coverage <= 0.0 {
                    continue;
                }
                let target = def.spec.target;
                if let Some(a) = r.availability {
                    let burn = (1.0 - a) / (1.0 - target).max(1e-9);
                    s.burn_rate = Some(s.burn_rate.map_or(burn, |b: f64| b.max(burn)));
                }
                if let Some(left) = r.error_budget_remaining {
                    let spent = 1.0 - left;
                    s.budget_consumed_4w =
                        Some(s.budget_consumed_4w.map_or(spent, |b: f64| b.max(spent)));
                }
                rel_cov = if partial || r.coverage < 0.99 {
                    Coverage::PartialWeek
                } else if rel_cov == Coverage::PartialWeek {
                    rel_cov
                } else {
                    Coverage::Complete
                };
            }
            cov.insert("burn_rate", rel_cov);
            cov.insert("budget_consumed_4w", rel_cov);
            WeekRow {
                signals: s,
                coverage: cov,
                cfr_4w_detail,
            }
        })
        .collect()
}

/// Bugs opened each week (`opened`: the Monday of each bug's opening), from the week of the
/// scope's first bug on; before it, and in a scope without a bug, missing rather than zero: the
/// bug source may not be configured at all, and the index then leaves the component out.
fn bugs_into(rows: &mut [WeekRow], opened: &[i64]) {
    let mut per_week: BTreeMap<i64, u32> = BTreeMap::new();
    for w in opened {
        *per_week.entry(*w).or_default() += 1;
    }
    let first = per_week.keys().next().copied();
    for row in rows {
        let s = &mut row.signals;
        let cov = match first {
            Some(f) if s.week_ms >= f => {
                s.bugs_opened = Some(f64::from(per_week.get(&s.week_ms).copied().unwrap_or(0)));
                if s.partial {
                    Coverage::PartialWeek
                } else {
                    Coverage::Complete
                }
            }
            _ => Coverage::Missing,
        };
        row.coverage.insert("bugs_opened", cov);
    }
}

/// Revenue of the month holding the week's Thursday, else of the latest earlier month while it
/// is less than 5 weeks old; never interpolated.
fn revenue_into(row: &mut WeekRow, w: i64, months: &BTreeMap<i32, MonthFacts>, cal: Calendar) {
    let (carried, revenue_cov) = carried(months, w, row.signals.partial, cal);
    if let Some((m, f)) = carried {
        let s = &mut row.signals;
        s.revenue_as_of = Some(f.label.clone());
        s.mrr = Some(f.mrr);
        s.mrr_3m_ago = months.get(&(m - 3)).map(|x| x.mrr);
        s.net_new_mrr = f.net_new;
        s.nrr = f.nrr;
        s.grr = f.grr;
        s.new_logos = f.new_logos;
    }
    for k in ["mrr", "net_new_mrr", "nrr", "grr", "new_logos"] {
        row.coverage.insert(k, revenue_cov);
    }
}

/// The month of a week's Thursday in `months`, else the latest earlier one while it is less
/// than 5 weeks old (never interpolated), and the coverage that gives the week's figures.
pub(super) fn carried<T>(
    months: &BTreeMap<i32, T>,
    w: i64,
    partial: bool,
    cal: Calendar,
) -> (Option<(i32, &T)>, Coverage) {
    let thursday = w + 3 * 86_400_000;
    let month = cal.month_index(thursday);
    let carried = months
        .range(..=month)
        .next_back()
        .filter(|(m, _)| {
            **m == month || thursday - month_start_ms(**m + 1) < REVENUE_STALE_WEEKS * WEEK_MS
        })
        .map(|(m, v)| (*m, v));
    let cov = match carried {
        None => Coverage::Missing,
        Some((m, _)) if m != month => Coverage::Stale,
        _ if partial => Coverage::PartialWeek,
        _ => Coverage::Complete,
    };
    (carried, cov)
}

/// What the weekly table reads of one month of revenue.
struct MonthFacts {
    label: String,
    mrr: f64,
    net_new: Option<f64>,
    nrr: Option<f64>,
    grr: Option<f64>,
    new_logos: Option<f64>,
}

/// 00:00 UTC of the first day of a month.
fn month_start_ms(index: i32) -> i64 {
    Month::from_index(index)
        .first_day()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |d| d.and_utc().timestamp_millis())
}
