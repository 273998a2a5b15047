//! `/api/v1/sources` and `/api/v1/sync/{source}`: the sources' health, and syncs on demand.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::ApiError;
use crate::serve::http::error;
use crate::serve::ApiState;

/// Every configured source: whether its last sync worked, when it last succeeded, its last error,
/// and where its cursors stand.
pub(crate) async fn sources(State(state): State<ApiState>) -> Response {
    let health = state.health.snapshot(false);
    let mut out = Vec::new();
    let mut names: Vec<&str> = crate::sources::SourceKind::configured(&state.app.config)
        .into_iter()
        .map(|k| k.name())
        .collect();
    names.extend(health.keys().map(String::as_str));
    names.sort_unstable();
    names.dedup();
    for name in names {
        let cursors = match state.app.store.cursors(name) {
            Ok(c) => c,
            Err(e) => return ApiError::Store(e).into_response(),
        };
        let h = health.get(name);
        out.push(json!({
            "source": name,
            "configured": crate::sources::SourceKind::configured(&state.app.config)
                .iter()
                .any(|k| k.name() == name),
            "up": h.map(|h| h.up),
            "last_success": h.and_then(|h| h.last_success),
            "last_error": h.and_then(|h| h.last_error.clone()).map(|(at, message)| json!({"at": at, "message": message})),
            "failures": h.map_or(0, |h| h.failures),
            "cursors": cursors.len(),
            "last_cursor_update": cursors.values().filter_map(|c| c.updated_at).max(),
        }));
    }
    match crate::serve::webhooks::freshness(&state.app, &state.health) {
        Ok(pushed) => out.extend(pushed),
        Err(e) => return ApiError::Store(e).into_response(),
    }
    Json(json!({ "sources": out })).into_response()
}

pub(crate) async fn trigger_sync(
    State(state): State<ApiState>,
    axum::extract::Path(source): axum::extract::Path<String>,
) -> Response {
    let Ok(kind) = source.parse::<crate::sources::SourceKind>() else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no source named {source:?}"),
        );
    };
    match state.syncer.trigger(kind, &state.tracker) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({"status": "started", "source": kind.name()})),
        )
            .into_response(),
        Err(e @ crate::sources::TriggerError::Running(_)) => {
            error(StatusCode::CONFLICT, "sync_running", e.to_string())
        }
        Err(e @ crate::sources::TriggerError::NotConfigured(_)) => {
            error(StatusCode::CONFLICT, "not_configured", e.to_string())
        }
    }
}
