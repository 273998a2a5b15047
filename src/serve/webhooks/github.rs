//! `POST /webhooks/github`: a delivery is verified (`X-Hub-Signature-256`, HMAC-SHA256 of the
//! raw body with the shared secret, compared in constant time: GitHub docs, "Validating webhook
//! deliveries"), checked against the delivery ids already applied (`X-GitHub-Delivery`), and
//! applied through the GitHub source's polling code (`sources::github::webhook`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{header_text, read_body, Refusal, WebhookState};
use crate::health::DeliveryOutcome;
use crate::sources::github::webhook::{Outcome, WebhookError, WEBHOOK_SOURCE};
use crate::sources::github::GithubError;

/// The source label of GitHub deliveries in the counts.
const SOURCE: &str = "github";

/// Whether `signature` (the header's value, `sha256=<hex>`) is the HMAC-SHA256 of `body` under
/// `secret`. `verify_slice` compares in constant time, so the answer's timing says nothing about
/// how much of a forged signature was right.
pub(crate) fn signature_matches(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The delivery's signature checked against the configured secret, before the body is parsed.
fn verify(state: &WebhookState, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    let var = &state.app.config.github.webhook_secret_env;
    let Some(secret) = std::env::var(var).ok().filter(|s| !s.is_empty()) else {
        return Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            format!("GitHub webhooks are off: the variable {var} (github.webhook_secret_env) holding the webhook secret is not set"),
        ));
    };
    let Some(signature) = header_text(headers, "x-hub-signature-256") else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "missing_signature",
            "no X-Hub-Signature-256 header: set a secret on the webhook in GitHub",
        ));
    };
    if !signature_matches(secret.as_bytes(), body, signature) {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "X-Hub-Signature-256 does not match the body under the configured secret",
        ));
    }
    Ok(())
}

pub(super) async fn deliver(State(state): State<WebhookState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let limit = state.app.config.webhooks.max_body_bytes;
    let body = match read_body(&headers, body, limit).await {
        Ok(b) => b,
        Err(r) => return r.answer(&state.health, SOURCE),
    };
    if let Err(r) = verify(&state, &headers, &body) {
        return r.answer(&state.health, SOURCE);
    }
    let (Some(event), Some(id)) = (
        header_text(&headers, "x-github-event"),
        header_text(&headers, "x-github-delivery"),
    ) else {
        return Refusal::new(
            StatusCode::BAD_REQUEST,
            "missing_headers",
            "a GitHub delivery carries X-GitHub-Event and X-GitHub-Delivery",
        )
        .answer(&state.health, SOURCE);
    };
    let event = crate::quote::excerpt(event);
    let id = crate::quote::excerpt(id);
    if event == "ping" {
        state
            .health
            .delivery(SOURCE, DeliveryOutcome::Ignored, "ping");
        return Json(json!({"status": "pong"})).into_response();
    }
    let _one_at_a_time = state.serial.lock().await;
    match state.app.store.delivery(WEBHOOK_SOURCE, &id) {
        Ok(Some(_)) => {
            state
                .health
                .delivery(SOURCE, DeliveryOutcome::Duplicate, &event);
            return Json(json!({"status": "duplicate", "delivery": id})).into_response();
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "cannot read webhook deliveries");
            return Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store",
                "the store failed",
            )
            .answer(&state.health, SOURCE);
        }
    }
    let applied = match state.github_sync() {
        Ok(mut sync) => {
            sync.apply_webhook(&event, &id, &body, crate::clock::now())
                .await
        }
        Err(e) => Err(WebhookError::Github(e)),
    };
    state.prune(WEBHOOK_SOURCE);
    match applied {
        Ok(Outcome::Applied { repo, deferred }) => {
            state
                .health
                .delivery(SOURCE, DeliveryOutcome::Accepted, &event);
            tracing::info!(event = %event, delivery = %id, repo = %repo, "webhook delivery applied");
            Json(json!({"status": "applied", "event": event, "repo": repo,
                "change_sets_deferred": deferred}))
            .into_response()
        }
        Ok(Outcome::Ignored { reason }) => {
            state
                .health
                .delivery(SOURCE, DeliveryOutcome::Ignored, &event);
            Json(json!({"status": "ignored", "event": event, "reason": reason})).into_response()
        }
        Err(WebhookError::Malformed { event, message }) => Refusal::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("{event} payload: {}", crate::quote::excerpt(&message)),
        )
        .answer(&state.health, SOURCE),
        Err(WebhookError::Github(e @ GithubError::Store(_))) => {
            tracing::error!(error = %e, "webhook delivery not stored");
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "store", "the store failed")
                .answer(&state.health, SOURCE)
        }
        Err(WebhookError::Github(e)) => Refusal::new(
            StatusCode::BAD_GATEWAY,
            "upstream",
            format!("reading the delivery's details from GitHub failed; redeliver it or let the next sync fill it: {e}"),
        )
        .answer(&state.health, SOURCE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_githubs_worked_example() {
        // GitHub docs, "Validating webhook deliveries", "Testing the webhook payload
        // validation": secret "It's a Secret to Everybody", payload "Hello, World!".
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_matches(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            sig
        ));
        assert!(!signature_matches(
            b"It's a Secret to Everybody",
            b"Hello, World?",
            sig
        ));
        assert!(!signature_matches(b"another secret", b"Hello, World!", sig));
        // The SHA-1 header's scheme, a truncated MAC and garbage are not accepted.
        assert!(!signature_matches(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            &sig[..40]
        ));
        assert!(!signature_matches(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d"
        ));
        assert!(!signature_matches(b"k", b"x", "sha256=zz"));
    }
}
