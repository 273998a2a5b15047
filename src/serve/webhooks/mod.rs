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
}

/// The `/webhooks` routes.
pub fn routes(state: WebhookState) -> Router {
    Router::new()
        .route("/webhooks/github", post(github::deliver))
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
