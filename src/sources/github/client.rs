//! GitHub requests through octocrab: conditional requests, `Link` pagination, rate limits,
//! retries with backoff and jitter, and a timeout per request.
//!
//! octocrab's own retry layer retries at once without backoff and knows nothing of our ETags, so
//! it is left out (see `../shared/NOTES.md`); every request goes through [`Client::get`], which
//! reads each answer into a [`Verdict`] (see [`GithubError`]'s `Retryable`) and leaves the
//! waiting to the shared [`retry`](crate::retry) plumbing:
//! - `304 Not Modified` costs no rate-limit points (GitHub docs, "Best practices for using the REST
//!   API": conditional requests);
//! - when `x-ratelimit-remaining` falls under the floor, pause until `x-ratelimit-reset`;
//! - `403`/`429` with `retry-after` (secondary limit) wait that long; with
//!   `x-ratelimit-remaining: 0` wait until the reset — both up to `max_rate_limit_wait`;
//! - `5xx`, timeouts and connection errors retry with exponential backoff and full jitter.
//!
//! With a GitHub App, each request carries its installation's token ([`AppAuth`]); a token GitHub
//! refuses before its time (`401`) is dropped and the request retried with a new one.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, ETAG, IF_NONE_MATCH};
use http::StatusCode;
use serde::de::DeserializeOwned;

use tokio_util::sync::CancellationToken;

use super::app_auth::{AppAuth, Lease};
use super::GithubError;
use crate::config::GithubConfig;
use crate::retry::{self, RetryPolicy, Verdict};

/// One answer.
#[derive(Debug)]
pub enum Fetched<T> {
    /// `200`: the body, its `ETag`, and the next page.
    Fresh {
        /// Parsed body.
        body: T,
        /// `ETag`, for the next conditional request.
        etag: Option<String>,
        /// `Link: rel="next"`.
        next: Option<String>,
    },
    /// `304`: unchanged since the `ETag` sent.
    NotModified,
}

/// Rate-limit state shared with `/metrics`.
#[derive(Debug)]
pub struct RateLimit {
    /// `x-ratelimit-remaining` of the last answer; −1 before any.
    pub remaining: AtomicI64,
    /// `x-ratelimit-reset` (Unix seconds) of the last answer.
    pub reset: AtomicI64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            remaining: AtomicI64::new(-1),
            reset: AtomicI64::new(0),
        }
    }
}

/// Request counters, for the sync summary, tests and benchmarks.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests sent (retries included).
    pub requests: AtomicU64,
    /// Of which answered `304`.
    pub not_modified: AtomicU64,
    /// Requests sent with `If-None-Match`.
    pub conditional: AtomicU64,
    /// Retries and rate-limit waits.
    pub retries: AtomicU64,
}

/// A GitHub client.
pub struct Client {
    /// Authenticated by the token, or (with an App) by nothing: each request then carries its
    /// installation's token.
    octo: octocrab::Octocrab,
    /// The GitHub App, when configured.
    app: Option<Arc<AppAuth>>,
    base: http::Uri,
    policy: RetryPolicy,
    timeout: Duration,
    floor: i64,
    max_wait: Duration,
    shutdown: CancellationToken,
    /// Rate-limit state.
    pub rate: Arc<RateLimit>,
    /// Counters.
    pub counters: Arc<Counters>,
}

fn header_i64(h: &HeaderMap, name: &str) -> Option<i64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The `rel="next"` URL of a `Link` header (RFC 8288).
pub fn next_link(h: &HeaderMap) -> Option<String> {
    let link = h.get(http::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

impl Client {
    /// A client for `config`, authenticated as the App of `config.app` (tokens kept for this
    /// client alone) or with the token in `config.token_env` when set.
    pub fn new(config: &GithubConfig, policy: RetryPolicy) -> Result<Self, GithubError> {
        Self::with_app_auth(config, policy, AppAuth::new(config))
    }

    /// A client for `config`, authenticated as `app` (shared with the application's other
    /// clients, [`AppAuth::new`] of the same `config`), or else with the token in
    /// `config.token_env` when set.
    pub fn with_app_auth(
        config: &GithubConfig,
        policy: RetryPolicy,
        app: Option<Arc<AppAuth>>,
    ) -> Result<Self, GithubError> {
        let base: http::Uri = config
            .api_url
            .parse()
            .map_err(|e| GithubError::Config(format!("github.api_url: {e}")))?;
        let mut builder = octocrab::Octocrab::builder()
            .base_uri(config.api_url.as_str())
            .map_err(|e| GithubError::Config(format!("github.api_url: {e}")))?
            .add_header(
                HeaderName::from_static("x-github-api-version"),
                "2022-11-28".into(),
            )
            .add_header(http::header::ACCEPT, "application/vnd.github+json".into())
            .set_connect_timeout(Some(config.request_timeout))
            .set_read_timeout(Some(config.request_timeout));
        // With an App, octocrab authenticates nothing: `attempt` puts the installation's token
        // on each request.
        if app.is_none() {
            match std::env::var(&config.token_env) {
                Ok(token) if !token.trim().is_empty() => {
                    builder = builder.personal_token(token.trim().to_owned());
                }
                _ => tracing::warn!(
                    variable = %config.token_env,
                    "no GitHub token set: unauthenticated requests have a rate limit of 60 an hour"
                ),
            }
        }
        let octo = builder
            .build()
            .map_err(|e| GithubError::Config(format!("GitHub client: {e}")))?;
        Ok(Self {
            octo,
            app,
            base,
            policy,
            timeout: config.request_timeout,
            floor: i64::from(config.rate_limit_floor),
            max_wait: config.max_rate_limit_wait,
            shutdown: CancellationToken::new(),
            rate: Arc::default(),
            counters: Arc::default(),
        })
    }

    /// Ends waits (backoff, rate-limit pauses) when `shutdown` is cancelled; the request then
    /// fails with [`GithubError::Cancelled`].
    pub fn with_shutdown(mut self, shutdown: CancellationToken) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// The path and query of a URL, to name an endpoint in logs and errors.
    fn endpoint(url: &str) -> String {
        match url.parse::<http::Uri>() {
            Ok(u) => u
                .path_and_query()
                .map_or_else(|| url.to_owned(), |p| p.as_str().to_owned()),
            Err(_) => url.to_owned(),
        }
    }

    /// Waits until the rate-limit window resets when too few requests remain.
    async fn pause_if_low(&self, endpoint: &str) -> Result<(), GithubError> {
        let remaining = self.rate.remaining.load(Ordering::Relaxed);
        if remaining < 0 || remaining >= self.floor {
            return Ok(());
        }
        let reset = self.rate.reset.load(Ordering::Relaxed);
        let wait = self.until_reset(endpoint, reset)?;
        tracing::warn!(%endpoint, ?wait, "GitHub rate limit low: pausing until it resets");
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        retry::sleep(wait, &self.shutdown).await?;
        // Assume a fresh window; the next answer tells the truth.
        self.rate.remaining.store(-1, Ordering::Relaxed);
        Ok(())
    }

    /// How long until the window that resets at `reset` (Unix seconds) is open again, or
    /// [`GithubError::RateLimited`] when that is longer than `max_rate_limit_wait`.
    fn until_reset(&self, endpoint: &str, reset: i64) -> Result<Duration, GithubError> {
        let now = chrono::Utc::now().timestamp();
        let wait = Duration::from_secs(u64::try_from(reset - now).unwrap_or(0) + 1);
        if wait > self.max_wait {
            return Err(GithubError::RateLimited {
                endpoint: endpoint.to_owned(),
                reset: chrono::DateTime::from_timestamp(reset, 0).unwrap_or_default(),
            });
        }
        Ok(wait)
    }

    /// GETs `url` (a path under the API base, or a full `Link` URL on the same host), sending
    /// `If-None-Match` when an `ETag` is given, and parses a fresh answer as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        url: &str,
        etag: Option<&str>,
    ) -> Result<Fetched<T>, GithubError> {
        let endpoint = Self::endpoint(url);
        let uri: http::Uri = url.parse().map_err(|e| GithubError::Malformed {
            endpoint: endpoint.clone(),
            message: format!("bad URL: {e}"),
        })?;
        // A `Link` must stay on the API host: the token must never travel elsewhere.
        if uri.authority().is_some() && uri.authority() != self.base.authority() {
            return Err(GithubError::Malformed {
                endpoint,
                message: format!(
                    "a pagination link points to another host ({:?}, expected {:?})",
                    uri.authority().map(|a| a.as_str()),
                    self.base.authority().map(|a| a.as_str())
                ),
            });
        }
        let mut backoff = self.policy.backoff();
        let fetched = retry::retry(&mut backoff, &self.shutdown, &endpoint, || {
            self.attempt(&uri, &endpoint, etag)
        })
        .await;
        self.counters
            .retries
            .fetch_add(u64::from(backoff.waits()), Ordering::Relaxed);
        fetched
    }

    /// One request: the rate-limit floor first, then the GET within the timeout.
    async fn attempt<T: DeserializeOwned>(
        &self,
        uri: &http::Uri,
        endpoint: &str,
        etag: Option<&str>,
    ) -> Result<Fetched<T>, GithubError> {
        self.pause_if_low(endpoint).await?;
        let mut headers = HeaderMap::new();
        if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(t).ok()) {
            headers.insert(IF_NONE_MATCH, tag);
            self.counters.conditional.fetch_add(1, Ordering::Relaxed);
        }
        let lease = match &self.app {
            Some(app) => {
                let owner = self.owner_of(uri);
                let lease = app
                    .lease(&self.octo, owner.as_deref(), endpoint, self.timeout)
                    .await?;
                let mut bearer =
                    HeaderValue::from_str(&format!("Bearer {}", lease.secret.expose())).map_err(
                        |_| GithubError::Malformed {
                            endpoint: endpoint.to_owned(),
                            message: "the installation token is not a header value".into(),
                        },
                    )?;
                bearer.set_sensitive(true);
                headers.insert(AUTHORIZATION, bearer);
                Some((app, lease))
            }
            None => None,
        };
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let sent = tokio::time::timeout(
            self.timeout,
            self.octo._get_with_headers(uri.clone(), Some(headers)),
        )
        .await;
        let answer = match sent {
            Err(_) => Err(GithubError::Unavailable {
                endpoint: endpoint.to_owned(),
                message: format!("no answer within {:?}", self.timeout),
            }),
            Ok(Err(e)) => Err(GithubError::Unavailable {
                endpoint: endpoint.to_owned(),
                message: e.to_string(),
            }),
            Ok(Ok(resp)) => self.answer(endpoint, resp).await,
        };
        match (answer, lease) {
            (Err(GithubError::Status { status: 401, .. }), Some((app, lease))) if !lease.fresh => {
                Err(Self::revoked(app, &lease, endpoint).await)
            }
            (answer, _) => answer,
        }
    }

    /// A cached installation token refused (`401`): revoked before its time. It is dropped, and
    /// the request retried (an [`GithubError::Unavailable`]) with a new one.
    async fn revoked(app: &AppAuth, lease: &Lease, endpoint: &str) -> GithubError {
        app.forget(lease).await;
        tracing::warn!(
            installation = lease.installation,
            %endpoint,
            "GitHub refused a cached installation token: minting a new one"
        );
        GithubError::Unavailable {
            endpoint: endpoint.to_owned(),
            message: format!(
                "HTTP 401: installation {}'s token was refused before it expired",
                lease.installation
            ),
        }
    }

    /// The owner of the repository a request is about (`/repos/{owner}/…` under the API's base
    /// path), in lower case.
    fn owner_of(&self, uri: &http::Uri) -> Option<String> {
        let path = uri.path();
        let path = path
            .strip_prefix(self.base.path().trim_end_matches('/'))
            .unwrap_or(path);
        let owner = path.strip_prefix("/repos/")?.split('/').next()?;
        (!owner.is_empty()).then(|| owner.to_lowercase())
    }

    /// Reads one answer. A rate-limited one becomes a [`GithubError::Status`] carrying the wait
    /// GitHub asked for (a [`Verdict::Pause`]), or [`GithubError::RateLimited`] when that wait is
    /// longer than `max_rate_limit_wait`.
    async fn answer<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        resp: http::Response<http_body_util::combinators::BoxBody<bytes::Bytes, octocrab::Error>>,
    ) -> Result<Fetched<T>, GithubError> {
        let status = resp.status();
        let headers = resp.headers().clone();
        if let Some(r) = header_i64(&headers, "x-ratelimit-remaining") {
            self.rate.remaining.store(r, Ordering::Relaxed);
        }
        if let Some(r) = header_i64(&headers, "x-ratelimit-reset") {
            self.rate.reset.store(r, Ordering::Relaxed);
        }
        if status == StatusCode::NOT_MODIFIED {
            self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
            return Ok(Fetched::NotModified);
        }
        let body = self
            .octo
            .body_to_string(resp)
            .await
            .map_err(|e| GithubError::Unavailable {
                endpoint: endpoint.to_owned(),
                message: format!("reading the body: {e}"),
            })?;
        if status.is_success() {
            let parsed: T = serde_json::from_str(&body).map_err(|e| GithubError::Malformed {
                endpoint: endpoint.to_owned(),
                message: e.to_string(),
            })?;
            return Ok(Fetched::Fresh {
                body: parsed,
                etag: headers
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                next: next_link(&headers),
            });
        }
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| body.chars().take(200).collect());
        let limited = status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::FORBIDDEN;
        let mut retry_after = None;
        if limited {
            // Secondary limit: wait as long as asked. Primary limit spent: wait for the reset.
            if let Some(secs) = header_i64(&headers, "retry-after") {
                let wait = Duration::from_secs(u64::try_from(secs).unwrap_or(0));
                if wait > self.max_wait {
                    return Err(GithubError::RateLimited {
                        endpoint: endpoint.to_owned(),
                        reset: chrono::Utc::now() + chrono::Duration::seconds(secs),
                    });
                }
                retry_after = Some(wait);
            } else if header_i64(&headers, "x-ratelimit-remaining") == Some(0) {
                let reset = header_i64(&headers, "x-ratelimit-reset").unwrap_or(0);
                retry_after = Some(self.until_reset(endpoint, reset)?);
            }
        }
        Err(GithubError::Status {
            endpoint: endpoint.to_owned(),
            status: status.as_u16(),
            message,
            retry_after,
        })
    }
}

/// A rate limit GitHub named a wait for is waited out without spending an attempt; a server error
/// or no answer is retried with backoff; anything else is final.
impl retry::Retryable for GithubError {
    fn verdict(&self) -> Verdict {
        match self {
            GithubError::Status {
                retry_after: Some(wait),
                ..
            } => Verdict::Pause(*wait),
            GithubError::Status { status, .. } if *status >= 500 => Verdict::Backoff,
            GithubError::Unavailable { .. } => Verdict::Backoff,
            _ => Verdict::Fail,
        }
    }
}
