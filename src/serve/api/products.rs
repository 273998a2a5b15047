//! `/api/v1/products`: each product's regime beside the organisation's, with what it lacks.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{bad_request, blocking, NoQuery};
use crate::analysis::pressure::PressureReport;
use crate::model::PressureStatus;
use crate::serve::ApiState;

/// The latest scored week of a report and its last shift, as JSON.
fn latest(report: &PressureReport) -> serde_json::Value {
    let week = report
        .weeks
        .iter()
        .rev()
        .find(|w| w.status == PressureStatus::Scored);
    json!({
        "week_ms": week.map(|w| w.week_ms),
        "regime": week.and_then(|w| w.regime),
        "p": week.and_then(|w| w.p),
        "watch": week.and_then(|w| w.watch.as_ref()),
        "optional_used": week.map(|w| &w.optional_used),
        "optional_missing": week.map(|w| &w.optional_missing),
        "profitability": week.and_then(|w| w.profitability.as_ref()),
        "last_shift": report.shifts.last(),
    })
}

/// Every product's current regime and pressure index, and the organisation's.
pub(crate) async fn products(
    State(state): State<ApiState>,
    query: Result<Query<NoQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(e) = query {
        return bad_request(e.body_text());
    }
    let (store, settings, cache, slos, products) = (
        state.app.store.clone(),
        state.app.settings.clone(),
        state.app.dora.clone(),
        state.app.slos.clone(),
        state.app.products.clone(),
    );
    let read = move || {
        let org = cache.weekly(&store, &settings, &slos)?;
        let mut out = Vec::new();
        for p in products.iter() {
            let w = cache.product_weekly(&store, &settings, &slos, p)?;
            out.push(json!({
                "product": p.name,
                "services": p.services,
                "segments": p.segments,
                "plans": p.plans,
                "missing": p.missing_sides(),
                "pressure": latest(&w.pressure),
            }));
        }
        Ok((latest(&org.pressure), out))
    };
    match blocking(read).await {
        Ok((org, products)) => Json(json!({
            "definition": "a product's view reads the revenue of its segments and plans (a customer's latest), the delivery of its services pooled and the SLOs of its services; its pressure index is computed on those alone",
            "organisation": org,
            "products": products,
        }))
        .into_response(),
        Err(r) => r,
    }
}
