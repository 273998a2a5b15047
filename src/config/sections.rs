//! The typed, validated sections of [`Config`](super::Config), one struct per `[table]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Serialize, Serializer};

use super::{AppKey, Secret};

/// `[storage]`
#[derive(Debug, Clone, Serialize)]
pub struct StorageConfig {
    /// Data directory.
    pub path: PathBuf,
}

/// `[server]`
#[derive(Debug, Clone, Serialize)]
pub struct ServerConfig {
    /// Bind address.
    pub listen: SocketAddr,
    /// Bearer token for the API, if any.
    pub api_token: Option<Secret>,
    /// Grace period for shutdown.
    #[serde(with = "humantime_serde_compat")]
    pub shutdown_grace: Duration,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[business]`: how support tickets and business metrics are read (docs/support.md,
/// docs/cost.md).
#[derive(Debug, Clone, Serialize)]
pub struct BusinessConfig {
    /// The margin the Rule of 40 adds to ARR growth.
    pub rule_of_40_margin: crate::model::business::MarginKind,
}

/// `[log]`
#[derive(Debug, Clone, Serialize)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// Filter directive.
    pub level: String,
}

/// A point in time to read back to: a fixed date, or a span before "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// From this date (UTC midnight).
    Date(NaiveDate),
    /// From this long before now.
    Ago(Duration),
}

impl Since {
    /// The point in time, relative to `now` for a span.
    pub fn resolve(self, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        match self {
            Since::Date(d) => d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            Since::Ago(d) => now - chrono::Duration::from_std(d).unwrap_or_default(),
        }
    }
}

impl Serialize for Since {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Since::Date(d) => s.serialize_str(&d.to_string()),
            Since::Ago(d) => s.serialize_str(&format_duration(*d)),
        }
    }
}

/// A duration as it is written in the configuration: the largest of d, h, m, s that divides it.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 || secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs % len == 0 {
            return format!("{}{unit}", secs / len);
        }
    }
    format!("{secs}s")
}

/// `[github]`
#[derive(Debug, Clone, Serialize)]
pub struct GithubConfig {
    /// API base URL.
    pub api_url: String,
    /// Name of the variable holding the token.
    pub token_env: String,
    /// Name of the variable holding the secret that signs webhook deliveries
    /// (`POST /webhooks/github`).
    pub webhook_secret_env: String,
    /// `owner/name` list.
    pub repos: Vec<String>,
    /// First-sync horizon.
    pub backfill_since: Since,
    /// Sync interval.
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
    /// Incident issues carry this label.
    pub incident_label: String,
    /// How long before an incident a deployment may have caused it.
    #[serde(with = "humantime_serde_compat")]
    pub incident_window: Duration,
    /// Issues with any of these labels are bugs.
    pub bug_labels: Vec<String>,
    /// A bug opened within this window after a deployment of its service escaped that
    /// deployment.
    pub escaped_bug_window: Duration,
    /// Severity name → the labels that mean it (`sev1 = ["sev1", "P1"]`).
    pub bug_severity: std::collections::BTreeMap<String, Vec<String>>,
    /// How far before the first deployment seen of a service its change set reaches (never
    /// before `backfill_since`).
    #[serde(with = "humantime_serde_compat")]
    pub first_deploy_lookback: Duration,
    /// Timeout of one request.
    #[serde(with = "humantime_serde_compat")]
    pub request_timeout: Duration,
    /// Below this many remaining requests, pause until the rate limit resets.
    pub rate_limit_floor: u32,
    /// Longest pause for a rate limit before the sync gives up (and resumes next time).
    #[serde(with = "humantime_serde_compat")]
    pub max_rate_limit_wait: Duration,
    /// Every service: the configured ones, and one per listed repo that has none.
    pub services: Vec<GithubService>,
    /// GitHub App authentication instead of the token, if configured.
    pub app: Option<GithubApp>,
}

/// `[github.app]`: authenticate as a GitHub App's installations instead of with a token
/// (docs/webhooks.md, "GitHub App"). When both are configured, the App wins.
#[derive(Debug, Clone, Serialize)]
pub struct GithubApp {
    /// The App's id.
    pub id: u64,
    /// The file holding the App's private key (PEM).
    pub private_key_path: PathBuf,
    /// The key itself, read and checked when the configuration is loaded; never shown.
    #[serde(skip)]
    pub key: AppKey,
    /// Installations to use; empty = every installation of the App, found through the API.
    pub installation_ids: Vec<u64>,
}

impl GithubConfig {
    /// Whether the GitHub source is on.
    pub fn enabled(&self) -> bool {
        !self.services.is_empty()
    }

    /// The repositories to read, each once, in configuration order.
    pub fn repos(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in &self.services {
            if !out.contains(&s.repo.as_str()) {
                out.push(&s.repo);
            }
        }
        out
    }
}

/// Where a service's deployments are read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentsFrom {
    /// The Deployments API, environments matching a regex.
    Deployments,
    /// Successful GitHub Actions runs on the default branch of workflows matching a regex.
    WorkflowRuns,
    /// Releases whose tag matches a regex.
    Releases,
}

/// A service whose deployments and changes are tracked (`[[github.service]]`).
#[derive(Debug, Clone, Serialize)]
pub struct GithubService {
    /// Name.
    pub name: String,
    /// `owner/name`.
    pub repo: String,
    /// Path globs (monorepos); empty = the whole repository.
    pub paths: Vec<String>,
    /// Where deployments come from.
    pub deployments_from: DeploymentsFrom,
    /// Environment regex (Deployments API), anchored.
    pub environment: String,
    /// Workflow name or path regex (workflow runs).
    pub workflow: String,
    /// Tag regex (releases).
    pub release_pattern: String,
}

/// How an SLO's indicator is measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sli {
    /// Two queries: good events and all events per step (e.g. `sum(increase(x[${step}]))`).
    Counts {
        /// PromQL for good events per step.
        good_query: String,
        /// PromQL for all events per step.
        total_query: String,
    },
    /// One query: the error ratio per step.
    ErrorRatio {
        /// PromQL for the ratio of bad events per step.
        error_ratio_query: String,
    },
}

/// `[[prometheus.slo]]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloConfig {
    /// Name (the `slo` label).
    pub name: String,
    /// Service (the `service` label).
    pub service: String,
    /// The indicator's queries.
    pub sli: Sli,
    /// Objective, e.g. 0.999.
    pub target: f64,
    /// Rolling window of the error budget.
    #[serde(with = "humantime_serde_compat")]
    pub window: Duration,
}

/// `[[prometheus.query]]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryConfig {
    /// Name (the `query` label).
    pub name: String,
    /// PromQL returning one series.
    pub query: String,
    /// Unit of the values, e.g. `seconds`.
    pub unit: String,
    /// Service the figure belongs to, if any.
    pub service: Option<String>,
}

/// `[prometheus]`
#[derive(Debug, Clone, Serialize)]
pub struct PrometheusConfig {
    /// Base URL; `None` = off.
    pub url: Option<String>,
    /// Variable holding a bearer token, if any.
    pub bearer_token_env: Option<String>,
    /// Basic-auth user, if any.
    pub basic_auth_user: Option<String>,
    /// Variable holding the basic-auth password.
    pub basic_auth_password_env: Option<String>,
    /// SLOs.
    pub slo: Vec<SloConfig>,
    /// Extra named series.
    pub query: Vec<QueryConfig>,
    /// Per-request timeout.
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
    /// Sample resolution.
    #[serde(with = "humantime_serde_compat")]
    pub step: Duration,
    /// First-sync horizon.
    pub backfill_since: Since,
    /// Sync interval.
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
}

/// `[revenue]`
#[derive(Debug, Clone, Serialize)]
pub struct RevenueConfig {
    /// ISO 4217 code.
    pub currency: String,
    /// Factor applied to every amount (0.01 for files in cents).
    pub amount_scale: f64,
    /// Bad rows listed in an error before "and N more".
    pub max_reported_errors: usize,
    /// Largest single field of a CSV file, in bytes.
    pub max_field_bytes: usize,
    /// Headline NRR/GRR formula.
    pub retention_window: crate::model::revenue::RetentionWindow,
    /// Whether reactivated MRR counts as expansion.
    pub reactivation_as_expansion: bool,
    /// Folder watched for CSV files, if any.
    pub watch_dir: Option<PathBuf>,
    /// How often the folder is looked at.
    #[serde(with = "humantime_serde_compat")]
    pub watch_interval: Duration,
    /// Largest CSV body the HTTP endpoint accepts.
    pub max_upload_bytes: u64,
    /// Header names per field, added to the built-in ones.
    pub columns: Columns,
}

/// `[revenue.columns]`: for each field, header names that mean it besides the built-in ones
/// (`sources::revenue_csv` knows the names common exports use); compared ignoring case, spaces,
/// underscores and hyphens, and tried before the built-in names.
#[derive(Debug, Clone, Serialize)]
pub struct Columns {
    /// Customer id.
    pub customer_id: Vec<String>,
    /// Month `YYYY-MM`.
    pub month: Vec<String>,
    /// A date within the month.
    pub date: Vec<String>,
    /// MRR.
    pub mrr: Vec<String>,
    /// Currency code.
    pub currency: Vec<String>,
    /// Plan.
    pub plan: Vec<String>,
    /// Segment.
    pub segment: Vec<String>,
    /// Movement type.
    pub r#type: Vec<String>,
    /// Movement amount.
    pub amount: Vec<String>,
    /// ARR (totals).
    pub arr: Vec<String>,
    /// NRR (totals).
    pub nrr: Vec<String>,
    /// GRR (totals).
    pub grr: Vec<String>,
    /// Customer count (totals).
    pub customers: Vec<String>,
    /// Customer name (attributes).
    pub name: Vec<String>,
    /// Country (attributes).
    pub country: Vec<String>,
    /// First paying month (attributes).
    pub first_month: Vec<String>,
}

/// `[digest]`
#[derive(Debug, Clone, Serialize)]
pub struct DigestConfig {
    /// Whether the daemon runs the schedule.
    pub enabled: bool,
    /// Output directory.
    pub out_dir: PathBuf,
    /// Write Markdown.
    pub markdown: bool,
    /// Write HTML.
    pub html: bool,
    /// Write JSON.
    pub json: bool,
    /// Day of the week.
    pub weekday: chrono::Weekday,
    /// Hour of that day (UTC) from which the digest is due.
    pub hour: u32,
    /// The webhook, if any.
    pub webhook: Option<WebhookConfig>,
}

/// `[digest]` webhook keys.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookConfig {
    /// Variable holding the URL.
    pub url_env: String,
    /// Payload shape.
    pub format: WebhookFormat,
    /// Timeout of one request.
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
}

/// The payload a webhook gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `{"text": markdown}`.
    Slack,
    /// Everything.
    Json,
}

/// `[analysis]`
#[derive(Debug, Clone, Serialize)]
pub struct AnalysisConfig {
    /// Week boundary time zone, as written.
    pub timezone: String,
    /// Its offset from UTC, seconds east.
    pub utc_offset_s: i32,
    /// Minimum weekly points.
    pub min_points: u32,
    /// Year of the DORA report whose band table is used.
    pub dora_report_year: u16,
    /// Planned annual ARR growth (the anchor of growth momentum).
    pub growth_plan: f64,
    /// One lead-time sample per pull request or per commit (docs/dora.md).
    pub lead_time_unit: crate::model::dora::LeadTimeUnit,
    /// What ends a failed deployment's recovery (docs/dora.md).
    pub recovery_end: crate::model::dora::RecoveryEnd,
    /// Weights of the pressure index's components, by name.
    pub weights: std::collections::BTreeMap<String, f64>,
}

mod humantime_serde_compat {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }
}

/// `[[teams]]`: who owns which services.
#[derive(Debug, Clone, Serialize)]
pub struct TeamConfig {
    /// The team's name, unique.
    pub name: String,
    /// The services it owns; no service belongs to two teams.
    pub services: Vec<String>,
    /// GitHub team slugs (`org/team`) that stand for it, shown beside it; the services whose
    /// `CODEOWNERS` owners include `@org/team` are derived to be its (docs/teams.md).
    pub github_teams: Vec<String>,
    /// Other `CODEOWNERS` owners that stand for it (`@user`, an e-mail), for deriving its
    /// services the same way.
    pub codeowners: Vec<String>,
}

/// `[[products]]`: what is sold, the services behind it and the revenue that belongs to it.
#[derive(Debug, Clone, Serialize)]
pub struct ProductConfig {
    /// The product's name, unique.
    pub name: String,
    /// The services it runs on.
    pub services: Vec<String>,
    /// The revenue segments that belong to it.
    pub segments: Vec<String>,
    /// The revenue plans that belong to it.
    pub plans: Vec<String>,
}

/// `[system]`: the system map's components (docs/system.md).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SystemConfig {
    /// Backstage catalog files (`catalog-info.yaml`), read when the application is built.
    pub catalog_paths: Vec<PathBuf>,
    /// `[[system.component]]`, checked: known kinds, unique names and, when no catalog is
    /// read, known references and no cycle.
    #[serde(rename = "component", serialize_with = "components_as_written")]
    pub components: Vec<crate::model::Component>,
    /// `[system.rules]`: where the weak-spot and next-move rules draw their lines.
    pub rules: SystemRules,
}

/// A DORA band named as a rule's line: a rule fires at this band or below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleBand {
    /// Only the low band.
    Low,
    /// Medium or low.
    Medium,
    /// High, medium or low.
    High,
}

impl RuleBand {
    /// Every band a rule may name, as written.
    pub const ALL: [(&'static str, RuleBand); 3] = [
        ("low", RuleBand::Low),
        ("medium", RuleBand::Medium),
        ("high", RuleBand::High),
    ];
}

/// `[system.rules]` (docs/system.md, "Weak spots and next moves"): each rule's threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemRules {
    /// A 3-day burn rate at or above this burns fast (SRE Workbook: 2 spends a window's budget
    /// in half the window).
    pub fast_burn: f64,
    /// This many direct dependants or more make a component load-bearing.
    pub many_dependants: u32,
    /// No successful deployment for this many weeks or more is stale.
    pub stale_weeks: u32,
    /// A component holding at least this share of the map's open bugs …
    pub bug_share: f64,
    /// … and at least this many of them concentrates them.
    pub bug_min: u32,
    /// A change failure rate in this DORA band or below is a weak spot.
    pub cfr_band: RuleBand,
    /// A recovery time in this DORA band or below is a weak spot.
    pub recovery_band: RuleBand,
    /// The `[[prometheus.query]]` name whose series is a service's latency.
    pub latency_query: String,
    /// The latency objective of a component that sets none (in the query's unit); `None` = no
    /// objective unless the component has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_objective: Option<f64>,
    /// How many of a product's weakest components the pressure-regime rule names.
    pub pressure_weakest: u32,
}

impl Default for SystemRules {
    /// The lines the rules drew before they were configurable.
    fn default() -> Self {
        Self {
            fast_burn: 2.0,
            many_dependants: 3,
            stale_weeks: 6,
            bug_share: 0.4,
            bug_min: 3,
            cfr_band: RuleBand::Low,
            recovery_band: RuleBand::Low,
            latency_query: "latency_p95".to_owned(),
            latency_objective: None,
            pressure_weakest: 2,
        }
    }
}

/// The components as a file writes them (without where they were written), so that the printed
/// configuration reads back.
fn components_as_written<S: Serializer>(
    components: &[crate::model::Component],
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Written<'a> {
        name: &'a str,
        kind: crate::model::ComponentKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        team: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        product: Option<&'a str>,
        service: &'a str,
        depends_on: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        latency_objective: Option<f64>,
    }
    s.collect_seq(components.iter().map(|c| Written {
        name: &c.name,
        kind: c.kind,
        team: c.team.as_deref(),
        product: c.product.as_deref(),
        service: &c.service,
        depends_on: &c.depends_on,
        latency_objective: c.latency_objective,
    }))
}

/// `[webhooks]`: what the daemon accepts pushed to it (docs/webhooks.md).
#[derive(Debug, Clone, Serialize)]
pub struct InboundWebhooksConfig {
    /// Largest body accepted, in bytes; a larger one is refused with 413 before it is read.
    pub max_body_bytes: u64,
    /// Name of the variable holding the bearer token of `POST /webhooks/events`.
    pub events_token_env: String,
}

/// `[metrics]`: what every exported series carries.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MetricsConfig {
    /// The `shard` label on every series of `/metrics`, the export and remote-write, so that
    /// several daemons can write into one receiver and stay apart (docs/scaling.md).
    pub shard: Option<String>,
}

/// How a remote-write receiver authenticates the daemon; secrets are named by variable only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum RemoteAuth {
    /// No `Authorization` header.
    None,
    /// `Authorization: Bearer` with the token in this variable.
    Bearer {
        /// Variable holding the token.
        token_env: String,
    },
    /// HTTP basic auth with the password in a variable.
    Basic {
        /// User name.
        user: String,
        /// Variable holding the password.
        password_env: String,
    },
}

/// Which time a remote-written sample carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stamping {
    /// The send time: what a scrape would store. Works with every receiver.
    Now,
    /// The weekly figures at their week's Monday 00:00 (as `export openmetrics` stamps them),
    /// changed samples only: the receiver must accept out-of-order samples.
    Week,
}

/// One `[[remote_write]]` receiver.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteWriteConfig {
    /// Name in logs and the `remote` label of the daemon's own counters.
    pub name: String,
    /// The receiver's write endpoint (e.g. `http://prometheus:9090/api/v1/write`).
    pub url: String,
    /// `X-Scope-OrgID` for Mimir, Cortex and Loki-style multi-tenant receivers.
    pub tenant: Option<String>,
    /// Extra request headers (no secrets: use the `*_env` keys).
    pub headers: std::collections::BTreeMap<String, String>,
    /// How to authenticate.
    pub auth: RemoteAuth,
    /// Sample timestamps.
    pub timestamps: Stamping,
    /// How often the current values are sent even when nothing changed (a receiver marks a
    /// series stale after 5 minutes without a sample).
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
    /// Timeout of one request.
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
    /// Longest wait between retries while the receiver is down.
    #[serde(with = "humantime_serde_compat")]
    pub max_backoff: Duration,
    /// Requests held while the receiver is down; past it the oldest is dropped and counted.
    pub queue_capacity: usize,
}
