//! The pressure index: growth momentum G against resilience need R, a regime per week, and shift
//! events with their evidence. The model is written down in `docs/pressure.md`.
//!
//! Each component is scored against an anchor that does not move with the data wherever one
//! exists (the SLO and its error budget, the DORA band thresholds, NRR 100 %, GRR benchmarks, the
//! configured growth plan); only incidents and new logos, which have no such anchor, are scored
//! against the organisation's own history, over a baseline that ends weeks before the scored
//! week so that a new regime is not absorbed into its own baseline.
//!
//! - R components are scored in [0, 1]: 0 at or better than the healthy anchor, 1 at or beyond
//!   the alarming one. A healthy system has no resilience need, not a negative one.
//! - G components are scored in [−1, 1]: 0 = not growing, 1 = growing at (or above) plan,
//!   negative = shrinking.
//! - P = R̄ − Ḡ (weighted means of the components present), in [−1, 2]; negative = growth
//!   pressure dominates, positive = resilience pressure dominates. Both sides stay visible.
//!
//! Slower growth lowers G; it raises R only through churn and contraction (1 − GRR). Deployment
//! frequency and lead time are left out of P: they are the response P is related to, and DORA's
//! research finds speed and stability move together.
//!
//! P says where the organisation stands; the regime moves on evidence of a change: each
//! component against its own recent history (`evidence`), combined per side, a calibrated
//! threshold, agreement of several independent resilience signals while the error budget holds,
//! and a watch state for evidence still under the threshold (`regime`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::dora::BandTable;
use crate::analysis::{Calendar, WEEK_MS};
pub use crate::model::{Forced, PressureStatus, ShiftTrigger};

/// What one week of the organisation looks like, as the index reads it. Every field is optional:
/// missing is never zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WeekSignals {
    /// Monday 00:00 UTC, ms.
    pub week_ms: i64,
    /// The current, incomplete week: shown, never scored.
    pub partial: bool,
    /// MRR of the month the week belongs to (carried, with `revenue_as_of`).
    pub mrr: Option<f64>,
    /// MRR three months earlier.
    pub mrr_3m_ago: Option<f64>,
    /// Net new MRR of the month.
    pub net_new_mrr: Option<f64>,
    /// Net revenue retention, ratio.
    pub nrr: Option<f64>,
    /// Gross revenue retention, ratio.
    pub grr: Option<f64>,
    /// New customers in the month.
    pub new_logos: Option<f64>,
    /// The month the revenue figures are from.
    pub revenue_as_of: Option<String>,
    /// Share of the error budget spent over the last 4 weeks (1 = exhausted), worst SLO.
    pub budget_consumed_4w: Option<f64>,
    /// The week's burn rate, (1 − availability) / (1 − target), worst SLO; the worst of the
    /// availability SLOs alone where the latency SLOs are given apart (`latency_burn_rate`).
    pub burn_rate: Option<f64>,
    /// The week's burn rate of the worst latency SLO (an objective on the share of slow
    /// requests), where the scope's SLOs say which measure latency; `None` otherwise, and the
    /// latency SLOs are then in `burn_rate` with the rest.
    pub latency_burn_rate: Option<f64>,
    /// Change failure rate over the last 4 weeks.
    pub cfr_4w: Option<f64>,
    /// Median failed-deployment recovery time over the last 4 weeks, seconds.
    pub recovery_4w_s: Option<f64>,
    /// Deployments of the week alone that reached a final state (the week's CFR denominator).
    /// With `failures_week`, the detector reads a CFR of the last 2 weeks, which shows a change
    /// two weeks before the 4-week window fills.
    pub attempted_week: Option<f64>,
    /// Of `attempted_week`, those with a failure signal.
    pub failures_week: Option<f64>,
    /// Median recovery time of the failures that started in the week alone, seconds.
    pub recovery_week_s: Option<f64>,
    /// How many recoveries `recovery_week_s` is the median of.
    pub recoveries_week: Option<f64>,
    /// Incidents opened in the week.
    pub incidents: Option<f64>,
    /// Bugs opened in the week (GitHub issues with a bug label, `docs/bugs.md`); `None` when the
    /// scope has no bug data at all, so the optional `bug_inflow` component is left out.
    pub bugs_opened: Option<f64>,
    /// Support tickets opened in the week per 100 paying customers (`docs/support.md`); `None`
    /// where the scope has no ticket data, so the optional `support_load` component is left out.
    pub support_per_100: Option<f64>,
    /// The week's revenue-weighted customer pain: Σ over opened tickets of the customer's share of
    /// ARR, × 100 (`docs/support.md`); `None` without ticket and revenue data (`customer_pain`).
    pub support_pain: Option<f64>,
    /// Cloud cost growth over the 3 months to the week's month (0.25 = +25 %, `docs/cost.md`);
    /// `None` without cost data (`cost_vs_revenue` is then left out).
    pub cost_growth_3m: Option<f64>,
    /// MRR growth over the same 3 months, the other half of `cost_vs_revenue`.
    pub revenue_growth_3m: Option<f64>,
    /// The month's margin ratio (the configured Rule-of-40 margin, `docs/cost.md`); `None`
    /// without margin data (`margin` is then left out).
    pub margin: Option<f64>,
    /// The month's Rule of 40 score (ARR growth % + margin %), read only by the profitability tag.
    pub rule_of_40: Option<f64>,
    /// Successful deployments in the week (a response, not part of P).
    pub deployments: Option<f64>,
    /// Median lead time of the week, seconds (a response, not part of P).
    pub lead_time_s: Option<f64>,
}

/// A component of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// G: ARR growth rate, annualised from the trailing 3 months of MRR, against the plan.
    ArrGrowth,
    /// G: net new MRR / MRR of the month, against the plan's monthly rate.
    NetNewMrr,
    /// G: NRR against 100 %.
    Nrr,
    /// G: new logos against the organisation's own history.
    NewLogos,
    /// R: error budget spent over 4 weeks.
    ErrorBudget,
    /// R: the week's burn rate against the SLO.
    Availability,
    /// R: the week's burn rate of the latency SLOs, where they are told apart from the
    /// availability ones.
    Latency,
    /// R: change failure rate against the DORA bands.
    ChangeFailureRate,
    /// R: recovery time against the DORA bands.
    RecoveryTime,
    /// R: incidents against the organisation's own history.
    Incidents,
    /// R: gross churn and contraction (1 − GRR) against GRR benchmarks.
    Churn,
    /// R (optional): bugs opened against the scope's own history; present only where bug data
    /// exists.
    BugInflow,
    /// R (optional): support tickets per 100 customers against the scope's own history.
    SupportLoad,
    /// R (optional): revenue-weighted customer pain against the scope's own history.
    CustomerPain,
    /// Profitability (optional): cost growth minus revenue growth against its own history;
    /// outside P, read by the profitability tag.
    CostVsRevenue,
    /// Profitability (optional): the margin falling against its own history; outside P.
    Margin,
}

/// The side of the index a component belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Growth momentum Ḡ.
    Growth,
    /// Resilience need R̄.
    Resilience,
    /// The profitability tag: shown with its scores, outside P (`docs/pressure.md`).
    Profitability,
}

impl Side {
    /// Lower-case name (the `side` label of `/metrics`).
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Growth => "growth",
            Side::Resilience => "resilience",
            Side::Profitability => "profitability",
        }
    }
}

impl Component {
    /// The components that join only where their data exists; every output says which of them
    /// were used and which were missing.
    pub const OPTIONAL: [Component; 5] = [
        Component::BugInflow,
        Component::SupportLoad,
        Component::CustomerPain,
        Component::CostVsRevenue,
        Component::Margin,
    ];

    /// Names, comma-separated, or `none`: how the faces list the optional components used and
    /// missing.
    pub fn names(cs: &[Component]) -> String {
        if cs.is_empty() {
            return "none".to_owned();
        }
        let v: Vec<&str> = cs.iter().map(|c| c.as_str()).collect();
        v.join(", ")
    }

    /// Which side it belongs to.
    pub fn side(self) -> Side {
        if self.is_growth() {
            Side::Growth
        } else if matches!(self, Component::CostVsRevenue | Component::Margin) {
            Side::Profitability
        } else {
            Side::Resilience
        }
    }

    /// Whether the week has the data this optional component reads (`None` for the components
    /// that are not optional).
    pub fn data_in(self, w: &WeekSignals) -> Option<bool> {
        Some(match self {
            Component::BugInflow => w.bugs_opened.is_some(),
            Component::SupportLoad => w.support_per_100.is_some(),
            Component::CustomerPain => w.support_pain.is_some(),
            Component::CostVsRevenue => w.cost_growth_3m.zip(w.revenue_growth_3m).is_some(),
            Component::Margin => w.margin.is_some(),
            _ => return None,
        })
    }

    /// Every component, G first.
    pub const ALL: [Component; 16] = [
        Component::ArrGrowth,
        Component::NetNewMrr,
        Component::Nrr,
        Component::NewLogos,
        Component::ErrorBudget,
        Component::Availability,
        Component::Latency,
        Component::ChangeFailureRate,
        Component::RecoveryTime,
        Component::Incidents,
        Component::Churn,
        Component::BugInflow,
        Component::SupportLoad,
        Component::CustomerPain,
        Component::CostVsRevenue,
        Component::Margin,
    ];

    /// Whether it is part of growth momentum (else resilience need).
    pub fn is_growth(self) -> bool {
        matches!(
            self,
            Component::ArrGrowth | Component::NetNewMrr | Component::Nrr | Component::NewLogos
        )
    }

    /// snake_case name, as in `[analysis.weights]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::ArrGrowth => "arr_growth",
            Component::NetNewMrr => "net_new_mrr",
            Component::Nrr => "nrr",
            Component::NewLogos => "new_logos",
            Component::ErrorBudget => "error_budget",
            Component::Availability => "availability",
            Component::Latency => "latency",
            Component::ChangeFailureRate => "change_failure_rate",
            Component::RecoveryTime => "recovery_time",
            Component::Incidents => "incidents",
            Component::Churn => "churn",
            Component::BugInflow => "bug_inflow",
            Component::SupportLoad => "support_load",
            Component::CustomerPain => "customer_pain",
            Component::CostVsRevenue => "cost_vs_revenue",
            Component::Margin => "margin",
        }
    }
}

/// The regime of a week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// Growth pressure dominates: ship features.
    Growth,
    /// Neither dominates.
    Balanced,
    /// Resilience pressure dominates: stability, availability, support.
    Resilience,
}

impl Regime {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Regime::Growth => "growth",
            Regime::Balanced => "balanced",
            Regime::Resilience => "resilience",
        }
    }

    fn rank(self) -> i8 {
        match self {
            Regime::Growth => -1,
            Regime::Balanced => 0,
            Regime::Resilience => 1,
        }
    }
}

/// Settings of the index (`[analysis]` and `[analysis.weights]`). Nothing is fitted when the
/// daemon runs: the detector's constants below were calibrated once, offline, by the evaluation
/// in `bench/pressure_eval` (see `docs/pressure.md` and `BENCHMARKS.md`).
#[derive(Debug, Clone)]
pub struct PressureSettings {
    /// Weight of each component (missing = 1).
    pub weights: BTreeMap<Component, f64>,
    /// Planned annual ARR growth, e.g. 0.3: growing at plan scores G = 1.
    pub growth_plan: f64,
    /// Scored weeks before the index reports a number.
    pub min_points: usize,
    /// The regime the index starts in once warmed up: P at or below −threshold is growth, at or
    /// above +threshold resilience.
    pub threshold: f64,
    /// Weight of the newest week in the exponential smoothing of P.
    pub smoothing: f64,
    /// Threshold of the resilience side's change statistic (the mean of its combined evidence
    /// over `recent_weeks`, z units), calibrated on noise-only organisations.
    pub alarm_h: f64,
    /// Threshold of the growth side's change statistic (a slowdown, or growth back), calibrated
    /// the same way; revenue is monthly and noisier, so it is set apart.
    pub growth_alarm_h: f64,
    /// Leaving resilience takes this share of `alarm_h` (with `agree_leave`): the way in was
    /// an exhausted budget or several agreeing signals, the way back is seen in fewer of them
    /// at first (the 4-week windows lag), and the error-budget policy holds the regime while
    /// the budget is spent.
    pub leave_share: f64,
    /// Evidence building past this share of a threshold is shown as a watch.
    pub watch_share: f64,
    /// Families of resilience components that must have moved the same way (mean z over
    /// `recent_weeks` at least `agree_weak_z`) before a resilience call while the error budget
    /// holds, `agree_clear` of them clearly (at least `agree_z`). By default all three clearly:
    /// letting the third count from z ≥ 1 (its 4-week window still filling) called quiet shifts
    /// a week earlier on the evaluation, but also turned the demo's three-week outage, which
    /// moves the SLO, recovery time and CFR together, into a resilience regime that then held
    /// for nine months (`BENCHMARKS.md`); the knobs stay for the evaluation to explore.
    pub agree: usize,
    /// See `agree`.
    pub agree_clear: usize,
    /// See `agree`.
    pub agree_z: f64,
    /// See `agree`.
    pub agree_weak_z: f64,
    /// Whether growth falling (a growth component moved by at least `agree_z` towards
    /// resilience) counts as one of the `agree_clear` families: the regime weighs resilience
    /// need against growth momentum (P = R̄ − Ḡ), and a quiet shift into resilience stalls growth
    /// as it strains reliability. At least `agree_clear` − 1 resilience families must still
    /// have moved clearly, so a slowdown alone never reaches it.
    pub growth_supports: bool,
    /// Families of resilience components that must be back (mean z at most −`agree_z`) before
    /// the regime leaves resilience.
    pub agree_leave: usize,
    /// Weeks over which the components' moves are averaged for agreement and for the watch.
    pub recent_weeks: usize,
    /// Winsorisation of each component's z: one outlier week counts at most this much.
    pub z_cap: f64,
    /// The calendar the shift summaries name their weeks in.
    pub calendar: Calendar,
    /// Weeks between a component's baseline and the week scored, so that a new level is not
    /// absorbed into its own baseline.
    pub baseline_gap: usize,
    /// Longest baseline, weeks.
    pub baseline_len: usize,
    /// Shortest baseline, weeks (after a shift the baseline restarts at the shift's start).
    pub baseline_min: usize,
    /// DORA bands (anchors of CFR and recovery time).
    pub bands: BandTable,
}

impl PressureSettings {
    /// The documented defaults, with a band table.
    pub fn with_bands(bands: BandTable) -> Self {
        Self {
            weights: BTreeMap::new(),
            growth_plan: 0.3,
            min_points: 12,
            threshold: 0.25,
            smoothing: 0.5,
            alarm_h: 3.9,
            growth_alarm_h: 4.3,
            leave_share: 0.5,
            watch_share: 0.5,
            agree: 3,
            agree_clear: 3,
            agree_z: 2.0,
            agree_weak_z: 2.0,
            growth_supports: true,
            agree_leave: 2,
            recent_weeks: 2,
            z_cap: 3.0,
            baseline_gap: 6,
            baseline_len: 52,
            baseline_min: 10,
            bands,
            calendar: Calendar::UTC,
        }
    }

    fn weight(&self, c: Component) -> f64 {
        self.weights.get(&c).copied().unwrap_or(1.0).max(0.0)
    }
}

/// How far one component moved against its own history: a winsorised robust z, signed so that
/// positive points towards resilience (a resilience component rising, a growth one falling).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Push {
    /// Which.
    pub component: Component,
    /// Its z.
    pub z: f64,
}

/// Evidence of a change building up but not (yet) enough for a regime change: shown so that the
/// product can warn early without declaring a shift it may take back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Watch {
    /// The regime the evidence points at.
    pub towards: Regime,
    /// The change statistic in that direction, in units of its threshold.
    pub statistic: f64,
    /// The threshold of a regime change in those units: 1.
    pub threshold: f64,
    /// What is still missing, if the statistic is past the threshold (agreement of components).
    pub waiting_for: Option<String>,
    /// The components pushing that way (mean z over the recent weeks), strongest first.
    pub components: Vec<Push>,
    /// In words.
    pub summary: String,
}

/// One component's score in one week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// Which.
    pub component: Component,
    /// The input value.
    pub value: f64,
    /// Its score (R: 0…1, G: −1…1).
    pub score: f64,
    /// What it was scored against.
    pub anchor: &'static str,
}

/// The index in one week.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PressureWeek {
    /// Monday, ms.
    pub week_ms: i64,
    /// Scored, or why not.
    pub status: PressureStatus,
    /// Growth momentum Ḡ.
    pub growth: Option<f64>,
    /// Resilience need R̄.
    pub resilience: Option<f64>,
    /// P = R̄ − Ḡ of the week.
    pub p_raw: Option<f64>,
    /// P smoothed (exponentially, `smoothing`).
    pub p: Option<f64>,
    /// Regime (once warmed up).
    pub regime: Option<Regime>,
    /// Why the regime was forced, if it was (an exhausted error budget).
    pub forced: Option<Forced>,
    /// Component scores.
    pub components: Vec<Scored>,
    /// Combined evidence of a change this week (z units; positive towards resilience), once
    /// the components have a baseline.
    pub signal: Option<f64>,
    /// Upward change statistic (towards resilience): the mean combined evidence of the last
    /// `recent_weeks`, the larger of the two sides, z units (the name is kept for the API).
    pub cusum_up: f64,
    /// Downward change statistic (towards growth).
    pub cusum_down: f64,
    /// The components that moved against their own history over the recent weeks (mean z of
    /// at least `agree_z` either way), strongest first.
    pub moved: Vec<Push>,
    /// Evidence building under the threshold (or waiting for agreement), if any.
    pub watch: Option<Watch>,
    /// The optional components whose data the week has (they are in `components`).
    pub optional_used: Vec<Component>,
    /// The optional components whose data the week lacks: left out, never zero.
    pub optional_missing: Vec<Component>,
    /// The profitability tag on the regime, with the figures behind it; `None` where the week
    /// has neither cost nor margin data.
    pub profitability: Option<Profitability>,
}

/// One component's move at a shift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moved {
    /// Which.
    pub component: Component,
    /// Mean score over the 8 weeks before `since`.
    pub before: f64,
    /// Mean score from `since` to the detection week.
    pub after: f64,
    /// Its push on P: (after − before), sign-flipped for G components.
    pub push: f64,
}

/// A regime change with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shift {
    /// The week the change was detected (and adopted), ms.
    pub week_ms: i64,
    /// The week the change began: the most likely start of a single shift in the combined
    /// evidence over the last 20 weeks, or the first week the budget was exhausted.
    pub since_ms: i64,
    /// Previous regime.
    pub from: Regime,
    /// New regime.
    pub to: Regime,
    /// What triggered it: the change statistic with agreeing components, or an exhausted error
    /// budget.
    pub trigger: ShiftTrigger,
    /// The change statistic at detection, in units of its threshold (the name is kept for the
    /// API).
    pub cusum: f64,
    /// Mean P over the 8 weeks before `since`.
    pub p_before: Option<f64>,
    /// Mean P from `since` to detection.
    pub p_after: Option<f64>,
    /// The components that moved most, strongest push first.
    pub evidence: Vec<Moved>,
    /// The change point of P (BOCPD) backing the shift, if one lies within 3 weeks of `since`:
    /// its week, levels, and the posterior probability that a change happened.
    pub change_point: Option<crate::analysis::changepoints::ChangePoint>,
    /// In words.
    pub summary: String,
}

/// The whole analysis.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PressureReport {
    /// One row per input week.
    pub weeks: Vec<PressureWeek>,
    /// Regime changes.
    pub shifts: Vec<Shift>,
}
mod evidence;
mod profit;
mod regime;
mod score;
mod shift;

pub use profit::{ProfitCondition, ProfitEvidence, Profitability, RULE_OF_40};

pub use regime::pressure_unbacked;

/// Computes the index, the regimes and the shifts for consecutive weeks (ascending, one row per
/// week; weeks without data are rows with every field `None`), each shift backed by the change
/// points of P itself.
pub fn pressure(weeks: &[WeekSignals], s: &PressureSettings) -> PressureReport {
    let mut report = pressure_unbacked(weeks, s);
    let cps = crate::analysis::changepoints::change_points(
        "pressure_index",
        &p_series(&report),
        crate::analysis::changepoints::Kind::Continuous,
    );
    back_shifts(&mut report, &cps);
    report
}

/// (week, raw P) of the complete weeks with a P: the series P's change points are found in.
pub fn p_series(report: &PressureReport) -> Vec<(i64, f64)> {
    report
        .weeks
        .iter()
        .filter(|w| w.status != PressureStatus::PartialWeek)
        .filter_map(|w| Some((w.week_ms, w.p_raw?)))
        .collect()
}

/// Backs each shift with the change point of P within 3 weeks of its start, if there is one.
pub fn back_shifts(
    report: &mut PressureReport,
    cps: &[crate::analysis::changepoints::ChangePoint],
) {
    for sh in &mut report.shifts {
        sh.change_point = cps
            .iter()
            .filter(|c| (c.week_ms - sh.since_ms).abs() <= 3 * WEEK_MS)
            .min_by_key(|c| (c.week_ms - sh.since_ms).abs())
            .cloned();
    }
}

/// The rows of consecutive weeks from `from_ms` to `to_ms` (Mondays), for callers that build
/// [`WeekSignals`] from sparse data.
pub fn week_range(from_ms: i64, to_ms: i64) -> Vec<i64> {
    if to_ms < from_ms {
        return Vec::new();
    }
    (0..=(to_ms - from_ms) / WEEK_MS)
        .map(|i| from_ms + i * WEEK_MS)
        .collect()
}

#[cfg(test)]
mod tests;
