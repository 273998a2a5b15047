//! The JSON API under `/api/v1/`: revenue figures, revenue imports and their history.
//!
//! With `server.api_token` set, every route here needs `Authorization: Bearer <token>`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::http::error;
use crate::analysis::revenue::monthly;
use crate::app::App;
use crate::model::Calendar;
use crate::sources::revenue_csv::Layout;
use crate::sources::revenue_import::{self, ImportError, ImportOptions};

/// State of the API handlers.
#[derive(Clone)]
pub struct ApiState {
    /// The application: configuration, store, settings, SLOs and the shared weekly view.
    pub app: App,
    /// Runs on-demand syncs.
    pub syncer: Arc<crate::sources::Syncer>,
    /// The daemon's task tracker, so shutdown waits for on-demand syncs too.
    pub tracker: tokio_util::task::TaskTracker,
    /// Health of the sources.
    pub health: Arc<crate::health::Health>,
}

/// The `/api/v1` routes.
pub fn routes(state: ApiState) -> Router {
    let limit = usize::try_from(state.app.config.revenue.max_upload_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/api/v1/revenue", get(revenue))
        .route("/api/v1/reliability", get(reliability))
        .route("/api/v1/dora", get(dora))
        .route("/api/v1/weeks", get(weeks))
        .route("/api/v1/pressure", get(pressure))
        .route("/api/v1/shifts", get(shifts))
        .route("/api/v1/correlations", get(correlations))
        .route("/api/v1/digest", get(digest))
        .route("/", get(super::dashboard::page))
        .route("/api/v1/dora/explain", get(dora_explain))
        .route("/api/v1/imports", get(imports))
        .route("/api/v1/sync/{source}", post(trigger_sync))
        .route("/api/v1/sources", get(sources))
        .route(
            "/api/v1/imports/revenue",
            post(import_revenue).layer(DefaultBodyLimit::max(limit)),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

/// Checks the bearer token when one is configured. The comparison does not stop at the first
/// differing byte, so its timing says nothing about the token.
async fn require_token(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    if let Some(token) = &state.app.config.server.api_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let want = token.expose().as_bytes();
        let same = given.len() == want.len()
            && given
                .as_bytes()
                .iter()
                .zip(want)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this API needs an Authorization: Bearer <server.api_token> header",
            );
        }
    }
    next.run(req).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevenueQuery {
    segment: Option<String>,
    granularity: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DoraQuery {
    from: Option<String>,
    to: Option<String>,
    service: Option<String>,
    repo: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExplainQuery {
    service: Option<String>,
    week: String,
    metric: String,
}

/// A `YYYY-MM-DD` query value: 00:00 of that date in the analysis time zone, ms.
pub(super) fn parse_day(cal: Calendar, name: &str, v: &str) -> Result<i64, String> {
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .map(|d| cal.local_midnight(d))
        .ok_or_else(|| format!("{name}={v:?} is not a date (YYYY-MM-DD)"))
}

/// Runs store reads off the async workers; a store error or a panic is a 500 with its body.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store",
            e.to_string(),
        )),
        Err(e) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            e.to_string(),
        )),
    }
}

async fn dora_model(state: &ApiState) -> Result<Arc<crate::analysis::dora::DoraModel>, Response> {
    let (store, settings, cache) = (
        state.app.store.clone(),
        state.app.settings.clone(),
        state.app.dora.clone(),
    );
    blocking(move || cache.get(&store, &settings)).await
}

/// Weekly DORA figures (with rolling 4- and 13-week figures and bands) of the organisation and
/// each service, or of the services of one repo, between `from` and `to` (default: 13 weeks).
async fn dora(
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
    let mut scopes: Vec<Option<String>> = Vec::new();
    for s in &model.services {
        let wanted = q.service.as_deref().is_none_or(|x| x == s.name)
            && q.repo.as_deref().is_none_or(|r| r == s.repo);
        if wanted {
            scopes.push(Some(s.name.clone()));
        }
    }
    if scopes.is_empty() && (q.service.is_some() || q.repo.is_some()) {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such service or repo",
        );
    }
    if q.service.is_none() && q.repo.is_none() {
        scopes.insert(0, None);
    }
    let weeks: Vec<i64> = (0..=(to - from) / WEEK_MS)
        .map(|i| from + i * WEEK_MS)
        .collect();
    let bands = &state.app.settings.bands;
    let series: Vec<_> = scopes
        .iter()
        .zip(crate::analysis::dora::weekly_each(
            &model, &scopes, &weeks, bands,
        ))
        .map(|(s, weeks)| {
            json!({
                "service": s,
                "repo": s.as_deref().and_then(|s| model.repo_of(s)),
                "weeks": weeks,
            })
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

/// A route that takes no parameters (an unknown one is a 400, not silently ignored).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoQuery {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// The weekly table and index, and the `[from, to]` week range a query asks for.
async fn weekly_in_range(
    state: &ApiState,
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<(Arc<crate::query::views::Weekly>, i64, i64), Response> {
    let Query(q) = query.map_err(|e| bad_request(e.body_text()))?;
    let cal = state.app.calendar();
    let week_start = |ms| cal.week_start(ms);
    let from = match q
        .from
        .as_deref()
        .map(|v| parse_day(cal, "from", v))
        .transpose()
    {
        Ok(v) => v.map_or(i64::MIN, week_start),
        Err(m) => return Err(bad_request(m)),
    };
    let to = match q.to.as_deref().map(|v| parse_day(cal, "to", v)).transpose() {
        Ok(v) => v.map_or(i64::MAX, week_start),
        Err(m) => return Err(bad_request(m)),
    };
    if from > to {
        return Err(bad_request("from is after to"));
    }
    let (store, settings, cache, slos) = (
        state.app.store.clone(),
        state.app.settings.clone(),
        state.app.dora.clone(),
        state.app.slos.clone(),
    );
    let w = blocking(move || cache.weekly(&store, &settings, &slos)).await?;
    Ok((w, from, to))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeQuery {
    from: Option<String>,
    to: Option<String>,
    service: Option<String>,
    repo: Option<String>,
}

/// One row per ISO week, organisation-wide or of one service (`?service=`): every signal with
/// its coverage, the trends, and the change points.
async fn weeks(
    State(state): State<ApiState>,
    query: Result<Query<ScopeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(mut q) = match query {
        Ok(q) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    if let Some(repo) = q.repo.take() {
        // A repository stands for its one service; a monorepo's services are named one by one.
        if q.service.is_some() {
            return bad_request("give service or repo, not both");
        }
        let (store, settings, cache) = (
            state.app.store.clone(),
            state.app.settings.clone(),
            state.app.dora.clone(),
        );
        let model = match blocking(move || cache.get(&store, &settings)).await {
            Ok(m) => m,
            Err(r) => return r,
        };
        let of_repo: Vec<&str> = model
            .services
            .iter()
            .filter(|s| s.repo == repo)
            .map(|s| s.name.as_str())
            .collect();
        match of_repo.as_slice() {
            [one] => q.service = Some((*one).to_owned()),
            [] => return bad_request(format!("no service is deployed from {repo:?}")),
            many => {
                return bad_request(format!(
                    "{repo:?} holds several services ({}); name one with service=",
                    many.join(", ")
                ))
            }
        }
    }
    let range = Ok(Query(RangeQuery {
        from: q.from,
        to: q.to,
    }));
    let (w, from, to) = match weekly_in_range(&state, range).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let scope = match &q.service {
        None => w.org.clone(),
        Some(name) => {
            if !w.services.contains_key(name) {
                let known: Vec<&str> = w.services.keys().map(String::as_str).collect();
                return bad_request(format!("no service {name:?}; known: {}", known.join(", ")));
            }
            let (store, settings, cache, slos, name) = (
                state.app.store.clone(),
                state.app.settings.clone(),
                state.app.dora.clone(),
                state.app.slos.clone(),
                name.clone(),
            );
            let cps = match blocking(move || {
                cache.service_change_points(&store, &settings, &slos, &name)
            })
            .await
            {
                Ok(c) => c,
                Err(r) => return r,
            };
            let mut scope = w.services[q.service.as_deref().unwrap_or_default()].clone();
            scope.change_points = cps;
            scope
        }
    };
    let rows = scope.rows_in(from, to);
    let cps = scope.change_points_in(from, to);
    Json(json!({
        "scope": q.service.as_deref().unwrap_or("organisation"),
        "services": w.services.keys().collect::<Vec<_>>(),
        "weeks": rows,
        "trends": {
            "as_of": "the last complete week",
            "method": "means of the last 4 and 13 weeks present; week-over-week and quarter-over-quarter (13 weeks against the 13 before) relative change; Theil-Sen slope per week over 13 weeks",
            "signals": scope.trends,
        },
        "change_points": cps,
    }))
    .into_response()
}

/// The pressure index per week: both sides, their components, P, the regime.
async fn pressure(
    State(state): State<ApiState>,
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match weekly_in_range(&state, query).await {
        Ok((w, from, to)) => {
            let rows: Vec<_> = w
                .pressure
                .weeks
                .iter()
                .filter(|r| r.week_ms >= from && r.week_ms <= to)
                .collect();
            Json(json!({
                "model": "docs/pressure.md: P = R - G; R (resilience need, 0..1) and G (growth momentum, -1..1) are weighted means of components scored against fixed anchors",
                "weeks": rows,
            }))
            .into_response()
        }
        Err(r) => r,
    }
}

/// Regime changes with their evidence.
async fn shifts(
    State(state): State<ApiState>,
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match weekly_in_range(&state, query).await {
        Ok((w, from, to)) => {
            let rows: Vec<_> = w
                .pressure
                .shifts
                .iter()
                .filter(|s| s.week_ms >= from && s.week_ms <= to)
                .collect();
            let cps = w.org.change_points_in(from, to);
            Json(json!({
                "shifts": rows,
                "change_points": {
                    "method": "BOCPD (Adams & MacKay 2007), hazard 1/26 weeks; Poisson-Gamma for counts, Normal-Gamma on standardised values otherwise; MAP segmentation; levels over 8 weeks each side with a 95 % bootstrap interval of the difference",
                    "points": cps,
                },
            }))
            .into_response()
        }
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DigestQuery {
    week: Option<String>,
    format: Option<String>,
}

/// The weekly digest of a week (default: the last complete one) as JSON, Markdown or HTML.
async fn digest(
    State(state): State<ApiState>,
    query: Result<Query<DigestQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    use crate::digest::{build, render, week_for, DigestError};
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    let cal = state.app.calendar();
    let week = match q
        .week
        .as_deref()
        .map(|v| parse_day(cal, "week", v))
        .transpose()
    {
        Ok(Some(ms)) => cal.week_start(ms),
        Ok(None) => week_for(cal, crate::clock::now_ms()),
        Err(m) => return bad_request(m),
    };
    let format = q.format.unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "markdown" | "html") {
        return bad_request(format!(
            "format={format:?} is not one of json, markdown, html"
        ));
    }
    let app = state.app.clone();
    let built = tokio::task::spawn_blocking(move || build(&app, week)).await;
    let d = match built {
        Ok(Ok(d)) => d,
        Ok(Err(e @ (DigestError::NoWeek(..) | DigestError::Empty))) => {
            return error(StatusCode::NOT_FOUND, "no_data", e.to_string())
        }
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, "digest", e.to_string()),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "panic", e.to_string()),
    };
    match format.as_str() {
        "markdown" => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/markdown; charset=utf-8",
            )],
            render::markdown(&d),
        )
            .into_response(),
        "html" => axum::response::Html(render::html(&d)).into_response(),
        _ => Json(d).into_response(),
    }
}

/// Lagged associations between business and engineering signals (monthly, differenced,
/// Spearman, permutation p-value over the lag search).
async fn correlations(
    State(state): State<ApiState>,
    query: Result<Query<NoQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(e) = query {
        return bad_request(e.body_text());
    }
    let (store, settings, cache, slos) = (
        state.app.store.clone(),
        state.app.settings.clone(),
        state.app.dora.clone(),
        state.app.slos.clone(),
    );
    match blocking(move || cache.weekly(&store, &settings, &slos)).await {
        Ok(w) => Json(json!({
            "method": "both series differenced; Spearman rank correlation at lags 0..6 months (x leads y); p-value by permutation over the whole lag search; effective n by Bartlett's approximation; associations, not causes",
            "min_months": state.app.config.analysis.min_points * 2,
            "correlations": w.correlations,
        }))
        .into_response(),
        Err(r) => r,
    }
}

/// The chain behind one figure.
async fn dora_explain(
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

fn bad_request(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_request", message)
}

async fn revenue(
    State(state): State<ApiState>,
    query: Result<Query<RevenueQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    for (name, v) in [("from", &q.from), ("to", &q.to)] {
        if let Some(v) = v {
            if crate::analysis::revenue::parse_month(v).is_none() {
                return bad_request(format!("{name}={v:?} is not a month (YYYY-MM)"));
            }
        }
    }
    let settings = state.app.settings.revenue;
    let store = state.app.store.clone();
    let result = blocking(move || {
        let snapshots = crate::query::revenue::snapshots(&store)?;
        let totals = crate::query::revenue::totals_view(&store)?;
        Ok((snapshots, totals))
    })
    .await;
    let (snapshots, totals) = match result {
        Ok(v) => v,
        Err(r) => return r,
    };
    let in_range = |m: &str| {
        q.from.as_deref().is_none_or(|f| m >= f) && q.to.as_deref().is_none_or(|t| m <= t)
    };
    let months: Vec<_> = monthly(&snapshots, settings, q.segment.as_deref())
        .into_iter()
        .filter(|m| in_range(&m.month))
        .collect();
    let totals: Vec<_> = totals.into_iter().filter(|t| in_range(&t.month)).collect();
    let weeks = match q.granularity.as_deref() {
        None | Some("month") => None,
        Some("week") => {
            let (Some(first), Some(last)) = (months.first(), months.last()) else {
                return Json(json!({"weeks": []})).into_response();
            };
            let bound = |label: &str, day: u32| {
                crate::analysis::revenue::parse_month(label)
                    .and_then(|m| {
                        chrono::NaiveDate::from_ymd_opt(
                            m.div_euclid(12),
                            m.rem_euclid(12) as u32 + 1,
                            day,
                        )
                    })
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc().timestamp_millis())
                    .unwrap_or(0)
            };
            let start = state.app.calendar().week_start(bound(&first.month, 1));
            let end = bound(&last.month, 28) + 7 * 86_400_000;
            let weeks: Vec<i64> = (0..)
                .map(|i| start + i * crate::analysis::WEEK_MS)
                .take_while(|w| *w <= end)
                .collect();
            Some(crate::analysis::revenue::weekly(&months, &weeks))
        }
        Some(other) => {
            return bad_request(format!("granularity={other:?} is not one of month, week"))
        }
    };
    if let Some(weeks) = weeks {
        return Json(json!({
            "currency": state.app.config.revenue.currency,
            "segment": q.segment,
            "weeks": weeks,
        }))
        .into_response();
    }
    Json(json!({
        "currency": state.app.config.revenue.currency,
        "segment": q.segment,
        "segments": crate::analysis::revenue::segments(&snapshots),
        "months": months,
        "totals": totals,
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WeeksQuery {
    from: Option<String>,
    to: Option<String>,
    slo: Option<String>,
}

/// Parses `from`/`to` (`YYYY-MM-DD`) into the Mondays of their ISO weeks; by default the 26 weeks
/// up to the last complete one.
fn week_range(cal: Calendar, from: Option<&str>, to: Option<&str>) -> Result<Vec<i64>, String> {
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

async fn reliability(
    State(state): State<ApiState>,
    query: Result<Query<WeeksQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    let weeks = match week_range(state.app.calendar(), q.from.as_deref(), q.to.as_deref()) {
        Ok(w) => w,
        Err(message) => return bad_request(message),
    };
    if let Some(name) = &q.slo {
        if state.app.slos.iter().all(|d| &d.name != name) {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no SLO named {name:?}"),
            );
        }
    }
    let (store, slos) = (state.app.store.clone(), state.app.slos.clone());
    let result = tokio::task::spawn_blocking(move || {
        slos.iter()
            .filter(|d| q.slo.as_ref().is_none_or(|n| &d.name == n))
            .map(|d| {
                json!({
                    "slo": d.name,
                    "service": d.service,
                    "target": d.spec.target,
                    "window_days": d.spec.window_ms / 86_400_000,
                    "weeks": crate::query::slo_weeks(&store, d, &weeks),
                })
            })
            .collect::<Vec<_>>()
    })
    .await;
    match result {
        Ok(slos) => Json(json!({ "slos": slos })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

/// Every configured source: whether its last sync worked, when it last succeeded, its last error,
/// and where its cursors stand.
async fn sources(State(state): State<ApiState>) -> Response {
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
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
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
    Json(json!({ "sources": out })).into_response()
}

async fn trigger_sync(
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

async fn imports(State(state): State<ApiState>) -> Response {
    match crate::query::revenue::history(&state.app.store) {
        Ok(h) => Json(json!({ "imports": h })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    source: Option<String>,
    format: Option<String>,
    dry_run: Option<bool>,
    name: Option<String>,
}

async fn import_revenue(
    State(state): State<ApiState>,
    query: Result<Query<ImportQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the CSV body is larger than revenue.max_upload_bytes ({} bytes)",
                    state.app.config.revenue.max_upload_bytes
                ),
            )
        }
        Err(e) => return bad_request(e.body_text()),
    };
    let layout = match q.format.as_deref() {
        None | Some("auto") => None,
        Some("snapshots") => Some(Layout::Snapshots),
        Some("movements") => Some(Layout::Movements),
        Some("totals") => Some(Layout::Totals),
        Some(other) => {
            return bad_request(format!(
                "format={other:?} is not one of auto, snapshots, movements, totals"
            ))
        }
    };
    let options = ImportOptions {
        source: q.source.unwrap_or_else(|| "default".into()),
        layout,
        dry_run: q.dry_run.unwrap_or(false),
    };
    let name = q.name.unwrap_or_else(|| "upload".into());
    let (store, config) = (state.app.store.clone(), state.app.config.clone());
    let result = tokio::task::spawn_blocking(move || {
        revenue_import::import(&store, &config.revenue, &name, &body, &options, |_| {})
    })
    .await;
    match result {
        Ok(Ok(summary)) => Json(json!({ "import": summary })).into_response(),
        Ok(Err(ImportError::Invalid(errors))) => {
            let body = json!({"error": {
                "code": "invalid_csv",
                "message": errors.to_string(),
                "problems": errors.errors,
            }});
            (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}
