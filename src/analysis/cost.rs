//! Cost and margin: cloud cost against revenue, revenue per engineer, and the Rule of 40.
//!
//! Definitions (see `docs/cost.md`): *cost share* is the month's cloud cost over its MRR;
//! *cost growth vs revenue growth* compares the growth of each over three months (a quarter,
//! which smooths a single month's invoice timing); *revenue per engineer* is ARR over the
//! month's engineering headcount; the *Rule of 40* is ARR growth % plus profit margin %, at or
//! above 40 for a healthy SaaS business (Brad Feld, 2015; SaaS Capital and Bessemer use ARR or
//! revenue growth year over year plus EBITDA or operating margin). Growth is year over year
//! when twelve months back are known, else the last three months annualised, and says which.

use std::collections::BTreeMap;

use chrono::Duration;
use serde::Serialize;

use crate::model::{Grain, MetricRow, Month};

/// Revenue of one month, as the cost view needs it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RevenueMonth {
    /// The month.
    pub month: Month,
    /// MRR at the month's end.
    pub mrr: f64,
}

pub use crate::model::business::MarginKind;

/// The Rule of 40 of one month, with its inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleOf40 {
    /// ARR growth, percent.
    pub growth_pct: f64,
    /// `year over year` or `3 months annualised`.
    pub growth_basis: &'static str,
    /// The margin, percent.
    pub margin_pct: f64,
    /// Which margin.
    pub margin: MarginKind,
    /// growth + margin.
    pub score: f64,
    /// score ≥ 40.
    pub passes: bool,
}

impl std::fmt::Display for RuleOf40 {
    /// `-4 (ARR growth 6.4 % year over year + operating_margin_ratio -10.0 %)`: the score with
    /// its inputs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} (ARR growth {:.1} % {} + {} {:.1} %)",
            self.score,
            self.growth_pct,
            self.growth_basis,
            self.margin.metric(),
            self.margin_pct
        )
    }
}

/// One month of cost and margin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostMonth {
    /// The month.
    pub month: Month,
    /// Σ `cloud_cost` in the month.
    pub cloud_cost: Option<f64>,
    /// MRR (revenue data).
    pub mrr: Option<f64>,
    /// cloud cost / MRR.
    pub cost_share: Option<f64>,
    /// Cloud cost growth over three months (0.25 = +25 %).
    pub cost_growth_3m: Option<f64>,
    /// MRR growth over three months.
    pub revenue_growth_3m: Option<f64>,
    /// Whether cost grew faster than revenue over those three months.
    pub cost_outgrows_revenue: Option<bool>,
    /// Engineering headcount (the month's last value, Σ over labels).
    pub engineering_headcount: Option<f64>,
    /// Support headcount.
    pub support_headcount: Option<f64>,
    /// ARR / engineering headcount.
    pub revenue_per_engineer: Option<f64>,
    /// Gross margin ratio (mean of the month's values).
    pub gross_margin: Option<f64>,
    /// Operating margin ratio.
    pub operating_margin: Option<f64>,
    /// The Rule of 40, when growth and the configured margin are both known.
    pub rule_of_40: Option<RuleOf40>,
}

/// One stored metric, for the list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSummary {
    /// Its name.
    pub metric: String,
    /// Whether the analysis reads it (one of the known kinds).
    pub known: bool,
    /// Rows.
    pub rows: u64,
    /// First and last period start.
    pub first: chrono::NaiveDate,
    /// Last period start.
    pub last: chrono::NaiveDate,
    /// Σ over labels per period start, for charts.
    pub points: Vec<(chrono::NaiveDate, f64)>,
}

/// The cost view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    /// Months with any known metric, oldest first.
    pub months: Vec<CostMonth>,
    /// Every stored metric.
    pub metrics: Vec<MetricSummary>,
    /// The margin the Rule of 40 uses.
    pub margin: MarginKind,
}

pub use crate::model::business::KNOWN_METRICS as KNOWN;

/// The month a row counts in: a week's Thursday's month (ISO), else its start's.
fn month_of(r: &MetricRow) -> Month {
    match r.grain {
        Grain::Week => Month::of(r.start + Duration::days(3)),
        _ => Month::of(r.start),
    }
}

fn growth(now: Option<f64>, then: Option<f64>) -> Option<f64> {
    match (now, then) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b - 1.0),
        _ => None,
    }
}

/// The cost view of `metrics` with `revenue` joined; the Rule of 40 uses `margin`.
pub fn report(metrics: &[MetricRow], revenue: &[RevenueMonth], margin: MarginKind) -> CostReport {
    // metric → month → values (flows summed, stocks at the month's last date, ratios averaged)
    let mut cost: BTreeMap<Month, f64> = BTreeMap::new();
    let mut stock: BTreeMap<(&str, Month), (chrono::NaiveDate, f64)> = BTreeMap::new();
    let mut ratio: BTreeMap<(&str, Month), (f64, u32)> = BTreeMap::new();
    let mut summaries: BTreeMap<&str, (u64, BTreeMap<chrono::NaiveDate, f64>)> = BTreeMap::new();
    for r in metrics {
        let m = month_of(r);
        let s = summaries.entry(&r.metric).or_default();
        s.0 += 1;
        *s.1.entry(r.start).or_insert(0.0) += r.value;
        match r.metric.as_str() {
            "cloud_cost" => *cost.entry(m).or_insert(0.0) += r.value,
            "engineering_headcount" | "support_headcount" => {
                let e = stock.entry((&r.metric, m)).or_insert((r.start, 0.0));
                if r.start > e.0 {
                    *e = (r.start, 0.0);
                }
                if r.start == e.0 {
                    e.1 += r.value;
                }
            }
            "gross_margin_ratio" | "operating_margin_ratio" => {
                let e = ratio.entry((&r.metric, m)).or_insert((0.0, 0));
                e.0 += r.value;
                e.1 += 1;
            }
            _ => {}
        }
    }
    let mrr: BTreeMap<Month, f64> = revenue.iter().map(|r| (r.month, r.mrr)).collect();
    let mut months: Vec<Month> = cost.keys().copied().collect();
    months.extend(stock.keys().map(|k| k.1));
    months.extend(ratio.keys().map(|k| k.1));
    months.sort_unstable();
    months.dedup();
    let back = |m: Month, n: i32| Month::from_index(m.index() - n);
    let out = months
        .into_iter()
        .map(|m| {
            let c = cost.get(&m).copied();
            let r = mrr.get(&m).copied();
            let heads = |k: &str| stock.get(&(k, m)).map(|v| v.1);
            let mean = |k: &str| ratio.get(&(k, m)).map(|(s, n)| s / f64::from(*n));
            let engineers = heads("engineering_headcount");
            let cost_growth = growth(c, cost.get(&back(m, 3)).copied());
            let revenue_growth = growth(r, mrr.get(&back(m, 3)).copied());
            let yoy = growth(r, mrr.get(&back(m, 12)).copied()).map(|g| (g, "year over year"));
            let annualised =
                revenue_growth.map(|g| ((1.0 + g).powi(4) - 1.0, "3 months annualised"));
            let rule =
                yoy.or(annualised)
                    .zip(mean(margin.metric()))
                    .map(|((g, basis), margin_ratio)| {
                        let score = g * 100.0 + margin_ratio * 100.0;
                        RuleOf40 {
                            growth_pct: g * 100.0,
                            growth_basis: basis,
                            margin_pct: margin_ratio * 100.0,
                            margin,
                            score,
                            passes: score >= 40.0,
                        }
                    });
            CostMonth {
                month: m,
                cloud_cost: c,
                mrr: r,
                cost_share: c.zip(r.filter(|r| *r > 0.0)).map(|(c, r)| c / r),
                cost_growth_3m: cost_growth,
                revenue_growth_3m: revenue_growth,
                cost_outgrows_revenue: cost_growth.zip(revenue_growth).map(|(c, r)| c > r),
                engineering_headcount: engineers,
                support_headcount: heads("support_headcount"),
                revenue_per_engineer: r
                    .zip(engineers.filter(|e| *e > 0.0))
                    .map(|(r, e)| r * 12.0 / e),
                gross_margin: mean("gross_margin_ratio"),
                operating_margin: mean("operating_margin_ratio"),
                rule_of_40: rule,
            }
        })
        .collect();
    CostReport {
        months: out,
        metrics: summaries
            .into_iter()
            .map(|(name, (rows, points))| MetricSummary {
                metric: name.to_owned(),
                known: KNOWN.contains(&name),
                rows,
                first: points.keys().next().copied().unwrap_or_default(),
                last: points.keys().next_back().copied().unwrap_or_default(),
                points: points.into_iter().collect(),
            })
            .collect(),
        margin,
    }
}
