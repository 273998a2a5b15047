//! `/api/v1/teams`: who owns which services, and each team's 13-week DORA roll-up.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{bad_request, dora_model};
use crate::serve::{parse_day, ApiState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TeamsQuery {
    week: Option<String>,
}

/// The teams, their services, SLOs and pooled DORA figures of the 13 weeks ending with `week`
/// (default: the last complete week), and the services no team owns.
pub(crate) async fn teams(
    State(state): State<ApiState>,
    query: Result<Query<TeamsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    let cal = state.app.calendar();
    let week = match q.week.as_deref().map(|v| parse_day(cal, "week", v)) {
        Some(Ok(ms)) => cal.week_start(ms),
        Some(Err(m)) => return bad_request(m),
        None => cal.week_start(crate::clock::now_ms()) - crate::analysis::WEEK_MS,
    };
    let model = match dora_model(&state).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let teams = match super::teams(&state).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let view = crate::query::teams::teams_view(
        &model,
        &teams,
        &state.app.slos,
        week,
        &state.app.settings.bands,
    );
    Json(json!({
        "definition": "a team's figures pool the deployments, changes and incidents of the services it owns: one median over all its samples, never a median of medians",
        "week": cal.local_date(week).to_string(),
        "view": view,
    }))
    .into_response()
}
