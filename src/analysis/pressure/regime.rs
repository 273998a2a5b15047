//! The regime state machine: a CUSUM on the combined evidence of the components, agreement of
//! several components before a resilience call while the error budget holds, the error-budget
//! policy, and the watch state.

use super::evidence::{agreeing, combine, family, recent, values, zscores, Obs};
use super::profit::profitability;
use super::score::{score_week, weighted_mean, History};
use super::shift::{shift, step_week};
use super::{
    Component, Forced, PressureReport, PressureSettings, PressureStatus, PressureWeek, Push,
    Regime, ShiftTrigger, Watch, WeekSignals,
};

/// The regime P points at when the index starts: growth or resilience past ±threshold, balanced
/// in between.
fn initial_regime(p: f64, t: f64) -> Regime {
    if p >= t {
        Regime::Resilience
    } else if p <= -t {
        Regime::Growth
    } else {
        Regime::Balanced
    }
}

/// The change statistic of one side: the mean of its combined evidence over the last
/// `recent_weeks` weeks (a moving-window test rather than Page's CUSUM: the components are
/// rolling windows and carried months, so their evidence is strongly autocorrelated, and a
/// CUSUM of it keeps accumulating noise that its iid design does not expect).
/// A side's statistic in each direction.
#[derive(Debug, Clone, Copy)]
struct Sides {
    up: f64,
    down: f64,
}

#[derive(Debug, Clone, Default)]
struct Window {
    values: Vec<f64>,
}

impl Window {
    fn push(&mut self, e: f64, n: usize) -> f64 {
        self.values.push(e);
        let from = self.values.len().saturating_sub(n.max(1));
        let last = &self.values[from..];
        last.iter().sum::<f64>() / last.len() as f64
    }
}

fn watch(
    towards: Regime,
    statistic: f64,
    waiting_for: Option<String>,
    moved: &[Push],
    dir: f64,
    s: &PressureSettings,
) -> Watch {
    let components: Vec<Push> = moved
        .iter()
        .filter(|p| p.z * dir >= s.agree_z)
        .copied()
        .collect();
    let named: Vec<String> = components
        .iter()
        .map(|p| format!("{} (z {:+.1})", p.component.as_str(), p.z))
        .collect();
    Watch {
        towards,
        statistic,
        threshold: 1.0,
        summary: format!(
            "watch → {}: evidence at {:.0} % of the threshold{}{}",
            towards.as_str(),
            100.0 * statistic,
            waiting_for
                .as_deref()
                .map(|w| format!(", waiting: {w}"))
                .unwrap_or_default(),
            if named.is_empty() {
                String::new()
            } else {
                format!("; moving: {}", named.join(", "))
            }
        ),
        waiting_for,
        components,
    }
}

/// [`super::pressure`] without the change points of P (which an incremental caller keeps
/// itself).
pub fn pressure_unbacked(weeks: &[WeekSignals], s: &PressureSettings) -> PressureReport {
    let hist = History::new(weeks);
    let mut out: Vec<PressureWeek> = Vec::with_capacity(weeks.len());
    let mut shifts = Vec::new();
    let mut smoothed: Option<f64> = None;
    let mut scored_n = 0usize;
    let mut regime: Option<Regime> = None;
    // One CUSUM per side: resilience need (r) and growth momentum (g, signed so that up is
    // growth falling), so that a slowdown alone never adds up to a resilience call.
    let (mut r_win, mut g_win) = (Window::default(), Window::default());
    let (mut r_stat, mut g_stat) = (0.0f64, 0.0f64);
    // The combined evidence of the scored weeks (index, E), for the start of a shift: it is
    // standardised, so its step is sharper than P's.
    let mut history: Vec<(usize, f64)> = Vec::new();
    // The detector's values and z of each week (empty where the week is not scored).
    let mut vals: Vec<Vec<Obs>> = vec![Vec::new(); weeks.len()];
    let mut zs: Vec<Vec<Push>> = vec![Vec::new(); weeks.len()];
    let mut scored_at: Vec<usize> = Vec::new();
    // The baselines start here: after a shift, the new regime is the reference.
    // Per side (resilience, growth): a slowdown named as balanced leaves the resilience
    // signals' reference as it was, so that a resilience shift right after it is still seen.
    let mut since = (0usize, 0usize);
    let mut budget_out_since: Option<usize> = None;
    // Whether the error-budget policy has held the current resilience regime at some week.
    let mut budget_held = false;

    for (i, w) in weeks.iter().enumerate() {
        let components = score_week(weeks, i, s, &hist);
        let growth = weighted_mean(&components, true, s);
        let resilience = weighted_mean(&components, false, s);
        let p_raw = growth.zip(resilience).map(|(g, r)| r - g);
        let mut row = PressureWeek {
            week_ms: w.week_ms,
            growth,
            resilience,
            p_raw,
            components,
            optional_used: Component::OPTIONAL
                .into_iter()
                .filter(|c| c.data_in(w) == Some(true))
                .collect(),
            optional_missing: Component::OPTIONAL
                .into_iter()
                .filter(|c| c.data_in(w) == Some(false))
                .collect(),
            profitability: profitability(weeks, i, &hist),
            ..PressureWeek::default()
        };
        if w.partial {
            row.status = PressureStatus::PartialWeek;
            out.push(row);
            continue;
        }
        let Some(p_raw) = p_raw else {
            row.status = PressureStatus::InsufficientData;
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

        vals[i] = values(weeks, i);
        zs[i] = zscores(&vals, i, since, s);
        row.signal = combine(&zs[i], s, None);
        if let Some(e) = combine(&zs[i], s, Some(false)) {
            r_stat = r_win.push(e, s.recent_weeks);
        }
        if let Some(e) = combine(&zs[i], s, Some(true)) {
            g_stat = g_win.push(e, s.recent_weeks);
        }
        // Both directions of both sides, as the two halves of a two-sided test.
        let r_sum = Sides {
            up: positive_part(r_stat),
            down: positive_part(-r_stat),
        };
        let g_sum = Sides {
            up: positive_part(g_stat),
            down: positive_part(-g_stat),
        };
        if let Some(e) = row.signal {
            history.push((i, e));
        }
        scored_at.push(i);
        row.cusum_up = r_sum.up.max(g_sum.up);
        row.cusum_down = r_sum.down.max(g_sum.down);

        let exhausted = w.budget_consumed_4w.is_some_and(|c| c >= 1.0);
        budget_out_since = if exhausted {
            budget_out_since.or(Some(i))
        } else {
            None
        };

        if scored_n < s.min_points {
            row.status = PressureStatus::WarmingUp {
                scored: scored_n,
                needed: s.min_points,
            };
            out.push(row);
            continue;
        }
        row.status = PressureStatus::Scored;
        let Some(current) = regime else {
            // Warmed up: start where P points, without an event.
            regime = Some(if exhausted {
                Regime::Resilience
            } else {
                initial_regime(p, s.threshold)
            });
            row.regime = regime;
            out.push(row);
            continue;
        };

        let last: Vec<&Vec<Push>> = scored_at
            .iter()
            .rev()
            .take(s.recent_weeks.max(1))
            .map(|&j| &zs[j])
            .collect();
        let moved = recent(&last);
        row.moved = moved
            .iter()
            .filter(|p| p.z.abs() >= s.agree_z)
            .copied()
            .collect();
        let step = step_week(&history, i);
        // Agreement on a move into resilience is read from each family's figures of the last
        // weeks, not from a rolling window: the 4-week budget repeats one bad week for four
        // weeks, so an outage that has passed would keep counting as the SLO still moving (its
        // weekly sibling, the burn rate, stands for the SLO here). The budget still counts in
        // the statistic, and the policy's own rule when it is exhausted.
        let fresh_moved: Vec<Push> = moved
            .iter()
            .filter(|p| p.component != Component::ErrorBudget)
            .copied()
            .collect();
        let (r_up, _) = agreeing(&fresh_moved, 1.0, s.agree_z);
        let (_, g_up) = agreeing(&moved, 1.0, s.agree_z);
        let (r_down, g_down) = agreeing(&moved, -1.0, s.agree_z);
        let (h, hg) = (s.alarm_h, s.growth_alarm_h);
        // Candidates in order of precedence: (target, statistic / its threshold, ready, what is
        // missing, dir).
        let mut candidates: Vec<(Regime, f64, bool, Option<String>, f64)> = Vec::new();
        match current {
            Regime::Growth | Regime::Balanced => {
                let (r_weak, _) = agreeing(&fresh_moved, 1.0, s.agree_weak_z);
                // Growth falling clearly is one more line of evidence, not a resilience signal:
                // the regime weighs the two sides (P = R̄ − Ḡ), and strained reliability stalls
                // growth. It counts only beside agree_clear − 1 resilience families that moved
                // clearly themselves, so a slowdown alone (reliability steady) never reaches it.
                let support =
                    usize::from(s.growth_supports && g_up >= 1 && r_up + 1 >= s.agree_clear.max(1));
                let (r_weak, r_up) = (r_weak + support, r_up + support);
                let ready = r_weak >= s.agree && r_up >= s.agree_clear;
                let lacking = (!ready).then(|| {
                    if r_up < s.agree_clear && s.agree_clear < s.agree {
                        format!(
                            "{r_up} of {} resilience signals clearly moved",
                            s.agree_clear
                        )
                    } else {
                        format!("{r_weak} of {} resilience signals agree", s.agree)
                    }
                });
                candidates.push((Regime::Resilience, r_sum.up / h, ready, lacking, 1.0));
                if current == Regime::Growth && r_sum.up / h < s.watch_share {
                    // Growth falling, reliability steady: a slowdown, not a need for
                    // resilience. Two growth signals must agree (one month of one figure is
                    // noise).
                    let lacking = (g_up < 2).then(|| format!("{g_up} of 2 growth signals agree"));
                    candidates.push((Regime::Balanced, g_sum.up / hg, g_up >= 2, lacking, 1.0));
                }
                if current == Regime::Balanced {
                    let ready = g_down >= 2 || r_down >= s.agree;
                    let stat = (g_sum.down / hg).max(r_sum.down / h);
                    candidates.push((Regime::Growth, stat, ready, None, -1.0));
                }
            }
            Regime::Resilience => {
                let need = s.agree_leave;
                let lacking = (r_down < need)
                    .then(|| format!("{r_down} of {need} resilience signals back to normal"));
                // The resilience signals are back: growth, unless growth is still falling
                // against the regime's own weeks (the growth statistic at the watch level, the
                // slowdown rule's evidence). Not the anchored G: its trailing-quarter ARR and
                // 12-month NRR still hold the strained months for a quarter after they end.
                let to = if g_sum.up / hg >= s.watch_share {
                    Regime::Balanced
                } else {
                    Regime::Growth
                };
                // Leaving takes fewer agreeing families than entering: the 4-week windows of
                // CFR and recovery lag the incidents and the SLO on the way back, and the
                // error-budget policy already holds the regime while the budget is spent.
                // Where that policy held it, its release is the evidence the policy asks for:
                // the budget no longer exhausted and the SLO itself back to normal (the SRE
                // workbook's error-budget policy lifts the feature freeze once the service is
                // back within its SLO), so the SLO family alone suffices, with the side's
                // statistic past its threshold.
                let slo_back = budget_held
                    && moved.iter().any(|p| {
                        family(p.component) == family(Component::ErrorBudget) && p.z <= -s.agree_z
                    });
                let stat = r_sum.down / (h * s.leave_share);
                candidates.push((to, stat, r_down >= need || slo_back, lacking, -1.0));
            }
        }
        // The SRE error-budget policy: an exhausted budget means reliability work now, and the
        // regime does not leave resilience while it lasts.
        let mut next: Option<(Regime, usize, ShiftTrigger, f64)> = None;
        let mut pending: Option<(Regime, f64, Option<String>, f64)> = None;
        if exhausted {
            budget_held = true;
            row.forced = Some(Forced::BudgetExhausted);
            if current != Regime::Resilience {
                let from = budget_out_since.unwrap_or(i);
                next = Some((
                    Regime::Resilience,
                    from,
                    ShiftTrigger::BudgetExhausted,
                    r_sum.up / h,
                ));
            }
        } else {
            // Statistics in units of their thresholds: 1 = a change.
            for (to, stat, ready, lacking, dir) in candidates {
                if stat >= 1.0 && ready {
                    next = Some((to, step, ShiftTrigger::Evidence, stat));
                    break;
                }
                if stat >= s.watch_share && pending.is_none() {
                    let lacking = if stat >= 1.0 { lacking } else { None };
                    pending = Some((to, stat, lacking, dir));
                }
            }
        }
        if let Some((to, start, trigger, stat)) = next {
            shifts.push(shift(
                &out, &row, current, to, start, trigger, stat, weeks, s.calendar,
            ));
            regime = Some(to);
            // A move into resilience forced by the budget is held by it from this week.
            budget_held = exhausted;
            // The new regime's own weeks are its baseline from where the change began: for
            // both sides when resilience is entered or left, for the growth side alone when
            // growth and balanced trade places (the resilience signals did not move).
            let both = current == Regime::Resilience || to == Regime::Resilience;
            if both {
                r_win = Window::default();
                r_stat = 0.0;
                since.0 = since.0.max(step);
            }
            g_win = Window::default();
            g_stat = 0.0;
            since.1 = since.1.max(step);
            row.cusum_up = 0.0;
            row.cusum_down = 0.0;
        } else if let Some((to, stat, why, dir)) = pending {
            row.watch = Some(watch(to, stat, why, &moved, dir, s));
        }
        row.regime = regime;
        out.push(row);
    }
    PressureReport { weeks: out, shifts }
}

/// `max(x, 0)` that is never `-0.0`: `f64::max` may return either zero of `(-0.0).max(0.0)`, and
/// did differently in debug and release builds, which showed as `-0.0` in the JSON report.
fn positive_part(x: f64) -> f64 {
    if x > 0.0 {
        x
    } else {
        0.0
    }
}
