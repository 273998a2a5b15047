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
            let side = if c.component.is_growth() {
                "growth"
            } else {
                "resilience"
            };
            self.component
                .with_label_values(&[c.component.as_str(), side])
                .set(c.score);
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
        }
    }
}
