//! `/api/v1/support`, `/api/v1/cost` and the ticket and metrics imports.

use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::blocking;
use super::revenue::{import_response, query_and_upload};
use crate::serve::ApiState;
use crate::sources::set_import::{self, SetOptions};

/// The weekly support figures and the top customer pains (`null` without tickets).
pub(crate) async fn support(State(state): State<ApiState>) -> Response {
    let (store, settings) = (state.app.store.clone(), state.app.settings.clone());
    let now = crate::clock::now_ms();
    match blocking(move || crate::query::business::support_report(&store, &settings, now)).await {
        Ok(r) => {
            Json(json!({ "currency": state.app.settings.currency, "support": r })).into_response()
        }
        Err(r) => r,
    }
}

/// Monthly cost, margin and the Rule of 40, and every stored metric (`null` without metrics).
pub(crate) async fn cost(State(state): State<ApiState>) -> Response {
    let (store, settings) = (state.app.store.clone(), state.app.settings.clone());
    match blocking(move || crate::query::business::cost_report(&store, &settings)).await {
        Ok(r) => {
            Json(json!({ "currency": state.app.settings.currency, "cost": r })).into_response()
        }
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetQuery {
    source: Option<String>,
    dry_run: Option<bool>,
    name: Option<String>,
}

#[derive(Clone, Copy)]
enum Kind {
    Tickets,
    Metrics,
}

async fn import(
    state: ApiState,
    query: Result<Query<SetQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
    kind: Kind,
) -> Response {
    let (q, body) = match query_and_upload(&state, query, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let options = SetOptions {
        source: q.source.unwrap_or_else(|| "default".into()),
        dry_run: q.dry_run.unwrap_or(false),
    };
    let name = q.name.unwrap_or_else(|| "upload".into());
    let (store, config) = (state.app.store.clone(), state.app.config.clone());
    let result = tokio::task::spawn_blocking(move || match kind {
        Kind::Tickets => {
            set_import::import_tickets(&store, &config.revenue, &name, &body, &options, |_| {})
        }
        Kind::Metrics => {
            set_import::import_metrics(&store, &config.revenue, &name, &body, &options)
        }
    })
    .await;
    import_response(result)
}

/// `POST /api/v1/imports/tickets`: a tickets CSV (`?source=&dry_run=&name=`).
pub(crate) async fn import_tickets(
    State(state): State<ApiState>,
    query: Result<Query<SetQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> Response {
    import(state, query, req, Kind::Tickets).await
}

/// `POST /api/v1/imports/metrics`: a metrics CSV (`?source=&dry_run=&name=`).
pub(crate) async fn import_metrics(
    State(state): State<ApiState>,
    query: Result<Query<SetQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> Response {
    import(state, query, req, Kind::Metrics).await
}
