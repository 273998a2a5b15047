//! The HTTP router: health, readiness and metrics, with JSON error bodies for everything else.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
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

/// How long a scrape waits for the daemon's first refresh when the scraper does not say how
/// long it waits itself: under Prometheus's default `scrape_timeout` (10 s).
const FIRST_SCRAPE_WAIT: Duration = Duration::from_secs(8);
/// The most a scrape waits, whatever the scraper says.
const MOST_SCRAPE_WAIT: Duration = Duration::from_secs(60);

/// How long a scrape may wait for the first refresh: four fifths of the timeout Prometheus
/// sends with each scrape (`X-Prometheus-Scrape-Timeout-Seconds`), so that the answer still
/// arrives in time, else [`FIRST_SCRAPE_WAIT`]. A value that is not a positive number of
/// seconds is ignored.
pub fn scrape_wait(headers: &HeaderMap) -> Duration {
    headers
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(FIRST_SCRAPE_WAIT, |s| {
            Duration::from_secs_f64((s * 0.8).min(MOST_SCRAPE_WAIT.as_secs_f64()))
        })
}

/// The last rendering; right after a start, once the first refresh is done, unless that takes
/// longer than the scraper waits: a large store's first analysis takes seconds, and a scrape
/// that times out records the daemon as down. It then gets the store's and the sources'
/// figures, rendered first, with `barometer_analysis_complete 0` and no analysed families yet
/// (absent rather than zero, so no graph shows a false drop).
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let wait = scrape_wait(&headers);
    if tokio::time::timeout(wait, state.metrics.rendered_once())
        .await
        .is_err()
    {
        tracing::debug!(
            waited_ms = wait.as_millis() as u64,
            "first refresh still running: the scrape gets the figures rendered so far"
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_waits_four_fifths_of_the_scraper_s_timeout() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-prometheus-scrape-timeout-seconds", v.parse().unwrap());
            scrape_wait(&h)
        };
        // 10 s × 0.8 = 8 s; 0.5 s × 0.8 = 0.4 s.
        assert_eq!(with("10"), Duration::from_secs(8));
        assert_eq!(with("0.5"), Duration::from_millis(400));
        // Capped at a minute; nonsense ignored (the default, 8 s).
        assert_eq!(with("3600"), MOST_SCRAPE_WAIT);
        for bad in ["0", "-1", "NaN", "inf", "ten", ""] {
            assert_eq!(with(bad), FIRST_SCRAPE_WAIT, "{bad:?}");
        }
        assert_eq!(scrape_wait(&HeaderMap::new()), FIRST_SCRAPE_WAIT);
    }
}
