//! Revenue figures from monthly MRR per customer: MRR movements, growth, NRR and GRR.
//!
//! Definitions (each output carries the name of the formula it used):
//! - **MRR** = Σ customers' MRR in the month; **ARR** = 12 × MRR.
//! - **Movements** between months t−1 and t, per customer (ChartMogul, "MRR movements"): *new*
//!   (0 → >0, never paid before), *reactivation* (0 → >0, paid before: in an earlier month of the
//!   data, or before t by the customer's stated first month), *expansion* (up), *contraction*
//!   (down, still >0), *churn* (>0 → 0). new + reactivation + expansion − contraction − churn =
//!   MRRₜ − MRRₜ₋₁ exactly.
//! - **Logo churn** = customers lost in the month / customers at its start.
//! - **MoM growth** = MRRₜ / MRRₜ₋₁ − 1; **YoY growth** = MRRₜ / MRRₜ₋₁₂ − 1.
//! - **NRR, trailing-12-month cohort** (SaaS Capital, "Net Revenue Retention"): for the customers
//!   C with MRR > 0 at t−12, Σ_C MRRₜ / Σ_C MRRₜ₋₁₂. **GRR, cohort** (same cohort; Stripe and
//!   KeyBanc's gross retention): Σ_C min(MRRₜ, MRRₜ₋₁₂) / Σ_C MRRₜ₋₁₂, so GRR ≤ min(1, NRR).
//!   When reactivation does not count as expansion, a cohort customer that churned within the
//!   window counts as 0 at t.
//! - **NRR, monthly movements** (ChartMogul, "Net MRR retention"): (start + expansion −
//!   contraction − churn) / start, with start = MRRₜ₋₁ and reactivation added to expansion when it
//!   counts as expansion; **GRR, monthly**: (start − contraction − churn) / start.
//!
//! Months with no data are missing: nothing is interpolated, and a figure that needs a missing
//! month is absent.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::Month;

pub use crate::model::revenue::{
    month_label, parse_month, MonthIdx, RetentionWindow, RowRef, Snapshots,
};

/// Settings of the derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevenueSettings {
    /// Which NRR/GRR is the headline figure.
    pub window: RetentionWindow,
    /// Whether reactivated MRR counts as expansion.
    pub reactivation_as_expansion: bool,
}

impl Default for RevenueSettings {
    fn default() -> Self {
        Self {
            window: RetentionWindow::Cohort12m,
            reactivation_as_expansion: true,
        }
    }
}

/// Figures of one month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthRevenue {
    /// The month (`YYYY-MM` in JSON).
    pub month: Month,
    /// Σ MRR.
    pub mrr: f64,
    /// 12 × MRR.
    pub arr: f64,
    /// Paying customers.
    pub customers: u64,
    /// Movements from the previous month (absent for the first month of the data).
    pub movements: Option<Movements>,
    /// Customers lost / customers at the start.
    pub logo_churn: Option<f64>,
    /// MRRₜ / MRRₜ₋₁ − 1.
    pub mom_growth: Option<f64>,
    /// MRRₜ / MRRₜ₋₁₂ − 1.
    pub yoy_growth: Option<f64>,
    /// NRR by the trailing-12-month cohort formula.
    pub nrr_cohort_12m: Option<f64>,
    /// GRR by the trailing-12-month cohort formula.
    pub grr_cohort_12m: Option<f64>,
    /// NRR by the monthly-movement formula.
    pub nrr_monthly: Option<f64>,
    /// GRR by the monthly-movement formula.
    pub grr_monthly: Option<f64>,
    /// The headline NRR (per the configured window).
    pub nrr: Option<f64>,
    /// The headline GRR.
    pub grr: Option<f64>,
    /// Name of the formula behind `nrr` and `grr`.
    pub retention_formula: &'static str,
}

/// MRR movements of one month.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Movements {
    /// From customers that never paid before.
    pub new: f64,
    /// Increases of paying customers.
    pub expansion: f64,
    /// Decreases of customers that still pay.
    pub contraction: f64,
    /// MRR of customers that stopped paying.
    pub churn: f64,
    /// From customers that paid before, stopped, and pay again.
    pub reactivation: f64,
    /// Customers that stopped paying.
    pub churned_customers: u64,
    /// Customers that never paid before.
    pub new_customers: u64,
}

impl Movements {
    /// new + reactivation + expansion − contraction − churn.
    pub fn net(&self) -> f64 {
        self.new + self.reactivation + self.expansion - self.contraction - self.churn
    }
}

fn formula_name(window: RetentionWindow) -> &'static str {
    match window {
        RetentionWindow::Cohort12m => {
            "trailing-12-month cohort: NRR = Σ MRRₜ / Σ MRRₜ₋₁₂, GRR = Σ min(MRRₜ, MRRₜ₋₁₂) / Σ MRRₜ₋₁₂ over customers paying at t−12"
        }
        RetentionWindow::Monthly => {
            "monthly movements: NRR = (start + expansion − contraction − churn) / start, GRR = (start − contraction − churn) / start"
        }
    }
}

/// Monthly figures for every month of `data`, optionally restricted to one segment (a customer's
/// segment is the latest one it was given).
pub fn monthly(
    data: &Snapshots,
    settings: RevenueSettings,
    segment: Option<&str>,
) -> Vec<MonthRevenue> {
    let n = data.customer_count();
    let keep: Vec<bool> = match segment {
        None => vec![true; n],
        Some(s) => {
            let wanted = data.segment_index(s);
            data.latest_segments()
                .into_iter()
                .map(|seg| seg.is_some() && seg == wanted)
                .collect()
        }
    };
    monthly_of(data, settings, &keep)
}

/// [`monthly`] over the customers whose latest segment and plan `keep` accepts (a product's).
pub fn monthly_where(
    data: &Snapshots,
    settings: RevenueSettings,
    keep: impl Fn(Option<&str>, Option<&str>) -> bool,
) -> Vec<MonthRevenue> {
    let keep: Vec<bool> = data
        .latest_labels()
        .into_iter()
        .map(|(segment, plan)| keep(segment, plan))
        .collect();
    monthly_of(data, settings, &keep)
}

/// The figures of the customers `keep` marks (by customer index).
fn monthly_of(data: &Snapshots, settings: RevenueSettings, keep: &[bool]) -> Vec<MonthRevenue> {
    let n = data.customer_count();
    let dense: BTreeMap<MonthIdx, Vec<f64>> = data
        .months()
        .filter_map(|m| {
            data.dense(m).map(|mut v| {
                for (x, k) in v.iter_mut().zip(keep) {
                    if !k {
                        *x = 0.0;
                    }
                }
                (m, v)
            })
        })
        .collect();
    let total = |v: &[f64]| v.iter().sum::<f64>();

    let mut seen_before = vec![false; n];
    let first_months = data.first_months();
    let mut out = Vec::new();
    for (&t, current) in &dense {
        let mrr = total(current);
        let prev = dense.get(&(t - 1));
        let movements = prev.map(|prev| {
            let mut mv = Movements::default();
            for c in 0..n {
                let (a, b) = (prev[c], current[c]);
                if a == 0.0 && b > 0.0 {
                    if seen_before[c] || first_months[c].is_some_and(|f| f < t) {
                        mv.reactivation += b;
                    } else {
                        mv.new += b;
                        mv.new_customers += 1;
                    }
                } else if a > 0.0 && b == 0.0 {
                    mv.churn += a;
                    mv.churned_customers += 1;
                } else if b > a {
                    mv.expansion += b - a;
                } else if b < a {
                    mv.contraction += a - b;
                }
            }
            mv
        });
        let prev_mrr = prev.map(|p| total(p));
        let year_ago = dense.get(&(t - 12));

        let (nrr_cohort, grr_cohort) = match year_ago {
            Some(cohort) if total(cohort) > 0.0 => {
                let start = total(cohort);
                let (mut now, mut kept) = (0.0, 0.0);
                for c in (0..n).filter(|c| cohort[*c] > 0.0) {
                    let churned_between = !settings.reactivation_as_expansion
                        && (t - 11..t).any(|m| dense.get(&m).is_none_or(|v| v[c] == 0.0));
                    let cur = if churned_between { 0.0 } else { current[c] };
                    now += cur;
                    kept += cur.min(cohort[c]);
                }
                (Some(now / start), Some(kept / start))
            }
            _ => (None, None),
        };
        let (nrr_monthly, grr_monthly) = match (&movements, prev_mrr) {
            (Some(mv), Some(start)) if start > 0.0 => {
                let expansion = mv.expansion
                    + if settings.reactivation_as_expansion {
                        mv.reactivation
                    } else {
                        0.0
                    };
                (
                    Some((start + expansion - mv.contraction - mv.churn) / start),
                    Some((start - mv.contraction - mv.churn) / start),
                )
            }
            _ => (None, None),
        };
        let customers_at_start = prev.map(|p| p.iter().filter(|v| **v > 0.0).count() as f64);
        let (nrr, grr) = match settings.window {
            RetentionWindow::Cohort12m => (nrr_cohort, grr_cohort),
            RetentionWindow::Monthly => (nrr_monthly, grr_monthly),
        };
        out.push(MonthRevenue {
            month: Month::from_index(t),
            mrr,
            arr: 12.0 * mrr,
            customers: current.iter().filter(|v| **v > 0.0).count() as u64,
            logo_churn: match (&movements, customers_at_start) {
                (Some(mv), Some(n)) if n > 0.0 => Some(mv.churned_customers as f64 / n),
                _ => None,
            },
            movements,
            mom_growth: prev_mrr.filter(|p| *p > 0.0).map(|p| mrr / p - 1.0),
            yoy_growth: year_ago
                .map(|y| total(y))
                .filter(|p| *p > 0.0)
                .map(|p| mrr / p - 1.0),
            nrr_cohort_12m: nrr_cohort,
            grr_cohort_12m: grr_cohort,
            nrr_monthly,
            grr_monthly,
            nrr,
            grr,
            retention_formula: formula_name(settings.window),
        });
        for (s, v) in seen_before.iter_mut().zip(current) {
            *s |= *v > 0.0;
        }
    }
    out
}

/// One ISO week's revenue: the figures of the month that holds the week's Thursday (the ISO
/// rule for which month a week belongs to), carried as they are with their "as of" month.
/// Monthly data is never interpolated into weekly detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekRevenue {
    /// Monday 00:00 UTC, milliseconds.
    pub week_start: i64,
    /// The month the figures are from, `YYYY-MM`.
    pub as_of: String,
    /// MRR of that month.
    pub mrr: f64,
    /// ARR of that month.
    pub arr: f64,
    /// Headline NRR of that month.
    pub nrr: Option<f64>,
    /// Headline GRR of that month.
    pub grr: Option<f64>,
}

/// Weekly view of `months` for the weeks starting at each of `weeks` (Mondays, ms); weeks whose
/// month has no data are left out.
pub fn weekly(months: &[MonthRevenue], weeks: &[i64]) -> Vec<WeekRevenue> {
    use chrono::{Datelike, TimeZone, Utc};
    let by_month: BTreeMap<Month, &MonthRevenue> = months.iter().map(|m| (m.month, m)).collect();
    weeks
        .iter()
        .filter_map(|&ws| {
            let thursday = Utc.timestamp_millis_opt(ws + 3 * 86_400_000).single()?;
            let month = Month::new(thursday.year(), thursday.month())?;
            let label = month.to_string();
            let m = by_month.get(&month)?;
            Some(WeekRevenue {
                week_start: ws,
                as_of: label,
                mrr: m.mrr,
                arr: m.arr,
                nrr: m.nrr,
                grr: m.grr,
            })
        })
        .collect()
}

/// A month of an organisation-wide totals file: what the file states, and growth computed from
/// its ARR. NRR and GRR are only ever the file's own figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TotalsMonth {
    /// The month (`YYYY-MM` in JSON).
    pub month: Month,
    /// ARR as stated.
    pub arr: f64,
    /// MRR as stated (else ARR / 12).
    pub mrr: f64,
    /// Customers, if stated.
    pub customers: Option<u64>,
    /// ARRₜ / ARRₜ₋₁ − 1.
    pub mom_growth: Option<f64>,
    /// ARRₜ / ARRₜ₋₁₂ − 1.
    pub yoy_growth: Option<f64>,
    /// NRR, if stated.
    pub nrr: Option<f64>,
    /// GRR, if stated.
    pub grr: Option<f64>,
    /// Where NRR and GRR come from.
    pub retention_formula: &'static str,
}

/// Growth per month of a totals series, with the retention figures exactly as stated.
pub fn totals_monthly(rows: &[crate::model::RevenueTotal]) -> Vec<TotalsMonth> {
    let arr: BTreeMap<MonthIdx, f64> = rows.iter().map(|r| (r.month.index(), r.arr)).collect();
    let growth = |t: MonthIdx, back: MonthIdx| {
        arr.get(&(t - back))
            .filter(|p| **p > 0.0)
            .and_then(|p| arr.get(&t).map(|a| a / p - 1.0))
    };
    let mut out: Vec<TotalsMonth> = rows
        .iter()
        .map(|r| {
            let t = r.month.index();
            TotalsMonth {
                month: r.month,
                arr: r.arr,
                mrr: r.mrr.unwrap_or(r.arr / 12.0),
                customers: r.customers,
                mom_growth: growth(t, 1),
                yoy_growth: growth(t, 12),
                nrr: r.nrr,
                grr: r.grr,
                retention_formula: "as stated in the imported totals file (never derived)",
            }
        })
        .collect();
    out.sort_by_key(|a| a.month);
    out
}

/// The segments present in the data.
pub fn segments(data: &Snapshots) -> BTreeSet<String> {
    data.segment_names().iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(rows: &[(&str, i32, f64)]) -> Snapshots {
        let mut s = Snapshots::new();
        for (c, m, mrr) in rows {
            s.insert(*m, c, *mrr, None, None, 0).expect("no duplicates");
        }
        s
    }

    #[test]
    fn movements_classify_and_sum_to_the_change() {
        // a: 100 → 150 (expansion 50); b: 200 → 0 (churn 200); c: new 80; d: 50 → 30.
        let s = snap(&[
            ("a", 0, 100.0),
            ("b", 0, 200.0),
            ("d", 0, 50.0),
            ("a", 1, 150.0),
            ("c", 1, 80.0),
            ("d", 1, 30.0),
        ]);
        let m = monthly(&s, RevenueSettings::default(), None);
        let mv = m[1].movements.clone().expect("second month has movements");
        assert_eq!(
            (mv.new, mv.expansion, mv.contraction, mv.churn),
            (80.0, 50.0, 20.0, 200.0)
        );
        assert!((mv.net() - (m[1].mrr - m[0].mrr)).abs() < 1e-9);
        assert_eq!(m[1].logo_churn, Some(1.0 / 3.0));
        assert_eq!(m[0].movements, None);
    }

    #[test]
    fn weeks_take_the_month_of_their_thursday() {
        let s = snap(&[("a", 2025 * 12, 100.0), ("a", 2025 * 12 + 1, 200.0)]);
        let m = monthly(&s, RevenueSettings::default(), None);
        // 2025-01-27 (Monday): its Thursday is 2025-01-30 → January.
        // 2025-02-03: Thursday 2025-02-06 → February. 2025-03-03: no March data → left out.
        let day = |y, mo, d| {
            chrono::NaiveDate::from_ymd_opt(y, mo, d)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc().timestamp_millis())
                .expect("valid date")
        };
        let w = weekly(&m, &[day(2025, 1, 27), day(2025, 2, 3), day(2025, 3, 3)]);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].as_of.as_str(), w[0].mrr), ("2025-01", 100.0));
        assert_eq!((w[1].as_of.as_str(), w[1].arr), ("2025-02", 2400.0));
    }

    #[test]
    fn months_parse_and_print() {
        assert_eq!(parse_month("2025-01"), Some(2025 * 12));
        assert_eq!(month_label(2025 * 12 + 11), "2025-12");
        assert_eq!(parse_month("2025-13"), None);
        assert_eq!(parse_month("x"), None);
    }
}
