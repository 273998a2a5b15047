//! `[metrics]` and `[[remote_write]]`: the shard label and the receivers (docs/scaling.md).

use std::collections::BTreeSet;
use std::time::Duration;

use super::super::raw::{RawMetrics, RawRemoteWrite};
use super::*;

/// Headers the protocol sets itself (remote-write 1.0 spec, "Protocol").
const PROTOCOL_HEADERS: [&str; 3] = [
    "content-encoding",
    "content-type",
    "x-prometheus-remote-write-version",
];

/// Bounds of `queue_capacity`: one request holds every exported series once, so 10 000 already
/// hold hours of sends at the shortest interval.
const MAX_QUEUE: i64 = 10_000;

impl Validator<'_> {
    /// `[metrics]`: the shard is a short label value (it names a daemon, not data).
    pub(super) fn metrics(&mut self, raw: RawMetrics) -> MetricsConfig {
        let shard = raw.shard.trim().to_owned();
        if shard.is_empty() {
            return MetricsConfig { shard: None };
        }
        let ok = shard.len() <= 64
            && shard
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            self.problem(
                "metrics.shard",
                format!(
                    "{:?} is not a shard name (1 to 64 letters, digits, '_', '-' or '.')",
                    crate::quote::excerpt(&shard)
                ),
            );
        }
        MetricsConfig { shard: Some(shard) }
    }

    /// `[[remote_write]]`: a URL without credentials, secrets by variable name, headers that do
    /// not fight the protocol's, bounded queue and durations; names unique.
    pub(super) fn remote_write(&mut self, raw: Vec<RawRemoteWrite>) -> Vec<RemoteWriteConfig> {
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for (i, r) in raw.into_iter().enumerate() {
            let at = |k: &str| format!("remote_write[{i}].{k}");
            self.url(&at("url"), &r.url);
            // A password in the URL would end up in logs and `config show`.
            if let Some((_, rest)) = r.url.split_once("://") {
                let authority = rest.split('/').next().unwrap_or_default();
                if authority.contains('@') {
                    self.problem(
                        &at("url"),
                        "must not carry credentials; use basic_auth_user and basic_auth_password_env",
                    );
                }
            }
            // The default name is the URL's host (never its user information).
            let name = r.name.clone().unwrap_or_else(|| {
                let rest = r
                    .url
                    .split_once("://")
                    .map_or(r.url.as_str(), |(_, rest)| rest);
                let authority = rest.split('/').next().unwrap_or_default();
                authority.rsplit('@').next().unwrap_or_default().to_owned()
            });
            if name.trim().is_empty() {
                self.problem(&at("name"), "must not be empty");
            } else if !names.insert(name.clone()) {
                self.problem(
                    &at("name"),
                    format!("{name:?} names two receivers; give each its own name"),
                );
            }
            let auth = match (
                r.bearer_token_env,
                r.basic_auth_user,
                r.basic_auth_password_env,
            ) {
                (None, None, None) => RemoteAuth::None,
                (Some(token_env), None, None) => {
                    self.env_name(&at("bearer_token_env"), &token_env);
                    RemoteAuth::Bearer { token_env }
                }
                (None, Some(user), Some(password_env)) => {
                    self.env_name(&at("basic_auth_password_env"), &password_env);
                    RemoteAuth::Basic { user, password_env }
                }
                (None, _, _) => {
                    self.problem(
                        &at("basic_auth_user"),
                        "basic_auth_user and basic_auth_password_env go together",
                    );
                    RemoteAuth::None
                }
                (Some(_), _, _) => {
                    self.problem(
                        &at("bearer_token_env"),
                        "choose bearer_token_env or basic auth, not both",
                    );
                    RemoteAuth::None
                }
            };
            for (k, v) in &r.headers {
                let key = at(&format!("headers.{k}"));
                let lower = k.to_ascii_lowercase();
                if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
                    self.problem(&key, "is not a valid header name");
                } else if PROTOCOL_HEADERS.contains(&lower.as_str()) {
                    self.problem(&key, "is set by the remote-write protocol itself");
                } else if lower == "authorization" {
                    self.problem(
                        &key,
                        "would put a secret in the file; use bearer_token_env or basic auth",
                    );
                } else if lower == "x-scope-orgid" && r.tenant.is_some() {
                    self.problem(&key, "is what `tenant` sets; give only one");
                }
                if http::HeaderValue::from_str(v).is_err() {
                    self.problem(&key, "value is not a valid header value");
                }
            }
            let tenant = r.tenant.filter(|t| !t.trim().is_empty());
            if let Some(t) = &tenant {
                if http::HeaderValue::from_str(t).is_err() {
                    self.problem(&at("tenant"), "is not a valid header value");
                }
            }
            let timestamps = match r.timestamps.as_deref().unwrap_or("now") {
                "now" => Stamping::Now,
                "week" => Stamping::Week,
                other => {
                    self.problem(
                        &at("timestamps"),
                        format!(
                            "{:?} is not \"now\" or \"week\"",
                            crate::quote::excerpt(other)
                        ),
                    );
                    Stamping::Now
                }
            };
            let mut duration = |k: &str, s: Option<String>, default: &str, min: Duration| {
                let d = self.duration(&at(k), s.as_deref().unwrap_or(default));
                if d < min {
                    self.problem(
                        &at(k),
                        format!("must be at least {}", humantime::format_duration(min)),
                    );
                }
                d
            };
            let interval = duration("interval", r.interval, "30s", Duration::from_secs(1));
            let timeout = duration("timeout", r.timeout, "10s", Duration::from_millis(100));
            let max_backoff = duration("max_backoff", r.max_backoff, "5m", Duration::from_secs(1));
            let queue_capacity = match r.queue_capacity.unwrap_or(64) {
                q @ 1..=MAX_QUEUE => q as usize,
                q => {
                    self.problem(
                        &at("queue_capacity"),
                        format!("{q} is not between 1 and {MAX_QUEUE}"),
                    );
                    1
                }
            };
            out.push(RemoteWriteConfig {
                name,
                url: r.url.trim_end_matches('/').to_owned(),
                tenant,
                headers: r.headers,
                auth,
                timestamps,
                interval,
                timeout,
                max_backoff,
                queue_capacity,
            });
        }
        out
    }
}
