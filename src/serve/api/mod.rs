//! The `/api/v1` handlers, one file per resource; the route table is in `serve/mod.rs`.

pub(crate) mod bugs;
pub(crate) mod business;
pub(crate) mod delivery;
pub(crate) mod products;
pub(crate) mod reliability;
pub(crate) mod revenue;
pub(crate) mod sources;
pub(crate) mod teams;
pub(crate) mod weekly;

use std::sync::Arc;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::http::error;
use super::{parse_day, ApiState};
use crate::store::StoreError;

/// Why an API call failed. A client gets a code and a message; the cause of a server-side
/// failure (a store error, a task that panicked) is logged here, once, with its chain, and never
/// sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// The store failed.
    #[error("the store could not be read; the cause is in the server log")]
    Store(#[from] StoreError),
    /// Something else failed inside the server.
    #[error("the request failed inside the server ({code}); the cause is in the server log")]
    Internal {
        /// The code the client gets.
        code: &'static str,
        /// The cause chain, for the log.
        cause: String,
    },
}

impl ApiError {
    /// A server-side failure with its cause chain.
    pub fn internal(code: &'static str, cause: &(dyn std::error::Error + 'static)) -> Self {
        ApiError::Internal {
            code,
            cause: chain(cause),
        }
    }
}

/// An error and its sources, `outer: inner: …`.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Store(e) => {
                tracing::error!(error = %chain(e), "API request failed in the store");
                (StatusCode::INTERNAL_SERVER_ERROR, "store")
            }
            ApiError::Internal { code, cause } => {
                tracing::error!(error = %cause, code, "API request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, *code)
            }
        };
        error(status, code, self.to_string())
    }
}

/// A route that takes no parameters (an unknown one is a 400, not silently ignored).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoQuery {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RangeQuery {
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
    /// One product's view instead of the organisation's.
    pub(super) product: Option<String>,
}

/// Runs store reads off the async workers; a store error or a panic is a 500 whose cause is
/// logged, not sent.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::Store(e).into_response()),
        Err(e) => Err(ApiError::internal("internal", &e).into_response()),
    }
}

/// Who owns which service, as of the store (configured, then derived from `CODEOWNERS`).
pub(super) async fn teams(state: &ApiState) -> Result<Arc<crate::model::Teams>, Response> {
    let app = state.app.clone();
    blocking(move || app.teams()).await
}

pub(super) async fn dora_model(
    state: &ApiState,
) -> Result<Arc<crate::analysis::dora::DoraModel>, Response> {
    let (store, settings, cache) = (
        state.app.store.clone(),
        state.app.settings.clone(),
        state.app.dora.clone(),
    );
    blocking(move || cache.get(&store, &settings)).await
}

/// The weekly table and index (the organisation's, or `?product=`'s), the `[from, to]` week
/// range a query asks for, and the product.
pub(super) async fn weekly_in_range(
    state: &ApiState,
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<
    (
        Arc<crate::query::views::Weekly>,
        i64,
        i64,
        Option<crate::model::Product>,
    ),
    Response,
> {
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
    let Some(name) = q.product else {
        let w = blocking(move || cache.weekly(&store, &settings, &slos)).await?;
        return Ok((w, from, to, None));
    };
    let Some(product) = state.app.products.get(&name).cloned() else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no product {name:?}; known: {}", state.app.products.names()),
        ));
    };
    let p = product.clone();
    let w = blocking(move || cache.product_weekly(&store, &settings, &slos, &p)).await?;
    Ok((w, from, to, Some(product)))
}

/// What a product view says about itself: its name and the sides it lacks.
pub(super) fn product_note(product: &Option<crate::model::Product>) -> serde_json::Value {
    match product {
        None => serde_json::json!({"scope": "organisation"}),
        Some(p) => serde_json::json!({
            "scope": "product",
            "product": p.name,
            "services": p.services,
            "segments": p.segments,
            "plans": p.plans,
            "missing": p.missing_sides(),
        }),
    }
}

pub(super) fn bad_request(message: impl Into<String>) -> Response {
    ApiError::BadRequest(message.into()).into_response()
}
