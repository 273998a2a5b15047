//! Shift events: when a change began and which components moved.

use super::{Component, Moved, PressureWeek, Regime, Shift, ShiftTrigger, WeekSignals};

/// The week a level shift most likely began, among the last 20 scored weeks up to `now`: the
/// split that maximises the difference of the two segments' means weighted by their sizes, the
/// maximum-likelihood change point of a single shift in mean (Hinkley 1970, "Inference about the
/// change-point in a sequence of random variables", Biometrika 57).
pub(super) fn step_week(history: &[(usize, f64)], now: usize) -> usize {
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
pub(super) fn shift(
    rows: &[PressureWeek],
    now: &PressureWeek,
    from: Regime,
    to: Regime,
    since: usize,
    trigger: ShiftTrigger,
    stat: f64,
    weeks: &[WeekSignals],
    calendar: crate::analysis::Calendar,
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
