//! `/api/v1/revenue` and the revenue imports (history and upload).

use axum::extract::{FromRequest, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::model::Month;

use super::{bad_request, blocking, ApiError};
use crate::serve::guard;
use crate::serve::http::error;
use crate::serve::ApiState;

use axum::body::Bytes;

use crate::analysis::revenue::monthly;
use crate::sources::revenue_csv::Layout;
use crate::sources::revenue_import::{self, ImportError, ImportOptions};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevenueQuery {
    segment: Option<String>,
    granularity: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub(crate) async fn revenue(
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
    // Validated above.
    let from = q.from.as_deref().and_then(|v| v.parse::<Month>().ok());
    let to = q.to.as_deref().and_then(|v| v.parse::<Month>().ok());
    let in_range = |m: &Month| from.is_none_or(|f| *m >= f) && to.is_none_or(|t| *m <= t);
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
            let bound = |m: &Month, day: u32| {
                chrono::NaiveDate::from_ymd_opt(m.year(), m.number(), day)
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

pub(crate) async fn imports(State(state): State<ApiState>) -> Response {
    match crate::query::revenue::history(&state.app.store) {
        Ok(h) => Json(json!({ "imports": h })).into_response(),
        Err(e) => ApiError::Store(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    source: Option<String>,
    format: Option<String>,
    dry_run: Option<bool>,
    name: Option<String>,
    amount_scale: Option<f64>,
}

/// The first file part of a `multipart/form-data` upload (a browser form's `<input type=file>`).
async fn first_file(req: Request) -> Result<Bytes, MultipartError> {
    let mut form = axum::extract::Multipart::from_request(req, &())
        .await
        .map_err(MultipartError::Rejected)?;
    while let Some(field) = form.next_field().await.map_err(MultipartError::Read)? {
        if field.file_name().is_some() || field.name() == Some("file") {
            return field.bytes().await.map_err(MultipartError::Read);
        }
    }
    Err(MultipartError::NoFile)
}

/// Why a multipart upload could not be read.
enum MultipartError {
    Rejected(axum::extract::multipart::MultipartRejection),
    Read(axum::extract::multipart::MultipartError),
    NoFile,
}

impl MultipartError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Rejected(e) => e.status(),
            Self::Read(e) => e.status(),
            Self::NoFile => StatusCode::BAD_REQUEST,
        }
    }

    fn body_text(&self) -> String {
        match self {
            Self::Rejected(e) => e.body_text(),
            Self::Read(e) => e.body_text(),
            Self::NoFile => "the multipart upload has no file part".to_owned(),
        }
    }
}

/// The CSV of an import request: the body (`text/csv`) or a form's first file (multipart),
/// bounded by `revenue.max_upload_bytes`; the error response otherwise.
async fn read_upload(state: &ApiState, req: Request) -> Result<Bytes, Response> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the CSV body is larger than revenue.max_upload_bytes ({} bytes)",
                state.app.config.revenue.max_upload_bytes
            ),
        )
    };
    let kind = guard::import_media_type(req.headers()).map_err(|m| {
        error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            m,
        )
    })?;
    let body = match kind {
        guard::ImportBody::Csv => Bytes::from_request(req, &())
            .await
            .map_err(|e| (e.status(), e.body_text())),
        guard::ImportBody::Multipart => first_file(req)
            .await
            .map_err(|e| (e.status(), e.body_text())),
    };
    body.map_err(|(status, text)| {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            bad_request(text)
        }
    })
}

/// An import request's query and CSV, or the error response.
pub(super) async fn query_and_upload<Q>(
    state: &ApiState,
    query: Result<Query<Q>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> Result<(Q, Bytes), Response> {
    let Query(q) = query.map_err(|e| bad_request(e.body_text()))?;
    Ok((q, read_upload(state, req).await?))
}

/// The answer to an import: the summary, or 422 with every problem of the file.
pub(super) fn import_response<S: serde::Serialize>(
    result: Result<Result<S, ImportError>, tokio::task::JoinError>,
) -> Response {
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
        Ok(Err(e)) => ApiError::internal("store", &e).into_response(),
        Err(e) => ApiError::internal("internal", &e).into_response(),
    }
}

pub(crate) async fn import_revenue(
    State(state): State<ApiState>,
    query: Result<Query<ImportQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> Response {
    let (q, body) = match query_and_upload(&state, query, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let layout = match q.format.as_deref() {
        None | Some("auto") => None,
        Some("snapshots") => Some(Layout::Snapshots),
        Some("movements") => Some(Layout::Movements),
        Some("totals") => Some(Layout::Totals),
        Some("attributes") => Some(Layout::Attributes),
        Some(other) => {
            return bad_request(format!(
                "format={other:?} is not one of auto, snapshots, movements, totals, attributes"
            ))
        }
    };
    if let Some(scale) = q.amount_scale {
        if !(scale > 0.0 && scale.is_finite()) {
            return bad_request(format!("amount_scale={scale} is not a positive number"));
        }
    }
    let options = ImportOptions {
        source: q.source.unwrap_or_else(|| "default".into()),
        layout,
        dry_run: q.dry_run.unwrap_or(false),
        amount_scale: q.amount_scale,
    };
    let name = q.name.unwrap_or_else(|| "upload".into());
    let (store, config) = (state.app.store.clone(), state.app.config.clone());
    let result = tokio::task::spawn_blocking(move || {
        revenue_import::import(&store, &config.revenue, &name, &body, &options, |_| {})
    })
    .await;
    import_response(result)
}
