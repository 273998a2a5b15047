//! `POST /webhooks/events`: deployments and incidents from any CD or incident tool, with a
//! bearer token of their own (`webhooks.events_token_env`), compared in constant time
//! ([`guard::token_matches`](crate::serve::guard::token_matches)). The body is read by
//! `sources::events`; a bad one is answered 400 with every bad field named.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{read_body, Refusal, WebhookState};
use crate::health::DeliveryOutcome;
use crate::model::Event;
use crate::sources::events::{self, Context, Pushed};
use crate::store::{Cursor, WriteBatch};

/// The source label of these deliveries in the counts.
const SOURCE: &str = "events";

/// `?service=`: the Barometer service of a sender whose body cannot say it.
#[derive(Debug, Deserialize)]
pub(super) struct Params {
    service: Option<String>,
}

fn authorize(state: &WebhookState, headers: &HeaderMap) -> Result<(), Refusal> {
    let var = &state.app.config.webhooks.events_token_env;
    let Some(token) = std::env::var(var).ok().filter(|s| !s.is_empty()) else {
        return Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            format!("pushed events are off: the variable {var} (webhooks.events_token_env) holding their token is not set"),
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "send Authorization: Bearer <the token in webhooks.events_token_env>",
        )),
        Some(g) if !crate::serve::guard::token_matches(g, &token) => Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "bad_token",
            "the bearer token is not the events token",
        )),
        Some(_) => Ok(()),
    }
}

pub(super) async fn deliver(
    State(state): State<WebhookState>,
    Query(params): Query<Params>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    if let Err(r) = authorize(&state, &parts.headers) {
        return r.answer(&state.health, SOURCE);
    }
    let limit = state.app.config.webhooks.max_body_bytes;
    let body = match read_body(&parts.headers, body, limit).await {
        Ok(b) => b,
        Err(r) => return r.answer(&state.health, SOURCE),
    };
    let ctx = Context {
        github: &state.app.config.github,
        service: params.service.as_deref(),
    };
    let pushed = match events::parse(&body, &ctx) {
        Ok(p) => p,
        Err(fields) => {
            state
                .health
                .delivery(SOURCE, DeliveryOutcome::Rejected, "invalid");
            let message = fields
                .iter()
                .map(|e| format!("{}: {}", e.field, e.reason))
                .collect::<Vec<_>>()
                .join("; ");
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"code": "invalid", "message": message, "fields": fields}})),
            )
                .into_response();
        }
    };
    let at = crate::clock::now();
    let service = pushed.service().to_owned();
    let mut batch = WriteBatch::new();
    let (kind, key, change_set_repo) = match &pushed {
        Pushed::Deployment(d) => {
            batch.upsert_event(d);
            let repo = (!d.sha.is_empty() && !d.repo.is_empty()).then(|| d.repo.clone());
            ("deployment", d.natural_key(), repo)
        }
        Pushed::Incident(i) => {
            batch.upsert_event(i);
            ("incident", i.natural_key(), None)
        }
    };
    batch.set_cursor(
        events::SOURCE,
        &format!("{service}/last_event"),
        Cursor {
            position: Some(kind.to_owned()),
            updated_at: Some(at),
            ..Cursor::default()
        },
    );
    let _one_at_a_time = state.serial.lock().await;
    if let Err(e) = state.app.store.commit(batch) {
        tracing::error!(error = %e, "pushed event not stored");
        return Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store",
            "the store failed",
        )
        .answer(&state.health, SOURCE);
    }
    state
        .health
        .delivery(SOURCE, DeliveryOutcome::Accepted, kind);
    tracing::info!(kind, service = %service, key = %key, "pushed event stored");
    // A deployment of a configured repository with a SHA: its change set, as a sync reads it.
    let mut deferred = None;
    if let Some(repo) = change_set_repo {
        let read = match state.github_sync() {
            Ok(mut sync) => sync.change_sets(&repo).await,
            Err(e) => Err(e),
        };
        if let Err(e) = read {
            tracing::warn!(error = %e, repo = %repo, "change set left to the next sync");
            deferred = Some(e.to_string());
        }
    }
    Json(
        json!({"status": "stored", "kind": kind, "key": key, "service": service,
        "change_set_deferred": deferred}),
    )
    .into_response()
}
