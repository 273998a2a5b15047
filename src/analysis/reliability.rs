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
//! - bad minutes = the length of the steps whose own error ratio exceeds the budget (1 − target),
//!   the "bad time" of a time-based SLI, at the resolution of one step;
//! - the SLO is met in a week when that week's availability ≥ target.
//!
//! Missing steps are missing: they count neither as good nor as bad, and the coverage figure says
//! how much of the week had data.

use serde::Serialize;

use super::WEEK_MS;
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

/// Whether the SLO held in a week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekReliability {
    /// Monday 00:00 UTC, milliseconds.
    pub week_start: i64,
    /// Σ good / Σ total over the week.
    pub availability: Option<f64>,
    /// 1 − availability.
    pub error_ratio: Option<f64>,
    /// Minutes of steps whose error ratio exceeded the budget.
    pub bad_minutes: Option<f64>,
    /// Budget remaining over the rolling window ending at the week's end (may be negative).
    pub error_budget_remaining: Option<f64>,
    /// Burn rates over [`BURN_WINDOWS_H`] ending at the week's end.
    pub burn_rates: [Option<f64>; 4],
    /// Met, breached or no data.
    pub status: SloStatus,
    /// Share of the week's steps that have data.
    pub coverage: f64,
}

/// Per-step bad and total weights, sorted by time, with prefix sums for window queries.
struct Steps {
    ts: Vec<i64>,
    bad: Vec<f64>,
    total: Vec<f64>,
    cum_bad: Vec<f64>,
    cum_total: Vec<f64>,
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
        let (mut cb, mut ct) = (vec![0.0], vec![0.0]);
        for r in &rows {
            cb.push(cb[cb.len() - 1] + r.1);
            ct.push(ct[ct.len() - 1] + r.2);
        }
        Self {
            ts: rows.iter().map(|r| r.0).collect(),
            bad: rows.iter().map(|r| r.1).collect(),
            total: rows.iter().map(|r| r.2).collect(),
            cum_bad: cb,
            cum_total: ct,
        }
    }

    /// Index range of the steps with `from <= ts < to`.
    fn span(&self, from: i64, to: i64) -> (usize, usize) {
        (
            self.ts.partition_point(|t| *t < from),
            self.ts.partition_point(|t| *t < to),
        )
    }

    /// Error ratio over `[from, to)`, if any events happened in it.
    fn error_ratio(&self, from: i64, to: i64) -> Option<f64> {
        let (a, b) = self.span(from, to);
        let total = self.cum_total[b] - self.cum_total[a];
        (total > 0.0).then(|| (self.cum_bad[b] - self.cum_bad[a]) / total)
    }
}

/// Weekly figures for the weeks starting at each of `weeks` (Mondays, milliseconds).
pub fn weekly(spec: &SloSpec, points: SliPoints<'_>, weeks: &[i64]) -> Vec<WeekReliability> {
    let steps = Steps::new(points);
    let budget = 1.0 - spec.target;
    let steps_per_week = (WEEK_MS / spec.step_ms.max(1)).max(1) as f64;
    let step_minutes = spec.step_ms as f64 / 60_000.0;
    weeks
        .iter()
        .map(|&ws| {
            let we = ws + WEEK_MS;
            let (a, b) = steps.span(ws, we);
            let error_ratio = steps.error_ratio(ws, we);
            let availability = error_ratio.map(|r| 1.0 - r);
            let bad_minutes = (b > a).then(|| {
                (a..b)
                    .filter(|&i| steps.bad[i] / steps.total[i] > budget)
                    .count() as f64
                    * step_minutes
            });
            let burn = |hours: i64| {
                steps
                    .error_ratio(we - hours * 3_600_000, we)
                    .map(|r| r / budget)
            };
            WeekReliability {
                week_start: ws,
                availability,
                error_ratio,
                bad_minutes,
                error_budget_remaining: steps
                    .error_ratio(we - spec.window_ms, we)
                    .map(|r| 1.0 - r / budget),
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
            SliPoints::Counts {
                good: &good,
                total: &total,
            },
            &[0],
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
            SliPoints::Counts {
                good: &good,
                total: &total,
            },
            &[0, WEEK_MS],
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
        let w = weekly(&spec(), SliPoints::Ratio(&ratio), &[0]);
        assert!((w[0].availability.unwrap() - 0.999).abs() < 1e-12);
        assert_eq!(w[0].bad_minutes, Some(84.0 * 60.0));
    }
}
