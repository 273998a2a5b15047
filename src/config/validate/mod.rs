//! Stage two: every raw value checked, every problem collected with its key and origin.
//!
//! Layout: this file holds the [`Validator`] and the driver over every section; `checks` the
//! per-section and per-value checks, `origin` where a value came from, `zone` the time zones.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use config::{Map, Value};

use super::raw::{RawConfig, RawGithub};
use super::*;

mod checks;
mod github_app;
mod origin;
mod remote_write;
mod system;
mod webhooks;
mod zone;

pub(super) use origin::{key_parts, lookup, origin_of};
use zone::parse_offset;

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
        self.env_name("github.webhook_secret_env", &raw.github.webhook_secret_env);
        let github = self.github(raw.github);
        let webhooks = self.webhooks(raw.webhooks);

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
                name: lower(c.name),
                country: lower(c.country),
                first_month: lower(c.first_month),
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
        let teams = self.teams(raw.teams, &github, &prometheus);
        let products = self.products(raw.products, &github, &prometheus);
        let system = self.system(raw.system);
        let metrics = self.metrics(raw.metrics);
        let remote_write = self.remote_write(raw.remote_write);
        let rule_of_40_margin = match raw.business.rule_of_40_margin.as_str() {
            "operating" => crate::model::business::MarginKind::Operating,
            "gross" => crate::model::business::MarginKind::Gross,
            other => {
                self.problem(
                    "business.rule_of_40_margin",
                    format!("{other:?} is not \"operating\" or \"gross\""),
                );
                crate::model::business::MarginKind::Operating
            }
        };

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
            teams,
            products,
            system,
            webhooks,
            metrics,
            remote_write,
            business: BusinessConfig { rule_of_40_margin },
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
