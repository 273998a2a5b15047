//! One receiver's HTTP client: its URL, headers and credentials, and what its answers mean.

use std::time::Duration;

use crate::config::{RemoteAuth, RemoteWriteConfig};
use crate::retry::Verdict;

use super::RemoteWriteError;

/// A request the receiver refused or could not take.
#[derive(Debug, thiserror::Error)]
pub(super) enum SendError {
    #[error("cannot reach the receiver: {0}")]
    Network(String),
    #[error("the receiver answered {status}: {body}")]
    Status {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
}

impl SendError {
    pub(super) fn reason(&self) -> &'static str {
        match self {
            Self::Network(_) => "network",
            Self::Status { status: 429, .. } => "http_429",
            Self::Status { status, .. } if *status >= 500 => "http_5xx",
            Self::Status { .. } => "http_4xx",
        }
    }

    /// Remote-write 1.0: retry 5xx and 429 (with backoff), never other 4xx — the same data
    /// would be refused again.
    pub(super) fn verdict(&self) -> Verdict {
        match self {
            Self::Network(_) => Verdict::Backoff,
            Self::Status {
                status: 429,
                retry_after: Some(d),
                ..
            } => Verdict::After(*d),
            Self::Status { status, .. } if *status == 429 || *status >= 500 => Verdict::Backoff,
            Self::Status { .. } => Verdict::Fail,
        }
    }
}

/// One receiver's client: the URL, headers and credentials, read once at start.
pub(super) struct Client {
    http: reqwest::Client,
    pub(super) config: RemoteWriteConfig,
    auth: Auth,
}

enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

impl Client {
    pub(super) fn new(config: RemoteWriteConfig) -> Result<Self, RemoteWriteError> {
        let secret = |var: &String| {
            std::env::var(var).map_err(|_| RemoteWriteError::MissingSecret {
                remote: config.name.clone(),
                var: var.clone(),
            })
        };
        let auth = match &config.auth {
            RemoteAuth::None => Auth::None,
            RemoteAuth::Bearer { token_env } => Auth::Bearer(secret(token_env)?),
            RemoteAuth::Basic { user, password_env } => {
                Auth::Basic(user.clone(), secret(password_env)?)
            }
        };
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("barometer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RemoteWriteError::Client {
                remote: config.name.clone(),
                detail: e.to_string(),
            })?;
        Ok(Self { http, config, auth })
    }

    pub(super) async fn post(&self, body: Vec<u8>) -> Result<(), SendError> {
        // Remote-write 1.0 spec, "Protocol": these three headers are required.
        let mut req = self
            .http
            .post(&self.config.url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0");
        if let Some(t) = &self.config.tenant {
            req = req.header("X-Scope-OrgID", t);
        }
        for (k, v) in &self.config.headers {
            req = req.header(k, v);
        }
        req = match &self.auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
        };
        let resp = req
            .body(body)
            .send()
            .await
            // Without the URL: it names the receiver, which the logs already say.
            .map_err(|e| SendError::Network(e.without_url().to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp.text().await.unwrap_or_default();
        Err(SendError::Status {
            status: status.as_u16(),
            body: crate::quote::excerpt(text.trim()),
            retry_after,
        })
    }
}
