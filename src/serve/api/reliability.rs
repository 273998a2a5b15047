//! `/api/v1/reliability`: the weekly SLO figures.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{bad_request, ApiError};
use crate::serve::http::error;
use crate::serve::ApiState;

use crate::model::Calendar;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WeeksQuery {
    from: Option<String>,
    to: Option<String>,
    slo: Option<String>,
    team: Option<String>,
}

/// Parses `from`/`to` (`YYYY-MM-DD`) into the Mondays of their ISO weeks; by default the 26 weeks
/// up to the last complete one.
pub(super) fn week_range(
    cal: Calendar,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<i64>, String> {
    use crate::analysis::WEEK_MS;
    let week_start = |ms| cal.week_start(ms);
    let day = |name: &str, v: &str| {
        chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()
            .map(|d| week_start(cal.local_midnight(d)))
            .ok_or_else(|| format!("{name}={v:?} is not a date (YYYY-MM-DD)"))
    };
    let last = match to {
        Some(v) => day("to", v)?,
        None => week_start(crate::clock::now_ms()) - WEEK_MS,
    };
    let first = match from {
        Some(v) => day("from", v)?,
        None => last - 25 * WEEK_MS,
    };
    if first > last {
        return Err("from is after to".into());
    }
    if (last - first) / WEEK_MS > 520 {
        return Err("at most 520 weeks at a time".into());
    }
    Ok((0..=(last - first) / WEEK_MS)
        .map(|i| first + i * WEEK_MS)
        .collect())
}

pub(crate) async fn reliability(
    State(state): State<ApiState>,
    query: Result<Query<WeeksQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    let mut weeks = match week_range(state.app.calendar(), q.from.as_deref(), q.to.as_deref()) {
        Ok(w) => w,
        Err(message) => return bad_request(message),
    };
    // Without `to`, the current week follows the complete ones, flagged `partial` (#14).
    if q.to.is_none() {
        weeks.push(state.app.calendar().week_start(crate::clock::now_ms()));
    }
    if let Some(name) = &q.slo {
        if state.app.slos.iter().all(|d| &d.name != name) {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no SLO named {name:?}"),
            );
        }
    }
    let teams = match super::teams(&state).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let team = match q.team.as_deref() {
        Some(name) => match teams.get(name) {
            Some(t) => Some(t.services.clone()),
            None => {
                let known: Vec<&str> = teams.iter().map(|t| t.name.as_str()).collect();
                return error(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("no team {name:?}; known: {}", known.join(", ")),
                );
            }
        },
        None => None,
    };
    let (store, slos) = (state.app.store.clone(), state.app.slos.clone());
    let result = tokio::task::spawn_blocking(move || {
        slos.iter()
            .filter(|d| q.slo.as_ref().is_none_or(|n| &d.name == n))
            .filter(|d| team.as_ref().is_none_or(|s| s.contains(&d.service)))
            .map(|d| {
                Ok(json!({
                    "slo": d.name,
                    "service": d.service,
                    "team": teams.owner_of(&d.service).map(|t| t.name.as_str()),
                    "target": d.spec.target,
                    "window_days": d.spec.window_ms / 86_400_000,
                    "weeks": crate::query::slo_weeks(&store, d, &weeks)?,
                }))
            })
            .collect::<Result<Vec<_>, crate::store::StoreError>>()
    })
    .await;
    match result {
        Ok(Ok(slos)) => Json(json!({ "slos": slos })).into_response(),
        Ok(Err(e)) => ApiError::Store(e).into_response(),
        Err(e) => ApiError::internal("internal", &e).into_response(),
    }
}
