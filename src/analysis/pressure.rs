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

use std::collections::BTreeMap;

use serde::Serialize;

use super::dora::BandTable;
use super::{Calendar, WEEK_MS};

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
    /// The week's burn rate, (1 − availability) / (1 − target), worst SLO.
    pub burn_rate: Option<f64>,
    /// Change failure rate over the last 4 weeks.
    pub cfr_4w: Option<f64>,
    /// Median failed-deployment recovery time over the last 4 weeks, seconds.
    pub recovery_4w_s: Option<f64>,
    /// Incidents opened in the week.
    pub incidents: Option<f64>,
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
    /// R: change failure rate against the DORA bands.
    ChangeFailureRate,
    /// R: recovery time against the DORA bands.
    RecoveryTime,
    /// R: incidents against the organisation's own history.
    Incidents,
    /// R: gross churn and contraction (1 − GRR) against GRR benchmarks.
    Churn,
}

impl Component {
    /// Every component, G first.
    pub const ALL: [Component; 10] = [
        Component::ArrGrowth,
        Component::NetNewMrr,
        Component::Nrr,
        Component::NewLogos,
        Component::ErrorBudget,
        Component::Availability,
        Component::ChangeFailureRate,
        Component::RecoveryTime,
        Component::Incidents,
        Component::Churn,
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
            Component::ChangeFailureRate => "change_failure_rate",
            Component::RecoveryTime => "recovery_time",
            Component::Incidents => "incidents",
            Component::Churn => "churn",
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

/// Settings of the index (`[analysis]` and `[analysis.weights]`); nothing is fitted to the data.
#[derive(Debug, Clone)]
pub struct PressureSettings {
    /// Weight of each component (missing = 1).
    pub weights: BTreeMap<Component, f64>,
    /// Planned annual ARR growth, e.g. 0.3: growing at plan scores G = 1.
    pub growth_plan: f64,
    /// Scored weeks before the index reports a number.
    pub min_points: usize,
    /// P at or below −threshold is growth, at or above +threshold resilience.
    pub threshold: f64,
    /// Leaving a regime takes P past its threshold by this much more (hysteresis band).
    pub exit_margin: f64,
    /// Weeks a new regime must hold before it is adopted.
    pub hold_weeks: usize,
    /// Weight of the newest week in the exponential smoothing of P.
    pub smoothing: f64,
    /// CUSUM reference value, in baseline standard deviations.
    pub cusum_k: f64,
    /// CUSUM decision threshold, in baseline standard deviations.
    pub cusum_h: f64,
    /// DORA bands (anchors of CFR and recovery time).
    pub bands: BandTable,
    /// The calendar the shift summaries name their weeks in.
    pub calendar: Calendar,
}

impl PressureSettings {
    /// The documented defaults, with a band table.
    pub fn with_bands(bands: BandTable) -> Self {
        Self {
            weights: BTreeMap::new(),
            growth_plan: 0.3,
            min_points: 12,
            threshold: 0.25,
            exit_margin: 0.1,
            hold_weeks: 2,
            smoothing: 0.5,
            cusum_k: 0.5,
            cusum_h: 6.0,
            bands,
            calendar: Calendar::UTC,
        }
    }

    fn weight(&self, c: Component) -> f64 {
        self.weights.get(&c).copied().unwrap_or(1.0).max(0.0)
    }
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PressureWeek {
    /// Monday, ms.
    pub week_ms: i64,
    /// "scored", "warming up (n/12)", "partial week" or "insufficient data".
    pub status: String,
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
    pub forced: Option<String>,
    /// Component scores.
    pub components: Vec<Scored>,
    /// Upward CUSUM (towards resilience), in baseline standard deviations.
    pub cusum_up: f64,
    /// Downward CUSUM (towards growth).
    pub cusum_down: f64,
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
    /// The week the change began: the most likely start of a single shift in P over the last 20
    /// weeks, the first week the budget was exhausted, or (when the budget is back) the first week
    /// P pointed at the new regime.
    pub since_ms: i64,
    /// Previous regime.
    pub from: Regime,
    /// New regime.
    pub to: Regime,
    /// What triggered it: "cusum", "error budget exhausted" or "error budget restored".
    pub trigger: String,
    /// The CUSUM statistic at detection, in baseline standard deviations.
    pub cusum: f64,
    /// Mean P over the 8 weeks before `since`.
    pub p_before: Option<f64>,
    /// Mean P from `since` to detection.
    pub p_after: Option<f64>,
    /// The components that moved most, strongest push first.
    pub evidence: Vec<Moved>,
    /// The change point of P (BOCPD) backing the shift, if one lies within 3 weeks of `since`:
    /// its week, levels, and the posterior probability that a change happened.
    pub change_point: Option<super::changepoints::ChangePoint>,
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

fn clamp(v: f64, lo: f64, hi: f64) -> f64 {
    if v.is_nan() {
        return v;
    }
    v.clamp(lo, hi)
}

/// Linear from 0 at `good` to 1 at `bad` (either direction), clamped.
fn ramp(v: f64, good: f64, bad: f64) -> f64 {
    clamp((v - good) / (bad - good), 0.0, 1.0)
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Median and scaled MAD (1.4826 · MAD, consistent with σ for normal data; Rousseeuw & Croux
/// 1993), with a floor so that a flat history does not turn noise into huge z-scores.
fn robust(values: &[f64], floor: f64) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let m = median(&mut v)?;
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&mut dev)? * 1.4826;
    Some((m, mad.max(floor)))
}

/// Weeks of own history a history-scored component needs, the gap before the scored week, and
/// the longest baseline.
const BASELINE_MIN: usize = 8;
const BASELINE_GAP: usize = 8;
const BASELINE_LEN: usize = 52;

/// Scores a count at index `i` against the series' own history: a robust z over the baseline of
/// up to 52 weeks ending 8 weeks before, divided by 3 and clamped. The spread is at least the
/// count's Poisson noise, √median, so that a quiet history does not turn one more incident (or
/// a month of fewer sign-ups) into an alarm.
fn history_score(series: &[Option<f64>], i: usize, lo: f64) -> Option<f64> {
    let value = series[i]?;
    let end = i.checked_sub(BASELINE_GAP)?;
    let start = end.saturating_sub(BASELINE_LEN);
    let base: Vec<f64> = series[start..end].iter().flatten().copied().collect();
    if base.len() < BASELINE_MIN {
        return None;
    }
    let (m, s) = robust(&base, 0.5)?;
    let s = s.max(m.max(1.0).sqrt());
    Some(clamp((value - m) / s / 3.0, lo, 1.0))
}

/// Scores every component present in week `i`.
fn score_week(
    weeks: &[WeekSignals],
    i: usize,
    s: &PressureSettings,
    hist: &History,
) -> Vec<Scored> {
    let w = &weeks[i];
    let mut out = Vec::new();
    let mut push = |component, value: Option<f64>, score: Option<f64>, anchor| {
        if let (Some(value), Some(score)) = (value, score) {
            if score.is_finite() {
                out.push(Scored {
                    component,
                    value,
                    score,
                    anchor,
                });
            }
        }
    };
    // Growth: ARR growth annualised from the trailing 3 months, (MRRₜ / MRRₜ₋₃)⁴ − 1.
    let growth = match (w.mrr, w.mrr_3m_ago) {
        (Some(now), Some(then)) if then > 0.0 => Some((now / then).powi(4) - 1.0),
        _ => None,
    };
    let plan = s.growth_plan.max(1e-6);
    push(
        Component::ArrGrowth,
        growth,
        growth.map(|g| clamp(g / plan, -1.0, 1.0)),
        "growth plan (analysis.growth_plan)",
    );
    let plan_monthly = (1.0 + plan).powf(1.0 / 12.0) - 1.0;
    let net_new = match (w.net_new_mrr, w.mrr) {
        (Some(n), Some(m)) if m > 0.0 => Some(n / m),
        _ => None,
    };
    push(
        Component::NetNewMrr,
        net_new,
        net_new.map(|n| clamp(n / plan_monthly, -1.0, 1.0)),
        "monthly rate of the growth plan",
    );
    push(
        Component::Nrr,
        w.nrr,
        w.nrr.map(|n| clamp((n - 1.0) / 0.2, -1.0, 1.0)),
        "NRR 100 % (0) to 120 % (1)",
    );
    // A history-scored component whose signal is present but whose baseline is still too short
    // scores 0 (no evidence either way) rather than dropping out: a component that appears
    // later would otherwise move P by itself, just by entering the mean.
    push(
        Component::NewLogos,
        w.new_logos,
        w.new_logos
            .map(|_| history_score(&hist.new_logos, i, -1.0).unwrap_or(0.0)),
        "own history (52 weeks ending 8 weeks before)",
    );
    // Resilience need.
    push(
        Component::ErrorBudget,
        w.budget_consumed_4w,
        w.budget_consumed_4w.map(|c| ramp(c, 0.25, 1.0)),
        "error budget: 25 % spent in 4 weeks (0) to exhausted (1)",
    );
    push(
        Component::Availability,
        w.burn_rate,
        w.burn_rate.map(|b| ramp(b, 0.5, 2.0)),
        "SLO: burn rate 0.5 (0) to 2 (1)",
    );
    let b = &s.bands;
    push(
        Component::ChangeFailureRate,
        w.cfr_4w,
        w.cfr_4w.map(|c| {
            ramp(
                c,
                b.change_failure_rate.high,
                2.0 * b.change_failure_rate.medium,
            )
        }),
        "DORA bands: high threshold (0) to twice the medium threshold (1)",
    );
    push(
        Component::RecoveryTime,
        w.recovery_4w_s,
        w.recovery_4w_s.map(|t| {
            let (elite, medium) = (b.recovery_time.elite, b.recovery_time.medium);
            ramp(t.max(1.0).ln(), elite.ln(), medium.ln())
        }),
        "DORA bands, log scale: elite threshold (0) to medium threshold (1)",
    );
    push(
        Component::Incidents,
        w.incidents,
        w.incidents
            .map(|_| history_score(&hist.incidents_4w, i, 0.0).unwrap_or(0.0)),
        "own history of 4-week incident counts (52 weeks ending 8 weeks before)",
    );
    let churn = w.grr.map(|g| 1.0 - g);
    push(
        Component::Churn,
        churn,
        w.grr.map(|g| ramp(-g, -0.95, -0.80)),
        "GRR 95 % (0) to 80 % (1); ~90 % is the usual B2B benchmark",
    );
    out
}

/// Series the history-scored components read.
struct History {
    new_logos: Vec<Option<f64>>,
    incidents_4w: Vec<Option<f64>>,
}

impl History {
    fn new(weeks: &[WeekSignals]) -> Self {
        let incidents_4w = (0..weeks.len())
            .map(|i| {
                let from = i.saturating_sub(3);
                let v: Vec<f64> = weeks[from..=i].iter().filter_map(|w| w.incidents).collect();
                (v.len() == i - from + 1).then(|| v.iter().sum())
            })
            .collect();
        Self {
            new_logos: weeks.iter().map(|w| w.new_logos).collect(),
            incidents_4w,
        }
    }
}

fn weighted_mean(scores: &[Scored], growth: bool, s: &PressureSettings) -> Option<f64> {
    let (mut sum, mut wsum) = (0.0, 0.0);
    for c in scores.iter().filter(|c| c.component.is_growth() == growth) {
        let w = s.weight(c.component);
        sum += w * c.score;
        wsum += w;
    }
    (wsum > 0.0).then(|| sum / wsum)
}

/// The regime P points at, given the current one: entering growth or resilience takes P past
/// ±threshold; leaving one takes it back past the threshold by `margin` more, so that P hovering
/// at a threshold does not flap between regimes.
fn threshold_regime(p: f64, current: Option<Regime>, t: f64, margin: f64) -> Regime {
    match current {
        Some(Regime::Resilience) if p >= t - margin => Regime::Resilience,
        Some(Regime::Growth) if p <= -t + margin => Regime::Growth,
        _ if p >= t => Regime::Resilience,
        _ if p <= -t => Regime::Growth,
        _ => Regime::Balanced,
    }
}

/// Two-sided CUSUM (Page 1954) of P standardised against its baseline: the upward and downward
/// statistics.
#[derive(Debug, Clone, Copy, Default)]
struct Cusum {
    up: f64,
    down: f64,
}

impl Cusum {
    fn step(&mut self, z: f64, k: f64) {
        self.up = (self.up + z - k).max(0.0);
        self.down = (self.down - z - k).max(0.0);
    }
}

/// [`pressure`] without the change points of P (which an incremental caller keeps itself).
pub fn pressure_unbacked(weeks: &[WeekSignals], s: &PressureSettings) -> PressureReport {
    let hist = History::new(weeks);
    let mut out: Vec<PressureWeek> = Vec::with_capacity(weeks.len());
    let mut shifts = Vec::new();
    let mut smoothed: Option<f64> = None;
    let mut scored_n = 0usize;
    let mut regime: Option<Regime> = None;
    // The regime the thresholds point at, and since which week.
    let mut pending: Option<(Regime, usize)> = None;
    let mut cusum = Cusum::default();
    // P of scored weeks (index, raw P), for the CUSUM baseline.
    let mut history: Vec<(usize, f64)> = Vec::new();
    // The most recent CUSUM alarm: (week index, direction, statistic).
    let mut alarm: Option<(usize, i8, f64)> = None;
    let mut budget_out_since: Option<usize> = None;
    // Whether the current regime was forced by an exhausted budget (not chosen by P): once the
    // budget is back, P decides again without waiting for a CUSUM alarm.
    let mut forced = false;

    for (i, w) in weeks.iter().enumerate() {
        let components = score_week(weeks, i, s, &hist);
        let growth = weighted_mean(&components, true, s);
        let resilience = weighted_mean(&components, false, s);
        let p_raw = growth.zip(resilience).map(|(g, r)| r - g);
        let mut row = PressureWeek {
            week_ms: w.week_ms,
            status: String::new(),
            growth,
            resilience,
            p_raw,
            p: None,
            regime: None,
            forced: None,
            components,
            cusum_up: cusum.up,
            cusum_down: cusum.down,
        };
        if w.partial {
            row.status = "partial week".into();
            out.push(row);
            continue;
        }
        let Some(p_raw) = p_raw else {
            row.status = "insufficient data".into();
            row.regime = regime;
            out.push(row);
            continue;
        };
        scored_n += 1;
        let p = match smoothed {
            Some(prev) => s.smoothing * p_raw + (1.0 - s.smoothing) * prev,
            None => p_raw,
        };
        smoothed = Some(p);
        row.p = Some(p);

        // CUSUM against P's own baseline: up to 52 weeks ending 8 weeks before (so that a new
        // level is not absorbed into its own baseline), standardised by its robust spread, with
        // a floor: moves under 0.1 in P are not material.
        let base: Vec<f64> = history
            .iter()
            .filter(|(j, _)| *j + BASELINE_GAP <= i && *j + BASELINE_GAP + BASELINE_LEN > i)
            .map(|(_, v)| *v)
            .collect();
        if base.len() >= BASELINE_MIN {
            if let Some((m, sd)) = robust(&base, 0.1) {
                cusum.step((p_raw - m) / sd, s.cusum_k);
                // An alarm is remembered and the CUSUM restarts (the usual practice after a
                // signal), so a level that stays up signals again rather than piling up.
                if cusum.up > s.cusum_h {
                    alarm = Some((i, 1, cusum.up));
                    cusum = Cusum::default();
                } else if cusum.down > s.cusum_h {
                    alarm = Some((i, -1, cusum.down));
                    cusum = Cusum::default();
                }
            }
        }
        history.push((i, p_raw));
        row.cusum_up = cusum.up;
        row.cusum_down = cusum.down;

        let exhausted = w.budget_consumed_4w.is_some_and(|c| c >= 1.0);
        budget_out_since = if exhausted {
            budget_out_since.or(Some(i))
        } else {
            None
        };

        if scored_n < s.min_points {
            row.status = format!("warming up ({scored_n}/{})", s.min_points);
            out.push(row);
            continue;
        }
        row.status = "scored".into();
        let candidate = threshold_regime(p, regime, s.threshold, s.exit_margin);
        let Some(current) = regime else {
            // Warmed up: start where the thresholds point, without an event.
            regime = Some(if exhausted {
                Regime::Resilience
            } else {
                candidate
            });
            row.regime = regime;
            out.push(row);
            continue;
        };

        // The SRE error-budget policy: an exhausted budget means reliability work now.
        let mut next: Option<(Regime, usize, String, f64)> = None;
        if exhausted && current != Regime::Resilience {
            row.forced = Some("error budget exhausted".into());
            next = Some((
                Regime::Resilience,
                budget_out_since.unwrap_or(i),
                "error budget exhausted".into(),
                cusum.up,
            ));
        } else if exhausted {
            row.forced = Some("error budget exhausted".into());
        } else if candidate != current {
            let held_from = match pending {
                Some((r, from)) if r == candidate => from,
                _ => i,
            };
            pending = Some((candidate, held_from));
            let dir = (candidate.rank() - current.rank()).signum();
            // A CUSUM alarm in the same direction within the last 8 weeks backs the move (the
            // same alarm may back two steps, growth → balanced → resilience).
            let confirmed = alarm
                .filter(|(at, d, _)| *d == dir && *at + 8 >= i)
                .map(|(_, _, stat)| stat);
            if i + 1 >= held_from + s.hold_weeks {
                if forced {
                    next = Some((candidate, held_from, "error budget restored".into(), 0.0));
                } else if let Some(stat) = confirmed {
                    let since = step_week(&history, i);
                    next = Some((candidate, since, "cusum".into(), stat));
                }
            }
        } else {
            pending = None;
        }
        if let Some((to, since, trigger, stat)) = next {
            forced = trigger == "error budget exhausted";
            shifts.push(shift(
                &out, &row, current, to, since, trigger, stat, weeks, s.calendar,
            ));
            regime = Some(to);
            pending = None;
        } else if !exhausted && candidate == current {
            // P agrees with the regime the budget forced: it is P's regime now.
            forced = false;
        }
        row.regime = regime;
        out.push(row);
    }
    PressureReport { weeks: out, shifts }
}

/// Computes the index, the regimes and the shifts for consecutive weeks (ascending, one row per
/// week; weeks without data are rows with every field `None`), each shift backed by the change
/// points of P itself.
pub fn pressure(weeks: &[WeekSignals], s: &PressureSettings) -> PressureReport {
    let mut report = pressure_unbacked(weeks, s);
    let cps = super::changepoints::change_points(
        "pressure_index",
        &p_series(&report),
        super::changepoints::Kind::Continuous,
    );
    back_shifts(&mut report, &cps);
    report
}

/// (week, raw P) of the complete weeks with a P: the series P's change points are found in.
pub fn p_series(report: &PressureReport) -> Vec<(i64, f64)> {
    report
        .weeks
        .iter()
        .filter(|w| w.status != "partial week")
        .filter_map(|w| Some((w.week_ms, w.p_raw?)))
        .collect()
}

/// Backs each shift with the change point of P within 3 weeks of its start, if there is one.
pub fn back_shifts(report: &mut PressureReport, cps: &[super::changepoints::ChangePoint]) {
    for sh in &mut report.shifts {
        sh.change_point = cps
            .iter()
            .filter(|c| (c.week_ms - sh.since_ms).abs() <= 3 * WEEK_MS)
            .min_by_key(|c| (c.week_ms - sh.since_ms).abs())
            .cloned();
    }
}

/// The week a level shift most likely began, among the last 20 scored weeks up to `now`: the
/// split that maximises the difference of the two segments' means weighted by their sizes, the
/// maximum-likelihood change point of a single shift in mean (Hinkley 1970, "Inference about the
/// change-point in a sequence of random variables", Biometrika 57).
fn step_week(history: &[(usize, f64)], now: usize) -> usize {
    let window: Vec<(usize, f64)> = history
        .iter()
        .copied()
        .filter(|(j, _)| *j + 20 > now && *j <= now)
        .collect();
    let n = window.len();
    if n < 3 {
        return window.first().map_or(now, |(j, _)| *j);
    }
    let total: f64 = window.iter().map(|(_, v)| v).sum();
    let mut best = (f64::MIN, window[n - 1].0);
    let mut left = 0.0;
    // The new level needs at least one week of its own; the old one at least two.
    for k in 2..n {
        left += window[k - 1].1;
        let (a, b) = (k as f64, (n - k) as f64);
        let diff = (total - left) / b - left / a;
        let score = diff * diff * a * b / n as f64;
        if score > best.0 {
            best = (score, window[k].0);
        }
    }
    best.1
}

#[allow(clippy::too_many_arguments)]
fn shift(
    rows: &[PressureWeek],
    now: &PressureWeek,
    from: Regime,
    to: Regime,
    since: usize,
    trigger: String,
    stat: f64,
    weeks: &[WeekSignals],
    calendar: Calendar,
) -> Shift {
    let since = since.min(rows.len());
    let before = &rows[since.saturating_sub(8)..since];
    let after: Vec<&PressureWeek> = rows[since..].iter().chain(std::iter::once(now)).collect();
    let mean = |it: &mut dyn Iterator<Item = f64>| {
        let v: Vec<f64> = it.collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let score_of = |r: &PressureWeek, c: Component| {
        r.components
            .iter()
            .find(|s| s.component == c)
            .map(|s| s.score)
    };
    let mut evidence: Vec<Moved> = Component::ALL
        .iter()
        .filter_map(|&c| {
            let b = mean(&mut before.iter().filter_map(|r| score_of(r, c)))?;
            let a = mean(&mut after.iter().filter_map(|r| score_of(r, c)))?;
            let push = if c.is_growth() { b - a } else { a - b };
            Some(Moved {
                component: c,
                before: b,
                after: a,
                push,
            })
        })
        .collect();
    // Strongest push in the direction of the shift first.
    let dir = f64::from((to.rank() - from.rank()).signum());
    evidence.sort_by(|x, y| (y.push * dir).total_cmp(&(x.push * dir)));
    evidence.retain(|m| m.push * dir > 0.05);
    evidence.truncate(4);
    let since_ms = weeks.get(since).map_or(now.week_ms, |w| w.week_ms);
    let named: Vec<String> = evidence
        .iter()
        .map(|m| format!("{} ({:+.2})", m.component.as_str(), m.push))
        .collect();
    let day = |ms: i64| calendar.local_date(ms).to_string();
    Shift {
        week_ms: now.week_ms,
        since_ms,
        from,
        to,
        summary: format!(
            "{} → {} since the week of {} (detected {}, {}): {}",
            from.as_str(),
            to.as_str(),
            day(since_ms),
            day(now.week_ms),
            trigger,
            if named.is_empty() {
                "no single component stands out".to_owned()
            } else {
                format!("moved most: {}", named.join(", "))
            }
        ),
        trigger,
        cusum: stat,
        p_before: mean(&mut before.iter().filter_map(|r| r.p_raw)),
        p_after: mean(&mut after.iter().filter_map(|r| r.p_raw)),
        evidence,
        change_point: None,
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
