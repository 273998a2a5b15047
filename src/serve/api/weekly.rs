//! `/api/v1/weeks`, `/pressure`, `/shifts`, `/correlations` and `/digest`: the weekly view.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{bad_request, blocking, weekly_in_range, ApiError, NoQuery, RangeQuery};
use crate::serve::http::error;
use crate::serve::{parse_day, ApiState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScopeQuery {
    from: Option<String>,
    to: Option<String>,
    service: Option<String>,
    repo: Option<String>,
    product: Option<String>,
}

/// One row per ISO week, organisation-wide or of one service (`?service=`): every signal with
/// its coverage, the trends, and the change points.
pub(crate) async fn weeks(
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
    if q.product.is_some() && q.service.is_some() {
        return bad_request("give product= or service=, not both");
    }
    let range = Ok(Query(RangeQuery {
        from: q.from,
        to: q.to,
        product: q.product,
    }));
    let (w, from, to, product) = match weekly_in_range(&state, range).await {
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
        "scope": q.service.as_deref().or(product.as_ref().map(|p| p.name.as_str())).unwrap_or("organisation"),
        "view": super::product_note(&product),
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
pub(crate) async fn pressure(
    State(state): State<ApiState>,
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match weekly_in_range(&state, query).await {
        Ok((w, from, to, product)) => {
            let rows: Vec<_> = w
                .pressure
                .weeks
                .iter()
                .filter(|r| r.week_ms >= from && r.week_ms <= to)
                .collect();
            Json(json!({
                "model": "docs/pressure.md: P = R - G; R (resilience need, 0..1) and G (growth momentum, -1..1) are weighted means of components scored against fixed anchors; the regime moves on each side's evidence (components scored against their own history, median/MAD) past a calibrated threshold, or at once on an exhausted error budget; evidence under the threshold is a watch. Optional components join only where their data exists (optional_used, optional_missing); profitability is a tag on the regime, not part of P, set when at least 2 of its conditions hold (cost outgrowing revenue, margin falling, Rule of 40 under 40)",
                "view": super::product_note(&product),
                "weeks": rows,
            }))
            .into_response()
        }
        Err(r) => r,
    }
}

/// Regime changes with their evidence.
pub(crate) async fn shifts(
    State(state): State<ApiState>,
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match weekly_in_range(&state, query).await {
        Ok((w, from, to, product)) => {
            let rows: Vec<_> = w
                .pressure
                .shifts
                .iter()
                .filter(|s| s.week_ms >= from && s.week_ms <= to)
                .collect();
            let cps = w.org.change_points_in(from, to);
            Json(json!({
                "view": super::product_note(&product),
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

/// Lagged associations between business and engineering signals (monthly, differenced,
/// Spearman, permutation p-value over the lag search).
pub(crate) async fn correlations(
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DigestQuery {
    week: Option<String>,
    format: Option<String>,
}

/// The weekly digest of a week (default: the last complete one) as JSON, Markdown or HTML.
pub(crate) async fn digest(
    State(state): State<ApiState>,
    query: Result<Query<DigestQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    use crate::serve::{DigestFormat, DigestPage, DigestUnavailable};
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    let Some(service) = state.digest.clone() else {
        return error(
            StatusCode::NOT_FOUND,
            "not_configured",
            "this daemon does not serve the weekly digest".to_owned(),
        );
    };
    let cal = state.app.calendar();
    let week = match q
        .week
        .as_deref()
        .map(|v| parse_day(cal, "week", v))
        .transpose()
    {
        Ok(Some(ms)) => cal.week_start(ms),
        Ok(None) => service.default_week(cal, crate::clock::now_ms()),
        Err(m) => return bad_request(m),
    };
    let format = match q.format.as_deref().unwrap_or("json") {
        "json" => DigestFormat::Json,
        "markdown" => DigestFormat::Markdown,
        "html" => DigestFormat::Html,
        other => {
            return bad_request(format!(
                "format={other:?} is not one of json, markdown, html"
            ))
        }
    };
    let app = state.app.clone();
    let built = tokio::task::spawn_blocking(move || service.page(&app, week, format)).await;
    match built {
        Ok(Ok(DigestPage::Markdown(md))) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/markdown; charset=utf-8",
            )],
            md,
        )
            .into_response(),
        Ok(Ok(DigestPage::Html(page))) => axum::response::Html(page).into_response(),
        Ok(Ok(DigestPage::Json(body))) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Ok(Err(DigestUnavailable::NoData(m))) => error(StatusCode::NOT_FOUND, "no_data", m),
        Ok(Err(DigestUnavailable::Failed(e))) => {
            ApiError::internal("digest", e.as_ref()).into_response()
        }
        Err(e) => ApiError::internal("panic", &e).into_response(),
    }
}
