//! Evidence of a change: each component against its own recent history, robustly.
//!
//! The anchored scores say *where* the organisation stands (healthy, alarming); they are clamped,
//! so a move inside the healthy zone (CFR from 4 % to 9 %, a burn rate from 0.2 to 0.6) does not
//! show in them. A change is a move against the organisation's own past, so the detector reads
//! each component's raw value, standardised by the median and MAD of its baseline (Rousseeuw &
//! Croux 1993) with a noise floor, and winsorised so that one outlier week (an outage, a huge
//! deal) counts at most `z_cap`.

use super::{Component, PressureSettings, Push, WeekSignals};
use crate::analysis::pressure::score::{median, robust};

/// The value the detector reads for a component, on a scale where its noise is roughly
/// symmetric (a median-centred z of a skewed series drifts upwards), and the smallest spread it
/// allows on that scale: a move smaller than the floor is not material, whatever the history's
/// spread.
///
/// - support load and revenue-weighted pain: logs offset by 0.1, floor ±10 %;
/// - counts (incidents, bug inflow, new logos): Anscombe's transform 2√(x + 3/8), under which a Poisson
///   count has variance ≈ 1 (Anscombe 1948, Biometrika 35); floor 1, the Poisson noise;
/// - burn rate and budget spent: logs (they are sums of log-normal-ish error ratios), offset by a
///   small amount so that a perfect week is finite; floors ±20 % and ±10 %;
/// - recovery time: log, floor ±20 %;
/// - CFR, growth rates, NRR, churn: as they are, floors 2 pp, 10 pp a year (ARR growth), 1 pp
///   of MRR a month (net new MRR), 1 pp and 0.5 pp.
fn value(c: Component, w: &WeekSignals) -> Option<(f64, f64)> {
    let anscombe = |x: f64| 2.0 * (x.max(0.0) + 0.375).sqrt();
    let v = match c {
        Component::ArrGrowth => match (w.mrr, w.mrr_3m_ago) {
            (Some(now), Some(then)) if then > 0.0 && now > 0.0 => {
                Some(((now / then).powi(4) - 1.0, 0.1))
            }
            _ => None,
        },
        Component::NetNewMrr => match (w.net_new_mrr, w.mrr) {
            (Some(n), Some(m)) if m > 0.0 => Some((n / m, 0.01)),
            _ => None,
        },
        Component::Nrr => w.nrr.map(|v| (v, 0.01)),
        Component::NewLogos => w.new_logos.map(|v| (anscombe(v), 1.0)),
        Component::ErrorBudget => w
            .budget_consumed_4w
            .map(|v| ((v.max(0.0) + 0.05).ln(), 0.1)),
        Component::Availability => w.burn_rate.map(|v| ((v.max(0.0) + 0.05).ln(), 0.2)),
        Component::ChangeFailureRate => w.cfr_4w.map(|v| (v, 0.02)),
        Component::RecoveryTime => w.recovery_4w_s.map(|v| (v.max(1.0).ln(), 0.2)),
        Component::Incidents => w.incidents.map(|v| (anscombe(v), 1.0)),
        Component::Churn => w.grr.map(|g| (1.0 - g, 0.005)),
        Component::BugInflow => w.bugs_opened.map(|v| (anscombe(v), 1.0)),
        // Ratios of a weekly count: logs, floor ±10 % (a support team's ordinary week-to-week
        // swing); offset so that a week without tickets is finite.
        Component::SupportLoad => w.support_per_100.map(|v| ((v.max(0.0) + 0.1).ln(), 0.1)),
        Component::CustomerPain => w.support_pain.map(|v| ((v.max(0.0) + 0.1).ln(), 0.1)),
        // Profitability components make the tag, not the regime: the detector leaves them out.
        Component::CostVsRevenue | Component::Margin => None,
    };
    v.filter(|(x, _)| x.is_finite())
}

/// Revenue figures come monthly and are carried over the month's weeks.
fn monthly(c: Component) -> bool {
    c.is_growth() || c == Component::Churn
}

/// Families of components that measure the same thing: the error budget and the week's burn
/// rate are one SLO seen twice, so they count once towards agreement; incidents and bug inflow
/// are production failures reported two ways (an outage opens both), so they count once too,
/// and an organisation with bug data needs no less agreement than one without.
pub(super) fn family(c: Component) -> u8 {
    match c {
        Component::ErrorBudget | Component::Availability => 0,
        Component::ChangeFailureRate => 1,
        Component::RecoveryTime => 2,
        Component::Incidents | Component::BugInflow => 3,
        Component::Churn => 4,
        // Support load and revenue-weighted pain are the same tickets counted two ways: one
        // family, so a support flood counts once towards agreement.
        Component::SupportLoad | Component::CustomerPain => 40,
        _ => 5 + c as u8,
    }
}

/// What the detector reads of one component in one week: the value on its noise-symmetric scale,
/// the smallest material move, and — for a figure pooled over few events — how many events it
/// pools, so that a week with two deployments is not read as surely as one with forty.
#[derive(Debug, Clone, Copy)]
pub(super) struct Obs {
    pub(super) c: Component,
    pub(super) v: f64,
    pub(super) floor: f64,
    pub(super) n: Option<f64>,
}

/// Weeks pooled by the weekly delivery-stability figures: the week and the one before. One week
/// alone holds one or two failures in a typical organisation; two already show a change that the
/// 4-week window shows only when it is three quarters full.
const POOL: usize = 2;

/// CFR of the last [`POOL`] weeks alone, (failures, attempted); `None` without weekly figures
/// (a caller that only has the 4-week window) or without an attempted deployment (missing, not
/// zero).
fn pooled_cfr(weeks: &[WeekSignals], i: usize) -> Option<(f64, f64)> {
    weeks[i].attempted_week?;
    let (mut k, mut n) = (0.0, 0.0);
    for w in &weeks[(i + 1).saturating_sub(POOL)..=i] {
        n += w.attempted_week.unwrap_or(0.0);
        k += w.failures_week.unwrap_or(0.0);
    }
    (n > 0.0).then_some((k / n, n))
}

/// Recovery time of the last [`POOL`] weeks alone on a log scale: the recoveries-weighted mean
/// of the weeks' log medians, and how many recoveries it rests on.
fn pooled_recovery(weeks: &[WeekSignals], i: usize) -> Option<(f64, f64)> {
    let (mut sum, mut n) = (0.0, 0.0);
    for w in &weeks[(i + 1).saturating_sub(POOL)..=i] {
        if let (Some(t), Some(m)) = (w.recovery_week_s, w.recoveries_week) {
            if m > 0.0 && t.is_finite() {
                sum += m * t.max(1.0).ln();
                n += m;
            }
        }
    }
    (n > 0.0).then(|| (sum / n, n))
}

/// The detector's values of week `i`, for the components present. CFR and recovery time are read
/// from the last two weeks alone where the rows carry weekly figures, else from their 4-week
/// windows; P keeps scoring the 4-week windows against the DORA bands either way (where the
/// organisation stands is not the question a change detector asks).
pub(super) fn values(weeks: &[WeekSignals], i: usize) -> Vec<Obs> {
    let w = &weeks[i];
    let weekly = w.attempted_week.is_some();
    Component::ALL
        .iter()
        .filter_map(|&c| {
            let pooled = match c {
                Component::ChangeFailureRate if weekly => Some(pooled_cfr(weeks, i)),
                Component::RecoveryTime if weekly => Some(pooled_recovery(weeks, i)),
                _ => None,
            };
            match pooled {
                Some(p) => p.map(|(v, n)| Obs {
                    c,
                    v,
                    floor: if c == Component::RecoveryTime {
                        0.2
                    } else {
                        0.02
                    },
                    n: Some(n),
                }),
                None => value(c, w).map(|(v, floor)| Obs {
                    c,
                    v,
                    floor,
                    n: None,
                }),
            }
        })
        .collect()
}

/// Centre and per-event spread of a pooled figure's baseline `(value, events)`, so that the
/// week scored is standardised by spread / √events: a two-deployment week is read with the
/// noise it has. A CFR is centred on the baseline's pooled rate (with half a pseudo-failure, so
/// that a spotless history is not a zero-variance one) and its spread is at least the binomial
/// √(p(1 − p)) — the score test the Wilson interval inverts (Wilson 1927) —, more when the
/// baseline's Pearson residuals show overdispersion (a quasi-binomial scale, McCullagh & Nelder
/// 1989, estimated robustly by the MAD). Recovery time (a log) is centred on the median.
fn pooled_baseline(c: Component, base: &[(f64, f64)]) -> Option<(f64, f64)> {
    let centre = if c == Component::ChangeFailureRate {
        let k: f64 = base.iter().map(|(v, n)| v * n).sum();
        let n: f64 = base.iter().map(|(_, n)| n).sum();
        (k + 0.5) / (n + 1.0)
    } else {
        let mut v: Vec<f64> = base.iter().map(|b| b.0).collect();
        median(&mut v)?
    };
    let resid: Vec<f64> = base.iter().map(|(v, n)| (v - centre) * n.sqrt()).collect();
    let (_, mad) = robust(&resid, 1e-9)?;
    let least = if c == Component::ChangeFailureRate {
        (centre * (1.0 - centre)).sqrt()
    } else {
        0.0
    };
    Some((centre, mad.max(least)))
}

/// Winsorised robust z of each component of week `i`, signed so that positive points towards
/// resilience (R rising, G falling), against the baseline weeks `[max(since, i − gap − len),
/// i − gap)`, `since` being `since.0` for resilience components and `since.1` for growth ones
/// (each side's baseline restarts when that side moved). A component with fewer than
/// `baseline_min` baseline weeks has no z.
pub(super) fn zscores(
    values: &[Vec<Obs>],
    i: usize,
    since: (usize, usize),
    s: &PressureSettings,
) -> Vec<Push> {
    let Some(end) = i.checked_sub(s.baseline_gap) else {
        return Vec::new();
    };
    values[i]
        .iter()
        .filter_map(|o| {
            let c = o.c;
            let from = if c.is_growth() { since.1 } else { since.0 };
            let start = from.max(end.saturating_sub(s.baseline_len));
            if start >= end {
                return None;
            }
            let (m, sd) = if let Some(n) = o.n {
                let base: Vec<(f64, f64)> = values[start..end]
                    .iter()
                    .filter_map(|week| {
                        week.iter()
                            .find(|x| x.c == c)
                            .and_then(|x| Some((x.v, x.n?)))
                    })
                    .collect();
                if base.len() < s.baseline_min {
                    return None;
                }
                let (m, unit) = pooled_baseline(c, &base)?;
                (m, (unit / n.sqrt()).max(o.floor))
            } else {
                let mut base: Vec<f64> = values[start..end]
                    .iter()
                    .filter_map(|week| week.iter().find(|x| x.c == c).map(|x| x.v))
                    .collect();
                let need = if monthly(c) {
                    // A month's figure is carried over its weeks: its spread is that of the
                    // months, so each counts once, and a baseline needs half a year of them.
                    base.dedup();
                    6
                } else {
                    s.baseline_min
                };
                if base.len() < need {
                    return None;
                }
                robust(&base, o.floor.max(1e-9))?
            };
            let z = ((o.v - m) / sd).clamp(-s.z_cap, s.z_cap);
            let z = if c.is_growth() { -z } else { z };
            Some(Push { component: c, z })
        })
        .collect()
}

/// How much fresh information a component brings each week, as a weight on its z: 1 for a
/// weekly count or rate, 1/√n for a figure that is a rolling window of n weeks or is carried n
/// weeks (a 4-week CFR repeats three quarters of last week's evidence; a month's revenue is
/// carried 4–5 weeks; NRR and GRR over a 12-month cohort barely move week to week). Without it
/// a single month's deviation would count four times. CFR and recovery time keep 0.5 when they
/// are read as two-week pools (about 1/√2): the weekly figures were brought in to let them
/// agree sooner, not to weigh more in a statistic calibrated on the 4-week windows.
fn fresh(c: Component) -> f64 {
    match c {
        Component::Incidents
        | Component::Availability
        | Component::BugInflow
        | Component::SupportLoad
        | Component::CustomerPain => 1.0,
        Component::ErrorBudget
        | Component::ChangeFailureRate
        | Component::RecoveryTime
        | Component::NetNewMrr
        | Component::NewLogos => 0.5,
        Component::ArrGrowth | Component::Nrr | Component::Churn => 0.3,
        Component::CostVsRevenue | Component::Margin => 0.0,
    }
}

/// The combined evidence of a week, of one side (`Some(true)`: growth, `Some(false)`:
/// resilience) or of all components (`None`): the weighted Stouffer sum Σ wᵢ zᵢ / √Σ wᵢ² of the
/// components' z (Stouffer et al. 1949; Liptak 1958; weights as in Whitlock 2005), the weights
/// being the configured component weight times [`fresh`]. About standard normal on a steady
/// organisation if the components were independent; they are not quite, which the calibrated
/// threshold absorbs.
pub(super) fn combine(z: &[Push], s: &PressureSettings, side: Option<bool>) -> Option<f64> {
    let (mut sum, mut sq) = (0.0, 0.0);
    for p in z
        .iter()
        .filter(|p| side.is_none_or(|g| p.component.is_growth() == g))
    {
        let w = s.weight(p.component) * fresh(p.component);
        sum += w * p.z;
        sq += w * w;
    }
    // Winsorised like its parts: one week (an outage touches the budget, the burn rate and the
    // incidents at once) counts at most twice `z_cap`.
    (sq > 0.0).then(|| (sum / sq.sqrt()).clamp(-2.0 * s.z_cap, 2.0 * s.z_cap))
}

/// Mean z of each component over the given weeks' z, strongest push (either sign) first.
pub(super) fn recent(zs: &[&Vec<Push>]) -> Vec<Push> {
    let mut out: Vec<Push> = Vec::new();
    for c in Component::ALL {
        let v: Vec<f64> = zs
            .iter()
            .filter_map(|w| w.iter().find(|p| p.component == c).map(|p| p.z))
            .collect();
        if !v.is_empty() {
            out.push(Push {
                component: c,
                z: v.iter().sum::<f64>() / v.len() as f64,
            });
        }
    }
    out.sort_by(|a, b| b.z.abs().total_cmp(&a.z.abs()));
    out
}

/// How many families of R components, and how many G components, moved by at least `min_z` in
/// direction `dir` (+1 towards resilience, −1 away from it).
pub(super) fn agreeing(recent: &[Push], dir: f64, min_z: f64) -> (usize, usize) {
    let mut fams: Vec<u8> = recent
        .iter()
        .filter(|p| !p.component.is_growth() && p.z * dir >= min_z)
        .map(|p| family(p.component))
        .collect();
    fams.sort_unstable();
    fams.dedup();
    let g = recent
        .iter()
        .filter(|p| p.component.is_growth() && p.z * dir >= min_z)
        .count();
    (fams.len(), g)
}
