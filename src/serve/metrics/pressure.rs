//! The pressure-index gauge family and its refresh from the weekly report.

use prometheus::{Gauge, GaugeVec, IntGaugeVec, Opts, Registry};

/// The pressure index of the last complete, scored week.
pub(super) struct PressureGauges {
    index: Gauge,
    growth: Gauge,
    resilience: Gauge,
    regime: IntGaugeVec,
    component: GaugeVec,
    product_index: GaugeVec,
    product_regime: IntGaugeVec,
    optional: IntGaugeVec,
    profitability: IntGaugeVec,
    condition: IntGaugeVec,
    product_optional: IntGaugeVec,
    product_profitability: IntGaugeVec,
}

impl PressureGauges {
    pub(super) fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let gauge = |name: &str, help: &str| -> Result<Gauge, prometheus::Error> {
            let g = Gauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let gauges = |name: &str, help: &str, labels: &[&str]| {
            let v = GaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(v.clone()))?;
            Ok::<_, prometheus::Error>(v)
        };
        let flags = |name: &str, help: &str, labels: &[&str]| {
            let v = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(v.clone()))?;
            Ok::<_, prometheus::Error>(v)
        };
        let regime = flags(
            "barometer_regime",
            "1 for the regime of the last complete week (growth, balanced, resilience), 0 for the others.",
            &["regime"],
        )?;
        let component = gauges(
            "barometer_pressure_component_score",
            "Score of each component of the pressure index in the last complete week (resilience side 0..1, growth side -1..1).",
            &["component", "side"],
        )?;
        let product_index = gauges(
            "barometer_product_pressure_index",
            "Pressure index P of each product's own view (its revenue, services and SLOs; docs/products.md), last complete scored week.",
            &["product"],
        )?;
        let product_regime = flags(
            "barometer_product_regime",
            "1 for each product's regime of the last complete week, 0 for the others.",
            &["product", "regime"],
        )?;
        Ok(Self {
            optional: flags(
                "barometer_pressure_optional_component",
                "1 for each optional component of the pressure index (bug inflow, support load, customer pain, cost vs revenue, margin) whose data the last complete week has, 0 for each missing (left out, never zero; docs/pressure.md).",
                &["component"],
            )?,
            profitability: flags(
                "barometer_pressure_profitability",
                "1 when the profitability tag holds in the last complete week (at least 2 of: cost outgrowing revenue, margin falling, Rule of 40 under 40), else 0; absent without cost or margin data (docs/pressure.md).",
                &[],
            )?,
            condition: flags(
                "barometer_pressure_profitability_condition",
                "1 for each condition of the profitability tag that holds in the last complete week, 0 for each that does not; absent where its data is missing.",
                &["condition"],
            )?,
            product_optional: flags(
                "barometer_product_pressure_optional_component",
                "1 for each optional component of each product's index whose data the product's last complete week has, 0 for each missing (docs/products.md).",
                &["product", "component"],
            )?,
            product_profitability: flags(
                "barometer_product_profitability",
                "1 when the profitability tag holds in each product's last complete week, else 0; absent where no cost or margin data can be attributed to the product.",
                &["product"],
            )?,
            product_index,
            product_regime,
            index: gauge(
                "barometer_pressure_index",
                "Pressure index P = resilience need - growth momentum, smoothed, of the last complete week (negative: growth pressure dominates; see docs/pressure.md).",
            )?,
            growth: gauge(
                "barometer_pressure_growth_momentum",
                "Growth momentum G of the last complete week (-1..1).",
            )?,
            resilience: gauge(
                "barometer_pressure_resilience_need",
                "Resilience need R of the last complete week (0..1).",
            )?,
            regime,
            component,
        })
    }

    pub(super) fn refresh(&self, report: &crate::analysis::pressure::PressureReport) {
        use crate::analysis::pressure::Regime;
        let Some(last) = report
            .weeks
            .iter()
            .rev()
            .find(|w| w.p.is_some() && w.regime.is_some())
        else {
            return;
        };
        if let Some(p) = last.p {
            self.index.set(p);
        }
        if let Some(g) = last.growth {
            self.growth.set(g);
        }
        if let Some(r) = last.resilience {
            self.resilience.set(r);
        }
        for r in [Regime::Growth, Regime::Balanced, Regime::Resilience] {
            self.regime
                .with_label_values(&[r.as_str()])
                .set(i64::from(last.regime == Some(r)));
        }
        self.component.reset();
        for c in &last.components {
            self.component
                .with_label_values(&[c.component.as_str(), c.component.side().as_str()])
                .set(c.score);
        }
        self.optional.reset();
        for (c, used) in optional(last) {
            self.optional
                .with_label_values(&[c.as_str()])
                .set(i64::from(used));
        }
        self.profitability.reset();
        self.condition.reset();
        if let Some(t) = &last.profitability {
            self.profitability
                .with_label_values::<&str>(&[])
                .set(i64::from(t.tagged));
            for e in &t.evidence {
                if let Some(holds) = e.holds {
                    self.condition
                        .with_label_values(&[e.condition.as_str()])
                        .set(i64::from(holds));
                }
            }
        }
    }

    /// The products' own indexes and regimes (`product` label), each from its own report.
    pub(super) fn refresh_products(
        &self,
        reports: &[(
            String,
            std::sync::Arc<crate::analysis::pressure::PressureReport>,
        )],
    ) {
        use crate::analysis::pressure::Regime;
        self.product_index.reset();
        self.product_regime.reset();
        self.product_optional.reset();
        self.product_profitability.reset();
        for (name, report) in reports {
            let Some(last) = report
                .weeks
                .iter()
                .rev()
                .find(|w| w.p.is_some() && w.regime.is_some())
            else {
                continue;
            };
            if let Some(p) = last.p {
                self.product_index
                    .with_label_values(&[name.as_str()])
                    .set(p);
            }
            for r in [Regime::Growth, Regime::Balanced, Regime::Resilience] {
                self.product_regime
                    .with_label_values(&[name.as_str(), r.as_str()])
                    .set(i64::from(last.regime == Some(r)));
            }
            for (c, used) in optional(last) {
                self.product_optional
                    .with_label_values(&[name.as_str(), c.as_str()])
                    .set(i64::from(used));
            }
            if let Some(t) = &last.profitability {
                self.product_profitability
                    .with_label_values(&[name.as_str()])
                    .set(i64::from(t.tagged));
            }
        }
    }
}

/// The week's optional components, each with whether its data was there.
fn optional(
    week: &crate::analysis::pressure::PressureWeek,
) -> impl Iterator<Item = (crate::analysis::pressure::Component, bool)> + '_ {
    let used = week.optional_used.iter().map(|c| (*c, true));
    used.chain(week.optional_missing.iter().map(|c| (*c, false)))
}
