//! Configuration: layered raw values, then one validated [`Config`].
//!
//! Stage one merges the built-in `config/default.toml`, the user's file and `BAROMETER__…`
//! environment variables with the `config` crate and deserializes them into raw structs. Stage two
//! checks every value and collects *all* problems, each naming its key and where the value came
//! from, into a single [`ConfigError::Invalid`]. Unknown keys are found with `serde_ignored`
//! instead of `deny_unknown_fields`, because the latter stops at the first one.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use config::{Environment, File, FileFormat, Map, Source, Value, ValueKind};
use serde::{Deserialize, Serialize, Serializer};

/// The built-in defaults; also the documented reference of every key.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// A secret string: never printed by `Debug`, `Display` or `Serialize`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// One bad key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, e.g. `server.listen`.
    pub key: String,
    /// Where the value came from: a file path, `the environment` or `built-in defaults`.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {}): {}", self.key, self.origin, self.message)
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The user file does not exist.
    #[error("configuration file {0} does not exist")]
    Missing(PathBuf),
    /// The file does not parse, or a value has the wrong type.
    #[error("configuration error: {0}")]
    Load(String),
    /// One or more keys are wrong.
    #[error("{}", format_problems(.0))]
    Invalid(Vec<Problem>),
}

fn format_problems(problems: &[Problem]) -> String {
    let mut s = format!(
        "configuration has {} problem{}:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        s.push_str("\n  - ");
        s.push_str(&p.to_string());
    }
    s
}

mod raw;
mod validate;

use raw::RawConfig;
use validate::{origin_of, Validator};

/// The validated configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// `[storage]`
    pub storage: StorageConfig,
    /// `[server]`
    pub server: ServerConfig,
    /// `[log]`
    pub log: LogConfig,
    /// `[github]`
    pub github: GithubConfig,
    /// `[prometheus]`
    pub prometheus: PrometheusConfig,
    /// `[revenue]`
    pub revenue: RevenueConfig,
    /// `[digest]`
    pub digest: DigestConfig,
    /// `[analysis]`
    pub analysis: AnalysisConfig,
}

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
    /// Accepted header names per field (case-insensitive).
    pub columns: Columns,
}

/// `[revenue.columns]`: for each field, the header names that mean it (case-insensitive).
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

/// Where the configuration comes from.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// The user's file (`--config` / `BAROMETER_CONFIG`).
    pub file: Option<PathBuf>,
    /// Environment variables to read `BAROMETER__…` overrides from; `None` = the process's.
    pub env: Option<BTreeMap<String, String>>,
    /// Command-line values, by dotted key (e.g. `server.listen` from `serve --listen`): the
    /// last layer, validated with the rest.
    pub overrides: Vec<(String, String)>,
}

impl Config {
    /// Loads and validates the configuration from its layers.
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let mut builder =
            config::Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(path) = &sources.file {
            if !path.exists() {
                return Err(ConfigError::Missing(path.clone()));
            }
            builder = builder.add_source(File::from(path.as_path()).format(FileFormat::Toml));
        }
        let mut env = Environment::with_prefix("BAROMETER")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("github.repos");
        if let Some(vars) = &sources.env {
            env = env.source(Some(
                vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ));
        }
        builder = builder.add_source(env);
        for (key, value) in &sources.overrides {
            builder = builder
                .set_override(key.as_str(), value.as_str())
                .map_err(|e| ConfigError::Load(e.to_string()))?;
        }
        let merged = builder
            .build()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        let root = merged
            .collect()
            .map_err(|e| ConfigError::Load(e.to_string()))?;

        let file = sources.file.as_deref();
        let (raw, mut unknown, type_problems) = deserialize_all(&root, file)?;

        // The merged table is a hash map: sort so that the report is stable.
        unknown.sort();
        let mut v = Validator {
            root: &root,
            file,
            problems: unknown
                .into_iter()
                .map(|key| Problem {
                    origin: origin_of(&root, &key, file),
                    key,
                    message: "unknown key".into(),
                })
                .chain(type_problems)
                .collect(),
        };
        let config = v.validate(raw);
        if v.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(v.problems))
        }
    }

    /// The effective configuration as TOML, with secrets redacted (tokens, and the user
    /// information of every URL).
    pub fn to_redacted_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self).map(|t| crate::redact::urls_in(&t).into_owned())
    }
}

/// Most wrong types reported in one go; past that, the file is likely not a Barometer file.
const MAX_TYPE_PROBLEMS: usize = 100;

/// Deserializes the merged table into the raw structs, collecting every value of the wrong type
/// instead of stopping at the first: each one is reported, replaced by its built-in default (or
/// dropped where it has none), and deserialization runs again. serde itself stops at the first
/// error, hence the loop.
#[allow(clippy::type_complexity)]
fn deserialize_all(
    root: &Map<String, Value>,
    file: Option<&std::path::Path>,
) -> Result<(RawConfig, Vec<String>, Vec<Problem>), ConfigError> {
    let defaults = config::Config::builder()
        .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
        .build()
        .and_then(|c| c.collect())
        .map_err(|e| ConfigError::Load(e.to_string()))?;
    let mut table = root.clone();
    let mut problems: Vec<Problem> = Vec::new();
    loop {
        let mut unknown = Vec::new();
        let result =
            serde_ignored::deserialize(Value::new(None, ValueKind::Table(table.clone())), |path| {
                unknown.push(path.to_string())
            });
        match result {
            Ok(raw) => {
                // Which wrong value serde meets first depends on the hash map's order.
                problems.sort_by(|a, b| a.key.cmp(&b.key));
                return Ok((raw, unknown, problems));
            }
            Err(e) if keyed(&e).is_some() => {
                let (key, message) = keyed(&e).unwrap_or_default();
                problems.push(Problem {
                    origin: origin_of(root, &key, file),
                    message,
                    key: key.clone(),
                });
                if problems.len() >= MAX_TYPE_PROBLEMS
                    || !replace_with_default(&mut table, &defaults, &key)
                {
                    return Err(ConfigError::Invalid(problems));
                }
            }
            Err(other) if !problems.is_empty() => {
                // Dropping a value without a default can leave a required key missing: report
                // what was found rather than that consequence.
                tracing::debug!(error = %other, "config: stopped after type errors");
                problems.sort_by(|a, b| a.key.cmp(&b.key));
                return Err(ConfigError::Invalid(problems));
            }
            Err(other) => return Err(ConfigError::Load(other.to_string())),
        }
    }
}

/// The key and the message of a wrong value: the `config` crate reports a wrong scalar as `Type`
/// and a wrong shape (a number where a list belongs) as `At` around its cause.
fn keyed(e: &config::ConfigError) -> Option<(String, String)> {
    match e {
        config::ConfigError::Type {
            unexpected,
            expected,
            key: Some(key),
            ..
        } => Some((
            key.clone(),
            format!("invalid type: {unexpected}, expected {expected}"),
        )),
        config::ConfigError::At {
            error,
            key: Some(key),
            ..
        } => Some((
            key.clone(),
            keyed(error).map_or_else(|| error.to_string(), |(_, m)| m),
        )),
        _ => None,
    }
}

/// Puts the built-in default at `key` in `table` (or removes the key where the defaults have
/// none). Returns whether `table` changed.
fn replace_with_default(
    table: &mut Map<String, Value>,
    defaults: &Map<String, Value>,
    key: &str,
) -> bool {
    let parts = validate::key_parts(key);
    let default = validate::lookup(defaults, key).cloned();
    let mut root = ValueKind::Table(std::mem::take(table));
    let changed = set_at(&mut root, &parts, default);
    if let ValueKind::Table(t) = root {
        *table = t;
    }
    changed
}

/// Sets (or with `None` removes) the value at `parts` under `kind`; numeric parts index arrays.
fn set_at(kind: &mut ValueKind, parts: &[&str], value: Option<Value>) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return false;
    };
    match kind {
        ValueKind::Table(t) if rest.is_empty() => match value {
            Some(v) => t.insert((*first).to_owned(), v).is_some(),
            None => t.remove(*first).is_some(),
        },
        ValueKind::Table(t) => t
            .get_mut(*first)
            .is_some_and(|v| set_at(&mut v.kind, rest, value)),
        ValueKind::Array(a) => {
            let Some(item) = first.parse::<usize>().ok().and_then(|i| a.get_mut(i)) else {
                return false;
            };
            match (rest.is_empty(), value) {
                (true, Some(v)) => {
                    *item = v;
                    true
                }
                (true, None) => false,
                (false, value) => set_at(&mut item.kind, rest, value),
            }
        }
        _ => false,
    }
}
