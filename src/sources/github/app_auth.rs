//! GitHub App authentication (docs/webhooks.md, "GitHub App").
//!
//! The App signs a short-lived JWT with its private key and trades it for an installation access
//! token (`POST /app/installations/{id}/access_tokens`, valid one hour: GitHub docs,
//! "Authenticating as a GitHub App installation"); every request about a repository carries the
//! token of the installation on the repository's owner. Tokens are kept until shortly before they
//! expire, in one [`AppAuth`] shared by every client of the application (every sync and webhook
//! delivery), so an installation mints about one token an hour whatever the traffic.
//!
//! The key is never sent, logged or quoted; tokens live in [`Secret`]s. A refusal from GitHub
//! becomes a [`GithubError::AppRefused`] that names the installation and what to do.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use http::{Method, StatusCode};

use super::client::next_link;
use super::GithubError;
use crate::config::{AppKey, GithubConfig, Secret};

/// A token is renewed when less than this is left of it, so that no request leaves with a token
/// that may expire on the way (a request times out after `github.request_timeout`, 30 s by
/// default); Octokit's `auth-app` likewise keeps a token 59 of its 60 minutes.
const RENEW_BEFORE_S: i64 = 60;

/// `GET /app/installations` pages (GitHub REST docs, "List installations for the authenticated
/// app": at most 100 a page).
const PER_PAGE: usize = 100;

/// One installation as `GET /app/installations` lists it: its id and the account it is on (an
/// account may be absent or an enterprise without a login; such an installation covers no
/// repository owner here).
#[derive(serde::Deserialize)]
struct Listed {
    id: u64,
    #[serde(default)]
    account: Option<Account>,
}

#[derive(serde::Deserialize)]
struct Account {
    #[serde(default)]
    login: Option<String>,
}

/// `POST /app/installations/{id}/access_tokens`'s answer (the fields used).
#[derive(serde::Deserialize)]
struct Minted {
    token: Secret,
    expires_at: DateTime<Utc>,
}

/// A cached installation token.
#[derive(Clone)]
struct Token {
    secret: Secret,
    expires_at: DateTime<Utc>,
}

/// The token a request is sent with.
pub(super) struct Lease {
    /// The installation it belongs to.
    pub(super) installation: u64,
    /// The token.
    pub(super) secret: Secret,
    /// Minted for this request (not taken from the cache).
    pub(super) fresh: bool,
}

/// A GitHub App's credentials, its installations and their tokens.
pub struct AppAuth {
    id: u64,
    key: AppKey,
    /// The configured installations; empty = all of them.
    only: Vec<u64>,
    /// Repository owner (lower case) → installation, listed on first need; `None` before.
    owners: tokio::sync::Mutex<Option<BTreeMap<String, u64>>>,
    /// Installation → its current token.
    tokens: tokio::sync::Mutex<HashMap<u64, Token>>,
    /// The token variable, when it is set too (and so not used).
    token_ignored: Option<String>,
    /// Says so once, at the first request (the application is built before logging starts).
    announced: std::sync::Once,
}

impl std::fmt::Debug for AppAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppAuth")
            .field("id", &self.id)
            .field("only", &self.only)
            .finish_non_exhaustive()
    }
}

/// The text of a [`GithubError::AppRefused`]: what GitHub said and what to do about it.
pub(super) fn refusal_text(installation: &Option<u64>, status: u16, message: &str) -> String {
    match (installation, status) {
        (_, 401) => format!(
            "GitHub refused the App's JWT{} (HTTP 401: {message}): check github.app.id and that \
             github.app.private_key_path holds a current private key of that App (a key deleted \
             in the App's settings stops working at once)",
            installation
                .map(|i| format!(" for installation {i}"))
                .unwrap_or_default()
        ),
        (Some(i), 404) => format!(
            "GitHub App installation {i} not found (HTTP 404: {message}): the App was uninstalled \
             from that account, or github.app.installation_ids names a wrong id; install the App \
             again and list its new id in github.app.installation_ids, or leave the list empty to \
             discover the installations"
        ),
        (Some(i), 403) => format!(
            "GitHub App installation {i} refused a token (HTTP 403: {message}): the installation \
             is suspended or lacks a permission; unsuspend it in the account's Settings → GitHub \
             Apps and grant the read permissions docs/webhooks.md lists"
        ),
        (Some(i), s) => format!("GitHub App installation {i}: HTTP {s}: {message}"),
        (None, s) => format!("GitHub App: HTTP {s}: {message}"),
    }
}

impl AppAuth {
    /// The App of `config.app`, if configured. Built once per application: its tokens are then
    /// shared by every sync and delivery.
    pub fn new(config: &GithubConfig) -> Option<std::sync::Arc<Self>> {
        let app = config.app.as_ref()?;
        // The App wins over a token: GITHUB_TOKEN is often set in a shell or CI for other tools,
        // and refusing to start over it would break working setups.
        let token_ignored = std::env::var(&config.token_env)
            .is_ok_and(|t| !t.trim().is_empty())
            .then(|| config.token_env.clone());
        Some(std::sync::Arc::new(Self {
            token_ignored,
            announced: std::sync::Once::new(),
            id: app.id,
            key: app.key.clone(),
            only: app.installation_ids.clone(),
            owners: tokio::sync::Mutex::new(None),
            tokens: tokio::sync::Mutex::new(HashMap::new()),
        }))
    }

    /// A token for a request about `owner`'s repository (`None`: a request about no
    /// repository): the cached one while it has more than a minute left, else a fresh one.
    pub(super) async fn lease(
        &self,
        octo: &octocrab::Octocrab,
        owner: Option<&str>,
        endpoint: &str,
        timeout: Duration,
    ) -> Result<Lease, GithubError> {
        self.announced.call_once(|| {
            if let Some(variable) = &self.token_ignored {
                tracing::info!(
                    %variable,
                    app_id = self.id,
                    "GitHub App configured: the token in the variable is not used"
                );
            }
        });
        let installation = self.installation_of(octo, owner, endpoint, timeout).await?;
        let mut tokens = self.tokens.lock().await;
        let now = Utc::now();
        if let Some(t) = tokens.get(&installation) {
            if t.expires_at - now > chrono::Duration::seconds(RENEW_BEFORE_S) {
                return Ok(Lease {
                    installation,
                    secret: t.secret.clone(),
                    fresh: false,
                });
            }
        }
        // Minted under the lock: two requests that find no token wait for one mint.
        let token = self.mint(octo, installation, timeout).await?;
        tracing::info!(
            installation,
            expires_at = %token.expires_at,
            "GitHub App installation token minted"
        );
        tokens.insert(installation, token.clone());
        Ok(Lease {
            installation,
            secret: token.secret,
            fresh: true,
        })
    }

    /// Drops `lease`'s token after GitHub refused it (revoked before its time), so that the
    /// next request mints another; a newer token minted meanwhile stays.
    pub(super) async fn forget(&self, lease: &Lease) {
        let mut tokens = self.tokens.lock().await;
        if tokens
            .get(&lease.installation)
            .is_some_and(|t| t.secret == lease.secret)
        {
            tokens.remove(&lease.installation);
        }
    }

    /// The installation whose token a request about `owner` carries: the only configured one,
    /// or the one on the owner's account among those `GET /app/installations` lists.
    async fn installation_of(
        &self,
        octo: &octocrab::Octocrab,
        owner: Option<&str>,
        endpoint: &str,
        timeout: Duration,
    ) -> Result<u64, GithubError> {
        if let [one] = self.only.as_slice() {
            return Ok(*one);
        }
        let mut owners = self.owners.lock().await;
        let by_owner = match &mut *owners {
            Some(listed) => listed,
            listed => listed.insert(self.discover(octo, timeout).await?),
        };
        let Some(owner) = owner else {
            return Err(GithubError::Config(format!(
                "GitHub {endpoint}: names no repository, so no installation of the GitHub App can \
                 be chosen for it"
            )));
        };
        by_owner
            .get(&owner.to_lowercase())
            .copied()
            .ok_or_else(|| GithubError::NotInstalled {
                owner: owner.to_owned(),
                installed: by_owner.keys().cloned().collect(),
            })
    }

    /// Lists the App's installations (every page), keeping the configured ones if any.
    async fn discover(
        &self,
        octo: &octocrab::Octocrab,
        timeout: Duration,
    ) -> Result<BTreeMap<String, u64>, GithubError> {
        let mut by_owner = BTreeMap::new();
        let mut seen = Vec::new();
        let mut url = format!("/app/installations?per_page={PER_PAGE}");
        loop {
            let (headers, body) = self.call(octo, Method::GET, &url, None, timeout).await?;
            let page: Vec<Listed> =
                serde_json::from_str(&body).map_err(|e| GithubError::Malformed {
                    endpoint: "/app/installations".into(),
                    message: e.to_string(),
                })?;
            for i in page {
                seen.push(i.id);
                if !self.only.is_empty() && !self.only.contains(&i.id) {
                    continue;
                }
                match i.account.and_then(|a| a.login) {
                    Some(login) => {
                        by_owner.insert(login.to_lowercase(), i.id);
                    }
                    None => tracing::debug!(
                        installation = i.id,
                        "GitHub App installation on no user or organisation: skipped"
                    ),
                }
            }
            // Only the path and query of the next page's URL: the JWT goes to the API host and
            // nowhere else.
            match next_link(&headers).and_then(|n| {
                let uri = n.parse::<http::Uri>().ok()?;
                Some(uri.path_and_query()?.as_str().to_owned())
            }) {
                Some(next) => url = next,
                None => break,
            }
        }
        let missing: Vec<u64> = self
            .only
            .iter()
            .copied()
            .filter(|i| !seen.contains(i))
            .collect();
        if !missing.is_empty() {
            tracing::warn!(
                ?missing,
                "github.app.installation_ids names installations the App does not have \
                 (uninstalled?): their repositories cannot be read"
            );
        }
        tracing::info!(installations = ?by_owner, "GitHub App installations");
        Ok(by_owner)
    }

    /// Mints a token for `installation`.
    async fn mint(
        &self,
        octo: &octocrab::Octocrab,
        installation: u64,
        timeout: Duration,
    ) -> Result<Token, GithubError> {
        let url = format!("/app/installations/{installation}/access_tokens");
        let (_, body) = self
            .call(octo, Method::POST, &url, Some(installation), timeout)
            .await?;
        // serde's message may quote the value it choked on, which may be the token: only the
        // position is kept.
        let minted: Minted = serde_json::from_str(&body).map_err(|e| GithubError::Malformed {
            endpoint: url,
            message: format!(
                "not an installation token as GitHub documents it (line {}, column {})",
                e.line(),
                e.column()
            ),
        })?;
        Ok(Token {
            secret: minted.token,
            expires_at: minted.expires_at,
        })
    }

    /// Sends one request as the App (its JWT as the bearer token); a success's headers and body,
    /// or the refusal. No retry here: the request this serves is retried as a whole.
    async fn call(
        &self,
        octo: &octocrab::Octocrab,
        method: Method,
        url: &str,
        installation: Option<u64>,
        timeout: Duration,
    ) -> Result<(HeaderMap, String), GithubError> {
        let endpoint = url
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.path_and_query().map(|p| p.path().to_owned()))
            .unwrap_or_else(|| url.to_owned());
        let jwt =
            octocrab::auth::create_jwt(octocrab::models::AppId(self.id), self.key.encoding_key())
                // The signing error names no part of the key.
                .map_err(|e| {
                    GithubError::Config(format!("cannot sign the GitHub App's JWT: {e}"))
                })?;
        let mut bearer = HeaderValue::from_str(&format!("Bearer {jwt}"))
            .map_err(|e| GithubError::Config(format!("the GitHub App's JWT: {e}")))?;
        bearer.set_sensitive(true);
        let request = http::Request::builder()
            .method(method)
            .uri(url)
            .header(AUTHORIZATION, bearer)
            .body(String::new())
            .map_err(|e| GithubError::Malformed {
                endpoint: endpoint.clone(),
                message: format!("bad request: {e}"),
            })?;
        let unavailable = |message: String| GithubError::Unavailable {
            endpoint: endpoint.clone(),
            message,
        };
        let resp = tokio::time::timeout(timeout, octo.execute(request))
            .await
            .map_err(|_| unavailable(format!("no answer within {timeout:?}")))?
            .map_err(|e| unavailable(e.to_string()))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = octo
            .body_to_string(resp)
            .await
            .map_err(|e| unavailable(format!("reading the body: {e}")))?;
        if status.is_success() {
            return Ok((headers, body));
        }
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| body.chars().take(200).collect());
        // A rate limit also answers 403, with `retry-after` or `x-ratelimit-remaining: 0`
        // (GitHub docs, "Rate limits for the REST API"): not a suspended installation.
        let limited = status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN
                && (headers.contains_key(http::header::RETRY_AFTER)
                    || headers
                        .get("x-ratelimit-remaining")
                        .is_some_and(|v| v.as_bytes() == b"0")));
        if status.is_server_error() || limited {
            // Retried with the request it serves.
            return Err(unavailable(format!("HTTP {}: {message}", status.as_u16())));
        }
        Err(GithubError::AppRefused {
            installation,
            status: status.as_u16(),
            message,
        })
    }
}
