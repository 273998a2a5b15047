//! Pushed events: `POST /webhooks/github` (GitHub's webhook deliveries, authenticated by their
//! HMAC signature) and `POST /webhooks/events` (deployments and incidents from any CD or
//! incident tool, authenticated by a bearer token of its own). docs/webhooks.md.
//!
//! These routes sit outside the API's guards on purpose. The API's bearer token
//! (`server.api_token`) is not something GitHub or Argo CD can send, so each route checks its
//! own credential instead. And the API refuses state-changing requests a browser marks as
//! cross-site (`guard::same_origin`), because without a token a browser on another site could
//! forge them; a delivery here is authenticated by a secret the forging site does not have (a
//! signature over the body, or the events token), so a cross-site request changes nothing and
//! these routes need no such refusal. Nothing is read or stored before the credential is
//! checked, and bodies are bounded (`webhooks.max_body_bytes`) before they are read.

mod events;
mod github;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;

use super::http::error;
use crate::app::App;
use crate::health::{DeliveryOutcome, Health};

/// State of the webhook routes.
#[derive(Clone)]
pub struct WebhookState {
    /// The application (configuration, store, compiled GitHub patterns).
    pub app: App,
    /// Where deliveries are counted.
    pub health: Arc<Health>,
    /// One delivery at a time: two copies of one delivery id arriving together must not both
    /// pass the "seen before?" check. Deliveries are rare next to the time one takes.
    pub serial: Arc<tokio::sync::Mutex<()>>,
    /// When delivery ids were last pruned (Unix seconds; 0: not yet).
    pub pruned: Arc<std::sync::atomic::AtomicI64>,
}

/// Delivery ids are kept this long (GitHub offers redelivery for 3 days).
const KEEP_DELIVERIES_DAYS: i64 = 30;

impl WebhookState {
    /// The GitHub source's code for one delivery (patterns compiled once for the application).
    fn github_sync(
        &self,
    ) -> Result<crate::sources::github::GithubSync<'_>, crate::sources::github::GithubError> {
        crate::sources::github::GithubSync::with_shared(
            &self.app.config.github,
            &self.app.github,
            &self.app.store,
            None,
            false,
        )
    }

    /// Forgets delivery ids older than [`KEEP_DELIVERIES_DAYS`], at most once an hour.
    fn prune(&self, source: &'static str) {
        use std::sync::atomic::Ordering;
        let now = crate::clock::now();
        let last = self.pruned.load(Ordering::Relaxed);
        if now.timestamp() - last < 3600
            || self
                .pruned
                .compare_exchange(last, now.timestamp(), Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let store = self.app.store.clone();
        let before = now - chrono::Duration::days(KEEP_DELIVERIES_DAYS);
        tokio::task::spawn_blocking(move || match store.forget_deliveries(source, before) {
            Ok(n) if n > 0 => {
                tracing::info!(source, forgotten = n, "old webhook delivery ids forgotten")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot prune webhook delivery ids"),
        });
    }
}

/// The `/webhooks` routes.
pub fn routes(state: WebhookState) -> Router {
    Router::new()
        .route("/webhooks/github", post(github::deliver))
        .route("/webhooks/events", post(events::deliver))
        .with_state(state)
}

/// A refusal: counted under `reason`, answered with `status`.
struct Refusal {
    status: StatusCode,
    reason: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
        }
    }

    /// Counts the refusal for `source` and answers it.
    fn answer(self, health: &Health, source: &str) -> Response {
        health.delivery(source, DeliveryOutcome::Rejected, self.reason);
        tracing::warn!(source, reason = self.reason, message = %self.message, "webhook delivery refused");
        error(self.status, self.reason, self.message)
    }
}

/// Reads a body of at most `limit` bytes: a larger declared length is refused before anything
/// is read, and a body that grows past it while streaming is cut off.
async fn read_body(headers: &HeaderMap, body: Body, limit: u64) -> Result<Bytes, Refusal> {
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is larger than webhooks.max_body_bytes ({limit} bytes)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// A header as text, if present and printable.
fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The pushed sources for `/api/v1/sources`: whether each is on (its secret set), the last event
/// per repository or service, and the deliveries counted since start by outcome and reason.
pub(crate) fn freshness(
    app: &App,
    health: &Health,
) -> Result<Vec<serde_json::Value>, crate::store::StoreError> {
    use crate::serve::metrics::webhooks::{last_events, FRESHNESS_SOURCES};
    let counts = health.deliveries.snapshot();
    let mut out = Vec::new();
    for (source, label, var) in [
        (
            FRESHNESS_SOURCES[0],
            "github",
            &app.config.github.webhook_secret_env,
        ),
        (
            FRESHNESS_SOURCES[1],
            "events",
            &app.config.webhooks.events_token_env,
        ),
    ] {
        let events = last_events(&app.store, source)?;
        let deliveries: Vec<serde_json::Value> = counts
            .iter()
            .filter(|((s, _, _), _)| s == label)
            .map(|((_, outcome, reason), n)| {
                serde_json::json!({"outcome": outcome, "reason": reason, "count": n})
            })
            .collect();
        out.push(serde_json::json!({
            "source": source,
            "route": format!("/webhooks/{label}"),
            "configured": std::env::var(var).is_ok_and(|v| !v.is_empty()),
            "last_event": events.iter().map(|e| e.1).max(),
            "last_events": events.iter().map(|(scope, at, event)| {
                serde_json::json!({"scope": scope, "at": at, "event": event})
            }).collect::<Vec<_>>(),
            "deliveries": deliveries,
        }));
    }
    Ok(out)
}
