//! Scoring: each component against its anchor, or against its own history.

use super::{Component, PressureSettings, Scored, WeekSignals};

pub(super) fn clamp(v: f64, lo: f64, hi: f64) -> f64 {
    if v.is_nan() {
        return v;
    }
    v.clamp(lo, hi)
}

/// Linear from 0 at `good` to 1 at `bad` (either direction), clamped.
pub(super) fn ramp(v: f64, good: f64, bad: f64) -> f64 {
    clamp((v - good) / (bad - good), 0.0, 1.0)
}

pub(super) use crate::analysis::median;

/// Median and scaled MAD (1.4826 · MAD, consistent with σ for normal data; Rousseeuw & Croux
/// 1993), with a floor so that a flat history does not turn noise into huge z-scores.
pub(super) fn robust(values: &[f64], floor: f64) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let m = median(&mut v)?;
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&mut dev)? * 1.4826;
    Some((m, mad.max(floor)))
}

/// Weeks of own history a history-scored component needs, the gap before the scored week, and
/// the longest baseline.
pub(super) const BASELINE_MIN: usize = 8;
pub(super) const BASELINE_GAP: usize = 8;
pub(super) const BASELINE_LEN: usize = 52;

/// The value at `i` and its baseline: the values present over up to 52 weeks ending 8 weeks
/// before; `None` without a value or with fewer than 8 baseline weeks.
fn baseline(series: &[Option<f64>], i: usize) -> Option<(f64, Vec<f64>)> {
    let value = series[i]?;
    let end = i.checked_sub(BASELINE_GAP)?;
    let start = end.saturating_sub(BASELINE_LEN);
    let base: Vec<f64> = series[start..end].iter().flatten().copied().collect();
    (base.len() >= BASELINE_MIN).then_some((value, base))
}

/// Scores a count at index `i` against the series' own history: a robust z over the baseline of
/// up to 52 weeks ending 8 weeks before, divided by 3 and clamped. The spread is at least the
/// count's Poisson noise, √median, so that a quiet history does not turn one more incident (or
/// a month of fewer sign-ups) into an alarm.
fn history_score(series: &[Option<f64>], i: usize, lo: f64) -> Option<f64> {
    let (value, base) = baseline(series, i)?;
    let (m, s) = robust(&base, 0.5)?;
    let s = s.max(m.max(1.0).sqrt());
    Some(clamp((value - m) / s / 3.0, lo, 1.0))
}

/// Scores every component present in week `i`.
pub(super) fn score_week(
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
    push(
        Component::Latency,
        w.latency_burn_rate,
        w.latency_burn_rate.map(|b| ramp(b, 0.5, 2.0)),
        "latency SLO: burn rate 0.5 (0) to 2 (1)",
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
    // Optional: only a scope with bug data has `bugs_opened`; without it the component is absent
    // (the week's evidence lists it as missing), never zero.
    push(
        Component::BugInflow,
        w.bugs_opened,
        w.bugs_opened
            .map(|_| history_score(&hist.bugs_4w, i, 0.0).unwrap_or(0.0)),
        "own history of 4-week bug inflow (52 weeks ending 8 weeks before)",
    );
    // Optional (#17), like bug inflow: present only where ticket or cost data exists, scored
    // against the scope's own history because none of them has a fixed anchor that fits every
    // business (a support-load ratio depends on the product and its customers).
    push(
        Component::SupportLoad,
        w.support_per_100,
        w.support_per_100
            .map(|_| rise_score(&hist.support_4w, i, 0.1, 0.01).unwrap_or(0.0)),
        "own history of tickets per 100 customers, 4-week mean (52 weeks ending 8 weeks before)",
    );
    push(
        Component::CustomerPain,
        w.support_pain,
        w.support_pain
            .map(|_| rise_score(&hist.pain_4w, i, 0.1, 0.01).unwrap_or(0.0)),
        "own history of revenue-weighted pain, 4-week mean (52 weeks ending 8 weeks before)",
    );
    let gap = cost_gap(w);
    push(
        Component::CostVsRevenue,
        gap,
        gap.map(|_| rise_score(&hist.cost_gap, i, 0.0, 0.05).unwrap_or(0.0)),
        "own history of 3-month cost growth minus revenue growth (spread at least 5 points)",
    );
    push(
        Component::Margin,
        w.margin,
        w.margin
            .map(|_| fall_z(&hist.margin, i).map_or(0.0, |(_, z)| clamp(z / 3.0, 0.0, 1.0))),
        "own history of the margin, falling (spread at least 1 point)",
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
pub(super) struct History {
    new_logos: Vec<Option<f64>>,
    incidents_4w: Vec<Option<f64>>,
    bugs_4w: Vec<Option<f64>>,
    support_4w: Vec<Option<f64>>,
    pain_4w: Vec<Option<f64>>,
    cost_gap: Vec<Option<f64>>,
    pub(super) margin: Vec<Option<f64>>,
}

impl History {
    pub(super) fn new(weeks: &[WeekSignals]) -> Self {
        Self {
            new_logos: weeks.iter().map(|w| w.new_logos).collect(),
            incidents_4w: sum_4w(weeks, |w| w.incidents),
            bugs_4w: sum_4w(weeks, |w| w.bugs_opened),
            support_4w: mean_4w(weeks, |w| w.support_per_100),
            pain_4w: mean_4w(weeks, |w| w.support_pain),
            cost_gap: weeks.iter().map(cost_gap).collect(),
            margin: weeks.iter().map(|w| w.margin).collect(),
        }
    }
}

/// The 4-week sums of a weekly count (`None` unless all 4 weeks have it; the first weeks sum
/// what exists).
fn sum_4w(weeks: &[WeekSignals], pick: fn(&WeekSignals) -> Option<f64>) -> Vec<Option<f64>> {
    (0..weeks.len())
        .map(|i| {
            let from = i.saturating_sub(3);
            let v: Vec<f64> = weeks[from..=i].iter().filter_map(pick).collect();
            (v.len() == i - from + 1).then(|| v.iter().sum())
        })
        .collect()
}

/// The 4-week means of a weekly ratio (`None` unless all 4 weeks have it).
fn mean_4w(weeks: &[WeekSignals], pick: fn(&WeekSignals) -> Option<f64>) -> Vec<Option<f64>> {
    let n = |i: usize| (i - i.saturating_sub(3) + 1) as f64;
    sum_4w(weeks, pick)
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.map(|v| v / n(i)))
        .collect()
}

/// Cost growth minus revenue growth over the same 3 months: positive when cost outgrows revenue.
fn cost_gap(w: &WeekSignals) -> Option<f64> {
    w.cost_growth_3m
        .zip(w.revenue_growth_3m)
        .map(|(c, r)| c - r)
}

/// The baseline median of `series` at `i` and the robust z of the value there, signed by `dir`
/// (+1: a rise is positive): baseline of up to 52 weeks ending 8 weeks before, spread at least
/// `rel` × |median| and at least `abs`, so that a flat history does not turn noise into an alarm.
fn level_z(series: &[Option<f64>], i: usize, rel: f64, abs: f64, dir: f64) -> Option<(f64, f64)> {
    let (value, base) = baseline(series, i)?;
    let (m, s) = robust(&base, abs)?;
    let s = s.max(rel * m.abs()).max(abs);
    // `+ 0.0` turns the -0.0 of a fall (dir -1) of nothing into 0.0, which reads "+0.0 robust
    // spreads", not "-0.0"; every other value is unchanged.
    Some((m, dir * (value - m) / s + 0.0))
}

/// A rise against the series' own history: z / 3 clamped to [0, 1] (as incidents).
fn rise_score(series: &[Option<f64>], i: usize, rel: f64, abs: f64) -> Option<f64> {
    level_z(series, i, rel, abs, 1.0).map(|(_, z)| clamp(z / 3.0, 0.0, 1.0))
}

/// The margin's baseline and how far it fell below it (z, positive = fallen), spread at least one
/// point of margin.
pub(super) fn fall_z(margin: &[Option<f64>], i: usize) -> Option<(f64, f64)> {
    level_z(margin, i, 0.0, 0.01, -1.0)
}

pub(super) fn weighted_mean(scores: &[Scored], growth: bool, s: &PressureSettings) -> Option<f64> {
    let (mut sum, mut wsum) = (0.0, 0.0);
    let side = if growth {
        super::Side::Growth
    } else {
        super::Side::Resilience
    };
    // Profitability components are shown, not averaged into P: they make the tag.
    for c in scores.iter().filter(|c| c.component.side() == side) {
        let w = s.weight(c.component);
        sum += w * c.score;
        wsum += w;
    }
    (wsum > 0.0).then(|| sum / wsum)
}
