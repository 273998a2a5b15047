//! Building a scope's weekly rows: delivery and reliability per week, bug inflow, and the
//! revenue months carried onto the weeks.

use super::*;

/// Delivery and reliability rows of one scope. Delivery counts as missing (never zero) before
/// the scope's first deployment.
pub(super) fn scope_rows(
    weeks: &[i64],
    current: i64,
    delivery: Option<&Vec<crate::analysis::dora::DoraWeek>>,
    slos: &[&(&SloDef, Vec<WeekReliability>)],
) -> Vec<WeekRow> {
    let first_deploy =
        delivery.and_then(|d| d.iter().find(|w| w.week.attempted > 0).map(|w| w.week_ms));
    weeks
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let partial = w == current;
            let mut cov: BTreeMap<&'static str, Coverage> = BTreeMap::new();
            let mut s = WeekSignals {
                week_ms: w,
                partial,
                ..WeekSignals::default()
            };
            let mut cfr_4w_detail = None;
            let delivered = delivery
                .map(|d| &d[i])
                .filter(|_| first_deploy.is_some_and(|f| w >= f));
            if let Some(d) = delivered {
                s.deployments = Some(d.week.deployments as f64);
                s.incidents = Some(d.week.incidents as f64);
                s.lead_time_s = d.week.lead_time.map(|q| q.p50);
                cfr_4w_detail = d.rolling_4w.change_failure_rate;
                s.cfr_4w = cfr_4w_detail.map(|r| r.value);
                s.recovery_4w_s = d.rolling_4w.recovery_time.map(|q| q.p50);
                // The week alone too: the detector pools 2 weeks of these, so a change in
                // delivery stability shows before the 4-week window fills.
                s.attempted_week = Some(d.week.attempted as f64);
                s.failures_week = d.week.change_failure_rate.map(|r| r.k as f64);
                s.recovery_week_s = d.week.recovery_time.map(|q| q.p50);
                s.recoveries_week = d.week.recovery_time.map(|q| q.n as f64);
            }
            let delivery_cov = match delivered {
                None => Coverage::Missing,
                Some(_) if partial => Coverage::PartialWeek,
                Some(_) => Coverage::Complete,
            };
            for k in [
                "deployments",
                "incidents",
                "lead_time",
                "cfr_4w",
                "recovery_4w",
            ] {
                cov.insert(k, delivery_cov);
            }
            // Reliability: the worst SLO, the latency SLOs' burn rate apart (the budget is the
            // worst of all: the error-budget policy reads every SLO).
            let mut rel_cov = Coverage::Missing;
            for (def, rows) in slos {
                let Some(r) = rows.get(i).filter(|r| r.week_start == w) else {
                    continue;
                };
                if r.coverage <= 0.0 {
                    continue;
                }
                let target = def.spec.target;
                if let Some(a) = r.availability {
                    let burn = (1.0 - a) / (1.0 - target).max(1e-9);
                    let to = match def.kind {
                        SloKind::Availability => &mut s.burn_rate,
                        SloKind::Latency => &mut s.latency_burn_rate,
                    };
                    *to = Some(to.map_or(burn, |b: f64| b.max(burn)));
                }
                if let Some(left) = r.error_budget_remaining {
                    let spent = 1.0 - left;
                    s.budget_consumed_4w =
                        Some(s.budget_consumed_4w.map_or(spent, |b: f64| b.max(spent)));
                }
                rel_cov = if partial || r.coverage < 0.99 {
                    Coverage::PartialWeek
                } else if rel_cov == Coverage::PartialWeek {
                    rel_cov
                } else {
                    Coverage::Complete
                };
            }
            // A rate none of the week's SLOs gave is missing, whatever the others' coverage (a
            // scope whose SLOs are all latency ones has no `burn_rate`).
            let rate_cov = |rate: Option<f64>| rate.map_or(Coverage::Missing, |_| rel_cov);
            cov.insert("burn_rate", rate_cov(s.burn_rate));
            cov.insert("budget_consumed_4w", rel_cov);
            if slos.iter().any(|(def, _)| def.kind == SloKind::Latency) {
                cov.insert("latency_burn_rate", rate_cov(s.latency_burn_rate));
            }
            WeekRow {
                signals: s,
                coverage: cov,
                cfr_4w_detail,
            }
        })
        .collect()
}

/// Bugs opened each week (`opened`: the Monday of each bug's opening), from the week of the
/// scope's first bug on; before it, and in a scope without a bug, missing rather than zero: the
/// bug source may not be configured at all, and the index then leaves the component out.
pub(super) fn bugs_into(rows: &mut [WeekRow], opened: &[i64]) {
    let mut per_week: BTreeMap<i64, u32> = BTreeMap::new();
    for w in opened {
        *per_week.entry(*w).or_default() += 1;
    }
    let first = per_week.keys().next().copied();
    for row in rows {
        let s = &mut row.signals;
        let cov = match first {
            Some(f) if s.week_ms >= f => {
                s.bugs_opened = Some(f64::from(per_week.get(&s.week_ms).copied().unwrap_or(0)));
                if s.partial {
                    Coverage::PartialWeek
                } else {
                    Coverage::Complete
                }
            }
            _ => Coverage::Missing,
        };
        row.coverage.insert("bugs_opened", cov);
    }
}

/// Revenue of the month holding the week's Thursday, else of the latest earlier month while it
/// is less than 5 weeks old; never interpolated.
pub(super) fn revenue_into(
    row: &mut WeekRow,
    w: i64,
    months: &BTreeMap<i32, MonthFacts>,
    cal: Calendar,
) {
    let (carried, revenue_cov) = carried(months, w, row.signals.partial, cal);
    if let Some((m, f)) = carried {
        let s = &mut row.signals;
        s.revenue_as_of = Some(f.label.clone());
        s.mrr = Some(f.mrr);
        s.mrr_3m_ago = months.get(&(m - 3)).map(|x| x.mrr);
        s.net_new_mrr = f.net_new;
        s.nrr = f.nrr;
        s.grr = f.grr;
        s.new_logos = f.new_logos;
    }
    for k in ["mrr", "net_new_mrr", "nrr", "grr", "new_logos"] {
        row.coverage.insert(k, revenue_cov);
    }
}

/// The month of a week's Thursday in `months`, else the latest earlier one while it is less
/// than 5 weeks old (never interpolated), and the coverage that gives the week's figures.
pub(in crate::query) fn carried<T>(
    months: &BTreeMap<i32, T>,
    w: i64,
    partial: bool,
    cal: Calendar,
) -> (Option<(i32, &T)>, Coverage) {
    let thursday = w + 3 * 86_400_000;
    let month = cal.month_index(thursday);
    let carried = months
        .range(..=month)
        .next_back()
        .filter(|(m, _)| {
            **m == month || thursday - month_start_ms(**m + 1) < REVENUE_STALE_WEEKS * WEEK_MS
        })
        .map(|(m, v)| (*m, v));
    let cov = match carried {
        None => Coverage::Missing,
        Some((m, _)) if m != month => Coverage::Stale,
        _ if partial => Coverage::PartialWeek,
        _ => Coverage::Complete,
    };
    (carried, cov)
}

/// What the weekly table reads of one month of revenue.
pub(super) struct MonthFacts {
    pub(super) label: String,
    pub(super) mrr: f64,
    pub(super) net_new: Option<f64>,
    pub(super) nrr: Option<f64>,
    pub(super) grr: Option<f64>,
    pub(super) new_logos: Option<f64>,
}

/// 00:00 UTC of the first day of a month.
pub(super) fn month_start_ms(index: i32) -> i64 {
    Month::from_index(index)
        .first_day()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |d| d.and_utc().timestamp_millis())
}
