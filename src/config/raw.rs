//! Stage one: the configuration's raw values as written, before any check.

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Debug, Deserialize)]
pub(super) struct RawConfig {
    pub(super) storage: RawStorage,
    pub(super) server: RawServer,
    pub(super) log: RawLog,
    pub(super) github: RawGithub,
    pub(super) prometheus: RawPrometheus,
    pub(super) revenue: RawRevenue,
    pub(super) digest: RawDigest,
    pub(super) analysis: RawAnalysis,
    #[serde(default)]
    pub(super) teams: Vec<RawTeam>,
    #[serde(default)]
    pub(super) products: Vec<RawProduct>,
    #[serde(default)]
    pub(super) system: RawSystem,
    #[serde(default)]
    pub(super) metrics: RawMetrics,
    #[serde(default)]
    pub(super) remote_write: Vec<RawRemoteWrite>,
    pub(super) webhooks: RawWebhooks,
    pub(super) business: RawBusiness,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawMetrics {
    #[serde(default)]
    pub(super) shard: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawRemoteWrite {
    pub(super) url: String,
    pub(super) name: Option<String>,
    pub(super) tenant: Option<String>,
    #[serde(default)]
    pub(super) headers: std::collections::BTreeMap<String, String>,
    pub(super) bearer_token_env: Option<String>,
    pub(super) basic_auth_user: Option<String>,
    pub(super) basic_auth_password_env: Option<String>,
    pub(super) timestamps: Option<String>,
    pub(super) interval: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) max_backoff: Option<String>,
    pub(super) queue_capacity: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawWebhooks {
    pub(super) max_body_bytes: u64,
    pub(super) events_token_env: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBusiness {
    pub(super) rule_of_40_margin: String,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawSystem {
    #[serde(default)]
    pub(super) catalog_paths: Vec<String>,
    #[serde(default)]
    pub(super) component: Vec<RawComponent>,
    #[serde(default)]
    pub(super) rules: RawSystemRules,
}

/// `[system.rules]`: every key optional, the defaults are `SystemRules::default()`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RawSystemRules {
    pub(super) fast_burn: Option<f64>,
    pub(super) many_dependants: Option<i64>,
    pub(super) stale_weeks: Option<i64>,
    pub(super) bug_share: Option<f64>,
    pub(super) bug_min: Option<i64>,
    pub(super) cfr_band: Option<String>,
    pub(super) recovery_band: Option<String>,
    pub(super) latency_query: Option<String>,
    pub(super) latency_objective: Option<f64>,
    pub(super) pressure_weakest: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawComponent {
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) team: Option<String>,
    pub(super) product: Option<String>,
    pub(super) service: Option<String>,
    #[serde(default)]
    pub(super) depends_on: Vec<String>,
    pub(super) latency_objective: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawProduct {
    pub(super) name: String,
    #[serde(default)]
    pub(super) services: Vec<String>,
    #[serde(default)]
    pub(super) segments: Vec<String>,
    #[serde(default)]
    pub(super) plans: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawTeam {
    pub(super) name: String,
    #[serde(default)]
    pub(super) services: Vec<String>,
    #[serde(default)]
    pub(super) github_teams: Vec<String>,
    #[serde(default)]
    pub(super) codeowners: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawStorage {
    pub(super) path: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawServer {
    pub(super) listen: String,
    pub(super) api_token: Option<Secret>,
    pub(super) shutdown_grace: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawLog {
    pub(super) format: String,
    pub(super) level: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawGithub {
    pub(super) api_url: String,
    pub(super) token_env: String,
    pub(super) webhook_secret_env: String,
    pub(super) repos: Vec<String>,
    pub(super) backfill_since: String,
    pub(super) interval: String,
    pub(super) deployments_from: String,
    pub(super) environment: String,
    pub(super) workflow: String,
    pub(super) release_pattern: String,
    pub(super) incident_label: String,
    pub(super) incident_window: String,
    pub(super) bug_labels: Vec<String>,
    pub(super) escaped_bug_window: String,
    #[serde(default)]
    pub(super) bug_severity: std::collections::BTreeMap<String, Vec<String>>,
    pub(super) first_deploy_lookback: String,
    pub(super) request_timeout: String,
    pub(super) rate_limit_floor: u32,
    pub(super) max_rate_limit_wait: String,
    #[serde(default)]
    pub(super) service: Vec<RawGithubService>,
    pub(super) app: Option<RawGithubApp>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawGithubApp {
    pub(super) id: i64,
    pub(super) private_key_path: String,
    #[serde(default)]
    pub(super) installation_ids: Vec<i64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawGithubService {
    pub(super) name: String,
    pub(super) repo: String,
    #[serde(default)]
    pub(super) paths: Vec<String>,
    pub(super) environment: Option<String>,
    pub(super) deployments_from: Option<String>,
    pub(super) workflow: Option<String>,
    pub(super) release_pattern: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawPrometheus {
    pub(super) url: String,
    pub(super) timeout: String,
    pub(super) step: String,
    pub(super) backfill_since: String,
    pub(super) interval: String,
    pub(super) bearer_token_env: Option<String>,
    pub(super) basic_auth_user: Option<String>,
    pub(super) basic_auth_password_env: Option<String>,
    #[serde(default)]
    pub(super) slo: Vec<RawSlo>,
    #[serde(default)]
    pub(super) query: Vec<RawQuery>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawSlo {
    pub(super) name: String,
    pub(super) service: String,
    pub(super) good_query: Option<String>,
    pub(super) total_query: Option<String>,
    pub(super) error_ratio_query: Option<String>,
    pub(super) target: f64,
    pub(super) window: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawQuery {
    pub(super) name: String,
    pub(super) query: String,
    pub(super) unit: String,
    pub(super) service: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawRevenue {
    pub(super) currency: String,
    pub(super) amount_scale: f64,
    pub(super) max_reported_errors: usize,
    pub(super) max_field_bytes: usize,
    pub(super) retention_window: String,
    pub(super) reactivation_as_expansion: bool,
    pub(super) watch_dir: Option<String>,
    pub(super) watch_interval: String,
    pub(super) max_upload_bytes: u64,
    pub(super) columns: RawColumns,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RawColumns {
    pub(super) customer_id: Vec<String>,
    pub(super) month: Vec<String>,
    pub(super) date: Vec<String>,
    pub(super) mrr: Vec<String>,
    pub(super) currency: Vec<String>,
    pub(super) plan: Vec<String>,
    pub(super) segment: Vec<String>,
    pub(super) r#type: Vec<String>,
    pub(super) amount: Vec<String>,
    pub(super) arr: Vec<String>,
    pub(super) nrr: Vec<String>,
    pub(super) grr: Vec<String>,
    pub(super) customers: Vec<String>,
    #[serde(default)]
    pub(super) name: Vec<String>,
    #[serde(default)]
    pub(super) country: Vec<String>,
    #[serde(default)]
    pub(super) first_month: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawDigest {
    pub(super) enabled: bool,
    pub(super) out_dir: String,
    pub(super) formats: Vec<String>,
    pub(super) weekday: String,
    pub(super) hour: u32,
    pub(super) webhook_url_env: String,
    pub(super) webhook_format: String,
    pub(super) webhook_timeout: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawAnalysis {
    pub(super) timezone: String,
    pub(super) min_points: u32,
    pub(super) dora_report_year: u16,
    pub(super) growth_plan: f64,
    pub(super) lead_time_unit: String,
    pub(super) recovery_end: String,
    pub(super) weights: std::collections::BTreeMap<String, f64>,
}
