//! Revenue figures from monthly MRR per customer: MRR movements, growth, NRR and GRR.
//!
//! Definitions (each output carries the name of the formula it used):
//! - **MRR** = Σ customers' MRR in the month; **ARR** = 12 × MRR.
//! - **Movements** between months t−1 and t, per customer (ChartMogul, "MRR movements"): *new*
//!   (0 → >0, never paid before), *reactivation* (0 → >0, paid before), *expansion* (up), *contraction*
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

/// A month as a running index: year × 12 + (month − 1).
pub type MonthIdx = i32;

/// `YYYY-MM` → month index.
pub fn parse_month(s: &str) -> Option<MonthIdx> {
    let (y, m) = s.split_once('-')?;
    let (y, m): (i32, i32) = (y.parse().ok()?, m.parse().ok()?);
    ((1..=12).contains(&m) && (1..=9999).contains(&y)).then_some(y * 12 + m - 1)
}

/// Month index → `YYYY-MM`.
pub fn month_label(m: MonthIdx) -> String {
    format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
}

/// One customer in one month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerMonth {
    /// MRR (> 0 for a paying customer).
    pub mrr: f64,
    /// Segment, if known.
    pub segment: Option<String>,
}

/// MRR per customer per month; a customer missing from a month paid nothing in it.
pub type Snapshots = BTreeMap<MonthIdx, BTreeMap<String, CustomerMonth>>;

/// How NRR and GRR are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionWindow {
    /// Trailing-12-month cohort.
    Cohort12m,
    /// Month-over-month movements.
    Monthly,
}

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
    /// `YYYY-MM`.
    pub month: String,
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

fn mrr_of(month: Option<&BTreeMap<String, CustomerMonth>>, customer: &str) -> f64 {
    month
        .and_then(|m| m.get(customer))
        .map_or(0.0, |c| c.mrr.max(0.0))
}

/// Monthly figures for every month of `data`, optionally restricted to one segment (a customer's
/// segment is the latest one it was given).
pub fn monthly(
    data: &Snapshots,
    settings: RevenueSettings,
    segment: Option<&str>,
) -> Vec<MonthRevenue> {
    let latest_segment: BTreeMap<&str, Option<&str>> = data
        .values()
        .flat_map(|m| m.iter())
        .map(|(c, cm)| (c.as_str(), cm.segment.as_deref()))
        .collect();
    let keep =
        |c: &str| segment.is_none_or(|s| latest_segment.get(c).copied().flatten() == Some(s));
    let filtered: Snapshots = data
        .iter()
        .map(|(m, cs)| {
            (
                *m,
                cs.iter()
                    .filter(|(c, cm)| cm.mrr > 0.0 && keep(c))
                    .map(|(c, cm)| (c.clone(), cm.clone()))
                    .collect(),
            )
        })
        .collect();

    let mut seen_before: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for (&t, current) in &filtered {
        let mrr: f64 = current.values().map(|c| c.mrr).sum();
        let prev = filtered.get(&(t - 1));
        let movements = prev.map(|prev| {
            let mut mv = Movements::default();
            let customers: BTreeSet<&str> = prev
                .keys()
                .chain(current.keys())
                .map(String::as_str)
                .collect();
            for c in customers {
                let (a, b) = (mrr_of(Some(prev), c), mrr_of(Some(current), c));
                if a == 0.0 && b > 0.0 {
                    if seen_before.contains(c) {
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
        let prev_mrr = prev.map(|p| p.values().map(|c| c.mrr).sum::<f64>());
        let year_ago = filtered.get(&(t - 12));

        let (nrr_cohort, grr_cohort) = match year_ago {
            Some(cohort) if !cohort.is_empty() => {
                let start: f64 = cohort.values().map(|c| c.mrr).sum();
                let (mut now, mut kept) = (0.0, 0.0);
                for (c, cm) in cohort {
                    let churned_between = !settings.reactivation_as_expansion
                        && (t - 11..t).any(|m| mrr_of(filtered.get(&m), c) == 0.0);
                    let cur = if churned_between {
                        0.0
                    } else {
                        mrr_of(Some(current), c)
                    };
                    now += cur;
                    kept += cur.min(cm.mrr);
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
        let customers_at_start = prev.map(|p| p.len() as f64);
        let (nrr, grr) = match settings.window {
            RetentionWindow::Cohort12m => (nrr_cohort, grr_cohort),
            RetentionWindow::Monthly => (nrr_monthly, grr_monthly),
        };
        out.push(MonthRevenue {
            month: month_label(t),
            mrr,
            arr: 12.0 * mrr,
            customers: current.len() as u64,
            logo_churn: match (&movements, customers_at_start) {
                (Some(mv), Some(n)) if n > 0.0 => Some(mv.churned_customers as f64 / n),
                _ => None,
            },
            movements,
            mom_growth: prev_mrr.filter(|p| *p > 0.0).map(|p| mrr / p - 1.0),
            yoy_growth: year_ago
                .map(|y| y.values().map(|c| c.mrr).sum::<f64>())
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
        seen_before.extend(current.keys().map(String::as_str));
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
    let by_month: BTreeMap<&str, &MonthRevenue> =
        months.iter().map(|m| (m.month.as_str(), m)).collect();
    weeks
        .iter()
        .filter_map(|&ws| {
            let thursday = Utc.timestamp_millis_opt(ws + 3 * 86_400_000).single()?;
            let label = format!("{:04}-{:02}", thursday.year(), thursday.month());
            let m = by_month.get(label.as_str())?;
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

/// The segments present in the data.
pub fn segments(data: &Snapshots) -> BTreeSet<String> {
    data.values()
        .flat_map(|m| m.values())
        .filter_map(|c| c.segment.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(rows: &[(&str, i32, f64)]) -> Snapshots {
        let mut s = Snapshots::new();
        for (c, m, mrr) in rows {
            s.entry(*m).or_default().insert(
                (*c).to_owned(),
                CustomerMonth {
                    mrr: *mrr,
                    segment: None,
                },
            );
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
