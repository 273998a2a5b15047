//! The regime state machine: thresholds, CUSUM alarms, the error-budget policy.

use super::score::{
    robust, score_week, weighted_mean, History, BASELINE_GAP, BASELINE_LEN, BASELINE_MIN,
};
use super::shift::{shift, step_week};
use super::{PressureReport, PressureSettings, PressureWeek, Regime, WeekSignals};

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
            shifts.push(shift(&out, &row, current, to, since, trigger, stat, weeks));
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
