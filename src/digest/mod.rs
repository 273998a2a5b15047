//! The weekly digest for architects: what the last complete ISO week says about the pressure on
//! the product, reliability, delivery and revenue, with the evidence — as Markdown, HTML and
//! JSON, written to files and posted to a webhook on a schedule.
//!
//! - [`build`] gathers the figures of one week from the weekly view (the same numbers the API
//!   and `/metrics` show);
//! - [`render`] turns them into Markdown, and HTML through `pulldown-cmark`;
//! - [`deliver`] writes the files atomically, posts the webhook with retries, remembers in the
//!   store what was delivered (so a restart does not send twice), and runs the schedule.

pub mod deliver;
pub mod render;

use serde::Serialize;

use crate::analysis::correlate::Correlation;
use crate::analysis::dora::{self, Ratio};
use crate::analysis::pressure::{Component, PressureWeek, Scored, Shift, Side};
use crate::analysis::weekly::WeekRow;
use crate::analysis::WEEK_MS;
use crate::app::App;
use crate::model::{Calendar, Coverage};
use crate::query::slo_weeks;
use crate::store::StoreError;

/// Why a digest could not be produced or delivered.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// There is no data for the week asked for.
    #[error("no data for the week of {0}: the store's weeks run from {1} to {2}")]
    NoWeek(String, String, String),
    /// The store holds no data at all.
    #[error("the store holds no data yet")]
    Empty,
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The webhook refused or failed, after retries. Names the host only: webhook URLs often
    /// carry a secret in their path.
    #[error("webhook at {host} failed: {reason}")]
    Webhook {
        /// Host of the webhook URL.
        host: String,
        /// Why (status or transport error, without the URL).
        reason: String,
    },
    /// The digest task panicked or was cancelled.
    #[error("the digest task failed: {0}")]
    Task(String),
    /// The webhook's URL variable is not set or not a URL.
    #[error("{0}")]
    WebhookConfig(String),
}

/// One SLO in the week.
#[derive(Debug, Clone, Serialize)]
pub struct SloLine {
    /// SLO name.
    pub slo: String,
    /// Service.
    pub service: String,
    /// Objective.
    pub target: f64,
    /// Availability over the week.
    pub availability: Option<f64>,
    /// Error budget left over the rolling window at the end of the week.
    pub budget_remaining: Option<f64>,
    /// The week's burn rate, (1 − availability) / (1 − target).
    pub burn_rate: Option<f64>,
}

/// One product's own pressure index as of the digest's week (docs/products.md).
#[derive(Debug, Clone, Serialize)]
pub struct ProductLine {
    /// The product.
    pub product: String,
    /// Its regime in the week (none without a scored index).
    pub regime: Option<crate::analysis::pressure::Regime>,
    /// Its P in the week.
    pub p: Option<f64>,
    /// Its latest shift up to the week.
    pub last_shift: Option<Shift>,
    /// What it lacks (no services, no revenue).
    pub missing: Vec<&'static str>,
}

/// Delivery of one service (or the organisation) over the 4 weeks ending with the digest's.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryLine {
    /// Service, or "organisation".
    pub scope: String,
    /// Successful deployments per week.
    pub deployments_per_week: f64,
    /// Median lead time for changes, seconds.
    pub lead_time_p50_s: Option<f64>,
    /// Change failure rate with its n and interval.
    pub change_failure_rate: Option<Ratio>,
    /// Median failed-deployment recovery time, seconds.
    pub recovery_p50_s: Option<f64>,
    /// DORA band of each metric (report year in `band_year`).
    pub bands: std::collections::BTreeMap<String, String>,
}

/// The figures of one week.
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    /// The calendar its dates are written in.
    #[serde(skip)]
    pub calendar: Calendar,
    /// Monday of the week, ms.
    pub week_ms: i64,
    /// ISO week, e.g. `2026-W47`.
    pub iso_week: String,
    /// Monday of the week, `YYYY-MM-DD`.
    pub week: String,
    /// The index in that week.
    pub pressure: Option<PressureWeek>,
    /// P of the week before, for the change.
    pub p_before: Option<f64>,
    /// A regime change detected in this week.
    pub shift: Option<Shift>,
    /// The latest regime change before or in this week.
    pub last_shift: Option<Shift>,
    /// This week's components, the strongest push towards resilience first.
    pub drivers: Vec<Scored>,
    /// The organisation's row of the week.
    pub row: WeekRow,
    /// Each SLO.
    pub slos: Vec<SloLine>,
    /// The organisation's and each service's delivery.
    pub delivery: Vec<DeliveryLine>,
    /// Each team's delivery, its services pooled (empty without teams).
    pub teams: Vec<DeliveryLine>,
    /// Services (with deployments) that no team owns, when teams exist.
    pub unowned: Vec<String>,
    /// Services `CODEOWNERS` gives to two teams (owned by neither), in words naming both.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ownership_conflicts: Vec<String>,
    /// The system map's weak spots and next moves over the 13 weeks ending with this one (none
    /// without a system model).
    pub system: Option<crate::analysis::system::Assessment>,
    /// Each product's own regime and index (empty without products).
    pub products: Vec<ProductLine>,
    /// The week's bugs: the organisation, each team, each service (empty without bug data).
    pub bugs: Vec<crate::query::bugs::BugSeries>,
    /// Year of the DORA report whose bands are used.
    pub band_year: u16,
    /// Change points of the half-year before that were known by the end of the week (a change
    /// is only reported once the 8 weeks after it are in).
    pub change_points: Vec<crate::analysis::changepoints::ChangePoint>,
    /// Associations with p ≤ 0.05.
    pub associations: Vec<Correlation>,
    /// Signals whose 13-week mean moved most against the 13 weeks before, worst first:
    /// (signal, relative change, whether that is worse).
    pub movers: Vec<(String, f64, bool)>,
    /// Signals missing or stale in the week.
    pub gaps: Vec<String>,
    /// Support load and pains of the week, and cost of its month (none without the data).
    pub customers: Customers,
}

/// The digest's customers section: the week's support figures, the top pains of the 4 weeks
/// ending with it, and the cost of the latest month with revenue up to the week's month.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Customers {
    /// The week's support figures.
    pub support: Option<crate::analysis::support::SupportWeek>,
    /// The top 3 customer pains.
    pub pains: Vec<crate::analysis::support::Pain>,
    /// Customer ids the revenue data does not know (count).
    pub unknown_customers: usize,
    /// The cost month.
    pub cost: Option<crate::analysis::cost::CostMonth>,
}

fn customers(app: &App, week_ms: i64) -> Result<Customers, crate::store::StoreError> {
    let (store, settings) = (&*app.store, &*app.settings);
    let mut out = Customers::default();
    if let Some(r) = crate::query::business::support_report(store, settings, week_ms)? {
        out.support = r.weeks.last().cloned();
        out.pains = r.pains.into_iter().take(3).collect();
        out.unknown_customers = r.unknown_customers.len();
    }
    let month = crate::model::Month::of(settings.calendar.local_date(week_ms));
    if let Some(c) = crate::query::business::cost_report(store, settings)? {
        out.cost = c
            .months
            .into_iter()
            .rev()
            .find(|m| m.month <= month && m.mrr.is_some());
    }
    Ok(out)
}

/// The week a digest produced at `now_ms` covers: the last complete ISO week.
pub fn week_for(calendar: Calendar, now_ms: i64) -> i64 {
    calendar.week_start(now_ms) - WEEK_MS
}

/// ISO week label of a Monday.
pub fn iso_week(calendar: Calendar, week_ms: i64) -> String {
    use chrono::Datelike;
    let w = calendar.local_date(week_ms).iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// The date of an instant in the analysis time zone.
fn day(calendar: Calendar, ms: i64) -> String {
    calendar.local_date(ms).to_string()
}

/// Whether a higher value of a trend signal is worse (for the movers).
fn higher_is_worse(signal: &str) -> Option<bool> {
    match signal {
        "mrr" | "nrr" | "grr" | "deployments" => Some(false),
        "lead_time" | "cfr_4w" | "recovery_4w" | "incidents" | "burn_rate"
        | "budget_consumed_4w" => Some(true),
        _ => None,
    }
}

/// Gathers the digest of the week starting `week_ms` (a Monday) from the store.
pub fn build(app: &App, week_ms: i64) -> Result<Digest, DigestError> {
    let (store, settings, slos) = (&*app.store, &*app.settings, &*app.slos);
    let cal = settings.calendar;
    let day = |ms| day(cal, ms);
    let weekly = app.dora.weekly(store, settings, slos)?;
    let rows = &weekly.org.rows;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Err(DigestError::Empty);
    };
    let Some(i) = rows.iter().position(|r| r.signals.week_ms == week_ms) else {
        return Err(DigestError::NoWeek(
            day(week_ms),
            day(first.signals.week_ms),
            day(last.signals.week_ms),
        ));
    };
    let row = rows[i].clone();
    let pressure = weekly.pressure.weeks.get(i).cloned();
    let p_before = i
        .checked_sub(1)
        .and_then(|j| weekly.pressure.weeks.get(j))
        .and_then(|w| w.p);
    let shift = weekly
        .pressure
        .shifts
        .iter()
        .find(|s| s.week_ms == week_ms)
        .cloned();
    let last_shift = weekly
        .pressure
        .shifts
        .iter()
        .rev()
        .find(|s| s.week_ms <= week_ms)
        .cloned();
    // P's components: the profitability ones make the tag, shown with it.
    let mut drivers: Vec<Scored> = pressure
        .as_ref()
        .map(|p| p.components.clone())
        .unwrap_or_default();
    drivers.retain(|s| s.component.side() != Side::Profitability);
    // Push on P: R components add their score, G components subtract theirs.
    let push = |s: &Scored| {
        if s.component.is_growth() {
            -s.score
        } else {
            s.score
        }
    };
    drivers.sort_by(|a, b| push(b).total_cmp(&push(a)));

    let mut slo_lines = Vec::new();
    for def in slos.iter() {
        let Some(w) = slo_weeks(store, def, &[week_ms])?.pop() else {
            continue;
        };
        slo_lines.push(SloLine {
            slo: def.name.clone(),
            service: def.service.clone(),
            target: def.spec.target,
            availability: w.availability,
            budget_remaining: w.error_budget_remaining,
            burn_rate: w
                .availability
                .map(|a| (1.0 - a) / (1.0 - def.spec.target).max(1e-9)),
        });
    }

    let model = app.dora.get(store, settings)?;
    let bands = &settings.bands;
    let mut delivery = Vec::new();
    let mut teams = Vec::new();
    let owners = app.teams()?;
    let scopes = crate::query::teams::all_scopes(&model, &owners);
    for scope in &scopes {
        let Some(d) = scope.weekly(&model, &[week_ms], bands).pop() else {
            continue;
        };
        let f = &d.rolling_4w;
        if f.attempted == 0 && *scope != dora::Scope::Org {
            continue;
        }
        let line = |name: &str| DeliveryLine {
            scope: name.to_owned(),
            deployments_per_week: f.deployments_per_week,
            lead_time_p50_s: f.lead_time.map(|q| q.p50),
            change_failure_rate: f.change_failure_rate,
            recovery_p50_s: f.recovery_time.map(|q| q.p50),
            bands: f
                .bands
                .iter()
                .map(|(m, b)| (m.as_str().to_owned(), b.as_str().to_owned()))
                .collect(),
        };
        match scope {
            dora::Scope::Org => delivery.push(line("organisation")),
            dora::Scope::Service(s) => delivery.push(line(s)),
            dora::Scope::Team { name, .. } => teams.push(line(name)),
        }
    }
    let system = if app.system.is_empty() {
        None
    } else {
        let weeks: Vec<i64> = (0..13).rev().map(|i| week_ms - i * WEEK_MS).collect();
        let view = app.system_view(&weeks)?;
        Some(view.assessment.clone())
    };
    let mut products = Vec::new();
    for p in app.products.iter() {
        let w = app.dora.product_weekly(store, settings, &app.slos, p)?;
        let week = w.pressure.weeks.iter().find(|x| x.week_ms == week_ms);
        products.push(ProductLine {
            product: p.name.clone(),
            regime: week.and_then(|x| x.regime),
            p: week.and_then(|x| x.p),
            last_shift: w
                .pressure
                .shifts
                .iter()
                .rev()
                .find(|s| s.week_ms <= week_ms)
                .cloned(),
            missing: p.missing_sides(),
        });
    }
    let bug_facts = crate::query::bugs::bug_facts(store, &model, settings)?;
    let bugs = if bug_facts.is_empty() {
        Vec::new()
    } else {
        crate::query::bugs::bug_series(&bug_facts, &scopes, &[week_ms], settings)
    };
    let unowned = if owners.is_empty() {
        Vec::new()
    } else {
        owners
            .unowned(model.services.iter().map(|s| s.name.as_str()))
            .into_iter()
            .map(str::to_owned)
            .collect()
    };

    // A change is reported once the 8 weeks after it are in: those known by the end of the
    // digest's week, over the half-year before.
    let change_points = weekly
        .org
        .change_points_in(week_ms - 26 * WEEK_MS, week_ms - 7 * WEEK_MS)
        .into_iter()
        .cloned()
        .collect();
    let associations = weekly
        .correlations
        .iter()
        .filter(|c| c.p_value.is_some_and(|p| p <= 0.05))
        .cloned()
        .collect();
    // Trends as of the digest's week (`trends_of` reads the complete weeks of what it is given).
    let mut movers: Vec<(String, f64, bool)> = crate::analysis::weekly::trends_of(&rows[..=i])
        .into_iter()
        .filter_map(|(name, t)| {
            let worse_up = higher_is_worse(name)?;
            let q = t.qoq.filter(|q| q.is_finite() && q.abs() >= 0.1)?;
            Some((name.replace('_', " "), q, (q > 0.0) == worse_up))
        })
        .collect();
    // Worse first, then by size.
    movers.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.abs().total_cmp(&a.1.abs())));
    movers.truncate(5);
    let gaps = row
        .coverage
        .iter()
        .filter(|(_, c)| matches!(c, Coverage::Missing | Coverage::Stale))
        .map(|(k, c)| format!("{k} ({c})"))
        .collect();

    Ok(Digest {
        calendar: cal,
        week_ms,
        iso_week: iso_week(cal, week_ms),
        week: day(week_ms),
        pressure,
        p_before,
        shift,
        last_shift,
        drivers,
        row,
        slos: slo_lines,
        delivery,
        teams,
        unowned,
        ownership_conflicts: owners.conflicts().iter().map(ToString::to_string).collect(),
        system,
        products,
        bugs,
        band_year: app.config.analysis.dora_report_year,
        change_points,
        associations,
        movers,
        gaps,
        customers: customers(app, week_ms)?,
    })
}

/// Name of a component for people.
pub fn component_name(c: Component) -> &'static str {
    match c {
        Component::ArrGrowth => "ARR growth",
        Component::NetNewMrr => "net new MRR",
        Component::Nrr => "NRR",
        Component::NewLogos => "new logos",
        Component::ErrorBudget => "error budget spent",
        Component::Availability => "availability",
        Component::ChangeFailureRate => "change failure rate",
        Component::RecoveryTime => "recovery time",
        Component::Incidents => "incidents",
        Component::Churn => "churn and contraction (1 - GRR)",
        Component::BugInflow => "bug inflow",
        Component::SupportLoad => "support tickets per 100 customers",
        Component::CustomerPain => "revenue-weighted customer pain",
        Component::CostVsRevenue => "cost growth against revenue growth",
        Component::Margin => "margin against its own history",
    }
}
