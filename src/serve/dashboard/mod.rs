//! The dashboard: delivery health next to revenue and the pressure index on one weekly axis,
//! for product managers. Rendered on the server — charts are SVG drawn with `plotters` — so the
//! page needs no JavaScript, no assets and no network beyond itself, and shows the same figures
//! as the API it links to.

use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use plotters::prelude::*;
use serde::Deserialize;

mod business;
mod chart;
mod kept;
mod teams;

pub use kept::{keep_default_page, keeper, kept_or_older, kept_page};

use chart::{chart, line, regime_colour, Line};

pub use teams::Teams;
use teams::{bugs_table, product_note, products_nav, teams_table};

use crate::analysis::pressure::{PressureStatus, PressureWeek};
use crate::analysis::weekly::{WeekRow, Weekly};
use crate::analysis::WEEK_MS;
use crate::app::App;
use crate::model::Calendar;
use crate::serve::api::ApiError;
use crate::serve::http::error;
use crate::serve::ApiState;
use crate::store::StoreError;

/// Weeks shown when the query names none.
const DEFAULT_WEEKS: i64 = 52;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DashboardQuery {
    from: Option<String>,
    to: Option<String>,
    service: Option<String>,
    team: Option<String>,
    product: Option<String>,
}

/// `GET /`: the dashboard page (`?from=&to=` pick the weeks, default the last 52; `?service=`
/// shows one service's delivery and reliability beside the organisation's pressure; `?team=`
/// lists only that team's services).
pub(super) async fn page(
    State(state): State<ApiState>,
    query: Result<Query<DashboardQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", e.body_text()),
    };
    let cal = state.app.settings.calendar;
    let parse = |name: &str, v: &Option<String>| -> Result<Option<i64>, String> {
        v.as_deref()
            .map(|v| crate::serve::parse_day(cal, name, v).map(|d| cal.week_start(d)))
            .transpose()
    };
    let (from, to) = match (parse("from", &q.from), parse("to", &q.to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(m), _) | (_, Err(m)) => return error(StatusCode::BAD_REQUEST, "bad_request", m),
    };
    // The default page (no selection) is kept in the store: a restarted daemon answers it from
    // there while current, and labelled as older while its first analysis runs (`kept`).
    let default_page = q.from.is_none()
        && q.to.is_none()
        && q.service.is_none()
        && q.team.is_none()
        && q.product.is_none();
    if default_page {
        let app = state.app.clone();
        let answer = tokio::task::spawn_blocking(move || match kept::kept_or_older(&app) {
            Ok(Some(html)) => Ok(html),
            Ok(None) => kept::current(&app).map(|(html, _)| html),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the kept dashboard page");
                kept::current(&app).map(|(html, _)| html)
            }
        })
        .await;
        return match answer {
            Ok(Ok(html)) => Html(html).into_response(),
            Ok(Err(e)) => ApiError::Store(e).into_response(),
            Err(e) => ApiError::internal("panic", &e).into_response(),
        };
    }
    let teams = {
        let app = state.app.clone();
        match tokio::task::spawn_blocking(move || app.teams()).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return ApiError::Store(e).into_response(),
            Err(e) => return ApiError::internal("panic", &e).into_response(),
        }
    };
    let team = match q.team.as_deref() {
        Some(name) => match teams.get(name) {
            Some(t) => Some(t.clone()),
            None => {
                let known: Vec<&str> = teams.iter().map(|t| t.name.as_str()).collect();
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("no team {name:?}; known: {}", known.join(", ")),
                );
            }
        },
        None => None,
    };
    let products = &state.app.products;
    let product = match q.product.as_deref() {
        Some(name) => match products.get(name) {
            Some(p) => Some(p.clone()),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("no product {name:?}; known: {}", products.names()),
                )
            }
        },
        None => None,
    };
    if product.is_some() && (q.service.is_some() || team.is_some()) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "give product=, or service= or team=, not both",
        );
    }
    let selection = Selection {
        from,
        to,
        service: q.service,
        team,
        product,
    };
    let app = state.app.clone();
    match tokio::task::spawn_blocking(move || compute(&app, &teams, &selection)).await {
        Ok(Ok(Ok(html))) => Html(html).into_response(),
        Ok(Ok(Err(unknown))) => error(StatusCode::BAD_REQUEST, "bad_request", unknown),
        Ok(Err(e)) => ApiError::Store(e).into_response(),
        Err(e) => ApiError::internal("panic", &e).into_response(),
    }
}

/// What a page shows: its weeks, and at most one of a service, a team or a product (checked).
#[derive(Debug, Clone, Default)]
struct Selection {
    from: Option<i64>,
    to: Option<i64>,
    service: Option<String>,
    team: Option<crate::model::Team>,
    product: Option<crate::model::Product>,
}

/// Computes a page from the store (blocking); `Ok(Err(message))` names an unknown service.
fn compute(
    app: &App,
    teams: &crate::model::Teams,
    sel: &Selection,
) -> Result<Result<String, String>, StoreError> {
    let (store, settings, cache, slos) = (&app.store, &app.settings, &app.dora, &app.slos);
    let cal = settings.calendar;
    let started = std::time::Instant::now();
    // One model for the whole page: the one the bugs were attributed against.
    let (model, facts) = cache.bug_facts(store, settings)?;
    let week = cal.week_start(crate::clock::now_ms()) - WEEK_MS;
    // The weekly view on a thread of its own while this one reads the page's other parts: after
    // a restart the view is the long part, and the parts need only the model (issue 21).
    let (w, parts) = std::thread::scope(|s| {
        let weekly = s.spawn(|| match &sel.product {
            None => cache.weekly(store, settings, slos),
            Some(p) => cache.product_weekly(store, settings, slos, p),
        });
        let parts = (|| -> Result<_, StoreError> {
            let t0 = std::time::Instant::now();
            let view = (!teams.is_empty()).then(|| {
                crate::query::teams::teams_view(&model, teams, slos, week, &settings.bands)
            });
            let teamed = t0.elapsed();
            let bugs = if facts.is_empty() {
                Vec::new()
            } else {
                let scopes = crate::query::teams::all_scopes(&model, teams);
                crate::query::bugs::bug_series(&facts, &scopes, &[week], settings)
            };
            let bugged = t0.elapsed();
            let now = crate::clock::now_ms();
            let support = crate::query::business::support_report(store, settings, now)?;
            let cost = crate::query::business::cost_report(store, settings)?;
            let timings = (teamed, bugged - teamed, t0.elapsed() - bugged);
            Ok((view, bugs, support, cost, timings))
        })();
        let w = weekly
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (w, parts)
    });
    let (w, (view, bugs, support, cost, timings)) = (w?, parts?);
    let viewed = started.elapsed();
    if let Some(name) = sel.service.as_deref() {
        if !w.services.contains_key(name) {
            let known: Vec<&str> = w.services.keys().map(String::as_str).collect();
            return Ok(Err(format!(
                "no service {name:?}; known: {}",
                known.join(", ")
            )));
        }
    }
    // The service page's latency: the weeks the page shows (the last 52 complete ones unless
    // `from`/`to` say otherwise).
    let latency = match sel.service.as_deref() {
        Some(name) => {
            let objective = app
                .system
                .components()
                .iter()
                .find(|c| c.service == name)
                .and_then(|c| c.latency_objective)
                .or(app.config.system.rules.latency_objective);
            let query = app.config.system.rules.latency_query.clone();
            let to = sel
                .to
                .unwrap_or(cal.week_start(crate::clock::now_ms()) - WEEK_MS);
            let from = sel.from.unwrap_or(to - (DEFAULT_WEEKS - 1) * WEEK_MS);
            let weeks: Vec<i64> = (0..=((to - from) / WEEK_MS).clamp(0, 520))
                .map(|i| from + i * WEEK_MS)
                .collect();
            let l = crate::query::system::service_latency(store, &query, name, &weeks)?;
            Some(ServiceLatency {
                query,
                objective,
                points: weeks.iter().copied().zip(l.weeks).collect(),
                unit: l.unit,
            })
        }
        None => None,
    };
    let latencied = started.elapsed();
    let parts = Teams {
        view: view.as_ref(),
        selected: sel.team.as_ref(),
        bugs: &bugs,
        products: &app.products,
        product: sel.product.as_ref(),
        support: support.as_ref(),
        cost: cost.as_ref(),
    };
    let service = sel.service.as_deref().map(|name| ServicePage {
        name,
        latency: latency.as_ref(),
    });
    let html = render(cal, &w, service, parts, sel.from, sel.to);
    // Where a page's time goes (issue 21: the first page after a start).
    let (teams_ms, bugs_ms, business_ms) = timings;
    tracing::debug!(
        model_and_view_ms = viewed.as_millis() as u64,
        teams_ms = teams_ms.as_millis() as u64,
        bugs_ms = bugs_ms.as_millis() as u64,
        business_ms = business_ms.as_millis() as u64,
        latency_ms = latencied.saturating_sub(viewed).as_millis() as u64,
        render_ms = started.elapsed().saturating_sub(latencied).as_millis() as u64,
        "dashboard page computed (teams, bugs and business beside the weekly view)"
    );
    Ok(Ok(html))
}

/// HTML-escapes text from data.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{:.1} %", 100.0 * v))
}

/// A service's latency for its page: the weekly means of its latency query's p95 samples.
#[derive(Debug, Clone)]
pub struct ServiceLatency {
    /// The `[[prometheus.query]]` read.
    pub query: String,
    /// The series' unit, when the store holds it.
    pub unit: Option<String>,
    /// The objective of the component mapped to the service, if any.
    pub objective: Option<f64>,
    /// (week, mean p95) for each week shown.
    pub points: Vec<(i64, Option<f64>)>,
}

/// `?service=`: which service, and what only its page shows.
#[derive(Debug, Clone, Copy)]
pub struct ServicePage<'a> {
    /// The service.
    pub name: &'a str,
    /// Its latency, read for the page.
    pub latency: Option<&'a ServiceLatency>,
}

/// The whole page.
pub fn render(
    cal: Calendar,
    w: &Weekly,
    page: Option<ServicePage<'_>>,
    teams: Teams<'_>,
    from: Option<i64>,
    to: Option<i64>,
) -> String {
    let service = page.map(|p| p.name);
    let local_date = |ms: i64| cal.local_date(ms);
    // Regime shifts are marked on every chart, not only on the pressure chart.
    let shift_weeks: Vec<i64> = w.pressure.shifts.iter().map(|s| s.week_ms).collect();
    let chart = |title: &str, lines: &[Line], bands: &[(i64, RGBColor)], y: fn(f64) -> String| {
        chart(cal, title, lines, bands, &shift_weeks, y)
    };
    let rows: &[WeekRow] = match service.and_then(|s| w.services.get(s)) {
        Some(scope) => &scope.rows,
        None => &w.org.rows,
    };
    let last = rows.last().map_or(0, |r| r.signals.week_ms);
    let to = to.unwrap_or(last);
    let from = from.unwrap_or(to - (DEFAULT_WEEKS - 1) * WEEK_MS);
    // Complete weeks only: the current week's count so far would look like a collapse.
    let shown: Vec<&WeekRow> = rows
        .iter()
        .filter(|r| !r.signals.partial && (from..=to).contains(&r.signals.week_ms))
        .collect();
    let pressure: Vec<&PressureWeek> = w
        .pressure
        .weeks
        .iter()
        .filter(|p| p.status != PressureStatus::PartialWeek && (from..=to).contains(&p.week_ms))
        .collect();
    let current: Option<&PressureWeek> = w
        .pressure
        .weeks
        .iter()
        .rev()
        .find(|p| p.status == PressureStatus::Scored && p.week_ms <= to);

    let mut h = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Barometer</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>{CSS}</style>\n</head>\n<body>\n<header><h1>Barometer{}</h1><p>Business and engineering signals on one weekly axis, {} to {}.{}</p></header>\n",
        match (service, teams.selected, teams.product) {
            (Some(s), _, _) => format!(": {}", esc(s)),
            (None, Some(t), _) => format!(": team {}", esc(&t.name)),
            (None, None, Some(p)) => format!(": product {}", esc(&p.name)),
            (None, None, None) => String::new(),
        },
        local_date(from),
        local_date(to),
        if let Some(p) = teams.product {
            product_note(p)
        } else if service.is_some() {
            " Delivery and reliability of this service; the pressure index is the organisation's (<a href=\"/\">organisation</a>).".to_owned()
        } else if teams.selected.is_some() {
            " The services table lists this team's services; the charts and the pressure index are the organisation's (<a href=\"/\">organisation</a>).".to_owned()
        } else {
            String::new()
        }
    );
    products_nav(&mut h, teams.products, teams.product);

    // The headline.
    let _ = write!(h, "<section class=\"headline\">");
    match current {
        Some(p) => {
            let regime = p.regime.map_or("–", |r| r.as_str());
            let _ = write!(
                h,
                "<div class=\"regime {regime}\" id=\"regime\">Regime: <strong>{regime}</strong></div><div class=\"kpi\"><span>Pressure P</span><strong>{}</strong></div><div class=\"kpi\"><span>Resilience need R</span><strong>{}</strong></div><div class=\"kpi\"><span>Growth momentum G</span><strong>{}</strong></div><p class=\"note\">Week of {}. P = R − G: above +0.25 resilience work presses harder than growth, below −0.25 growth dominates (<a href=\"/api/v1/pressure\">data</a>).</p>",
                p.p.map_or("–".into(), |v| format!("{v:+.2}")),
                p.resilience.map_or("–".into(), |v| format!("{v:.2}")),
                p.growth.map_or("–".into(), |v| format!("{v:+.2}")),
                local_date(p.week_ms)
            );
            if let Some(wt) = &p.watch {
                let _ = write!(h, "<p class=\"note\" id=\"watch\">{}</p>", esc(&wt.summary));
            }
            business::pressure_extras(&mut h, p);
        }
        None => {
            let status = w
                .pressure
                .weeks
                .last()
                .map_or("no data yet".to_owned(), |p| p.status.to_string());
            let _ = write!(
                h,
                "<div class=\"regime\" id=\"regime\">Pressure index: {}</div>",
                esc(&status)
            );
        }
    }
    h.push_str("</section>\n");

    // Charts.
    let bands: Vec<(i64, RGBColor)> = pressure
        .iter()
        .filter_map(|p| Some((p.week_ms, regime_colour(p.regime?))))
        .collect();
    let p_line = Line {
        name: "P (smoothed)",
        colour: RGBColor(33, 33, 33),
        points: pressure.iter().map(|p| (p.week_ms, p.p)).collect(),
    };
    let r_line = Line {
        name: "R",
        colour: RGBColor(200, 60, 50),
        points: pressure.iter().map(|p| (p.week_ms, p.resilience)).collect(),
    };
    let g_line = Line {
        name: "G",
        colour: RGBColor(40, 140, 70),
        points: pressure.iter().map(|p| (p.week_ms, p.growth)).collect(),
    };
    let _ = write!(h, "<section class=\"charts\">");
    h.push_str(&chart(
        "Pressure index (background: regime)",
        &[p_line, r_line, g_line],
        &bands,
        |v| format!("{v:+.1}"),
    ));
    if service.is_none() {
        h.push_str(&chart(
            "Revenue: MRR",
            &[line("MRR", RGBColor(40, 100, 180), &shown, |r| {
                r.signals.mrr
            })],
            &[],
            |v| format!("{:.0}k", v / 1000.0),
        ));
        h.push_str(&chart(
            "Retention: NRR and GRR",
            &[
                line("NRR", RGBColor(40, 100, 180), &shown, |r| r.signals.nrr),
                line("GRR", RGBColor(120, 80, 160), &shown, |r| r.signals.grr),
            ],
            &[],
            |v| format!("{:.0} %", 100.0 * v),
        ));
    } else {
        h.push_str(&chart(
            "Lead time for changes (median, hours)",
            &[line("lead time", RGBColor(40, 100, 180), &shown, |r| {
                r.signals.lead_time_s.map(|s| s / 3600.0)
            })],
            &[],
            |v| format!("{v:.0} h"),
        ));
        h.push_str(&chart(
            "Failed-deployment recovery (median over 4 weeks, hours)",
            &[line("recovery", RGBColor(120, 80, 160), &shown, |r| {
                r.signals.recovery_4w_s.map(|s| s / 3600.0)
            })],
            &[],
            |v| format!("{v:.0} h"),
        ));
        h.push_str(&latency_chart(&chart, page.and_then(|p| p.latency)));
    }
    h.push_str(&chart(
        "Delivery: deployments per week",
        &[line("deployments", RGBColor(40, 140, 70), &shown, |r| {
            r.signals.deployments
        })],
        &[],
        |v| format!("{v:.0}"),
    ));
    h.push_str(&chart(
        "Change failure rate (4 weeks)",
        &[line("CFR", RGBColor(200, 60, 50), &shown, |r| {
            r.signals.cfr_4w
        })],
        &[],
        |v| format!("{:.0} %", 100.0 * v),
    ));
    h.push_str(&chart(
        "Reliability: worst SLO's burn rate (1 = on budget)",
        &[line("burn rate", RGBColor(230, 120, 20), &shown, |r| {
            r.signals.burn_rate
        })],
        &[],
        |v| format!("{v:.1}"),
    ));
    h.push_str("</section>\n");
    // The current week, lightly: a line under the charts, which show complete weeks only.
    if let Some(r) = rows
        .iter()
        .rev()
        .find(|r| r.signals.partial && r.signals.week_ms <= to + WEEK_MS)
        .filter(|r| r.signals.burn_rate.is_some())
    {
        let _ = writeln!(
            h,
            "<section><p class=\"note\" id=\"week-to-date\">This week so far (partial, from {}): worst SLO burn rate {} (<a href=\"/api/v1/reliability\">per SLO</a>).</p></section>",
            local_date(r.signals.week_ms),
            r.signals.burn_rate.map_or("–".into(), |v| format!("{v:.2}"))
        );
    }

    // Services, latest complete week.
    let _ = write!(
        h,
        "<section><h2>Services (last complete week, 4-week figures)</h2><table id=\"services\"><thead><tr><th>service</th><th>deploys/week</th><th>lead time (median)</th><th>change failure rate</th><th>recovery (median)</th><th>worst SLO burn</th></tr></thead><tbody>"
    );
    for (name, scope) in &w.services {
        if teams.selected.is_some_and(|t| !t.services.contains(name)) {
            continue;
        }
        let Some(r) = scope
            .rows
            .iter()
            .rev()
            .find(|r| !r.signals.partial && r.signals.week_ms <= to)
        else {
            continue;
        };
        let s = &r.signals;
        let cfr = r.cfr_4w_detail.map_or("–".into(), |c| {
            format!(
                "{:.0} % <small>({}/{}{})</small>",
                100.0 * c.value,
                c.k,
                c.n,
                if c.low_n { ", low n" } else { "" }
            )
        });
        let hours = |v: Option<f64>| v.map_or("–".into(), |s| format!("{:.1} h", s / 3600.0));
        let q = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
        // Each delivery figure links to the chain behind it: the deployments, changes and
        // failure signals of that week (`/api/v1/dora/explain`).
        let explain = |metric: &str, text: String| {
            if text == "–" {
                return text;
            }
            format!(
                "<a href=\"/api/v1/dora/explain?service={q}&amp;week={}&amp;metric={metric}\" title=\"the deployments and changes behind it\">{text}</a>",
                local_date(s.week_ms)
            )
        };
        let _ = write!(
            h,
            "<tr><td><a href=\"/?service={q}\">{n}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            explain(
                "deployment_frequency",
                s.deployments.map_or("–".into(), |v| format!("{v:.0}"))
            ),
            explain("lead_time", hours(s.lead_time_s)),
            explain("change_failure_rate", cfr),
            explain("recovery_time", hours(s.recovery_4w_s)),
            s.burn_rate.map_or("–".into(), |v| format!("{v:.2}")),
            n = esc(name),
        );
    }
    h.push_str("</tbody></table></section>\n");
    if let Some(view) = teams.view {
        teams_table(&mut h, cal, view, teams.selected);
    }
    bugs_table(&mut h, cal, teams.bugs, teams.selected);
    business::section(&mut h, cal, teams.support, teams.cost);

    // Shifts and associations.
    let _ = write!(h, "<section><h2>Regime shifts</h2><ul id=\"shifts\">");
    let shifts: Vec<_> = w
        .pressure
        .shifts
        .iter()
        .filter(|s| s.week_ms <= to)
        .collect();
    if shifts.is_empty() {
        let _ = write!(h, "<li>None so far.</li>");
    }
    for s in shifts.iter().rev() {
        let _ = write!(h, "<li>{}</li>", esc(&s.summary));
    }
    let _ = write!(h, "</ul>");
    let assoc: Vec<_> = w
        .correlations
        .iter()
        .filter(|c| c.p_value.is_some_and(|p| p <= 0.05))
        .collect();
    if !assoc.is_empty() {
        let _ = write!(h, "<h2>Associations (not causes)</h2><ul>");
        for c in assoc {
            let _ = write!(h, "<li>{}</li>", esc(&c.summary));
        }
        let _ = write!(h, "</ul>");
    }
    let latest = shown.iter().rev().find(|r| !r.signals.partial);
    if let Some(r) = latest {
        let _ = write!(
            h,
            "<p class=\"note\">Revenue as of {}: NRR {}, GRR {}. Missing weeks are gaps, never zero.</p>",
            esc(r.signals.revenue_as_of.as_deref().unwrap_or("–")),
            pct(r.signals.nrr),
            pct(r.signals.grr)
        );
    }
    let _ = write!(
        h,
        "</section>\n<footer>JSON: <a href=\"/api/v1/weeks\">weeks</a> · <a href=\"/api/v1/dora\">DORA</a> · <a href=\"/api/v1/reliability\">reliability</a> · <a href=\"/api/v1/revenue\">revenue</a> · <a href=\"/api/v1/shifts\">shifts</a> · <a href=\"/api/v1/digest?format=html\">weekly digest</a> · <a href=\"/metrics\">/metrics</a> · <a href=\"/api/openapi.json\">OpenAPI</a></footer>\n</body>\n</html>\n"
    );
    h
}

/// The page's chart drawer: title, lines, shaded weeks, y-axis format.
type ChartFn<'a> = dyn Fn(&str, &[Line], &[(i64, RGBColor)], fn(f64) -> String) -> String + 'a;

/// The service page's latency chart: the weekly mean of the p95 and, when the service's component
/// has one, its objective as a second line.
fn latency_chart(chart: &ChartFn<'_>, latency: Option<&ServiceLatency>) -> String {
    let Some(l) = latency else {
        return String::new();
    };
    let seconds = matches!(l.unit.as_deref(), Some("seconds" | "s"));
    let scale = if seconds { 1000.0 } else { 1.0 };
    let mut lines = vec![Line {
        name: "p95",
        colour: RGBColor(9, 105, 218),
        points: l
            .points
            .iter()
            .map(|(w, v)| (*w, v.map(|v| v * scale)))
            .collect(),
    }];
    if let Some(o) = l.objective {
        lines.push(Line {
            name: "objective",
            colour: RGBColor(200, 60, 50),
            points: l
                .points
                .iter()
                .map(|(w, _)| (*w, Some(o * scale)))
                .collect(),
        });
    }
    let title = format!(
        "Latency: p95 ({}, weekly mean{})",
        l.query,
        if seconds {
            ", ms".to_owned()
        } else {
            l.unit
                .as_deref()
                .map_or(String::new(), |u| format!(", {u}"))
        }
    );
    chart(&title, &lines, &[], |v| format!("{v:.0}"))
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}\
header,section,footer{max-width:1180px;margin:0 auto;padding:0.5rem 1rem}\
h1{margin:0.6rem 0 0}h2{font-size:1.1rem}tr.selected{background:#fff4d6}\
.headline{display:flex;flex-wrap:wrap;gap:1rem;align-items:center}\
.regime{padding:0.6rem 1rem;border-radius:6px;background:#ececec;font-size:1.2rem}\
.regime.growth{background:#d6f0da}.regime.resilience{background:#fadad6}\
.tag{padding:0.3rem 0.7rem;border-radius:999px;background:#ececec}.tag.on{background:#fde7b0}\
.kpi{display:flex;flex-direction:column;background:#fff;padding:0.4rem 0.8rem;border-radius:6px}\
.kpi span{font-size:0.8rem;color:#5b6670}.older{background:#fff4ce;border:1px solid #e0c060;padding:0.5rem 0.8rem;margin:0 0 1rem}.note{color:#5b6670;font-size:0.9rem;flex-basis:100%}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:0.6rem}\
figure.chart{margin:0;background:#fff;border-radius:6px;padding:4px}figure.chart svg{width:100%;height:auto}\
table{border-collapse:collapse;background:#fff}th,td{border:1px solid #d0d7de;padding:0.25rem 0.6rem;text-align:right}\
th:first-child,td:first-child{text-align:left}footer{color:#5b6670;font-size:0.9rem;padding-bottom:2rem}";
