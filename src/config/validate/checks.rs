//! The per-section and per-value checks the driver calls: durations' cousins (since, regex,
//! URLs, repositories), the `[github]`, `[digest]` and `[[teams]]` sections.

use std::collections::{BTreeMap, BTreeSet};

use super::raw::{RawProduct, RawTeam};
use super::*;

impl Validator<'_> {
    pub(super) fn digest(
        &mut self,
        raw: &super::raw::RawDigest,
        weekday: chrono::Weekday,
    ) -> DigestConfig {
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

    pub(super) fn since(&mut self, key: &str, s: &str) -> Since {
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

    pub(super) fn regex(&mut self, key: &str, s: &str) {
        if let Err(e) = regex::Regex::new(s) {
            self.problem(key, format!("{s:?} is not a regular expression: {e}"));
        }
    }

    pub(super) fn deployments_from(&mut self, key: &str, s: &str) -> DeploymentsFrom {
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

    /// `[[teams]]`: unique names; a service owned by two teams is an error naming both; a
    /// service that no configured GitHub service, SLO or query knows is a typo (when any is
    /// configured: the demo and webhook-only set-ups name services the configuration never lists).
    pub(super) fn teams(
        &mut self,
        raw: Vec<RawTeam>,
        github: &GithubConfig,
        prometheus: &PrometheusConfig,
    ) -> Vec<TeamConfig> {
        let known = known_services(github, prometheus);
        let mut owner: BTreeMap<String, String> = BTreeMap::new();
        let mut handles: BTreeMap<String, String> = BTreeMap::new();
        let mut out: Vec<TeamConfig> = Vec::new();
        for (i, t) in raw.into_iter().enumerate() {
            let name = t.name.trim().to_owned();
            if name.is_empty() || out.iter().any(|o| o.name == name) {
                self.problem(
                    &format!("teams[{i}].name"),
                    format!("{:?} must be non-empty and unique", t.name),
                );
            }
            for (j, service) in t.services.iter().enumerate() {
                let key = format!("teams[{i}].services[{j}]");
                if service.trim().is_empty() {
                    self.problem(&key, "must not be empty");
                } else if let Some(first) = owner.get(service) {
                    self.problem(
                        &key,
                        format!(
                            "service {service:?} is owned by both {first:?} and {name:?}; \
                             a service belongs to one team"
                        ),
                    );
                } else {
                    self.known_service(&key, service, &known);
                    owner.insert(service.clone(), name.clone());
                }
            }
            for (j, slug) in t.github_teams.iter().enumerate() {
                let key = format!("teams[{i}].github_teams[{j}]");
                self.owner_handle(&key, &format!("@{slug}"), &name, &mut handles);
                let ok = slug.split_once('/').is_some_and(|(org, team)| {
                    !org.is_empty()
                        && !team.is_empty()
                        && !team.contains('/')
                        && slug
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
                });
                if !ok {
                    self.problem(
                        &key,
                        format!("{slug:?} is not a GitHub team slug like \"acme/payments\""),
                    );
                }
            }
            for (j, handle) in t.codeowners.iter().enumerate() {
                let key = format!("teams[{i}].codeowners[{j}]");
                self.owner_handle(&key, handle, &name, &mut handles);
                // As GitHub reads an owner: @user, @org/team, or an e-mail address.
                let user = handle.strip_prefix('@').is_some_and(|h| {
                    !h.is_empty()
                        && h.split('/').count() <= 2
                        && h.split('/').all(|p| {
                            !p.is_empty()
                                && p.chars()
                                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                        })
                });
                let email = handle.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty()
                        && domain.contains('.')
                        && !handle.contains(char::is_whitespace)
                });
                if !user && !email {
                    self.problem(
                        &key,
                        format!(
                            "{handle:?} is not a CODEOWNERS owner: \"@user\", \"@org/team\" or \
                             an e-mail address"
                        ),
                    );
                }
            }
            out.push(TeamConfig {
                name,
                services: t.services,
                github_teams: t.github_teams,
                codeowners: t.codeowners,
            });
        }
        out
    }

    /// A `CODEOWNERS` owner (a GitHub team as `@org/team`, or a `codeowners` entry) stands for
    /// one team: two teams naming it would claim the same services, a conflict the configuration
    /// can rule out at once (GitHub handles are case-insensitive).
    fn owner_handle(
        &mut self,
        key: &str,
        handle: &str,
        team: &str,
        handles: &mut BTreeMap<String, String>,
    ) {
        match handles.get(&handle.to_lowercase()) {
            Some(first) if first != team => self.problem(
                key,
                format!(
                    "CODEOWNERS owner {handle:?} stands for both {first:?} and {team:?}: the \
                     services it owns would be claimed by two teams"
                ),
            ),
            _ => {
                handles.insert(handle.to_lowercase(), team.to_owned());
            }
        }
    }

    /// A service a team or product names must be one the configuration knows, when it knows
    /// any.
    fn known_service(&mut self, key: &str, service: &str, known: &BTreeSet<&str>) {
        if !known.is_empty() && !known.contains(service) {
            self.problem(
                key,
                format!(
                    "{service:?} is not a service of [[github.service]], [[prometheus.slo]] or \
                     [[prometheus.query]]; known: {}",
                    known.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }

    /// `[[products]]`: unique names; known services; a revenue segment or plan belongs to one
    /// product (else its revenue would count twice in the products' sum).
    pub(super) fn products(
        &mut self,
        raw: Vec<RawProduct>,
        github: &GithubConfig,
        prometheus: &PrometheusConfig,
    ) -> Vec<ProductConfig> {
        let known = known_services(github, prometheus);
        let mut claimed: BTreeMap<(&'static str, String), String> = BTreeMap::new();
        let mut out: Vec<ProductConfig> = Vec::new();
        for (i, p) in raw.into_iter().enumerate() {
            let name = p.name.trim().to_owned();
            if name.is_empty() || out.iter().any(|o| o.name == name) {
                self.problem(
                    &format!("products[{i}].name"),
                    format!("{:?} must be non-empty and unique", p.name),
                );
            }
            for (j, service) in p.services.iter().enumerate() {
                self.known_service(&format!("products[{i}].services[{j}]"), service, &known);
            }
            for (kind, values) in [("segments", &p.segments), ("plans", &p.plans)] {
                for (j, v) in values.iter().enumerate() {
                    let key = format!("products[{i}].{kind}[{j}]");
                    if v.trim().is_empty() {
                        self.problem(&key, "must not be empty");
                    } else if let Some(first) = claimed.insert((kind, v.clone()), name.clone()) {
                        self.problem(
                            &key,
                            format!(
                                "{v:?} belongs to both {first:?} and {name:?}; its revenue would \
                                 count twice"
                            ),
                        );
                    }
                }
            }
            out.push(ProductConfig {
                name,
                services: p.services,
                segments: p.segments,
                plans: p.plans,
            });
        }
        out
    }

    pub(super) fn github(&mut self, raw: RawGithub) -> GithubConfig {
        for (i, repo) in raw.repos.iter().enumerate() {
            self.repo(&format!("github.repos[{i}]"), repo);
        }
        let from = self.deployments_from("github.deployments_from", &raw.deployments_from);
        self.regex("github.environment", &raw.environment);
        self.regex("github.workflow", &raw.workflow);
        self.regex("github.release_pattern", &raw.release_pattern);
        if raw.bug_labels.is_empty() || raw.bug_labels.iter().any(|l| l.trim().is_empty()) {
            self.problem(
                "github.bug_labels",
                "must list at least one label, none of them empty",
            );
        }
        let mut severity_of: BTreeMap<&str, &str> = BTreeMap::new();
        for (severity, labels) in &raw.bug_severity {
            for label in labels {
                if let Some(first) = severity_of.insert(label, severity) {
                    self.problem(
                        &format!("github.bug_severity.{severity}"),
                        format!("label {label:?} already means severity {first:?}"),
                    );
                }
            }
        }
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
        let app = self.github_app(raw.app);
        GithubConfig {
            api_url: raw.api_url.trim_end_matches('/').to_owned(),
            token_env: raw.token_env,
            webhook_secret_env: raw.webhook_secret_env,
            repos: raw.repos,
            backfill_since: self.since("github.backfill_since", &raw.backfill_since),
            interval: self.duration("github.interval", &raw.interval),
            incident_label: raw.incident_label,
            incident_window: self.duration("github.incident_window", &raw.incident_window),
            escaped_bug_window: self.duration("github.escaped_bug_window", &raw.escaped_bug_window),
            bug_labels: raw.bug_labels.clone(),
            bug_severity: raw.bug_severity.clone(),
            first_deploy_lookback: self
                .duration("github.first_deploy_lookback", &raw.first_deploy_lookback),
            request_timeout: self.duration("github.request_timeout", &raw.request_timeout),
            rate_limit_floor: floor,
            max_rate_limit_wait: self
                .duration("github.max_rate_limit_wait", &raw.max_rate_limit_wait),
            services,
            app,
        }
    }

    pub(super) fn repo(&mut self, key: &str, repo: &str) {
        let ok = repo.split_once('/').is_some_and(|(o, n)| {
            !o.is_empty() && !n.is_empty() && !n.contains('/') && !repo.contains(' ')
        });
        if !ok {
            self.problem(key, format!("{repo:?} is not \"owner/name\""));
        }
    }

    pub(super) fn url(&mut self, key: &str, s: &str) {
        if !(s.starts_with("http://") || s.starts_with("https://")) || s.len() < 10 {
            self.problem(key, format!("{s:?} is not an http:// or https:// URL"));
        }
    }
}

/// The services the configuration names: GitHub services (one per repository by default), and
/// the services of the SLOs and named queries.
fn known_services<'a>(
    github: &'a GithubConfig,
    prometheus: &'a PrometheusConfig,
) -> BTreeSet<&'a str> {
    github
        .services
        .iter()
        .map(|s| s.name.as_str())
        .chain(prometheus.slo.iter().map(|s| s.service.as_str()))
        .chain(prometheus.query.iter().filter_map(|q| q.service.as_deref()))
        .collect()
}
