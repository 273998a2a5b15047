//! Trends of a weekly signal: rolling means, week-over-week and quarter-over-quarter change, and
//! a robust slope.

use serde::Serialize;

/// The trend of one signal as of its last week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// The last value.
    pub last: Option<f64>,
    /// Mean of the last 4 weeks present.
    pub mean_4w: Option<f64>,
    /// Mean of the last 13 weeks present.
    pub mean_13w: Option<f64>,
    /// Last week against the week before: relative change.
    pub wow: Option<f64>,
    /// Last 13 weeks' mean against the 13 before: relative change.
    pub qoq: Option<f64>,
    /// Theil–Sen slope over the last 13 weeks, per week.
    pub slope_13w: Option<f64>,
}

/// The Theil–Sen estimator: the median of the slopes of all pairs of points (Theil 1950, Sen
/// 1968); robust to up to ~29 % outliers, unlike least squares.
pub fn theil_sen(points: &[(f64, f64)]) -> Option<f64> {
    let mut slopes = Vec::with_capacity(points.len() * points.len() / 2);
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            if b.0 != a.0 {
                slopes.push((b.1 - a.1) / (b.0 - a.0));
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    let n = slopes.len();
    Some(if n % 2 == 1 {
        slopes[n / 2]
    } else {
        (slopes[n / 2 - 1] + slopes[n / 2]) / 2.0
    })
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn relative(new: Option<f64>, old: Option<f64>) -> Option<f64> {
    match (new, old) {
        (Some(n), Some(o)) if o != 0.0 => Some(n / o - 1.0),
        _ => None,
    }
}

/// How many of the latest weeks [`trend`] reads: the quarter-over-quarter change compares the
/// last 13 weeks with the 13 before.
pub const WEEKS_READ: usize = 26;

/// The trend of a weekly series (one slot per week, oldest first, `None` where missing); only
/// the last [`WEEKS_READ`] slots matter.
pub fn trend(series: &[Option<f64>]) -> Trend {
    let n = series.len();
    let window = |len: usize, end: usize| -> Vec<f64> {
        series[end.saturating_sub(len)..end]
            .iter()
            .flatten()
            .copied()
            .collect()
    };
    let recent = window(13, n);
    let before = window(13, n.saturating_sub(13));
    let points: Vec<(f64, f64)> = (n.saturating_sub(13)..n)
        .filter_map(|i| series[i].map(|v| (i as f64, v)))
        .collect();
    Trend {
        last: series.last().copied().flatten(),
        mean_4w: mean(&window(4, n)),
        mean_13w: mean(&recent),
        wow: relative(
            series.last().copied().flatten(),
            n.checked_sub(2).and_then(|i| series[i]),
        ),
        qoq: if recent.len() >= 7 && before.len() >= 7 {
            relative(mean(&recent), mean(&before))
        } else {
            None
        },
        slope_13w: if points.len() >= 4 {
            theil_sen(&points)
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theil_sen_ignores_an_outlier_that_least_squares_would_follow() {
        // y = 2x + 1 with one wild point: the median slope stays 2.
        let mut p: Vec<(f64, f64)> = (0..10).map(|x| (x as f64, 2.0 * x as f64 + 1.0)).collect();
        p[9].1 = 500.0;
        assert_eq!(theil_sen(&p), Some(2.0));
    }

    #[test]
    fn trend_of_a_series_with_gaps() {
        // 26 weeks: 10 for the first 13, then 12 with one week missing.
        let mut s: Vec<Option<f64>> = (0..26)
            .map(|i| Some(if i < 13 { 10.0 } else { 12.0 }))
            .collect();
        s[20] = None;
        let t = trend(&s);
        assert_eq!(t.last, Some(12.0));
        assert_eq!(t.mean_4w, Some(12.0));
        assert_eq!(t.wow, Some(0.0));
        assert!((t.qoq.expect("qoq") - 0.2).abs() < 1e-12);
        assert_eq!(t.slope_13w, Some(0.0));
    }

    #[test]
    fn only_the_last_26_weeks_matter() {
        let s: Vec<Option<f64>> = (0..60)
            .map(|i| (i % 7 != 3).then_some((i * i % 17) as f64))
            .collect();
        assert_eq!(trend(&s), trend(&s[s.len() - WEEKS_READ..]));
    }
}
