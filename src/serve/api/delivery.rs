//! `/api/v1/dora` and `/api/v1/dora/explain`: the weekly DORA figures and the chain behind one.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{bad_request, dora_model};
use crate::analysis::dora::Scope;
use crate::serve::http::error;
use crate::serve::{parse_day, ApiState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DoraQuery {
    from: Option<String>,
    to: Option<String>,
    service: Option<String>,
    team: Option<String>,
    repo: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExplainQuery {
    service: Option<String>,
    week: String,
    metric: String,
}

/// Weekly DORA figures (with rolling 4- and 13-week figures and bands) of the organisation, each
/// team (its services pooled) and each service; or of one team and its services, one service,
/// or the services of one repo; between `from` and `to` (default: 13 weeks).
pub(crate) async fn dora(
    State(state): State<ApiState>,
    query: Result<Query<DoraQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    use crate::analysis::WEEK_MS;
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    let cal = state.app.calendar();
    let week_start = |ms| cal.week_start(ms);
    let last = week_start(crate::clock::now_ms()) - WEEK_MS;
    let to = match q.to.as_deref().map(|v| parse_day(cal, "to", v)).transpose() {
        Ok(v) => v.map_or(last, week_start),
        Err(m) => return bad_request(m),
    };
    let from = match q
        .from
        .as_deref()
        .map(|v| parse_day(cal, "from", v))
        .transpose()
    {
        Ok(v) => v.map_or(to - 12 * WEEK_MS, week_start),
        Err(m) => return bad_request(m),
    };
    if from > to {
        return bad_request("from is after to");
    }
    if (to - from) / WEEK_MS > 520 {
        return bad_request("at most 520 weeks at a time");
    }
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
        q.repo.as_deref(),
    ) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::NOT_FOUND, "not_found", e.to_string()),
    };
    let weeks: Vec<i64> = (0..=(to - from) / WEEK_MS)
        .map(|i| from + i * WEEK_MS)
        .collect();
    let bands = &state.app.settings.bands;
    let series: Vec<_> = scopes
        .iter()
        .zip(crate::analysis::dora::weekly_scopes(
            &model, &scopes, &weeks, bands,
        ))
        .map(|(s, weeks)| match s {
            Scope::Org => json!({"service": null, "repo": null, "weeks": weeks}),
            Scope::Service(s) => json!({
                "service": s,
                "repo": model.repo_of(s),
                "team": teams.owner_of(s).map(|t| t.name.as_str()),
                "weeks": weeks,
            }),
            Scope::Team { name, services } => json!({
                "team": name,
                "services": services,
                "weeks": weeks,
            }),
        })
        .collect();
    Json(json!({
        "bands": {"year": bands.year, "source": bands.source, "url": bands.url},
        "definitions": {
            "deployment_frequency": "successful production deployments per week",
            "lead_time": "deployment time − first commit time of each change (seconds; median p50 and p90)",
            "change_failure_rate": "deployments with a failure signal / deployments that reached a final state (Wilson 95 % interval)",
            "recovery_time": "failed deployment → next healthy deployment or incidents resolved (seconds, median)",
            "rework_rate": "unplanned deployments (only reverts, hotfixes, incident fixes, rollbacks) / successful deployments",
        },
        "series": series,
    }))
    .into_response()
}

/// The chain behind one figure.
pub(crate) async fn dora_explain(
    State(state): State<ApiState>,
    query: Result<Query<ExplainQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    let week = match parse_day(state.app.calendar(), "week", &q.week) {
        Ok(w) => w,
        Err(m) => return bad_request(m),
    };
    let metric: crate::analysis::dora::Metric = match q.metric.parse() {
        Ok(m) => m,
        Err(e) => return bad_request(e),
    };
    let model = match dora_model(&state).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    if let Some(s) = &q.service {
        if !model.services.iter().any(|x| x.name == *s) {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no service {s:?}"),
            );
        }
    }
    Json(crate::analysis::dora::explain(
        &model,
        q.service.as_deref(),
        week,
        metric,
        &state.app.settings.bands,
    ))
    .into_response()
}
