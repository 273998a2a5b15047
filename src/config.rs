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
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use config::{Environment, File, FileFormat, Map, Source, Value, ValueKind};
use serde::{Deserialize, Serialize, Serializer};

/// The built-in defaults; also the documented reference of every key.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

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

// ---------------------------------------------------------------------------------------------
// Stage one: raw values as written.

#[derive(Debug, Deserialize)]
struct RawConfig {
    storage: RawStorage,
    server: RawServer,
    log: RawLog,
    github: RawGithub,
    prometheus: RawPrometheus,
    revenue: RawRevenue,
    digest: RawDigest,
    analysis: RawAnalysis,
}

#[derive(Debug, Deserialize)]
struct RawStorage {
    path: String,
}

#[derive(Debug, Deserialize)]
struct RawServer {
    listen: String,
    api_token: Option<Secret>,
    shutdown_grace: String,
}

#[derive(Debug, Deserialize)]
struct RawLog {
    format: String,
    level: String,
}

#[derive(Debug, Deserialize)]
struct RawGithub {
    api_url: String,
    token_env: String,
    repos: Vec<String>,
    backfill_since: String,
    interval: String,
}

#[derive(Debug, Deserialize)]
struct RawPrometheus {
    url: String,
    timeout: String,
    step: String,
    backfill_since: String,
    interval: String,
    bearer_token_env: Option<String>,
    basic_auth_user: Option<String>,
    basic_auth_password_env: Option<String>,
    #[serde(default)]
    slo: Vec<RawSlo>,
    #[serde(default)]
    query: Vec<RawQuery>,
}

#[derive(Debug, Deserialize)]
struct RawSlo {
    name: String,
    service: String,
    good_query: Option<String>,
    total_query: Option<String>,
    error_ratio_query: Option<String>,
    target: f64,
    window: String,
}

#[derive(Debug, Deserialize)]
struct RawQuery {
    name: String,
    query: String,
    unit: String,
    service: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawRevenue {
    currency: String,
    amount_scale: f64,
    max_reported_errors: usize,
    retention_window: String,
    reactivation_as_expansion: bool,
    watch_dir: Option<String>,
    watch_interval: String,
    max_upload_bytes: u64,
    columns: RawColumns,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RawColumns {
    customer_id: Vec<String>,
    month: Vec<String>,
    date: Vec<String>,
    mrr: Vec<String>,
    currency: Vec<String>,
    plan: Vec<String>,
    segment: Vec<String>,
    r#type: Vec<String>,
    amount: Vec<String>,
    arr: Vec<String>,
    nrr: Vec<String>,
    grr: Vec<String>,
    customers: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawDigest {
    out_dir: String,
    weekday: String,
}

#[derive(Debug, Deserialize)]
struct RawAnalysis {
    timezone: String,
    min_points: u32,
}

// ---------------------------------------------------------------------------------------------
// Stage two: the validated configuration.

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
    /// Headline NRR/GRR formula.
    pub retention_window: crate::analysis::revenue::RetentionWindow,
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
    /// Output directory.
    pub out_dir: PathBuf,
    /// Day of the week.
    pub weekday: chrono::Weekday,
}

/// `[analysis]`
#[derive(Debug, Clone, Serialize)]
pub struct AnalysisConfig {
    /// Week boundary time zone (UTC only).
    pub timezone: String,
    /// Minimum weekly points.
    pub min_points: u32,
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
        let merged = builder
            .add_source(env)
            .build()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        let root = merged
            .collect()
            .map_err(|e| ConfigError::Load(e.to_string()))?;

        let file = sources.file.as_deref();
        let mut unknown = Vec::new();
        let raw: RawConfig =
            serde_ignored::deserialize(Value::new(None, ValueKind::Table(root.clone())), |path| {
                unknown.push(path.to_string())
            })
            .map_err(|e| match e {
                config::ConfigError::Type {
                    unexpected,
                    expected,
                    key: Some(key),
                    ..
                } => ConfigError::Invalid(vec![Problem {
                    origin: origin_of(&root, &key, file),
                    message: format!("invalid type: {unexpected}, expected {expected}"),
                    key,
                }]),
                other => ConfigError::Load(other.to_string()),
            })?;

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
                .collect(),
        };
        let config = v.validate(raw);
        if v.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(v.problems))
        }
    }

    /// The effective configuration as TOML, with secrets redacted.
    pub fn to_redacted_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }
}

/// The origin of a dotted key's value, for error messages. The `config` crate records files by a
/// path relative to the working directory; the user file is shown as the user named it.
fn origin_of(root: &Map<String, Value>, key: &str, file: Option<&Path>) -> String {
    let mut parts = key.split('.');
    let mut value = parts.next().and_then(|p| root.get(p));
    for part in parts {
        value = match value.map(|v| &v.kind) {
            Some(ValueKind::Table(t)) => t.get(part),
            _ => None,
        };
    }
    match (value.and_then(|v| v.origin()), file) {
        (Some(ENV_ORIGIN), _) => ENV_ORIGIN.to_owned(),
        (Some(_), Some(file)) => file.display().to_string(),
        (Some(o), None) => o.to_owned(),
        (None, _) => "built-in defaults".to_owned(),
    }
}

/// How the `config` crate names values that came from environment variables.
const ENV_ORIGIN: &str = "the environment";

struct Validator<'a> {
    root: &'a Map<String, Value>,
    file: Option<&'a Path>,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.to_owned(),
            origin: origin_of(self.root, key, self.file),
            message: message.into(),
        });
    }

    fn duration(&mut self, key: &str, s: &str) -> Duration {
        match humantime::parse_duration(s) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.problem(key, "must be longer than zero");
                Duration::from_secs(1)
            }
            Err(e) => {
                self.problem(key, format!("{s:?} is not a duration like \"15m\" ({e})"));
                Duration::from_secs(1)
            }
        }
    }

    fn since(&mut self, key: &str, s: &str) -> Since {
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Since::Date(d);
        }
        match humantime::parse_duration(s) {
            Ok(d) => Since::Ago(d),
            Err(_) => {
                self.problem(
                    key,
                    format!("{s:?} is neither a date (2024-01-31) nor a duration (730d)"),
                );
                Since::Ago(Duration::ZERO)
            }
        }
    }

    fn url(&mut self, key: &str, s: &str) {
        if !(s.starts_with("http://") || s.starts_with("https://")) || s.len() < 10 {
            self.problem(key, format!("{s:?} is not an http:// or https:// URL"));
        }
    }

    fn validate(&mut self, raw: RawConfig) -> Config {
        if raw.storage.path.trim().is_empty() {
            self.problem("storage.path", "must not be empty");
        }
        let listen = raw.server.listen.parse().unwrap_or_else(|_| {
            self.problem(
                "server.listen",
                format!(
                    "{:?} is not a socket address (host:port, e.g. 127.0.0.1:9750)",
                    raw.server.listen
                ),
            );
            SocketAddr::from(([127, 0, 0, 1], 9750))
        });
        if raw
            .server
            .api_token
            .as_ref()
            .is_some_and(|t| t.0.len() < 16)
        {
            self.problem("server.api_token", "must be at least 16 characters long");
        }
        let shutdown_grace = self.duration("server.shutdown_grace", &raw.server.shutdown_grace);

        let format = match raw.log.format.as_str() {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                self.problem(
                    "log.format",
                    format!("{other:?} is not one of \"pretty\", \"json\""),
                );
                LogFormat::Pretty
            }
        };
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&raw.log.level) {
            self.problem("log.level", format!("{:?}: {e}", raw.log.level));
        }

        self.url("github.api_url", &raw.github.api_url);
        if raw.github.token_env.is_empty()
            || !raw
                .github
                .token_env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.problem(
                "github.token_env",
                format!(
                    "{:?} is not an environment variable name (it names the variable that holds \
                     the token, not the token)",
                    raw.github.token_env
                ),
            );
        }
        for (i, repo) in raw.github.repos.iter().enumerate() {
            let ok = repo.split_once('/').is_some_and(|(o, n)| {
                !o.is_empty() && !n.is_empty() && !n.contains('/') && !repo.contains(' ')
            });
            if !ok {
                self.problem(
                    &format!("github.repos[{i}]"),
                    format!("{repo:?} is not \"owner/name\""),
                );
            }
        }
        let github = GithubConfig {
            api_url: raw.github.api_url.trim_end_matches('/').to_owned(),
            token_env: raw.github.token_env,
            repos: raw.github.repos,
            backfill_since: self.since("github.backfill_since", &raw.github.backfill_since),
            interval: self.duration("github.interval", &raw.github.interval),
        };

        let url = (!raw.prometheus.url.is_empty()).then(|| {
            self.url("prometheus.url", &raw.prometheus.url);
            raw.prometheus.url.trim_end_matches('/').to_owned()
        });
        let mut slos: Vec<SloConfig> = Vec::new();
        for (i, raw) in raw.prometheus.slo.into_iter().enumerate() {
            let at = |k: &str| format!("prometheus.slo[{i}].{k}");
            if raw.name.is_empty() || slos.iter().any(|s| s.name == raw.name) {
                self.problem(
                    &at("name"),
                    format!("{:?} must be non-empty and unique", raw.name),
                );
            }
            if !(raw.target > 0.0 && raw.target < 1.0) {
                self.problem(
                    &at("target"),
                    format!("{} must be between 0 and 1, e.g. 0.999", raw.target),
                );
            }
            let window = self.duration(&at("window"), &raw.window);
            let sli = match (raw.good_query, raw.total_query, raw.error_ratio_query) {
                (Some(good_query), Some(total_query), None) => Sli::Counts {
                    good_query,
                    total_query,
                },
                (None, None, Some(error_ratio_query)) => Sli::ErrorRatio { error_ratio_query },
                _ => {
                    self.problem(
                        &at("good_query"),
                        "give either good_query and total_query, or error_ratio_query",
                    );
                    Sli::ErrorRatio {
                        error_ratio_query: String::new(),
                    }
                }
            };
            slos.push(SloConfig {
                name: raw.name,
                service: raw.service,
                sli,
                target: raw.target,
                window,
            });
        }
        let mut queries: Vec<QueryConfig> = Vec::new();
        for (i, raw) in raw.prometheus.query.into_iter().enumerate() {
            if raw.name.is_empty() || queries.iter().any(|q| q.name == raw.name) {
                self.problem(
                    &format!("prometheus.query[{i}].name"),
                    format!("{:?} must be non-empty and unique", raw.name),
                );
            }
            queries.push(QueryConfig {
                name: raw.name,
                query: raw.query,
                unit: raw.unit,
                service: raw.service,
            });
        }
        if raw.prometheus.basic_auth_user.is_some()
            != raw.prometheus.basic_auth_password_env.is_some()
        {
            self.problem(
                "prometheus.basic_auth_user",
                "basic auth needs both basic_auth_user and basic_auth_password_env",
            );
        }
        let prometheus = PrometheusConfig {
            url,
            bearer_token_env: raw.prometheus.bearer_token_env,
            basic_auth_user: raw.prometheus.basic_auth_user,
            basic_auth_password_env: raw.prometheus.basic_auth_password_env,
            slo: slos,
            query: queries,
            timeout: self.duration("prometheus.timeout", &raw.prometheus.timeout),
            step: self.duration("prometheus.step", &raw.prometheus.step),
            backfill_since: self.since("prometheus.backfill_since", &raw.prometheus.backfill_since),
            interval: self.duration("prometheus.interval", &raw.prometheus.interval),
        };

        let currency = raw.revenue.currency.to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
            self.problem(
                "revenue.currency",
                format!(
                    "{:?} is not an ISO 4217 code like \"USD\"",
                    raw.revenue.currency
                ),
            );
        }

        let retention_window = match raw.revenue.retention_window.as_str() {
            "12m" => crate::analysis::revenue::RetentionWindow::Cohort12m,
            "monthly" => crate::analysis::revenue::RetentionWindow::Monthly,
            other => {
                self.problem(
                    "revenue.retention_window",
                    format!("{other:?} is not one of \"12m\", \"monthly\""),
                );
                crate::analysis::revenue::RetentionWindow::Cohort12m
            }
        };
        if !(raw.revenue.amount_scale > 0.0 && raw.revenue.amount_scale.is_finite()) {
            self.problem("revenue.amount_scale", "must be a positive number");
        }
        let watch_interval = self.duration("revenue.watch_interval", &raw.revenue.watch_interval);
        let c = raw.revenue.columns;
        for (name, list) in [
            ("customer_id", &c.customer_id),
            ("month", &c.month),
            ("date", &c.date),
            ("mrr", &c.mrr),
            ("type", &c.r#type),
            ("amount", &c.amount),
            ("arr", &c.arr),
        ] {
            if list.is_empty() {
                self.problem(
                    &format!("revenue.columns.{name}"),
                    "needs at least one header name",
                );
            }
        }
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.trim().to_lowercase()).collect();
        let revenue = RevenueConfig {
            currency: currency.clone(),
            amount_scale: raw.revenue.amount_scale,
            max_reported_errors: raw.revenue.max_reported_errors.max(1),
            retention_window,
            reactivation_as_expansion: raw.revenue.reactivation_as_expansion,
            watch_dir: raw
                .revenue
                .watch_dir
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            watch_interval,
            max_upload_bytes: raw.revenue.max_upload_bytes,
            columns: Columns {
                customer_id: lower(c.customer_id),
                month: lower(c.month),
                date: lower(c.date),
                mrr: lower(c.mrr),
                currency: lower(c.currency),
                plan: lower(c.plan),
                segment: lower(c.segment),
                r#type: lower(c.r#type),
                amount: lower(c.amount),
                arr: lower(c.arr),
                nrr: lower(c.nrr),
                grr: lower(c.grr),
                customers: lower(c.customers),
            },
        };

        let weekday = raw.digest.weekday.parse().unwrap_or_else(|_| {
            self.problem(
                "digest.weekday",
                format!("{:?} is not a day of the week", raw.digest.weekday),
            );
            chrono::Weekday::Mon
        });

        if raw.analysis.timezone != "UTC" {
            self.problem(
                "analysis.timezone",
                format!(
                    "{:?} is not supported; weeks are ISO weeks in \"UTC\"",
                    raw.analysis.timezone
                ),
            );
        }
        if raw.analysis.min_points < 4 {
            self.problem("analysis.min_points", "must be at least 4");
        }

        Config {
            storage: StorageConfig {
                path: PathBuf::from(raw.storage.path),
            },
            server: ServerConfig {
                listen,
                api_token: raw.server.api_token,
                shutdown_grace,
            },
            log: LogConfig {
                format,
                level: raw.log.level,
            },
            github,
            prometheus,
            revenue,
            digest: DigestConfig {
                out_dir: PathBuf::from(raw.digest.out_dir),
                weekday,
            },
            analysis: AnalysisConfig {
                timezone: raw.analysis.timezone,
                min_points: raw.analysis.min_points,
            },
        }
    }
}
