//! Weekly reliability per SLO: availability, error ratio, bad minutes, error budget and burn
//! rates, from per-step event counts (or per-step error ratios).
//!
//! Definitions, after the Google SRE Workbook (Beyer et al., 2018):
//! - availability over a period = Σ good / Σ total events (ch. 2, "Implementing SLOs": an SLI is
//!   the ratio of good events to all events); for an error-ratio SLI every step weighs the same
//!   (a time-based SLI), so availability = 1 − mean(step error ratio);
//! - error ratio = 1 − availability;
//! - error budget = 1 − target; budget remaining over the rolling window W ending at the week's
//!   end = 1 − (error ratio over W) / (1 − target). It goes below 0 once the budget is overspent,
//!   and is reported as such rather than clamped;
//! - burn rate over a window w = (error ratio over w) / (1 − target) (ch. 5, "Alerting on SLOs":
//!   1 spends the budget exactly over the SLO window; the multi-window alerts look at 1 h, 6 h,
//!   1 d and 3 d);
//! - bad minutes = the minutes whose own error ratio exceeds the budget (1 − target), the "bad
//!   time" of a time-based SLI. The Prometheus source counts them per minute whatever the step
//!   (a 1-minute subquery), together with the minutes that had data; minutes without data are
//!   `unknown_minutes`, never good or bad. Without minute counts (stores written before them,
//!   the demo) it falls back to the length of the steps whose error ratio exceeds the budget;
//! - the SLO is met in a week when that week's availability ≥ target.
//!
//! Where the source stored a week's own counts (`increase(...[1w])` at the week's end) and the
//! window's own counts (`increase(...[window])` at the week's end), the week's availability,
//! request counts and budget come from them, so they equal what Prometheus answers for that
//! period; summing per-step counts instead loses what a scrape gap across a step boundary hides.
//!
//! Missing steps are missing: they count neither as good nor as bad, and the coverage figure says
//! how much of the week had data. The current week is reported too, flagged `partial`, with its
//! figures so far (burn rates and budget end at the last complete step).

use serde::{Deserialize, Serialize};

use super::{DAY_MS, WEEK_MS};
use crate::model::Point;

/// The burn-rate windows of the SRE Workbook's multi-window alerts, in hours.
pub const BURN_WINDOWS_H: [i64; 4] = [1, 6, 24, 72];

/// An SLO as the analysis needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SloSpec {
    /// Objective, e.g. 0.999.
    pub target: f64,
    /// Rolling error-budget window, in milliseconds.
    pub window_ms: i64,
    /// Step of the stored samples, in milliseconds.
    pub step_ms: i64,
}

/// The stored samples of one SLO.
#[derive(Debug, Clone, Copy)]
pub enum SliPoints<'a> {
    /// Good and total events per step.
    Counts {
        /// Good events per step.
        good: &'a [Point],
        /// All events per step.
        total: &'a [Point],
    },
    /// Error ratio per step.
    Ratio(&'a [Point]),
}

/// Everything stored for one SLO: the per-step SLI and, when the source provides them, the
/// minute counts and the week's and window's own counts. Every slice is in milliseconds; the
/// per-week ones are keyed by the week's start.
#[derive(Debug, Clone, Copy)]
pub struct SloSamples<'a> {
    /// The per-step SLI.
    pub sli: SliPoints<'a>,
    /// Bad minutes per step, at the step's start.
    pub bad_minutes: &'a [Point],
    /// Minutes with data per step, at the step's start.
    pub known_minutes: &'a [Point],
    /// Error ratio over the SLO window ending at the week's end (for the current week: at the
    /// last complete step), at the week's start.
    pub window_error_ratio: &'a [Point],
    /// Good events of the week itself (so far, for the current week), at the week's start.
    pub week_good: &'a [Point],
    /// All events of the week itself, at the week's start.
    pub week_total: &'a [Point],
}

impl<'a> SloSamples<'a> {
    /// Only the per-step SLI (the demo, stores written before minute and window counts).
    pub fn steps_only(sli: SliPoints<'a>) -> Self {
        Self {
            sli,
            bad_minutes: &[],
            known_minutes: &[],
            window_error_ratio: &[],
            week_good: &[],
            week_total: &[],
        }
    }
}

/// Whether the SLO held in a week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloStatus {
    /// availability ≥ target.
    Met,
    /// availability < target.
    Breached,
    /// No samples in the week.
    NoData,
}

/// One week of one SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekReliability {
    /// Monday 00:00 UTC, milliseconds.
    pub week_start: i64,
    /// The current week, not over yet: every figure is the week so far.
    pub partial: bool,
    /// Σ good / Σ total over the week.
    pub availability: Option<f64>,
    /// 1 − availability.
    pub error_ratio: Option<f64>,
    /// Events of the week (counter-based SLOs only).
    pub total_requests: Option<f64>,
    /// Bad events of the week: total − good (counter-based SLOs only).
    pub error_requests: Option<f64>,
    /// Minutes whose error ratio exceeded the budget (at minute resolution when the source
    /// counted minutes, else the length of the bad steps).
    pub bad_minutes: Option<f64>,
    /// Minutes of the week (so far) without data, neither good nor bad; `None` when minutes were
    /// not counted.
    pub unknown_minutes: Option<f64>,
    /// Budget remaining over the rolling window ending at the week's end (may be negative).
    pub error_budget_remaining: Option<f64>,
    /// Burn rates over [`BURN_WINDOWS_H`] ending at the week's end.
    pub burn_rates: [Option<f64>; 4],
    /// Met, breached or no data.
    pub status: SloStatus,
    /// Share of the week's steps that have data.
    pub coverage: f64,
}

/// Per-step bad and total weights, sorted by time, with the sums of each UTC day for window
/// queries.
///
/// A window's sum is the steps of its first and last partial days added one by one, and the
/// day sums in between, each summed from the day's start: it depends only on the steps inside
/// the window, never on where the read began. Prefix sums over everything read would make a
/// week's figures differ in their last bits with the first week asked for, so a week computed
/// alone (kept SLO rows brought up to date, `query::slo_rows`) would not equal the same week
/// computed with the whole history.
struct Steps {
    ts: Vec<i64>,
    bad: Vec<f64>,
    total: Vec<f64>,
    /// Each day with steps: its start, its first step's index, its bad and total sums.
    days: Vec<(i64, usize, f64, f64)>,
}

impl Steps {
    fn new(points: SliPoints<'_>) -> Self {
        let mut rows: Vec<(i64, f64, f64)> = match points {
            SliPoints::Counts { good, total } => {
                let mut good: Vec<&Point> = good.iter().collect();
                good.sort_by_key(|p| p.ts);
                total
                    .iter()
                    .filter_map(|t| {
                        let g = good.binary_search_by_key(&t.ts, |p| p.ts).ok()?;
                        let g = good[g].value;
                        (g.is_finite() && t.value.is_finite() && t.value > 0.0)
                            .then(|| (t.ts, (t.value - g).clamp(0.0, t.value), t.value))
                    })
                    .collect()
            }
            SliPoints::Ratio(ratio) => ratio
                .iter()
                .filter(|p| p.value.is_finite())
                .map(|p| (p.ts, p.value.clamp(0.0, 1.0), 1.0))
                .collect(),
        };
        rows.sort_by_key(|r| r.0);
        rows.dedup_by_key(|r| r.0);
        let mut days: Vec<(i64, usize, f64, f64)> = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let day = r.0.div_euclid(DAY_MS) * DAY_MS;
            match days.last_mut() {
                Some(d) if d.0 == day => {
                    d.2 += r.1;
                    d.3 += r.2;
                }
                _ => days.push((day, i, r.1, r.2)),
            }
        }
        Self {
            ts: rows.iter().map(|r| r.0).collect(),
            bad: rows.iter().map(|r| r.1).collect(),
            total: rows.iter().map(|r| r.2).collect(),
            days,
        }
    }

    /// Index range of the steps with `from <= ts < to`.
    fn span(&self, from: i64, to: i64) -> (usize, usize) {
        (
            self.ts.partition_point(|t| *t < from),
            self.ts.partition_point(|t| *t < to),
        )
    }

    /// Bad and total weights of the steps in `[from, to)`.
    fn sums(&self, from: i64, to: i64) -> (f64, f64) {
        let add = |(a, b): (usize, usize), into: &mut (f64, f64)| {
            for i in a..b {
                into.0 += self.bad[i];
                into.1 += self.total[i];
            }
        };
        let mut sum = (0.0, 0.0);
        // The whole days inside the window.
        let first_day = from.div_euclid(DAY_MS) * DAY_MS;
        let first_day = if first_day < from {
            first_day.saturating_add(DAY_MS)
        } else {
            first_day
        };
        let last_day = to.div_euclid(DAY_MS) * DAY_MS;
        if first_day >= last_day {
            add(self.span(from, to), &mut sum);
            return sum;
        }
        add(self.span(from, first_day), &mut sum);
        let (a, b) = (
            self.days.partition_point(|d| d.0 < first_day),
            self.days.partition_point(|d| d.0 < last_day),
        );
        for d in &self.days[a..b] {
            sum.0 += d.2;
            sum.1 += d.3;
        }
        add(self.span(last_day, to), &mut sum);
        sum
    }

    /// Error ratio over `[from, to)`, if any events happened in it.
    fn error_ratio(&self, from: i64, to: i64) -> Option<f64> {
        let (bad, total) = self.sums(from, to);
        (total > 0.0).then(|| bad / total)
    }
}

/// The value stored at `ts`, if any (`points` sorted by time).
fn at(points: &[Point], ts: i64) -> Option<f64> {
    points
        .binary_search_by_key(&ts, |p| p.ts)
        .ok()
        .map(|i| points[i].value)
        .filter(|v| v.is_finite())
}

fn sorted(points: &[Point]) -> Vec<Point> {
    let mut v = points.to_vec();
    v.sort_by_key(|p| p.ts);
    v
}

/// Weekly figures for the weeks starting at each of `weeks` (Mondays, milliseconds); the week
/// holding `now_ms` is flagged partial and ends, for burn rates and the budget, at the last
/// complete step before `now_ms`.
pub fn weekly(
    spec: &SloSpec,
    samples: &SloSamples<'_>,
    weeks: &[i64],
    now_ms: i64,
) -> Vec<WeekReliability> {
    let steps = Steps::new(samples.sli);
    let (bad_min, known_min) = (sorted(samples.bad_minutes), sorted(samples.known_minutes));
    let window_ratio = sorted(samples.window_error_ratio);
    let (week_good, week_total) = (sorted(samples.week_good), sorted(samples.week_total));
    let counts = matches!(samples.sli, SliPoints::Counts { .. });
    let step_ms = spec.step_ms.max(1);
    let budget = 1.0 - spec.target;
    let steps_per_week = (WEEK_MS / step_ms).max(1) as f64;
    let step_minutes = step_ms as f64 / 60_000.0;
    let last_step_end = now_ms.div_euclid(step_ms) * step_ms;
    weeks
        .iter()
        .map(|&ws| {
            let partial = ws <= now_ms && now_ms < ws + WEEK_MS;
            let we = ws + WEEK_MS;
            // Where rolling figures end: the week's end, or the last complete step of this week.
            let end = if partial { last_step_end.max(ws) } else { we };
            let (a, b) = steps.span(ws, we);
            // The week's own counts when stored, else the sum of its steps.
            let own = at(&week_total, ws)
                .filter(|t| *t > 0.0)
                .zip(at(&week_good, ws))
                .map(|(t, g)| (t, (t - g).clamp(0.0, t)));
            let summed = || {
                let (bad, t) = steps.sums(ws, we);
                (t > 0.0).then_some((t, bad))
            };
            let (total_requests, error_requests) = match (counts, own.or_else(summed)) {
                (true, Some((t, e))) => (Some(t), Some(e)),
                _ => (None, None),
            };
            let error_ratio = match (own, counts) {
                (Some((t, e)), true) => Some(e / t),
                _ => steps.error_ratio(ws, we),
            };
            let availability = error_ratio.map(|r| 1.0 - r);
            let (ma, mb) = (
                known_min.partition_point(|p| p.ts < ws),
                known_min.partition_point(|p| p.ts < we),
            );
            let (bad_minutes, unknown_minutes) = if mb > ma {
                let sum = |v: &[Point]| -> f64 {
                    v.iter()
                        .filter(|p| (ws..we).contains(&p.ts) && p.value.is_finite())
                        .map(|p| p.value)
                        .sum()
                };
                let known = sum(&known_min[ma..mb]);
                let elapsed = (end - ws) as f64 / 60_000.0;
                // The week's slice of the sorted samples, as for the known minutes: the same
                // points in the same order as a filter over all of them, without reading every
                // sample of the history for every week.
                let bad = &bad_min[bad_min.partition_point(|p| p.ts < ws)
                    ..bad_min.partition_point(|p| p.ts < we)];
                (Some(sum(bad)), Some((elapsed - known).max(0.0)))
            } else {
                let bad = (b > a).then(|| {
                    (a..b)
                        .filter(|&i| steps.bad[i] / steps.total[i] > budget)
                        .count() as f64
                        * step_minutes
                });
                (bad, None)
            };
            let burn = |hours: i64| {
                steps
                    .error_ratio(end - hours * 3_600_000, end)
                    .map(|r| r / budget)
            };
            let window =
                at(&window_ratio, ws).or_else(|| steps.error_ratio(end - spec.window_ms, end));
            WeekReliability {
                week_start: ws,
                partial,
                availability,
                error_ratio,
                total_requests,
                error_requests,
                bad_minutes,
                unknown_minutes,
                error_budget_remaining: window.map(|r| 1.0 - r / budget),
                burn_rates: BURN_WINDOWS_H.map(burn),
                status: match availability {
                    None => SloStatus::NoData,
                    Some(a) if a >= spec.target => SloStatus::Met,
                    Some(_) => SloStatus::Breached,
                },
                coverage: ((b - a) as f64 / steps_per_week).min(1.0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    /// A business time long after the weeks under test: every week is complete.
    const LATER: i64 = 100 * WEEK_MS;

    fn spec() -> SloSpec {
        SloSpec {
            target: 0.999,
            window_ms: 28 * 24 * H,
            step_ms: H,
        }
    }

    #[test]
    fn counts_give_event_weighted_availability_and_bad_minutes() {
        // Week 0: 168 hours of 1000 events, 5 bad each (0.5 %), except hour 10 with 1000 bad.
        let total: Vec<Point> = (0..168)
            .map(|h| Point {
                ts: h * H,
                value: 1000.0,
            })
            .collect();
        let good: Vec<Point> = (0..168)
            .map(|h| Point {
                ts: h * H,
                value: if h == 10 { 0.0 } else { 995.0 },
            })
            .collect();
        let w = weekly(
            &spec(),
            &SloSamples::steps_only(SliPoints::Counts {
                good: &good,
                total: &total,
            }),
            &[0],
            LATER,
        );
        let bad = 167.0 * 5.0 + 1000.0;
        let ratio = bad / 168_000.0;
        assert!((w[0].error_ratio.unwrap() - ratio).abs() < 1e-12);
        assert_eq!(w[0].status, SloStatus::Breached);
        // Every hour is above the 0.1 % budget: all 168 hours are bad time.
        assert_eq!(w[0].bad_minutes, Some(168.0 * 60.0));
        assert_eq!(w[0].coverage, 1.0);
        // The 28-day window only holds this week: remaining = 1 − ratio / 0.001.
        assert!((w[0].error_budget_remaining.unwrap() - (1.0 - ratio / 0.001)).abs() < 1e-9);
        // The last hour had 0.5 % errors: burn rate 5 over 1 h.
        assert!((w[0].burn_rates[0].unwrap() - 5.0).abs() < 1e-9);
    }

    #[test]
    fn gaps_are_missing_not_good() {
        let total: Vec<Point> = (0..84)
            .map(|h| Point {
                ts: h * H,
                value: 100.0,
            })
            .collect();
        let good = total.clone();
        let w = weekly(
            &spec(),
            &SloSamples::steps_only(SliPoints::Counts {
                good: &good,
                total: &total,
            }),
            &[0, WEEK_MS],
            LATER,
        );
        assert_eq!(w[0].availability, Some(1.0));
        assert_eq!(w[0].coverage, 0.5);
        assert_eq!(w[1].status, SloStatus::NoData);
        assert_eq!(w[1].availability, None);
        assert_eq!(w[1].bad_minutes, None);
    }

    #[test]
    fn ratio_slis_weigh_every_step_the_same() {
        let ratio: Vec<Point> = (0..168)
            .map(|h| Point {
                ts: h * H,
                value: if h < 84 { 0.0 } else { 0.002 },
            })
            .collect();
        let w = weekly(
            &spec(),
            &SloSamples::steps_only(SliPoints::Ratio(&ratio)),
            &[0],
            LATER,
        );
        assert!((w[0].availability.unwrap() - 0.999).abs() < 1e-12);
        assert_eq!(w[0].bad_minutes, Some(84.0 * 60.0));
    }

    fn hourly(value: impl Fn(i64) -> f64, hours: std::ops::Range<i64>) -> Vec<Point> {
        hours
            .map(|h| Point {
                ts: h * H,
                value: value(h),
            })
            .collect()
    }

    #[test]
    fn minute_counts_win_over_step_resolution_and_gaps_are_unknown() {
        // Two hours hold errors over the budget: 12 and 7 bad minutes. At step resolution that
        // read 2 × 60 = 120 bad minutes; at minute resolution it is 12 + 7 = 19. Hour 30 had
        // data for 50 of its 60 minutes: 10 unknown minutes.
        let total = hourly(|_| 120_000.0, 0..168);
        let good = hourly(
            |h| match h {
                10 => 120_000.0 - 240.0,
                20 => 120_000.0 - 350.0,
                _ => 120_000.0,
            },
            0..168,
        );
        let bad = hourly(
            |h| match h {
                10 => 12.0,
                20 => 7.0,
                _ => 0.0,
            },
            0..168,
        );
        let known = hourly(|h| if h == 30 { 50.0 } else { 60.0 }, 0..168);
        let sli = SliPoints::Counts {
            good: &good,
            total: &total,
        };
        let old = weekly(&spec(), &SloSamples::steps_only(sli), &[0], LATER);
        assert_eq!(old[0].bad_minutes, Some(120.0));
        assert_eq!(old[0].unknown_minutes, None);
        let samples = SloSamples {
            bad_minutes: &bad,
            known_minutes: &known,
            ..SloSamples::steps_only(sli)
        };
        let w = weekly(&spec(), &samples, &[0], LATER);
        assert_eq!(w[0].bad_minutes, Some(19.0));
        assert_eq!(w[0].unknown_minutes, Some(10.0));
        assert_eq!(w[0].total_requests, Some(168.0 * 120_000.0));
        assert_eq!(w[0].error_requests, Some(590.0));
        assert!(!w[0].partial);
    }

    #[test]
    fn the_weeks_and_windows_own_counts_win_over_summed_steps() {
        // The steps lost 1 000 requests and 500 errors to a scrape gap across a step boundary;
        // the week's own increase() has them.
        let total = hourly(|_| 1_000.0, 0..168);
        let good = total.clone();
        let week_total = [Point {
            ts: 0,
            value: 169_000.0,
        }];
        let week_good = [Point {
            ts: 0,
            value: 168_500.0,
        }];
        let window = [Point {
            ts: 0,
            value: 0.0005,
        }];
        let samples = SloSamples {
            week_total: &week_total,
            week_good: &week_good,
            window_error_ratio: &window,
            ..SloSamples::steps_only(SliPoints::Counts {
                good: &good,
                total: &total,
            })
        };
        let w = weekly(&spec(), &samples, &[0], LATER);
        assert_eq!(w[0].total_requests, Some(169_000.0));
        assert_eq!(w[0].error_requests, Some(500.0));
        assert!((w[0].error_ratio.unwrap() - 500.0 / 169_000.0).abs() < 1e-15);
        assert!((w[0].error_budget_remaining.unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn the_current_week_is_partial_and_ends_at_the_last_complete_step() {
        // 60 h of data; now is 60 h 30 min into the week.
        let total = hourly(|_| 1_000.0, 0..60);
        let good = hourly(|h| if h == 59 { 990.0 } else { 1_000.0 }, 0..60);
        let known = hourly(|_| 60.0, 0..60);
        let bad = hourly(|h| if h == 59 { 60.0 } else { 0.0 }, 0..60);
        let samples = SloSamples {
            bad_minutes: &bad,
            known_minutes: &known,
            ..SloSamples::steps_only(SliPoints::Counts {
                good: &good,
                total: &total,
            })
        };
        let w = weekly(&spec(), &samples, &[0], 60 * H + 30 * 60_000);
        assert!(w[0].partial);
        assert_eq!(w[0].unknown_minutes, Some(0.0), "the future is not unknown");
        assert_eq!(w[0].bad_minutes, Some(60.0));
        // The 1 h burn rate looks at hour 59 (1 % errors), not at the empty end of the week.
        assert!((w[0].burn_rates[0].unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(w[0].total_requests, Some(60_000.0));
    }
}
