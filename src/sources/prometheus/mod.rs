//! The Prometheus source: SLO event counts (or error ratios) and extra named series, read with
//! `/api/v1/query_range` and stored per step.
//!
//! Per SLO it also stores, so that a week recounted by hand gives the same figures:
//! - per step, the bad minutes and the minutes with data, counted at minute resolution whatever
//!   the step: the SLI with `${step}` = `1m`, compared with the budget (`> bool`), summed and
//!   counted by a 1-minute subquery over the step. Minutes without data have no sample, so they
//!   are unknown, never good or bad;
//! - per week, the week's own counts (`${step}` = `7d`) and the SLO window's own counts or error
//!   ratio (`${step}` = the window), evaluated at each week's end with a one-week step; for the
//!   current week, at the last complete step (rewritten at every sync until the week is over).
//!
//! A value evaluated at time `t` with step `s` describes the interval `(t − s, t]` (an
//! `increase(x[s])` query), so it is stored at `t − s`, the start of the interval it covers: the
//! point at Monday 00:00 belongs to Monday. Only complete steps are fetched. Each chunk of a range
//! is one batch with the target's cursor (the last evaluation time stored), so a re-run resumes
//! where the last one stopped and rewrites nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use tokio_util::sync::CancellationToken;

use crate::config::PrometheusConfig;
use crate::model::{Calendar, Point};
use crate::retry::{self, Cancelled, RetryPolicy, Retryable, Verdict};
use crate::store::{Cursor, Store, StoreError, WriteBatch, BATCH_ENTRIES};

mod targets;
mod wire;

use targets::step_ms;
pub use targets::{targets, week_targets, Span, Target, WeekTarget};
use wire::{Data, Envelope, Sample};

/// The source's name in cursors, logs and metrics.
pub const SOURCE: &str = "prometheus";

/// Prometheus refuses a `query_range` that would return more than 11 000 points per series.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;
/// Points asked for per request; below the limit, leaving room for boundary rounding.
const CHUNK_POINTS: i64 = 10_000;

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    /// The source is not configured.
    #[error("prometheus.url is not set")]
    NotConfigured,
    /// A configured secret variable is missing.
    #[error("environment variable {0} (named in the prometheus configuration) is not set")]
    MissingSecret(String),
    /// Prometheus refused the query (HTTP 400/422 `bad_data` and friends).
    #[error("{target}: Prometheus rejected the query ({error_type}): {message}; query: {query}")]
    BadQuery {
        /// The SLO or query name and role.
        target: String,
        /// The PromQL as sent.
        query: String,
        /// Prometheus's `errorType`.
        error_type: String,
        /// Prometheus's own error text.
        message: String,
    },
    /// Any other HTTP error status.
    #[error("{target}: Prometheus answered HTTP {status}: {message}")]
    Status {
        /// The SLO or query name and role.
        target: String,
        /// HTTP status.
        status: u16,
        /// Body excerpt or error text.
        message: String,
        /// `Retry-After`, if sent.
        retry_after: Option<Duration>,
    },
    /// Connection refused, reset, DNS…
    #[error("{target}: cannot reach Prometheus: {detail}")]
    Unreachable {
        /// The SLO or query name and role.
        target: String,
        /// The transport error, without credentials.
        detail: String,
    },
    /// No answer within `prometheus.timeout`.
    #[error("{target}: Prometheus did not answer within {timeout:?}")]
    Timeout {
        /// The SLO or query name and role.
        target: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// An answer that is not what the API documents.
    #[error("{target}: unexpected answer from /api/v1/query_range: {detail}")]
    Decode {
        /// The SLO or query name and role.
        target: String,
        /// What was wrong.
        detail: String,
    },
    /// A query that returns several series where one is needed.
    #[error(
        "{target}: the query returned {n} series, but one is needed (aggregate it, e.g. with \
         sum()); query: {query}"
    )]
    ManySeries {
        /// The SLO or query name and role.
        target: String,
        /// The PromQL.
        query: String,
        /// How many series came back.
        n: usize,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Shutdown came during a wait between attempts.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl Retryable for PromError {
    fn verdict(&self) -> Verdict {
        match self {
            PromError::Status {
                status,
                retry_after,
                ..
            } if *status == 429 || *status >= 500 => {
                retry_after.map_or(Verdict::Backoff, Verdict::After)
            }
            PromError::Unreachable { .. } | PromError::Timeout { .. } => Verdict::Backoff,
            _ => Verdict::Fail,
        }
    }
}

/// A duration in Prometheus's notation (`1h`, `90s`), which is also the configuration's.
pub use crate::config::format_duration as prom_duration;

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Requests sent (retries included).
    pub requests: u64,
    /// Points stored.
    pub points: u64,
    /// Warnings Prometheus attached to its answers.
    pub warnings: Vec<String>,
}

/// A Prometheus HTTP API client bound to a configuration.
pub struct Prometheus {
    http: reqwest::Client,
    base: String,
    config: PrometheusConfig,
    auth: Auth,
    policy: RetryPolicy,
    shutdown: CancellationToken,
    /// Where weeks start: the per-week counts are evaluated at week ends in the analysis time
    /// zone, so that they match the weekly rows they feed.
    calendar: Calendar,
}

enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

impl Prometheus {
    /// A client for `config`; reads the secrets from the environment now.
    pub fn new(config: &PrometheusConfig, policy: RetryPolicy) -> Result<Self, PromError> {
        let base = config.url.clone().ok_or(PromError::NotConfigured)?;
        let secret =
            |var: &String| std::env::var(var).map_err(|_| PromError::MissingSecret(var.clone()));
        let auth = match (
            &config.bearer_token_env,
            &config.basic_auth_user,
            &config.basic_auth_password_env,
        ) {
            (Some(var), _, _) => Auth::Bearer(secret(var)?),
            (None, Some(user), Some(var)) => Auth::Basic(user.clone(), secret(var)?),
            _ => Auth::None,
        };
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("barometer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PromError::Unreachable {
                target: "client".into(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            base,
            config: config.clone(),
            auth,
            policy,
            shutdown: CancellationToken::new(),
            calendar: Calendar::UTC,
        })
    }

    /// Aligns the per-week counts to the weeks of `calendar` (UTC by default).
    pub fn with_calendar(mut self, calendar: Calendar) -> Self {
        self.calendar = calendar;
        self
    }

    /// Ends waits between attempts when `shutdown` is cancelled (the sync then fails with
    /// [`PromError::Cancelled`]; what it stored so far stays, in whole batches).
    pub fn with_shutdown(mut self, shutdown: CancellationToken) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Fetches every target from where its cursor stands (or from `since`) up to the last
    /// complete step before `now`, and stores the samples; then the per-week targets up to the
    /// last week's end, and the current week so far.
    pub async fn sync(
        &self,
        store: &Store,
        since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<SyncReport, PromError> {
        let step_ms = step_ms(&self.config);
        let backfill = self.config.backfill_since.resolve(now);
        // The last evaluation time whose whole step lies in the past.
        let last_eval = now.timestamp_millis().div_euclid(step_ms) * step_ms;
        let mut report = SyncReport::default();
        for target in targets(&self.config)? {
            let first_eval = match (since, store.cursor(SOURCE, &target.name)?) {
                (Some(since), _) => ceil_to(since.timestamp_millis(), step_ms) + step_ms,
                (
                    None,
                    Some(Cursor {
                        position: Some(p), ..
                    }),
                ) => p.parse::<i64>().unwrap_or(i64::MIN / 2) + step_ms,
                _ => ceil_to(backfill.timestamp_millis(), step_ms) + step_ms,
            };
            let mut start = first_eval;
            while start <= last_eval {
                let end = (start + (CHUNK_POINTS - 1) * step_ms).min(last_eval);
                let samples = self
                    .query_range(&target, start, end, step_ms, &mut report)
                    .await?;
                store_samples(store, &target, &samples, step_ms, Some(end), &mut report)?;
                start = end + step_ms;
            }
        }
        self.sync_weeks(
            store,
            since.unwrap_or(backfill),
            since.is_some(),
            last_eval,
            &mut report,
        )
        .await?;
        Ok(report)
    }

    /// The per-week targets: every complete week from the cursor (or `from`) with one
    /// `query_range` of step one week, then the current week at `last_eval`.
    async fn sync_weeks(
        &self,
        store: &Store,
        from: DateTime<Utc>,
        forced: bool,
        last_eval: i64,
        report: &mut SyncReport,
    ) -> Result<(), PromError> {
        use crate::model::calendar::WEEK_MS;
        let week_start = |ts: i64| self.calendar.week_start(ts);
        // The end of the last complete week, and the first week end whose week starts at or
        // after `from`.
        let last_end = week_start(last_eval);
        let from = from.timestamp_millis();
        let first_start = week_start(from) + if week_start(from) < from { WEEK_MS } else { 0 };
        for wt in week_targets(&self.config)? {
            let span = |ms: i64| match wt.span {
                Span::Week => prom_duration(Duration::from_millis(ms.max(0) as u64)),
                Span::Window(w) => prom_duration(w),
            };
            let target = |span: String| Target {
                name: wt.name.clone(),
                query: wt.template.replace("${step}", &span),
                key: wt.key.clone(),
            };
            let first_end = match store.cursor(SOURCE, &wt.name)? {
                Some(Cursor {
                    position: Some(p), ..
                }) if !forced => p.parse::<i64>().unwrap_or(i64::MIN / 2) + WEEK_MS,
                _ => first_start + WEEK_MS,
            };
            let complete = target(span(WEEK_MS));
            let mut start = first_end;
            while start <= last_end {
                let end = (start + (CHUNK_POINTS - 1) * WEEK_MS).min(last_end);
                let samples = self
                    .query_range(&complete, start, end, WEEK_MS, report)
                    .await?;
                store_samples(store, &complete, &samples, WEEK_MS, Some(end), report)?;
                start = end + WEEK_MS;
            }
            // The current week so far, stored at its start; no cursor, it is asked again at
            // every sync until the week is over.
            if last_eval > last_end && last_end + WEEK_MS > first_start {
                let partial = target(span(last_eval - last_end));
                let step = last_eval - last_end;
                let samples = self
                    .query_range(&partial, last_eval, last_eval, step, report)
                    .await?;
                store_samples(store, &partial, &samples, step, None, report)?;
            }
        }
        Ok(())
    }

    async fn query_range(
        &self,
        target: &Target,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        report: &mut SyncReport,
    ) -> Result<Vec<(i64, f64)>, PromError> {
        let url = format!("{}/api/v1/query_range", self.base);
        let form = [
            ("query", target.query.clone()),
            ("start", format!("{:.3}", start_ms as f64 / 1000.0)),
            ("end", format!("{:.3}", end_ms as f64 / 1000.0)),
            ("step", format!("{:.3}", step_ms as f64 / 1000.0)),
        ];
        let mut backoff = self.policy.backoff();
        let body = retry::retry(&mut backoff, &self.shutdown, &target.name, || {
            report.requests += 1;
            self.post(&url, &form, target)
        })
        .await?;
        let envelope: Envelope = serde_json::from_slice(&body).map_err(|e| PromError::Decode {
            target: target.name.clone(),
            detail: e.to_string(),
        })?;
        let data = match envelope {
            Envelope::Success { data, warnings } => {
                for w in warnings {
                    tracing::warn!(source = SOURCE, target = %target.name, warning = %w, "Prometheus warning");
                    report.warnings.push(format!("{}: {w}", target.name));
                }
                data
            }
            Envelope::Error { error_type, error } => {
                return Err(PromError::BadQuery {
                    target: target.name.clone(),
                    query: target.query.clone(),
                    error_type,
                    message: error,
                })
            }
        };
        let raw: Vec<&Sample> = match &data {
            Data::Matrix(series) if series.len() > 1 => {
                return Err(PromError::ManySeries {
                    target: target.name.clone(),
                    query: target.query.clone(),
                    n: series.len(),
                })
            }
            Data::Matrix(series) => series.iter().flat_map(|s| s.values.iter()).collect(),
            Data::Vector(v) if v.len() > 1 => {
                return Err(PromError::ManySeries {
                    target: target.name.clone(),
                    query: target.query.clone(),
                    n: v.len(),
                })
            }
            Data::Vector(v) => v.iter().map(|s| &s.value).collect(),
            Data::Scalar(s) => vec![s],
            Data::String(_) => {
                return Err(PromError::Decode {
                    target: target.name.clone(),
                    detail: "a string result cannot be stored as a series".into(),
                })
            }
        };
        raw.into_iter()
            .map(|s| {
                s.point().map_err(|detail| PromError::Decode {
                    target: target.name.clone(),
                    detail,
                })
            })
            .collect()
    }

    async fn post(
        &self,
        url: &str,
        form: &[(&str, String)],
        target: &Target,
    ) -> Result<Vec<u8>, PromError> {
        let mut req = self.http.post(url).form(form);
        req = match &self.auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
        };
        let resp = req.send().await.map_err(|e| self.transport(e, target))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = resp.bytes().await.map_err(|e| self.transport(e, target))?;
        // Prometheus answers 400/422/503 with its JSON error envelope; keep those for the
        // envelope's own text. Anything else that failed is reported by status.
        if status.is_success() || matches!(status.as_u16(), 400 | 422) {
            return Ok(body.to_vec());
        }
        let message = match serde_json::from_slice::<Envelope>(&body) {
            Ok(Envelope::Error { error, .. }) => error,
            _ => String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_owned(),
        };
        Err(PromError::Status {
            target: target.name.clone(),
            status: status.as_u16(),
            message,
            retry_after,
        })
    }

    fn transport(&self, e: reqwest::Error, target: &Target) -> PromError {
        if e.is_timeout() {
            PromError::Timeout {
                target: target.name.clone(),
                timeout: self.config.timeout,
            }
        } else {
            // Without the URL: it is in the configuration already, and must never carry secrets.
            let e = e.without_url();
            let mut detail = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                detail = format!("{detail}: {s}");
                source = s.source();
            }
            PromError::Unreachable {
                target: target.name.clone(),
                detail,
            }
        }
    }
}

/// Stores `samples` evaluated at `t` at `t − shift_ms` (the start of what they cover), in
/// store-sized pieces, each with the target's cursor up to its last sample, the last piece up to
/// `end`: every piece is atomic and a crash resumes after it. Without `end`, the cursor stays.
fn store_samples(
    store: &Store,
    target: &Target,
    samples: &[(i64, f64)],
    shift_ms: i64,
    end: Option<i64>,
    report: &mut SyncReport,
) -> Result<(), StoreError> {
    let pieces: Vec<&[(i64, f64)]> = if samples.is_empty() {
        vec![&[]]
    } else {
        samples.chunks(BATCH_ENTRIES).collect()
    };
    let n = pieces.len();
    for (i, piece) in pieces.into_iter().enumerate() {
        if piece.is_empty() && end.is_none() {
            continue;
        }
        let mut batch = WriteBatch::new();
        batch.put_points(
            &target.key,
            piece.iter().map(|&(ts, value)| Point {
                ts: ts - shift_ms,
                value,
            }),
        );
        report.points += piece.len() as u64;
        if let Some(end) = end {
            let upto = match piece.last() {
                Some((ts, _)) if i + 1 < n => *ts,
                _ => end,
            };
            batch.set_cursor(
                SOURCE,
                &target.name,
                Cursor {
                    position: Some(upto.to_string()),
                    updated_at: Some(Utc::now()),
                    ..Cursor::default()
                },
            );
        }
        store.commit(batch)?;
    }
    Ok(())
}

fn ceil_to(ts: i64, step: i64) -> i64 {
    ts.div_euclid(step) * step + if ts.rem_euclid(step) == 0 { 0 } else { step }
}

/// Per-target cursors, for status views: target name → last evaluation time stored.
pub fn cursors(store: &Store) -> Result<BTreeMap<String, DateTime<Utc>>, StoreError> {
    Ok(store
        .cursors(SOURCE)?
        .into_iter()
        .filter_map(|(name, c)| {
            let ms = c.position?.parse::<i64>().ok()?;
            Some((name, Utc.timestamp_millis_opt(ms).single()?))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_prometheus_notation() {
        assert_eq!(prom_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(prom_duration(Duration::from_secs(86_400 * 28)), "28d");
        assert_eq!(prom_duration(Duration::from_secs(90)), "90s");
        assert_eq!(prom_duration(Duration::from_secs(300)), "5m");
    }

    #[test]
    fn special_sample_values_parse() {
        for (s, check) in [
            ("NaN", f64::is_nan as fn(f64) -> bool),
            ("+Inf", |v: f64| v == f64::INFINITY),
            ("-Inf", |v: f64| v == f64::NEG_INFINITY),
            ("0.005", |v: f64| v == 0.005),
        ] {
            let (ts, v) = Sample(1_700_000_000.5, s.into()).point().expect("parses");
            assert_eq!(ts, 1_700_000_000_500);
            assert!(check(v), "{s}");
        }
        assert!(Sample(0.0, "abc".into()).point().is_err());
    }

    #[test]
    fn ceil_aligns_to_step_boundaries_before_1970_too() {
        assert_eq!(ceil_to(3_600_000, 3_600_000), 3_600_000);
        assert_eq!(ceil_to(3_600_001, 3_600_000), 7_200_000);
        assert_eq!(ceil_to(-1, 3_600_000), 0);
    }
}
