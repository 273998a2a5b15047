//! The HTTP router: health, readiness and metrics, with JSON error bodies for everything else.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::watch;

use super::metrics::Metrics;
use crate::health::Readiness;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The metrics and their rendering.
    pub metrics: Arc<Metrics>,
    /// Readiness, set by the daemon.
    pub readiness: watch::Receiver<Readiness>,
}

/// Builds the router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
        .fallback(not_found)
        .with_state(state)
}

/// A JSON error body: `{"error": {"code", "message"}}`.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"code": code, "message": message.into()}});
    (status, Json(body)).into_response()
}

async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = state.readiness.borrow().clone();
    match readiness {
        Readiness::Ready => Json(json!({"status": "ready"})).into_response(),
        Readiness::Starting(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "starting", "detail": why})),
        )
            .into_response(),
        Readiness::Stopping => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "stopping"})),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.metrics.rendered_once().await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.text(),
    )
}

/// The OpenAPI description of every route, kept beside the code in `docs/openapi.json`.
const OPENAPI: &str = include_str!("../../docs/openapi.json");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn not_found(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {method} {}", uri.path()),
    )
}
