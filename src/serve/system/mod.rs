//! The system map's faces on the daemon: `GET /api/v1/system` (JSON) and `GET /system` (a
//! server-rendered SVG page, [`svg`]).

mod svg;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::api::blocking;
use super::http::error;
use super::{parse_day, ApiState};
use crate::analysis::WEEK_MS;
use crate::query::system::SystemView;
use std::sync::Arc;

/// Weeks shown when the query names none: one quarter, the window of DORA's 13-week figures.
pub(crate) const DEFAULT_WEEKS: i64 = 13;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SystemQuery {
    from: Option<String>,
    to: Option<String>,
}

/// The selected weeks (Mondays, ms): `?from=&to=` dates, default the last 13 complete weeks.
fn weeks(state: &ApiState, q: &SystemQuery) -> Result<Vec<i64>, String> {
    let cal = state.app.calendar();
    let day = |name: &str, v: &Option<String>| {
        v.as_deref()
            .map(|v| parse_day(cal, name, v).map(|d| cal.week_start(d)))
            .transpose()
    };
    let last_complete = cal.week_start(crate::clock::now_ms()) - WEEK_MS;
    let to = day("to", &q.to)?.unwrap_or(last_complete);
    let from = day("from", &q.from)?.unwrap_or(to - (DEFAULT_WEEKS - 1) * WEEK_MS);
    if from > to {
        return Err("from must not be after to".to_owned());
    }
    if (to - from) / WEEK_MS >= 520 {
        return Err("at most 520 weeks".to_owned());
    }
    Ok((0..=(to - from) / WEEK_MS)
        .map(|i| from + i * WEEK_MS)
        .collect())
}

async fn view(
    state: &ApiState,
    query: Result<Query<SystemQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Arc<SystemView>, Response> {
    let Query(q) =
        query.map_err(|e| error(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let weeks = weeks(state, &q).map_err(|m| error(StatusCode::BAD_REQUEST, "bad_request", m))?;
    let app = state.app.clone();
    blocking(move || app.system_view(&weeks)).await
}

/// `GET /api/v1/system`: every component with its figures and layer, the weak spots with their
/// reasons and the next moves with their figures and rules.
pub(crate) async fn api(
    State(state): State<ApiState>,
    query: Result<Query<SystemQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match view(&state, query).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

/// `GET /system`: the map as a page.
pub(crate) async fn page(
    State(state): State<ApiState>,
    query: Result<Query<SystemQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match view(&state, query).await {
        Ok(v) => Html(render_page(&v, state.app.calendar())).into_response(),
        Err(r) => r,
    }
}

/// The `/system` page of a map: what `GET /system` sends (and what `benches/system.rs` times).
pub fn render_page(view: &SystemView, cal: crate::model::Calendar) -> String {
    svg::page(view, cal)
}
