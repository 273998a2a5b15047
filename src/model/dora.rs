//! The DORA switches where the field disagrees (`docs/dora.md`): part of the vocabulary, since
//! the configuration names them and the analysis applies them.

use serde::Serialize;

/// What one lead-time sample is (`analysis.lead_time_unit`); see `docs/dora.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadTimeUnit {
    /// One sample per pull request (or direct commit), from its first commit: DORA's "time it
    /// takes for a change to go from committed to deployed", a change being what was reviewed.
    #[default]
    Pr,
    /// One sample per commit shipped, each from its own author time: the reading of Google's
    /// Four Keys (`time_to_change`, one row per commit of a deployment).
    Commit,
}

impl std::str::FromStr for LeadTimeUnit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pr" => Ok(Self::Pr),
            "commit" => Ok(Self::Commit),
            _ => Err(format!("{s:?} is not \"pr\" or \"commit\"")),
        }
    }
}

/// What ends a failed deployment's recovery (`analysis.recovery_end`); see `docs/dora.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryEnd {
    /// Only the next healthy deployment of the same service: service restored by a deployment.
    Deployment,
    /// The next healthy deployment or the close of the incidents attributed to it, whichever
    /// comes first (a fix outside the deployment pipeline: a flag flipped, a node restarted).
    #[default]
    DeploymentOrIncident,
}

impl std::str::FromStr for RecoveryEnd {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "deployment" => Ok(Self::Deployment),
            "deployment_or_incident" => Ok(Self::DeploymentOrIncident),
            _ => Err(format!(
                "{s:?} is not \"deployment\" or \"deployment_or_incident\""
            )),
        }
    }
}

/// The DORA reports whose performance-band thresholds ship with Barometer (`data/dora/<year>.toml`,
/// `analysis.dora_report_year`). The configuration validates against this list; the analysis
/// holds the tables, and a test there keeps both in step.
pub const REPORT_YEARS: &[u16] = &[2023];

/// The pressure index's component names (`analysis.weights.<name>`), in the order of the
/// analysis's `Component::ALL`, which a test there keeps in step.
pub const PRESSURE_COMPONENTS: &[&str] = &[
    "arr_growth",
    "net_new_mrr",
    "nrr",
    "new_logos",
    "error_budget",
    "availability",
    "change_failure_rate",
    "recovery_time",
    "incidents",
    "churn",
    "bug_inflow",
    "support_load",
    "customer_pain",
    "cost_vs_revenue",
    "margin",
];
