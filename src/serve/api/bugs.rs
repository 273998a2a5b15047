//! `/api/v1/bugs`: bug patterns per week for the organisation, each team and each service.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{bad_request, blocking, dora_model};
use crate::serve::http::error;
use crate::serve::ApiState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BugsQuery {
    from: Option<String>,
    to: Option<String>,
    service: Option<String>,
    team: Option<String>,
    product: Option<String>,
}

/// Weekly bugs (opened by severity, closed, reopened, open backlog and its median age, escaped
/// bugs with the deployment they escaped) between `from` and `to` (default: 26 weeks).
pub(crate) async fn bugs(
    State(state): State<ApiState>,
    query: Result<Query<BugsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    let weeks = match super::reliability::week_range(
        state.app.calendar(),
        q.from.as_deref(),
        q.to.as_deref(),
    ) {
        Ok(w) => w,
        Err(m) => return bad_request(m),
    };
    let product = match q.product.as_deref() {
        None => None,
        Some(_) if q.service.is_some() || q.team.is_some() => {
            return bad_request("give product=, or service= or team=, not both")
        }
        Some(name) => match state.app.products.get(name) {
            Some(p) => Some(p.clone()),
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("no product {name:?}; known: {}", state.app.products.names()),
                )
            }
        },
    };
    let model = match dora_model(&state).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let teams = match super::teams(&state).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let scopes = match crate::query::teams::dora_scopes(
        &model,
        &teams,
        q.service.as_deref(),
        q.team.as_deref(),
        None,
    ) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::NOT_FOUND, "not_found", e.to_string()),
    };
    let (store, settings) = (state.app.store.clone(), state.app.settings.clone());
    let facts =
        match blocking(move || crate::query::bugs::bug_facts(&store, &model, &settings)).await {
            Ok(f) => f,
            Err(r) => return r,
        };
    let series = match &product {
        None => crate::query::bugs::bug_series(&facts, &scopes, &weeks, &state.app.settings),
        Some(p) => crate::query::bugs::product_bug_series(&facts, p, &weeks, &state.app.settings),
    };
    Json(json!({
        "labels": state.app.config.github.bug_labels,
        "escaped_window_s": state.app.settings.bugs.escaped_window_ms / 1000,
        "definitions": {
            "service": "the service a `service:<name>` label names, else the repository's only service; otherwise the organisation only",
            "open_at_end": "opened by the week's end and not closed by then (a reopened bug counts as open from its creation to its last close)",
            "escaped": "opened within the escape window after a successful deployment of its service; the latest such deployment is named",
            "reopened": "reopens seen by the syncs in the week",
        },
        "series": series,
    }))
    .into_response()
}
