//! The profitability tag: cost and margin as a hard constraint, named on the regime with the
//! figures behind it rather than averaged into P (`docs/pressure.md` says why).

use serde::Serialize;

use super::score::{fall_z, History};
use super::WeekSignals;

/// A margin at least this many robust spreads under its own baseline counts as falling.
pub const MARGIN_FALL_Z: f64 = 1.0;

/// The Rule of 40 line: ARR growth % + profit margin % at or above it is healthy (Brad Feld
/// 2015; the line SaaS Capital, KeyBanc's SaaS survey and Bessemer's State of the Cloud use).
pub const RULE_OF_40: f64 = 40.0;

/// How many conditions must hold for the tag: one alone is ordinary (a growth-stage company
/// under 40, a quarter of cost ahead of revenue); two at once make cost a constraint.
pub const CONDITIONS_NEEDED: usize = 2;

/// A known condition of the profitability tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfitCondition {
    /// Cloud cost grew faster than MRR over the same 3 months.
    CostOutgrowsRevenue,
    /// The margin is at least [`MARGIN_FALL_Z`] robust spreads under its own baseline.
    MarginFalling,
    /// The Rule of 40 score is under [`RULE_OF_40`].
    #[serde(rename = "rule_of_40_under_40")]
    RuleOf40Under40,
}

impl ProfitCondition {
    /// The three, in the order the outputs list them.
    pub const ALL: [ProfitCondition; 3] = [
        ProfitCondition::CostOutgrowsRevenue,
        ProfitCondition::MarginFalling,
        ProfitCondition::RuleOf40Under40,
    ];

    /// snake_case name (the `condition` label of `/metrics`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProfitCondition::CostOutgrowsRevenue => "cost_outgrows_revenue",
            ProfitCondition::MarginFalling => "margin_falling",
            ProfitCondition::RuleOf40Under40 => "rule_of_40_under_40",
        }
    }
}

/// One condition checked in one week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfitEvidence {
    /// Which.
    pub condition: ProfitCondition,
    /// Whether it holds; `None` when the week lacks its data (it then counts as not holding).
    pub holds: Option<bool>,
    /// In words, with its figures.
    pub summary: String,
}

impl ProfitEvidence {
    /// `holds`, `does not hold` or `unknown`, as the faces print it.
    pub fn verdict(&self) -> &'static str {
        match self.holds {
            Some(true) => "holds",
            Some(false) => "does not hold",
            None => "unknown",
        }
    }
}

/// The profitability pressure of a week: a named tag on the regime, not a fourth regime. It
/// holds when at least [`CONDITIONS_NEEDED`] of its known conditions hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profitability {
    /// Whether profitability is a hard constraint this week.
    pub tagged: bool,
    /// Cloud cost growth over 3 months (0.25 = +25 %).
    pub cost_growth_3m: Option<f64>,
    /// MRR growth over the same 3 months.
    pub revenue_growth_3m: Option<f64>,
    /// The month's margin ratio (the configured Rule-of-40 margin).
    pub margin: Option<f64>,
    /// The margin's baseline: the median of its own history, 52 weeks ending 8 weeks before.
    pub margin_baseline: Option<f64>,
    /// How far the margin is under that baseline, robust z (positive = fallen).
    pub margin_z: Option<f64>,
    /// The Rule of 40 score.
    pub rule_of_40: Option<f64>,
    /// Each known condition with its figures.
    pub evidence: Vec<ProfitEvidence>,
    /// In words.
    pub summary: String,
}

impl Profitability {
    /// `tagged` or `not tagged`, as the faces print it.
    pub fn label(&self) -> &'static str {
        if self.tagged {
            "tagged"
        } else {
            "not tagged"
        }
    }
}

fn pct(v: f64) -> String {
    format!("{:+.1} %", v * 100.0)
}

/// The profitability tag of week `i`: each known condition with its figures, tagged when at
/// least two hold. `None` where the week has no cost, margin or Rule-of-40 data at all.
pub(super) fn profitability(
    weeks: &[WeekSignals],
    i: usize,
    hist: &History,
) -> Option<Profitability> {
    let w = &weeks[i];
    if w.cost_growth_3m.is_none() && w.margin.is_none() && w.rule_of_40.is_none() {
        return None;
    }
    let fall = w.margin.and(fall_z(&hist.margin, i));
    let evidence: Vec<ProfitEvidence> = ProfitCondition::ALL
        .into_iter()
        .map(|condition| {
            let (holds, summary) = match condition {
                ProfitCondition::CostOutgrowsRevenue => match (w.cost_growth_3m, w.revenue_growth_3m) {
                    (Some(c), Some(r)) => (
                        Some(c > r),
                        format!("cloud cost {} over 3 months against MRR {}", pct(c), pct(r)),
                    ),
                    _ => (None, "cost or revenue growth unknown".to_owned()),
                },
                ProfitCondition::MarginFalling => match (w.margin, fall) {
                    (Some(m), Some((base, z))) => (
                        Some(z >= MARGIN_FALL_Z),
                        format!(
                            "margin {:.1} % against its own baseline {:.1} % ({z:+.1} robust spreads under it; falling from {MARGIN_FALL_Z:.0})",
                            m * 100.0,
                            base * 100.0
                        ),
                    ),
                    (Some(_), None) => (None, "margin history too short for a baseline".to_owned()),
                    (None, _) => (None, "margin unknown".to_owned()),
                },
                ProfitCondition::RuleOf40Under40 => match w.rule_of_40 {
                    Some(r) => (
                        Some(r < RULE_OF_40),
                        format!("Rule of 40 at {r:.1} (line {RULE_OF_40:.0})"),
                    ),
                    None => (None, "Rule of 40 unknown".to_owned()),
                },
            };
            ProfitEvidence {
                condition,
                holds,
                summary,
            }
        })
        .collect();
    let holding: Vec<&str> = evidence
        .iter()
        .filter(|e| e.holds == Some(true))
        .map(|e| e.condition.as_str())
        .collect();
    let known = evidence.iter().filter(|e| e.holds.is_some()).count();
    let tagged = holding.len() >= CONDITIONS_NEEDED;
    let summary = format!(
        "profitability {}: {} of {known} known conditions hold{}",
        if tagged { "tagged" } else { "not tagged" },
        holding.len(),
        if holding.is_empty() {
            String::new()
        } else {
            format!(" ({})", holding.join(", "))
        }
    );
    Some(Profitability {
        tagged,
        cost_growth_3m: w.cost_growth_3m,
        revenue_growth_3m: w.revenue_growth_3m,
        margin: w.margin,
        margin_baseline: fall.map(|(b, _)| b),
        margin_z: fall.map(|(_, z)| z),
        rule_of_40: w.rule_of_40,
        evidence,
        summary,
    })
}
