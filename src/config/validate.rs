//! Stage two: every raw value checked, every problem collected with its key and origin.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use config::{Map, Value, ValueKind};

use super::raw::{RawConfig, RawGithub};
use super::*;

/// The origin of a dotted key's value, for error messages. The `config` crate records files by a
/// path relative to the working directory; the user file is shown as the user named it.
pub(super) fn origin_of(root: &Map<String, Value>, key: &str, file: Option<&Path>) -> String {
    let value = lookup(root, key);
    // A table (a whole unknown section) has no origin of its own: its leaves say where it came
    // from.
    match (value.and_then(leaf_origin), file) {
        (Some(ENV_ORIGIN), _) => ENV_ORIGIN.to_owned(),
        (Some(_), Some(file)) => file.display().to_string(),
        (Some(o), None) => o.to_owned(),
        (None, _) => "built-in defaults".to_owned(),
    }
}

/// The value at a dotted key; numeric parts index arrays (`github.service.0.name`, as
/// `serde_ignored` writes paths) and `name[0]` parts too (as the `config` crate does).
pub(super) fn lookup<'a>(root: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let mut parts = key_parts(key).into_iter();
    let mut value = root.get(parts.next()?)?;
    for part in parts {
        value = match &value.kind {
            ValueKind::Table(t) => t.get(part)?,
            ValueKind::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// `a.b[2].c` → `["a", "b", "2", "c"]`.
pub(super) fn key_parts(key: &str) -> Vec<&str> {
    key.split(['.', '[', ']'])
        .filter(|p| !p.is_empty())
        .collect()
}

/// The origin of a value, or of the first leaf under it that has one.
fn leaf_origin(v: &Value) -> Option<&str> {
    if let Some(o) = v.origin() {
        return Some(o);
    }
    match &v.kind {
        ValueKind::Table(t) => {
            // Sorted, so the answer does not depend on the hash map's order.
            let mut keys: Vec<&String> = t.keys().collect();
            keys.sort();
            keys.into_iter().find_map(|k| leaf_origin(&t[k]))
        }
        ValueKind::Array(a) => a.iter().find_map(leaf_origin),
        _ => None,
    }
}

/// How the `config` crate names values that came from environment variables.
pub(super) const ENV_ORIGIN: &str = "the environment";

pub(super) struct Validator<'a> {
    pub(super) root: &'a Map<String, Value>,
    pub(super) file: Option<&'a Path>,
    pub(super) problems: Vec<Problem>,
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

    fn digest(&mut self, raw: &super::raw::RawDigest, weekday: chrono::Weekday) -> DigestConfig {
        let (mut markdown, mut html, mut json) = (false, false, false);
        for f in &raw.formats {
            match f.as_str() {
                "markdown" => markdown = true,
                "html" => html = true,
                "json" => json = true,
                other => self.problem(
                    "digest.formats",
                    format!("{other:?} is not one of \"markdown\", \"html\", \"json\""),
                ),
            }
        }
        if raw.hour > 23 {
            self.problem("digest.hour", format!("{} is not an hour (0-23)", raw.hour));
        }
        let format = match raw.webhook_format.as_str() {
            "slack" => WebhookFormat::Slack,
            "json" => WebhookFormat::Json,
            other => {
                self.problem(
                    "digest.webhook_format",
                    format!("{other:?} is not \"slack\" or \"json\""),
                );
                WebhookFormat::Slack
            }
        };
        let timeout = self.duration("digest.webhook_timeout", &raw.webhook_timeout);
        let url_env = raw.webhook_url_env.trim();
        if !url_env.is_empty()
            && !url_env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.problem(
                "digest.webhook_url_env",
                format!("{url_env:?} is not an environment variable name"),
            );
        }
        DigestConfig {
            enabled: raw.enabled,
            out_dir: PathBuf::from(&raw.out_dir),
            markdown,
            html,
            json,
            weekday,
            hour: raw.hour.min(23),
            webhook: (!url_env.is_empty()).then(|| WebhookConfig {
                url_env: url_env.to_owned(),
                format,
                timeout,
            }),
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

    fn regex(&mut self, key: &str, s: &str) {
        if let Err(e) = regex::Regex::new(s) {
            self.problem(key, format!("{s:?} is not a regular expression: {e}"));
        }
    }

    fn deployments_from(&mut self, key: &str, s: &str) -> DeploymentsFrom {
        match s {
            "deployments" => DeploymentsFrom::Deployments,
            "workflow_runs" => DeploymentsFrom::WorkflowRuns,
            "releases" => DeploymentsFrom::Releases,
            other => {
                self.problem(
                    key,
                    format!(
                        "{other:?} is not one of \"deployments\", \"workflow_runs\", \"releases\""
                    ),
                );
                DeploymentsFrom::Deployments
            }
        }
    }

    fn github(&mut self, raw: RawGithub) -> GithubConfig {
        for (i, repo) in raw.repos.iter().enumerate() {
            self.repo(&format!("github.repos[{i}]"), repo);
        }
        let from = self.deployments_from("github.deployments_from", &raw.deployments_from);
        self.regex("github.environment", &raw.environment);
        self.regex("github.workflow", &raw.workflow);
        self.regex("github.release_pattern", &raw.release_pattern);
        if raw.incident_label.is_empty() {
            self.problem("github.incident_label", "must not be empty");
        }
        let mut services: Vec<GithubService> = Vec::new();
        for (i, s) in raw.service.iter().enumerate() {
            let key = |k: &str| format!("github.service[{i}].{k}");
            if s.name.is_empty()
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                self.problem(
                    &key("name"),
                    format!("{:?} must be letters, digits, '-', '_' or '.'", s.name),
                );
            }
            if services.iter().any(|o| o.name == s.name) {
                self.problem(
                    &key("name"),
                    format!("{:?} is used by another service", s.name),
                );
            }
            self.repo(&key("repo"), &s.repo);
            for (j, p) in s.paths.iter().enumerate() {
                if let Err(e) = globset::Glob::new(p) {
                    self.problem(
                        &format!("github.service[{i}].paths[{j}]"),
                        format!("{p:?} is not a glob: {e}"),
                    );
                }
            }
            let deployments_from = match &s.deployments_from {
                Some(f) => self.deployments_from(&key("deployments_from"), f),
                None => from.clone(),
            };
            for (k, v) in [
                ("environment", &s.environment),
                ("workflow", &s.workflow),
                ("release_pattern", &s.release_pattern),
            ] {
                if let Some(v) = v {
                    self.regex(&key(k), v);
                }
            }
            services.push(GithubService {
                name: s.name.clone(),
                repo: s.repo.clone(),
                paths: s.paths.clone(),
                deployments_from,
                environment: s
                    .environment
                    .clone()
                    .unwrap_or_else(|| raw.environment.clone()),
                workflow: s.workflow.clone().unwrap_or_else(|| raw.workflow.clone()),
                release_pattern: s
                    .release_pattern
                    .clone()
                    .unwrap_or_else(|| raw.release_pattern.clone()),
            });
        }
        // A listed repository without a service of its own is one service named after it.
        for repo in &raw.repos {
            if services.iter().any(|s| s.repo == *repo) {
                continue;
            }
            let name = repo.rsplit('/').next().unwrap_or(repo).to_owned();
            let name = if services.iter().any(|s| s.name == name) {
                repo.replace('/', "-")
            } else {
                name
            };
            services.push(GithubService {
                name,
                repo: repo.clone(),
                paths: Vec::new(),
                deployments_from: from.clone(),
                environment: raw.environment.clone(),
                workflow: raw.workflow.clone(),
                release_pattern: raw.release_pattern.clone(),
            });
        }
        let floor = raw.rate_limit_floor;
        GithubConfig {
            api_url: raw.api_url.trim_end_matches('/').to_owned(),
            token_env: raw.token_env,
            repos: raw.repos,
            backfill_since: self.since("github.backfill_since", &raw.backfill_since),
            interval: self.duration("github.interval", &raw.interval),
            incident_label: raw.incident_label,
            incident_window: self.duration("github.incident_window", &raw.incident_window),
            first_deploy_lookback: self
                .duration("github.first_deploy_lookback", &raw.first_deploy_lookback),
            request_timeout: self.duration("github.request_timeout", &raw.request_timeout),
            rate_limit_floor: floor,
            max_rate_limit_wait: self
                .duration("github.max_rate_limit_wait", &raw.max_rate_limit_wait),
            services,
        }
    }

    fn repo(&mut self, key: &str, repo: &str) {
        let ok = repo.split_once('/').is_some_and(|(o, n)| {
            !o.is_empty() && !n.is_empty() && !n.contains('/') && !repo.contains(' ')
        });
        if !ok {
            self.problem(key, format!("{repo:?} is not \"owner/name\""));
        }
    }

    fn url(&mut self, key: &str, s: &str) {
        if !(s.starts_with("http://") || s.starts_with("https://")) || s.len() < 10 {
            self.problem(key, format!("{s:?} is not an http:// or https:// URL"));
        }
    }

    pub(super) fn validate(&mut self, raw: RawConfig) -> Config {
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
        let github = self.github(raw.github);

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
            "12m" => crate::model::revenue::RetentionWindow::Cohort12m,
            "monthly" => crate::model::revenue::RetentionWindow::Monthly,
            other => {
                self.problem(
                    "revenue.retention_window",
                    format!("{other:?} is not one of \"12m\", \"monthly\""),
                );
                crate::model::revenue::RetentionWindow::Cohort12m
            }
        };
        if !(raw.revenue.amount_scale > 0.0 && raw.revenue.amount_scale.is_finite()) {
            self.problem("revenue.amount_scale", "must be a positive number");
        }
        if !(16..=1 << 20).contains(&raw.revenue.max_field_bytes) {
            self.problem(
                "revenue.max_field_bytes",
                "must be between 16 and 1048576 bytes",
            );
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
            max_field_bytes: raw.revenue.max_field_bytes,
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

        let digest = self.digest(&raw.digest, weekday);

        let utc_offset_s = parse_offset(&raw.analysis.timezone).unwrap_or_else(|| {
            self.problem(
                "analysis.timezone",
                format!(
                    "{:?} is not \"UTC\", a UTC offset like \"+01:00\" or a zone name like \"Europe/Berlin\"",
                    raw.analysis.timezone
                ),
            );
            0
        });
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
            digest,
            analysis: AnalysisConfig {
                timezone: raw.analysis.timezone,
                utc_offset_s,
                min_points: raw.analysis.min_points,
                dora_report_year: {
                    let y = raw.analysis.dora_report_year;
                    if !crate::model::dora::REPORT_YEARS.contains(&y) {
                        self.problem(
                            "analysis.dora_report_year",
                            format!(
                                "no DORA band table for {y}; available: {:?}",
                                crate::model::dora::REPORT_YEARS
                            ),
                        );
                    }
                    y
                },
                growth_plan: {
                    let g = raw.analysis.growth_plan;
                    if !(g > 0.0 && g <= 10.0) {
                        self.problem(
                            "analysis.growth_plan",
                            format!(
                                "{g} is not an annual growth rate between 0 and 10 (0.3 = 30 %)"
                            ),
                        );
                    }
                    g
                },
                weights: {
                    let known = crate::model::dora::PRESSURE_COMPONENTS;
                    for (k, w) in &raw.analysis.weights {
                        if !known.contains(&k.as_str()) {
                            self.problem(
                                &format!("analysis.weights.{k}"),
                                format!("unknown component; expected one of {}", known.join(", ")),
                            );
                        } else if !(w.is_finite() && *w >= 0.0) {
                            self.problem(
                                &format!("analysis.weights.{k}"),
                                format!("{w} must be a weight of 0 or more"),
                            );
                        }
                    }
                    raw.analysis.weights.clone()
                },
                lead_time_unit: raw.analysis.lead_time_unit.parse().unwrap_or_else(|e| {
                    self.problem("analysis.lead_time_unit", e);
                    Default::default()
                }),
                recovery_end: raw.analysis.recovery_end.parse().unwrap_or_else(|e| {
                    self.problem("analysis.recovery_end", e);
                    Default::default()
                }),
            },
        }
    }
}

/// "UTC", "Z", "±HH:MM" (up to ±14:00) or an IANA zone name → seconds east of UTC. A zone
/// with daylight saving time gives its standard offset: weeks stay exactly 7 days, so that
/// weeks compare (in summer such a week starts at 01:00 local time).
fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return standard_offset(s),
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60 && h * 60 + m <= 14 * 60).then_some(sign * (h * 3600 + m * 60))
}

/// The standard (not daylight-saving) UTC offset of an IANA zone under its current rules.
fn standard_offset(name: &str) -> Option<i32> {
    use chrono::TimeZone;
    use chrono_tz::OffsetComponents;
    let tz: chrono_tz::Tz = name.parse().ok()?;
    let offset = tz.offset_from_utc_datetime(&chrono::Utc::now().naive_utc());
    i32::try_from(offset.base_utc_offset().num_seconds()).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_offset;

    #[test]
    fn time_zones_are_offsets_or_zone_names_at_their_standard_offset() {
        assert_eq!(parse_offset("UTC"), Some(0));
        assert_eq!(parse_offset("+05:30"), Some(19_800));
        assert_eq!(parse_offset("-08:00"), Some(-28_800));
        assert_eq!(parse_offset("Europe/Berlin"), Some(3_600));
        assert_eq!(parse_offset("America/New_York"), Some(-18_000));
        assert_eq!(parse_offset("Asia/Kolkata"), Some(19_800));
        assert_eq!(parse_offset("Mars/Olympus"), None);
        assert_eq!(parse_offset("+15:00"), None);
        assert_eq!(parse_offset("+5"), None);
    }
}
