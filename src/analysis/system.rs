//! Weak spots and next moves of the system map: pure rules over each component's figures.
//!
//! Every rule is written down in docs/system.md with its source. A weak spot says why it is one;
//! a next move cites the figures it rests on and the rule (the SRE error-budget policy, DORA's
//! guidance) that turns them into advice.

use serde::Serialize;

use super::dora::Band;
use super::pressure::Regime;
use crate::model::{ComponentKind, Forced, Point};

/// The figures of one component over the selected weeks, gathered by the read side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentFigures {
    /// The component.
    pub name: String,
    /// What it is.
    pub kind: ComponentKind,
    /// Its owner, if any.
    pub team: Option<String>,
    /// The product it belongs to (its own, or the product that lists its service), if any.
    pub product: Option<String>,
    /// Availability over the selected weeks (Σ good / Σ total, or 1 − error ratio).
    pub availability: Option<f64>,
    /// The SLO target it is held to.
    pub slo_target: Option<f64>,
    /// Error budget left at the end of the last week (1 = untouched, ≤ 0 = exhausted).
    pub budget_left: Option<f64>,
    /// Burn rate over the longest window (3 days) at the end of the last week.
    pub burn_rate: Option<f64>,
    /// Change failure rate over the selected weeks.
    pub cfr: Option<f64>,
    /// Its DORA band.
    pub cfr_band: Option<Band>,
    /// Median failed-deployment recovery time, hours.
    pub recovery_h: Option<f64>,
    /// Its DORA band.
    pub recovery_band: Option<Band>,
    /// The lowest DORA band of the component's metrics (its "DORA band" on the map).
    pub dora_band: Option<Band>,
    /// Days from its last successful deployment to the end of the last week; `None` when it
    /// never deployed (or is not deployed by us: a database, an external API).
    pub days_since_deploy: Option<f64>,
    /// Open bugs at the end of the last week.
    pub open_bugs: u64,
    /// Open incidents at the end of the last week.
    pub open_incidents: u64,
    /// How many components depend on it directly.
    pub dependants: usize,
    /// Latency over the selected weeks: the mean of the stored p95 samples of its latency query
    /// ([`latency_summary`]), in [`Self::latency_unit`].
    pub latency: Option<f64>,
    /// The unit of the latency query (its `unit` label, e.g. `seconds`).
    pub latency_unit: Option<String>,
    /// The objective the latency is held to, in the same unit.
    pub latency_objective: Option<f64>,
}

/// Where the rules draw their lines.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// A burn rate at or above this is fast: at 2 the budget of the SLO window is gone in half
    /// the window (SRE Workbook, "Alerting on SLOs").
    pub fast_burn: f64,
    /// This many direct dependants or more make a component load-bearing.
    pub many_dependants: usize,
    /// No deployment for this many weeks or more is stale.
    pub stale_weeks: u32,
    /// A component holding at least this share of the open bugs …
    pub bug_share: f64,
    /// … and at least this many of them concentrates them.
    pub bug_min: u64,
    /// A change failure rate in this band or below is a weak spot (DORA's low band by default).
    pub cfr_band: Band,
    /// A recovery time in this band or below is a weak spot.
    pub recovery_band: Band,
    /// How many of a product's weakest components the pressure-regime rule names.
    pub pressure_weakest: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            fast_burn: 2.0,
            many_dependants: 3,
            stale_weeks: 6,
            bug_share: 0.4,
            bug_min: 3,
            cfr_band: Band::Low,
            recovery_band: Band::Low,
            pressure_weakest: 2,
        }
    }
}

/// The rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The error budget is spent.
    BudgetExhausted,
    /// The error budget burns at [`Thresholds::fast_burn`] or faster.
    BudgetBurningFast,
    /// Many depend on it and it runs below its SLO target.
    LoadBearingBelowTarget,
    /// Its product's pressure regime asks for reliability (or growth) work first.
    PressureRegime,
    /// Change failure rate in DORA's low band (or up to [`Thresholds::cfr_band`]).
    LowChangeFailureBand,
    /// Recovery time in DORA's low band (or up to [`Thresholds::recovery_band`]).
    LowRecoveryBand,
    /// Latency above its objective.
    LatencyAboveObjective,
    /// No deployment for [`Thresholds::stale_weeks`] weeks.
    NoRecentDeployment,
    /// A large share of the open bugs.
    BugsConcentrated,
    /// No team owns it.
    NoOwner,
}

impl Rule {
    /// The rule's name as the JSON writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::BudgetExhausted => "budget_exhausted",
            Rule::BudgetBurningFast => "budget_burning_fast",
            Rule::LoadBearingBelowTarget => "load_bearing_below_target",
            Rule::PressureRegime => "pressure_regime",
            Rule::LowChangeFailureBand => "low_change_failure_band",
            Rule::LowRecoveryBand => "low_recovery_band",
            Rule::LatencyAboveObjective => "latency_above_objective",
            Rule::NoRecentDeployment => "no_recent_deployment",
            Rule::BugsConcentrated => "bugs_concentrated",
            Rule::NoOwner => "no_owner",
        }
    }

    /// Where the rule comes from.
    pub fn source(self) -> &'static str {
        match self {
            Rule::BudgetExhausted | Rule::BudgetBurningFast => {
                "SRE error-budget policy (Google SRE Workbook, \"Implementing SLOs\" and \"Alerting on SLOs\")"
            }
            Rule::LoadBearingBelowTarget => {
                "SRE error-budget policy, weighted by dependants (Google SRE Book, \"Service Level Objectives\")"
            }
            Rule::PressureRegime => {
                "Barometer pressure regime (docs/pressure.md) read with the SRE error-budget policy: in resilience, reliability before features; in growth, keep delivery fast"
            }
            Rule::LowChangeFailureBand | Rule::LowRecoveryBand => {
                "DORA guidance: stability before throughput (Accelerate State of DevOps report)"
            }
            Rule::LatencyAboveObjective => {
                "SRE latency SLO: the objective is part of the error budget (Google SRE Book, \"Service Level Objectives\")"
            }
            Rule::NoRecentDeployment => {
                "DORA guidance: small, frequent deployments (Accelerate State of DevOps report)"
            }
            Rule::BugsConcentrated => "Pareto concentration of defects (docs/system.md)",
            Rule::NoOwner => "Team Topologies: every component has one owning team",
        }
    }
}

/// A weak spot and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeakSpot {
    /// The component.
    pub component: String,
    /// The rule that found it.
    pub rule: Rule,
    /// Why, with its figures.
    pub reason: String,
}

/// What to do next, the figures it rests on and its rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextMove {
    /// The component.
    pub component: String,
    /// The rule behind it.
    pub rule: Rule,
    /// The advice, e.g. "reliability work before features".
    pub action: String,
    /// The figures, as written on the map.
    pub figures: String,
    /// The rule's source.
    pub source: &'static str,
}

/// A product's pressure in the last selected week, with the evidence behind its regime.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductPressure {
    /// The product.
    pub product: String,
    /// Its regime.
    pub regime: Regime,
    /// The week it was read in (Monday, ms).
    pub week_ms: i64,
    /// The smoothed pressure index P = R̄ − Ḡ.
    pub p: Option<f64>,
    /// Resilience need R̄.
    pub resilience: Option<f64>,
    /// Growth momentum Ḡ.
    pub growth: Option<f64>,
    /// Why the regime was forced, if it was (an exhausted error budget).
    pub forced: Option<Forced>,
    /// The index's components that moved most against their history, strongest first.
    pub moved: Vec<Moving>,
}

/// One component of the pressure index that moved against its own history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moving {
    /// The index component (`change_failure_rate`, `nrr` …).
    pub component: String,
    /// Its mean z over the recent weeks (positive towards resilience).
    pub z: f64,
}

impl ProductPressure {
    /// The regime and its evidence, as a move's figures write it.
    fn evidence(&self) -> String {
        let signed = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:+.2}"));
        let mut s = format!(
            "product {} in {} (P {}, R {}, G {}",
            self.product,
            self.regime.as_str(),
            signed(self.p),
            self.resilience
                .map_or("-".to_owned(), |v| format!("{v:.2}")),
            signed(self.growth),
        );
        if let Some(f) = &self.forced {
            s.push_str(&format!("; forced: {f}"));
        }
        if !self.moved.is_empty() {
            let moved: Vec<String> = self
                .moved
                .iter()
                .take(3)
                .map(|m| format!("{} z {:+.1}", m.component, m.z))
                .collect();
            s.push_str(&format!("; moving: {}", moved.join(", ")));
        }
        s.push(')');
        s
    }
}

/// The weak spots and next moves of the whole map.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Assessment {
    /// Every weak spot, by component then rule.
    pub weak_spots: Vec<WeakSpot>,
    /// One move per weak spot, the most urgent rule first.
    pub next_moves: Vec<NextMove>,
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// A latency with its unit, seconds shown in milliseconds below 1 s (what the map, the CLI and
/// the moves write).
pub fn format_latency(v: f64, unit: &str) -> String {
    match unit {
        "seconds" | "s" if v < 1.0 => format!("{:.0} ms", v * 1000.0),
        "seconds" | "s" => format!("{v:.2} s"),
        "" => format!("{v:.3}"),
        u => format!("{v:.3} {u}"),
    }
}

/// Weekly means of a latency series (one value per week of `weeks`, Mondays in ms; `None` for a
/// week without samples) and the mean over all the weeks' samples.
///
/// The series holds one p95 per step (`[[prometheus.query]]`); its mean over a period is the
/// time-average of the p95, which is what a latency panel's average shows. It is not the p95 of
/// the period — percentiles do not average (Prometheus docs, "Histograms and summaries") — but
/// the stored series is all there is once the raw histograms have aged out.
pub fn latency_summary(points: &[Point], weeks: &[i64]) -> (Vec<Option<f64>>, Option<f64>) {
    let (mut all, mut n_all) = (0.0, 0usize);
    let weekly = weeks
        .iter()
        .map(|&w| {
            // The points are in time order (a store range read): slice the week out.
            let from = points.partition_point(|p| p.ts < w);
            let to = points.partition_point(|p| p.ts < w + super::WEEK_MS);
            let (mut sum, mut n) = (0.0, 0usize);
            for p in points[from..to.max(from)]
                .iter()
                .filter(|p| p.value.is_finite())
            {
                sum += p.value;
                n += 1;
            }
            all += sum;
            n_all += n;
            (n > 0).then(|| sum / n as f64)
        })
        .collect();
    (weekly, (n_all > 0).then(|| all / n_all as f64))
}

/// Applies every rule to every component, then the pressure-regime rule to each product's
/// weakest components.
pub fn assess(
    components: &[ComponentFigures],
    pressure: &[ProductPressure],
    t: &Thresholds,
) -> Assessment {
    let total_bugs: u64 = components.iter().map(|c| c.open_bugs).sum();
    let mut out = Assessment::default();
    for c in components {
        let mut found: Vec<(Rule, String, String, String)> = Vec::new();
        let below = match (c.availability, c.slo_target) {
            (Some(a), Some(t)) => (a < t).then(|| format!("availability {} < {}", pct(a), pct(t))),
            _ => None,
        };
        if let Some(b) = c.budget_left.filter(|b| *b <= 0.0) {
            let f = format!("error budget left {}", pct(b));
            found.push((
                Rule::BudgetExhausted,
                format!("budget exhausted ({f})"),
                "reliability work before features until the budget is back".into(),
                f,
            ));
        } else if let Some(r) = c.burn_rate.filter(|r| *r >= t.fast_burn) {
            let f = format!(
                "burn rate {r:.1}x, budget left {}",
                c.budget_left.map_or("-".into(), pct)
            );
            found.push((
                Rule::BudgetBurningFast,
                format!("budget burning fast ({f})"),
                "find and fix what burns the budget before the next risky release".into(),
                f,
            ));
        }
        if let Some(below) = below.filter(|_| c.dependants >= t.many_dependants) {
            let f = format!("{below}, {} dependants", c.dependants);
            found.push((
                Rule::LoadBearingBelowTarget,
                format!(
                    "{} components depend on it and it runs below target",
                    c.dependants
                ),
                "stabilise it first: a change here is structural, not local".into(),
                f,
            ));
        }
        if let Some(band) = c.cfr_band.filter(|b| *b <= t.cfr_band) {
            let f = format!("change failure rate {}", c.cfr.map_or("-".into(), pct));
            found.push((
                Rule::LowChangeFailureBand,
                format!("{f}, DORA {} band", band.as_str()),
                "smaller changes, stronger tests and automated rollback before speeding up".into(),
                f,
            ));
        }
        if let Some(band) = c.recovery_band.filter(|b| *b <= t.recovery_band) {
            let f = format!(
                "recovery time {}",
                c.recovery_h.map_or("-".into(), |h| format!("{h:.1} h"))
            );
            found.push((
                Rule::LowRecoveryBand,
                format!("{f}, DORA {} band", band.as_str()),
                "invest in detection and rollback: recovering is slow".into(),
                f,
            ));
        }
        if let (Some(l), Some(o)) = (c.latency, c.latency_objective) {
            if l > o {
                let unit = c.latency_unit.as_deref().unwrap_or("");
                let f = format!(
                    "latency p95 {} > objective {}",
                    format_latency(l, unit),
                    format_latency(o, unit)
                );
                found.push((
                    Rule::LatencyAboveObjective,
                    format!("latency above its objective ({f})"),
                    "profile the slow path and cut it before adding load or features".into(),
                    f,
                ));
            }
        }
        if let Some(d) = c
            .days_since_deploy
            .filter(|d| *d >= f64::from(t.stale_weeks) * 7.0)
        {
            let f = format!(
                "{:.0} weeks without a deployment, {} dependants",
                (d / 7.0).floor(),
                c.dependants
            );
            found.push((
                Rule::NoRecentDeployment,
                format!("no deployment for {:.0} weeks", (d / 7.0).floor()),
                if c.dependants > 0 {
                    "ship a small change to prove the pipeline: a structural risk for the roadmap"
                        .into()
                } else {
                    "ship a small change to prove the pipeline still works".into()
                },
                f,
            ));
        }
        if total_bugs > 0 && c.open_bugs >= t.bug_min {
            let share = c.open_bugs as f64 / total_bugs as f64;
            if share >= t.bug_share {
                let f = format!(
                    "{} of {} open bugs ({})",
                    c.open_bugs,
                    total_bugs,
                    pct(share)
                );
                found.push((
                    Rule::BugsConcentrated,
                    format!("bugs concentrated here ({f})"),
                    "give it bug-fix time and look for the design flaw behind the bugs".into(),
                    f,
                ));
            }
        }
        if c.team.is_none() {
            found.push((
                Rule::NoOwner,
                "no team owns it".into(),
                "name an owning team".into(),
                "team: none".into(),
            ));
        }
        for (rule, reason, action, figures) in found {
            out.weak_spots.push(WeakSpot {
                component: c.name.clone(),
                rule,
                reason,
            });
            out.next_moves.push(NextMove {
                component: c.name.clone(),
                rule,
                action,
                figures,
                source: rule.source(),
            });
        }
    }
    out.next_moves
        .extend(regime_moves(components, &out.weak_spots, pressure, t));
    out.next_moves.sort_by_key(|m| m.rule);
    out
}

/// The pressure-regime rule: a product in resilience gets "reliability work before features" on
/// its weakest components (at most [`Thresholds::pressure_weakest`]); a product in growth gets
/// "features first" with its weakest component's weak spots fixed only where they block the
/// roadmap. Weakest = most weak spots, then the furthest below its SLO target, then by name;
/// only components with a weak spot qualify. A balanced product gets no move from this rule.
fn regime_moves(
    components: &[ComponentFigures],
    weak: &[WeakSpot],
    pressure: &[ProductPressure],
    t: &Thresholds,
) -> Vec<NextMove> {
    let mut out = Vec::new();
    for pp in pressure {
        let take = match pp.regime {
            Regime::Resilience => t.pressure_weakest,
            Regime::Growth => 1,
            Regime::Balanced => continue,
        };
        let mut ranked: Vec<(&ComponentFigures, Vec<&str>)> = components
            .iter()
            .filter(|c| c.product.as_deref() == Some(pp.product.as_str()))
            .map(|c| {
                let rules = weak
                    .iter()
                    .filter(|w| w.component == c.name)
                    .map(|w| w.rule.as_str())
                    .collect();
                (c, rules)
            })
            .filter(|(_, rules): &(_, Vec<&str>)| !rules.is_empty())
            .collect();
        let margin = |c: &ComponentFigures| match (c.availability, c.slo_target) {
            (Some(a), Some(t)) => a - t,
            _ => 0.0,
        };
        ranked.sort_by(|a, b| {
            b.1.len()
                .cmp(&a.1.len())
                .then(margin(a.0).total_cmp(&margin(b.0)))
                .then(a.0.name.cmp(&b.0.name))
        });
        for (c, rules) in ranked.into_iter().take(take) {
            let action = match pp.regime {
                Regime::Resilience => format!(
                    "reliability work on {} before features: product {} is in resilience",
                    c.name, pp.product
                ),
                _ => format!(
                    "features first for product {} (growth); fix {}'s weak spots only where they block the roadmap, time-boxed",
                    pp.product, c.name
                ),
            };
            out.push(NextMove {
                component: c.name.clone(),
                rule: Rule::PressureRegime,
                action,
                figures: format!(
                    "{}; {}: {} weak spot{} ({})",
                    pp.evidence(),
                    c.name,
                    rules.len(),
                    if rules.len() == 1 { "" } else { "s" },
                    rules.join(", ")
                ),
                source: Rule::PressureRegime.source(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A healthy component: no rule fires.
    fn healthy(name: &str) -> ComponentFigures {
        ComponentFigures {
            name: name.into(),
            kind: ComponentKind::Service,
            team: Some("t".into()),
            product: Some("shop".into()),
            availability: Some(0.9995),
            slo_target: Some(0.999),
            budget_left: Some(0.5),
            burn_rate: Some(0.5),
            cfr: Some(0.05),
            cfr_band: Some(Band::Elite),
            recovery_h: Some(0.5),
            recovery_band: Some(Band::Elite),
            dora_band: Some(Band::Elite),
            days_since_deploy: Some(1.0),
            open_bugs: 1,
            open_incidents: 0,
            dependants: 5,
            latency: Some(0.2),
            latency_unit: Some("seconds".into()),
            latency_objective: Some(0.3),
        }
    }

    fn rules(c: ComponentFigures, others: &[ComponentFigures]) -> Vec<Rule> {
        let mut all = vec![c];
        all.extend_from_slice(others);
        let a = assess(&all, &[], &Thresholds::default());
        assert_eq!(a.weak_spots.len(), a.next_moves.len());
        a.weak_spots
            .iter()
            .filter(|w| w.component == all[0].name)
            .map(|w| w.rule)
            .collect()
    }

    #[test]
    fn rule_names_match_the_json() {
        for r in [
            Rule::BudgetExhausted,
            Rule::LoadBearingBelowTarget,
            Rule::NoOwner,
        ] {
            assert_eq!(
                serde_json::to_value(r).expect("serialises"),
                serde_json::json!(r.as_str())
            );
        }
    }

    #[test]
    fn a_healthy_component_has_no_weak_spot() {
        assert!(rules(healthy("a"), &[]).is_empty());
    }

    #[test]
    fn budget_rules_fire_at_their_threshold_and_not_just_below() {
        let at = |b: f64, r: f64| ComponentFigures {
            budget_left: Some(b),
            burn_rate: Some(r),
            ..healthy("a")
        };
        assert_eq!(rules(at(0.0, 3.0), &[]), [Rule::BudgetExhausted]);
        assert!(rules(at(0.001, 1.99), &[]).is_empty());
        assert_eq!(rules(at(0.3, 2.0), &[]), [Rule::BudgetBurningFast]);
    }

    #[test]
    fn a_load_bearing_component_below_target_fires_only_with_enough_dependants() {
        let c = |dependants: usize| ComponentFigures {
            availability: Some(0.998),
            dependants,
            ..healthy("a")
        };
        assert_eq!(rules(c(3), &[]), [Rule::LoadBearingBelowTarget]);
        assert!(rules(c(2), &[]).is_empty());
        let at_target = ComponentFigures {
            availability: Some(0.999),
            ..c(3)
        };
        assert!(rules(at_target, &[]).is_empty());
    }

    #[test]
    fn dora_low_bands_fire_and_medium_does_not() {
        let c = |cfr: Band, rec: Band| ComponentFigures {
            cfr_band: Some(cfr),
            recovery_band: Some(rec),
            ..healthy("a")
        };
        assert_eq!(
            rules(c(Band::Low, Band::Low), &[]),
            [Rule::LowChangeFailureBand, Rule::LowRecoveryBand]
        );
        assert!(rules(c(Band::Medium, Band::Medium), &[]).is_empty());
    }

    fn pressure(regime: Regime) -> ProductPressure {
        ProductPressure {
            product: "shop".into(),
            regime,
            week_ms: 0,
            p: Some(0.42),
            resilience: Some(0.61),
            growth: Some(0.19),
            forced: None,
            moved: vec![Moving {
                component: "change_failure_rate".into(),
                z: 2.14,
            }],
        }
    }

    #[test]
    fn the_regime_rule_names_the_weakest_components_of_a_product_in_resilience() {
        // a: budget exhausted and CFR low (2 weak spots); b: CFR low (1); c: no owner (1) but
        // further below its target than b; d: healthy; e: weak but in another product.
        let figures = [
            ComponentFigures {
                budget_left: Some(-0.1),
                cfr_band: Some(Band::Low),
                ..healthy("a")
            },
            ComponentFigures {
                cfr_band: Some(Band::Low),
                ..healthy("b")
            },
            ComponentFigures {
                team: None,
                availability: Some(0.9985),
                dependants: 0,
                ..healthy("c")
            },
            healthy("d"),
            ComponentFigures {
                product: Some("other".into()),
                team: None,
                ..healthy("e")
            },
        ];
        let moves = |regime, t: &Thresholds| -> Vec<NextMove> {
            assess(&figures, &[pressure(regime)], t)
                .next_moves
                .into_iter()
                .filter(|m| m.rule == Rule::PressureRegime)
                .collect()
        };
        let t = Thresholds::default();
        let r = moves(Regime::Resilience, &t);
        // pressure_weakest = 2: a (2 weak spots), then c (1, margin 0.9985 − 0.999 = −0.0005)
        // before b (1, margin +0.0005).
        let names: Vec<&str> = r.iter().map(|m| m.component.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert!(r[0]
            .action
            .starts_with("reliability work on a before features"));
        assert_eq!(
            r[0].figures,
            "product shop in resilience (P +0.42, R 0.61, G +0.19; moving: change_failure_rate z +2.1); a: 2 weak spots (budget_exhausted, low_change_failure_band)"
        );
        assert!(r[0].source.contains("pressure regime"));
        // One fewer named when the threshold is one lower; none when balanced.
        let one = Thresholds {
            pressure_weakest: 1,
            ..t
        };
        assert_eq!(moves(Regime::Resilience, &one).len(), 1);
        assert!(moves(Regime::Balanced, &t).is_empty());
        // Growth: features first, the weakest one's spots fixed only where they block.
        let g = moves(Regime::Growth, &t);
        assert_eq!(g.len(), 1);
        assert!(g[0].action.starts_with("features first for product shop"));
        // A product without weak components gets no move, whatever its regime.
        let calm = assess(&[healthy("d")], &[pressure(Regime::Resilience)], &t);
        assert!(calm.next_moves.is_empty());
    }

    /// The rules under configured thresholds (`[system.rules]`): each fires at its line and is
    /// silent just below it.
    #[test]
    fn configured_thresholds_move_every_line() {
        let t = Thresholds {
            fast_burn: 1.5,
            many_dependants: 2,
            stale_weeks: 4,
            bug_share: 0.3,
            bug_min: 2,
            cfr_band: Band::Medium,
            recovery_band: Band::High,
            pressure_weakest: 1,
        };
        let fired = |c: ComponentFigures, others: &[ComponentFigures]| -> Vec<Rule> {
            let mut all = vec![c];
            all.extend_from_slice(others);
            assess(&all, &[], &t)
                .weak_spots
                .iter()
                .filter(|w| w.component == all[0].name)
                .map(|w| w.rule)
                .collect()
        };
        let h = || healthy("a");
        let burn = |r: f64| ComponentFigures {
            burn_rate: Some(r),
            ..h()
        };
        assert_eq!(fired(burn(1.5), &[]), [Rule::BudgetBurningFast]);
        assert!(fired(burn(1.49), &[]).is_empty());
        let below = |d: usize| ComponentFigures {
            availability: Some(0.998),
            dependants: d,
            ..h()
        };
        assert_eq!(fired(below(2), &[]), [Rule::LoadBearingBelowTarget]);
        assert!(fired(below(1), &[]).is_empty());
        // 4 weeks = 28 days.
        let stale = |d: f64| ComponentFigures {
            days_since_deploy: Some(d),
            ..h()
        };
        assert_eq!(fired(stale(28.0), &[]), [Rule::NoRecentDeployment]);
        assert!(fired(stale(27.9), &[]).is_empty());
        // 2 of 6 open bugs (33 %) concentrate at 30 %; 2 of 7 (28.6 %) do not; 1 of 1 is
        // below the count of 2.
        let bugs = |name: &str, n: u64| ComponentFigures {
            open_bugs: n,
            ..healthy(name)
        };
        assert_eq!(
            fired(bugs("a", 2), &[bugs("b", 4)]),
            [Rule::BugsConcentrated]
        );
        assert!(fired(bugs("a", 2), &[bugs("b", 5)]).is_empty());
        assert!(fired(bugs("a", 1), &[]).is_empty());
        // Medium CFR fires at a medium line, high does not; high recovery fires at a high line,
        // elite does not.
        let bands = |cfr: Band, rec: Band| ComponentFigures {
            cfr_band: Some(cfr),
            recovery_band: Some(rec),
            ..h()
        };
        assert_eq!(
            fired(bands(Band::Medium, Band::High), &[]),
            [Rule::LowChangeFailureBand, Rule::LowRecoveryBand]
        );
        assert!(fired(bands(Band::High, Band::Elite), &[]).is_empty());
        let spot = assess(&[bands(Band::Medium, Band::Elite)], &[], &t);
        assert_eq!(
            spot.weak_spots[0].reason,
            "change failure rate 5.0 %, DORA medium band"
        );
    }

    #[test]
    fn latency_fires_above_its_objective_only() {
        let at = |l: f64, o: Option<f64>| ComponentFigures {
            latency: Some(l),
            latency_objective: o,
            ..healthy("a")
        };
        // 301 ms > 300 ms fires; exactly at the objective and without one it does not.
        assert_eq!(
            rules(at(0.301, Some(0.3)), &[]),
            [Rule::LatencyAboveObjective]
        );
        assert!(rules(at(0.3, Some(0.3)), &[]).is_empty());
        assert!(rules(at(9.0, None), &[]).is_empty());
        let a = assess(&[at(0.389, Some(0.3))], &[], &Thresholds::default());
        assert_eq!(
            a.next_moves[0].figures,
            "latency p95 389 ms > objective 300 ms"
        );
        assert!(a.next_moves[0].source.contains("SRE"));
    }

    #[test]
    fn latency_is_the_mean_of_each_weeks_samples() {
        let w = crate::analysis::WEEK_MS;
        let p = |ts: i64, value: f64| Point { ts, value };
        // Week 0: 0.2 and 0.4 → 0.3; week 1: none; week 2: 0.5 (NaN skipped).
        // All three samples: (0.2 + 0.4 + 0.5) / 3 = 0.3667.
        let points = [
            p(0, 0.2),
            p(w - 1, 0.4),
            p(2 * w, f64::NAN),
            p(2 * w + 5, 0.5),
            p(3 * w, 9.0),
        ];
        let (weekly, mean) = latency_summary(&points, &[0, w, 2 * w]);
        assert_eq!(weekly.len(), 3);
        assert!((weekly[0].unwrap() - 0.3).abs() < 1e-12);
        assert_eq!((weekly[1], weekly[2]), (None, Some(0.5)));
        assert!((mean.unwrap() - 1.1 / 3.0).abs() < 1e-12);
        assert_eq!(latency_summary(&[], &[0]), (vec![None], None));
    }

    #[test]
    fn staleness_owner_and_bug_concentration() {
        let stale = |d: f64| ComponentFigures {
            days_since_deploy: Some(d),
            ..healthy("a")
        };
        assert_eq!(rules(stale(42.0), &[]), [Rule::NoRecentDeployment]);
        assert!(rules(stale(41.9), &[]).is_empty());
        assert_eq!(
            rules(
                ComponentFigures {
                    team: None,
                    ..healthy("a")
                },
                &[]
            ),
            [Rule::NoOwner]
        );
        // 3 of 7 open bugs (43 %) concentrate; 3 of 8 (37.5 %) do not; 2 of 2 are too few.
        let bugs = |name: &str, n: u64| ComponentFigures {
            open_bugs: n,
            ..healthy(name)
        };
        assert_eq!(
            rules(bugs("a", 3), &[bugs("b", 4)]),
            [Rule::BugsConcentrated]
        );
        assert!(rules(bugs("a", 3), &[bugs("b", 5)]).is_empty());
        assert!(rules(bugs("a", 2), &[bugs("b", 0)]).is_empty());
    }

    #[test]
    fn each_move_cites_its_figures_and_rule_most_urgent_first() {
        let a = assess(
            &[
                ComponentFigures {
                    team: None,
                    ..healthy("x")
                },
                ComponentFigures {
                    budget_left: Some(-0.2),
                    cfr: Some(0.5),
                    cfr_band: Some(Band::Low),
                    ..healthy("storefront")
                },
            ],
            &[],
            &Thresholds::default(),
        );
        let m = &a.next_moves[0];
        assert_eq!(
            (m.component.as_str(), m.rule),
            ("storefront", Rule::BudgetExhausted)
        );
        assert_eq!(m.figures, "error budget left -20.0 %");
        assert!(m.source.contains("error-budget policy"));
        assert!(a.next_moves[1].figures.contains("50.0 %"));
        assert_eq!(a.next_moves[2].rule, Rule::NoOwner);
    }
}
