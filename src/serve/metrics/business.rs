//! The support and cost gauge families: the last complete week's support figures, the top
//! customer pains, and the latest month's cost, margin and Rule of 40 (docs/support.md,
//! docs/cost.md). A figure without data is absent, not 0.

use prometheus::{GaugeVec, Opts, Registry};

use crate::analysis::WEEK_MS;
use crate::query::Settings;
use crate::store::Store;

pub(super) struct BusinessGauges {
    support: GaugeVec,
    pain: GaugeVec,
    cost: GaugeVec,
    rule_of_40: GaugeVec,
}

/// Pains exported: the top of the table, so the label set stays small.
const TOP_PAINS: usize = 10;

impl BusinessGauges {
    pub(super) fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let support = GaugeVec::new(
            Opts::new(
                "barometer_support",
                "The last complete week's support figures by `figure`: opened, solved, backlog, \
                 first_response_median_hours, resolution_median_hours, per_100_customers, \
                 revenue_weighted (docs/support.md).",
            ),
            &["figure"],
        )?;
        let pain = GaugeVec::new(
            Opts::new(
                "barometer_support_pain_arr_at_stake",
                "ARR of the customers who raised tickets about `topic` in the last 4 weeks (top 10).",
            ),
            &["topic"],
        )?;
        let cost = GaugeVec::new(
            Opts::new(
                "barometer_cost",
                "The latest month's cost figures by `figure`: cloud_cost, cost_share, \
                 cost_growth_3m, revenue_growth_3m, revenue_per_engineer, gross_margin_ratio, \
                 operating_margin_ratio (docs/cost.md).",
            ),
            &["figure"],
        )?;
        let rule_of_40 = GaugeVec::new(
            Opts::new(
                "barometer_rule_of_40",
                "ARR growth % + the `margin` % of the latest month with both (docs/cost.md).",
            ),
            &["margin"],
        )?;
        registry.register(Box::new(support.clone()))?;
        registry.register(Box::new(pain.clone()))?;
        registry.register(Box::new(cost.clone()))?;
        registry.register(Box::new(rule_of_40.clone()))?;
        Ok(Self {
            support,
            pain,
            cost,
            rule_of_40,
        })
    }

    pub(super) fn refresh(&self, store: &Store, settings: &Settings) {
        self.support.reset();
        self.pain.reset();
        self.cost.reset();
        self.rule_of_40.reset();
        // The last complete week: the report runs to the week before the current one.
        let now = settings.calendar.week_start(crate::clock::now_ms()) - WEEK_MS;
        match crate::query::business::support_report(store, settings, now) {
            Ok(Some(r)) => {
                if let Some(w) = r.weeks.last() {
                    for (figure, v) in [
                        ("opened", Some(w.opened as f64)),
                        ("solved", Some(w.solved as f64)),
                        ("backlog", Some(w.backlog as f64)),
                        ("first_response_median_hours", w.first_response_median_h),
                        ("resolution_median_hours", w.resolution_median_h),
                        ("per_100_customers", w.per_100_customers),
                        ("revenue_weighted", w.revenue_weighted),
                    ] {
                        if let Some(v) = v {
                            self.support.with_label_values(&[figure]).set(v);
                        }
                    }
                }
                for p in r.pains.iter().take(TOP_PAINS) {
                    self.pain.with_label_values(&[&p.topic]).set(p.arr_at_stake);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the support tickets"),
        }
        match crate::query::business::cost_report(store, settings) {
            Ok(Some(r)) => {
                if let Some(m) = r.months.last() {
                    for (figure, v) in [
                        ("cloud_cost", m.cloud_cost),
                        ("cost_share", m.cost_share),
                        ("cost_growth_3m", m.cost_growth_3m),
                        ("revenue_growth_3m", m.revenue_growth_3m),
                        ("revenue_per_engineer", m.revenue_per_engineer),
                        ("gross_margin_ratio", m.gross_margin),
                        ("operating_margin_ratio", m.operating_margin),
                    ] {
                        if let Some(v) = v {
                            self.cost.with_label_values(&[figure]).set(v);
                        }
                    }
                }
                if let Some(rule) = r.months.iter().rev().find_map(|m| m.rule_of_40.as_ref()) {
                    self.rule_of_40
                        .with_label_values(&[rule.margin.metric()])
                        .set(rule.score);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the business metrics"),
        }
    }
}
