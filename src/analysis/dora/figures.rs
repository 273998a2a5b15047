//! DORA figures over a window of weeks, per service or org-wide, with their bands.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Band, BandTable, DeployFacts, DoraModel, IncidentFacts};
use crate::analysis::{DAY_MS, WEEK_MS};

/// One of the five DORA metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Deployment frequency.
    DeploymentFrequency,
    /// Lead time for changes.
    LeadTime,
    /// Change failure rate.
    ChangeFailureRate,
    /// Failed-deployment recovery time.
    RecoveryTime,
    /// Rework rate.
    ReworkRate,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 5] = [
        Metric::DeploymentFrequency,
        Metric::LeadTime,
        Metric::ChangeFailureRate,
        Metric::RecoveryTime,
        Metric::ReworkRate,
    ];

    /// snake_case name (the `metric` label of `barometer_dora_band`).
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::DeploymentFrequency => "deployment_frequency",
            Metric::LeadTime => "lead_time",
            Metric::ChangeFailureRate => "change_failure_rate",
            Metric::RecoveryTime => "recovery_time",
            Metric::ReworkRate => "rework_rate",
        }
    }
}

impl FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Metric::ALL.iter().map(|m| m.as_str()).collect();
                format!("unknown metric {s:?}; expected one of {}", names.join(", "))
            })
    }
}

/// Median and 90th percentile of durations, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Number of values.
    pub n: usize,
}

/// Linear interpolation between closest ranks (Hyndman & Fan 1996, definition 7; the default of
/// R and NumPy). `sorted` must be sorted and non-empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

fn quantiles(mut ms: Vec<i64>) -> Option<Quantiles> {
    if ms.is_empty() {
        return None;
    }
    Some(Quantiles {
        p50: selected_quantile(&mut ms, 0.5),
        p90: selected_quantile(&mut ms, 0.9),
        n: ms.len(),
    })
}

/// [`quantile`] of unsorted millisecond values, in seconds: the two closest ranks are found by
/// selection, O(n), instead of sorting every window (a 13-week window re-sorted the same samples
/// for each of its weeks; sorting was half the weekly figures' time, BENCHMARKS.md, issue 21).
/// The same ranks and the same arithmetic as [`quantile`], so the same figure to the last bit.
pub(super) fn selected_quantile(ms: &mut [i64], q: f64) -> f64 {
    let h = (ms.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    let (_, lo_value, above) = ms.select_nth_unstable(lo);
    let lo_value = *lo_value;
    // `hi` is `lo` or `lo + 1`, and then the smallest value above rank `lo`.
    let hi_value = if hi == lo {
        lo_value
    } else {
        above.iter().copied().min().unwrap_or(lo_value)
    };
    let (a, b) = (lo_value as f64 / 1000.0, hi_value as f64 / 1000.0);
    a + (h - lo as f64) * (b - a)
}

/// A proportion with its Wilson score interval (Wilson 1927, "Probable inference, the law of
/// succession, and statistical inference", JASA 22:209–212), z = 1.96 for 95 %.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// k / n.
    pub value: f64,
    /// Successes (failures, unplanned deployments …).
    pub k: u64,
    /// Trials.
    pub n: u64,
    /// Lower bound of the 95 % interval.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// Fewer than 5 trials: the value says little.
    pub low_n: bool,
}

impl Ratio {
    /// `None` when `n` is 0.
    pub fn new(k: u64, n: u64) -> Option<Self> {
        if n == 0 {
            return None;
        }
        let (kf, nf) = (k as f64, n as f64);
        let p = kf / nf;
        let z = 1.96_f64;
        let z2 = z * z;
        let denom = 1.0 + z2 / nf;
        let centre = (p + z2 / (2.0 * nf)) / denom;
        let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
        Some(Self {
            value: p,
            k,
            n,
            lo: (centre - half).max(0.0),
            hi: (centre + half).min(1.0),
            low_n: n < 5,
        })
    }
}

/// How much of a figure rests on resolved data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Share of deployments whose change set was resolved (exact, lookback or empty).
    pub change_sets_resolved: Option<f64>,
    /// Share of incidents attributed to a deployment.
    pub incidents_attributed: Option<f64>,
}

/// The DORA figures of one service (or the org) over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoraFigures {
    /// Window start, ms (a Monday).
    pub from_ms: i64,
    /// Window end, ms (exclusive).
    pub to_ms: i64,
    /// Successful deployments.
    pub deployments: u64,
    /// Distinct UTC days with a successful deployment.
    pub deploy_days: u64,
    /// Successful deployments per week.
    pub deployments_per_week: f64,
    /// Deployments that reached a final state (the change failure rate's denominator).
    pub attempted: u64,
    /// Change failure rate: attempted deployments with a failure signal.
    pub change_failure_rate: Option<Ratio>,
    /// Lead time for changes, seconds.
    pub lead_time: Option<Quantiles>,
    /// First commit → PR opened, seconds.
    pub coding_time: Option<Quantiles>,
    /// PR opened → merged, seconds.
    pub review_time: Option<Quantiles>,
    /// Merged → deployed, seconds.
    pub waiting_time: Option<Quantiles>,
    /// Failed-deployment recovery time, seconds (failures that started in the window).
    pub recovery_time: Option<Quantiles>,
    /// Failures in the window not yet recovered.
    pub unrecovered: u64,
    /// Rework rate: unplanned / successful deployments.
    pub rework_rate: Option<Ratio>,
    /// Incidents opened in the window.
    pub incidents: u64,
    /// DORA band of each metric that has one.
    pub bands: BTreeMap<Metric, Band>,
    /// Coverage.
    pub coverage: Coverage,
}

/// Computes the figures from the deployments and incidents of a window.
fn figures<'a>(
    deployments: impl Iterator<Item = &'a DeployFacts>,
    incidents: impl Iterator<Item = &'a IncidentFacts>,
    from_ms: i64,
    to_ms: i64,
    bands: &BandTable,
) -> DoraFigures {
    let (mut ok, mut attempted, mut failed, mut unplanned, mut resolved) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    // Deployment days, deduplicated at the end (a vector: a window holds a few dozen).
    let mut days: Vec<i64> = Vec::new();
    let (mut lead, mut coding, mut review, mut waiting, mut recovery) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut unrecovered = 0;
    for d in deployments {
        attempted += 1;
        if d.change_set != super::ChangeSet::Unresolved {
            resolved += 1;
        }
        if d.failed() {
            failed += 1;
            match &d.recovery {
                Some(r) => recovery.push(r.duration_ms),
                None => unrecovered += 1,
            }
        }
        if !d.succeeded() {
            continue;
        }
        ok += 1;
        days.push(d.at_ms.div_euclid(DAY_MS));
        if d.unplanned.is_some() {
            unplanned += 1;
        }
        for c in &d.changes {
            match &c.commit_leads_ms {
                Some(per_commit) => lead.extend(per_commit),
                None => lead.push(c.lead_ms),
            }
            if let (Some(o), Some(m)) = (c.opened_ms, c.merged_ms) {
                coding.push(o - c.first_commit_ms);
                review.push(m - o);
                waiting.push(d.at_ms - m);
            }
        }
    }
    let (mut n_inc, mut attributed) = (0u64, 0u64);
    for i in incidents {
        n_inc += 1;
        if !i.deployments.is_empty() {
            attributed += 1;
        }
    }
    days.sort_unstable();
    days.dedup();
    let weeks = ((to_ms - from_ms) as f64 / WEEK_MS as f64).max(1.0 / 7.0);
    let per_week = ok as f64 / weeks;
    let mut f = DoraFigures {
        from_ms,
        to_ms,
        deployments: ok,
        deploy_days: days.len() as u64,
        deployments_per_week: per_week,
        attempted,
        change_failure_rate: Ratio::new(failed, attempted),
        lead_time: quantiles(lead),
        coding_time: quantiles(coding),
        review_time: quantiles(review),
        waiting_time: quantiles(waiting),
        recovery_time: quantiles(recovery),
        unrecovered,
        rework_rate: Ratio::new(unplanned, ok),
        incidents: n_inc,
        bands: BTreeMap::new(),
        coverage: Coverage {
            change_sets_resolved: (attempted > 0).then(|| resolved as f64 / attempted as f64),
            incidents_attributed: (n_inc > 0).then(|| attributed as f64 / n_inc as f64),
        },
    };
    let mut band = |m: Metric, v: Option<f64>, t: &super::bands::Thresholds| {
        if let Some(b) = v.and_then(|v| t.band(v)) {
            f.bands.insert(m, b);
        }
    };
    band(
        Metric::DeploymentFrequency,
        Some(per_week),
        &bands.deployment_frequency,
    );
    band(
        Metric::LeadTime,
        f.lead_time.map(|q| q.p50),
        &bands.lead_time,
    );
    band(
        Metric::ChangeFailureRate,
        f.change_failure_rate.map(|r| r.value),
        &bands.change_failure_rate,
    );
    band(
        Metric::RecoveryTime,
        f.recovery_time.map(|q| q.p50),
        &bands.recovery_time,
    );
    f
}

/// The figures of one service (`None` = org-wide) over `[from_ms, to_ms)`.
pub fn window(
    model: &DoraModel,
    service: Option<&str>,
    from_ms: i64,
    to_ms: i64,
    bands: &BandTable,
) -> DoraFigures {
    let deps = model
        .deployments_of(service)
        .iter()
        .filter(|d| d.at_ms >= from_ms && d.at_ms < to_ms);
    let incs = model.incidents.iter().filter(|i| {
        i.opened_ms >= from_ms
            && i.opened_ms < to_ms
            && service.is_none_or(|s| i.service.as_deref() == Some(s))
    });
    figures(deps, incs, from_ms, to_ms, bands)
}

/// One week's figures with the rolling 4- and 13-week figures ending with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoraWeek {
    /// Monday 00:00 UTC, ms.
    pub week_ms: i64,
    /// Service, or `None` for the org or a team.
    pub service: Option<String>,
    /// The team, when the figures pool a team's services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The week alone.
    pub week: DoraFigures,
    /// The 4 weeks ending with this one.
    pub rolling_4w: DoraFigures,
    /// The 13 weeks ending with this one.
    pub rolling_13w: DoraFigures,
}

/// Weekly figures for the given weeks (Mondays, ms, ascending), each with rolling windows.
///
/// Deployments and incidents are bucketed by week once, so a rolling window pools the raw values
/// of its weeks (a 13-week median is the median of 13 weeks of lead times, not a median of
/// medians) without scanning the whole history for every week.
pub fn weekly(
    model: &DoraModel,
    service: Option<&str>,
    weeks: &[i64],
    bands: &BandTable,
) -> Vec<DoraWeek> {
    let mut out = pooled(
        model,
        model.deployments_of(service),
        |i| service.is_none_or(|s| i.service.as_deref() == Some(s)),
        weeks,
        bands,
    );
    for w in &mut out {
        w.service = service.map(str::to_owned);
    }
    out
}

/// [`weekly`] for a team: the deployments and incidents of every service it owns, pooled, so that
/// a team's median lead time is one median over all its changes (never a median of its services'
/// medians) and its change failure rate is its failed deployments over all its deployments.
pub fn weekly_team(
    model: &DoraModel,
    team: &str,
    services: &[String],
    weeks: &[i64],
    bands: &BandTable,
) -> Vec<DoraWeek> {
    let owned = |s: Option<&str>| s.is_some_and(|s| services.iter().any(|x| x == s));
    let deps = services
        .iter()
        .flat_map(|s| model.deployments_of(Some(s.as_str())));
    let mut out = pooled(model, deps, |i| owned(i.service.as_deref()), weeks, bands);
    for w in &mut out {
        w.team = Some(team.to_owned());
    }
    out
}

/// The longest window a week's figures read: the week and the 12 before it (`rolling_13w`).
/// Each of a week's figures comes from the facts of the weeks in its windows alone, which is
/// what bringing figures up to date after a change relies on (`query::views`).
pub const LONGEST_WINDOW_WEEKS: i64 = 13;

/// The weekly figures of the given deployments and of the incidents `incident` keeps.
fn pooled<'a>(
    model: &'a DoraModel,
    deployments: impl IntoIterator<Item = &'a DeployFacts>,
    incident: impl Fn(&IncidentFacts) -> bool,
    weeks: &[i64],
    bands: &BandTable,
) -> Vec<DoraWeek> {
    let mut deps: BTreeMap<i64, Vec<&DeployFacts>> = BTreeMap::new();
    for d in deployments {
        deps.entry(model.calendar.week_start(d.at_ms))
            .or_default()
            .push(d);
    }
    let mut incs: BTreeMap<i64, Vec<&IncidentFacts>> = BTreeMap::new();
    for i in model.incidents.iter().filter(|i| incident(i)) {
        incs.entry(model.calendar.week_start(i.opened_ms))
            .or_default()
            .push(i);
    }
    let span = |w: i64, n: i64| {
        let from = w - (n - 1) * WEEK_MS;
        let to = w + WEEK_MS;
        figures(
            deps.range(from..to).flat_map(|(_, v)| v.iter().copied()),
            incs.range(from..to).flat_map(|(_, v)| v.iter().copied()),
            from,
            to,
            bands,
        )
    };
    weeks
        .iter()
        .map(|&w| DoraWeek {
            week_ms: w,
            service: None,
            team: None,
            week: span(w, 1),
            rolling_4w: span(w, 4),
            rolling_13w: span(w, LONGEST_WINDOW_WEEKS),
        })
        .collect()
}

/// [`weekly`] for several services (`None` = the organisation) at once, on every core.
pub fn weekly_each(
    model: &DoraModel,
    scopes: &[Option<String>],
    weeks: &[i64],
    bands: &BandTable,
) -> Vec<Vec<DoraWeek>> {
    super::parallel_map(scopes, |s| weekly(model, s.as_deref(), weeks, bands))
}

/// Whose figures: the organisation, one service, or a team's services pooled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every deployment and incident.
    Org,
    /// One service.
    Service(String),
    /// A team: its services' samples pooled.
    Team {
        /// The team's name.
        name: String,
        /// The services it owns.
        services: Vec<String>,
    },
}

impl Scope {
    /// The figures of this scope for the given weeks.
    pub fn weekly(&self, model: &DoraModel, weeks: &[i64], bands: &BandTable) -> Vec<DoraWeek> {
        match self {
            Scope::Org => weekly(model, None, weeks, bands),
            Scope::Service(s) => weekly(model, Some(s), weeks, bands),
            Scope::Team { name, services } => weekly_team(model, name, services, weeks, bands),
        }
    }
}

/// [`Scope::weekly`] for several scopes at once, on every core.
pub fn weekly_scopes(
    model: &DoraModel,
    scopes: &[Scope],
    weeks: &[i64],
    bands: &BandTable,
) -> Vec<Vec<DoraWeek>> {
    super::parallel_map(scopes, |s| s.weekly(model, weeks, bands))
}

/// The chain behind a figure: the week's figures, and every deployment with its changes, pull
/// requests, commits, failure signals and recovery, and the week's incidents.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Service, or `None` for the org.
    pub service: Option<String>,
    /// The week, ms.
    pub week_ms: i64,
    /// The metric asked about.
    pub metric: Metric,
    /// The figure, as a number (seconds, ratio, or per week), if there is one.
    pub value: Option<f64>,
    /// In words: how it was computed.
    pub formula: String,
    /// The week's figures.
    pub figures: DoraFigures,
    /// The deployments behind it (for the recovery time: those that failed).
    pub deployments: Vec<DeployFacts>,
    /// Incidents opened in the week.
    pub incidents: Vec<IncidentFacts>,
}

/// Explains one metric of one service (or the org) in one week.
pub fn explain(
    model: &DoraModel,
    service: Option<&str>,
    week_ms: i64,
    metric: Metric,
    bands: &BandTable,
) -> Explanation {
    let week_ms = model.calendar.week_start(week_ms);
    let to = week_ms + WEEK_MS;
    let f = window(model, service, week_ms, to, bands);
    let (value, formula) = match metric {
        Metric::DeploymentFrequency => (
            Some(f.deployments_per_week),
            format!("{} successful deployments in the week", f.deployments),
        ),
        Metric::LeadTime => (
            f.lead_time.map(|q| q.p50),
            "median over the changes shipped of (deployment time − first commit time), seconds"
                .into(),
        ),
        Metric::ChangeFailureRate => (
            f.change_failure_rate.map(|r| r.value),
            format!(
                "{} deployments with a failure signal / {} deployments that reached a final state",
                f.change_failure_rate.map(|r| r.k).unwrap_or(0),
                f.attempted
            ),
        ),
        Metric::RecoveryTime => (
            f.recovery_time.map(|q| q.p50),
            "median over failed deployments of (next healthy deployment or incidents resolved − failed deployment), seconds".into(),
        ),
        Metric::ReworkRate => (
            f.rework_rate.map(|r| r.value),
            format!(
                "{} unplanned deployments (only reverts, hotfixes, incident fixes, or rollbacks) / {} successful deployments",
                f.rework_rate.map(|r| r.k).unwrap_or(0),
                f.deployments
            ),
        ),
    };
    let deployments = model
        .deployments_of(service)
        .iter()
        .filter(|d| d.at_ms >= week_ms && d.at_ms < to)
        .filter(|d| match metric {
            Metric::RecoveryTime => d.failed(),
            Metric::LeadTime | Metric::DeploymentFrequency | Metric::ReworkRate => d.succeeded(),
            Metric::ChangeFailureRate => true,
        })
        .cloned()
        .collect();
    let incidents = model
        .incidents
        .iter()
        .filter(|i| {
            i.opened_ms >= week_ms
                && i.opened_ms < to
                && service.is_none_or(|s| i.service.as_deref() == Some(s))
        })
        .cloned()
        .collect();
    Explanation {
        service: service.map(str::to_owned),
        week_ms,
        metric,
        value,
        formula,
        figures: f,
        deployments,
        incidents,
    }
}
