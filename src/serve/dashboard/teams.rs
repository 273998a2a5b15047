//! The dashboard's teams: the table of every team's pooled figures, and the `?team=` filter.

use std::fmt::Write;

use super::esc;
use crate::model::{Calendar, Product, Products, Team};
use crate::query::bugs::BugSeries;
use crate::query::teams::TeamsView;

/// The breakdowns below the charts: every team's roll-up, the team the services table is
/// filtered to, and the last complete week's bugs per scope.
#[derive(Debug, Clone, Copy)]
pub struct Teams<'a> {
    /// The teams' roll-ups, when teams exist.
    pub view: Option<&'a TeamsView>,
    /// `?team=`.
    pub selected: Option<&'a Team>,
    /// The bugs of the organisation, each team and each service (one week each).
    pub bugs: &'a [BugSeries],
    /// Every product, for the links to their views.
    pub products: &'a Products,
    /// `?product=`: the page is that product's view.
    pub product: Option<&'a Product>,
    /// The support view, when tickets were imported.
    pub support: Option<&'a crate::analysis::support::SupportReport>,
    /// The cost view, when metrics were imported.
    pub cost: Option<&'a crate::analysis::cost::CostReport>,
}

/// The header's note on a product view: what it reads, and what it lacks.
pub(super) fn product_note(p: &Product) -> String {
    let mut note = " Revenue of its segments and plans, delivery and reliability of its services, and its own pressure index (<a href=\"/\">organisation</a>).".to_owned();
    for m in p.missing_sides() {
        let _ = write!(note, " <strong>Missing</strong> {}.", esc(m));
    }
    note
}

/// Links to each product's view, when products exist.
pub(super) fn products_nav(h: &mut String, products: &Products, current: Option<&Product>) {
    if products.is_empty() {
        return;
    }
    let links: Vec<String> = products
        .iter()
        .map(|p| {
            if current.is_some_and(|c| c.name == p.name) {
                format!("<strong>{}</strong>", esc(&p.name))
            } else {
                format!(
                    "<a href=\"/?product={}\">{}</a>",
                    percent_encoding::utf8_percent_encode(
                        &p.name,
                        percent_encoding::NON_ALPHANUMERIC
                    ),
                    esc(&p.name)
                )
            }
        })
        .collect();
    let _ = writeln!(
        h,
        "<nav id=\"products\"><p>Products: {}</p></nav>",
        links.join(" · ")
    );
}

/// The teams table: each team's services pooled over 13 weeks, linked to its filter.
pub(super) fn teams_table(
    h: &mut String,
    cal: Calendar,
    view: &TeamsView,
    selected: Option<&Team>,
) {
    let _ = write!(
        h,
        "<section><h2>Teams (13 weeks to {}, each team's services pooled)</h2><table id=\"teams\"><thead><tr><th>team</th><th>services</th><th>deploys/week</th><th>lead time (median)</th><th>change failure rate</th><th>recovery (median)</th></tr></thead><tbody>",
        cal.local_date(view.week_ms)
    );
    let hours = |v: Option<f64>| v.map_or("–".into(), |s| format!("{:.1} h", s / 3600.0));
    for t in &view.teams {
        let f = t.dora_13w.as_ref();
        let mark = if selected.is_some_and(|s| s.name == t.name) {
            " class=\"selected\""
        } else {
            ""
        };
        let name = if t.name == crate::model::teams::UNOWNED {
            "<em>no team</em>".to_owned()
        } else {
            format!(
                "<a href=\"/?team={}\">{}</a>",
                percent_encoding::utf8_percent_encode(&t.name, percent_encoding::NON_ALPHANUMERIC),
                esc(&t.name)
            )
        };
        let _ = write!(
            h,
            "<tr{mark}><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            services_cell(&t.services, &t.derived_from_codeowners),
            f.map_or("–".into(), |f| format!("{:.1}", f.deployments_per_week)),
            hours(f.and_then(|f| f.lead_time.map(|q| q.p50))),
            f.and_then(|f| f.change_failure_rate)
                .map_or("–".into(), |c| format!(
                    "{:.0} % <small>({}/{})</small>",
                    100.0 * c.value,
                    c.k,
                    c.n
                )),
            hours(f.and_then(|f| f.recovery_time.map(|q| q.p50))),
        );
    }
    h.push_str("</tbody></table>");
    if !view.unowned.is_empty() {
        let _ = write!(
            h,
            "<p class=\"note\">Owned by no team: {}.</p>",
            esc(&view.unowned.join(", "))
        );
    }
    for c in &view.conflicts {
        let _ = write!(
            h,
            "<p class=\"note conflict\">Ownership conflict: {}.</p>",
            esc(&c.to_string())
        );
    }
    h.push_str("</section>\n");
}

/// A team's services, those derived from `CODEOWNERS` marked so (docs/teams.md).
fn services_cell(services: &[String], derived: &[String]) -> String {
    services
        .iter()
        .map(|s| {
            if derived.contains(s) {
                format!("{} <small>(CODEOWNERS)</small>", esc(s))
            } else {
                esc(s)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The bugs table: the last complete week of the organisation, each team and each service (or,
/// with `?team=`, the team and its services), with the escaped bugs named.
pub(super) fn bugs_table(
    h: &mut String,
    cal: Calendar,
    bugs: &[BugSeries],
    selected: Option<&Team>,
) {
    let Some(week) = bugs
        .first()
        .and_then(|s| s.weeks.first())
        .map(|w| w.week_ms)
    else {
        return;
    };
    let _ = write!(
        h,
        "<section><h2>Bugs (week of {})</h2><table id=\"bugs\"><thead><tr><th>scope</th><th>opened</th><th>closed</th><th>reopened</th><th>open at week end</th><th>median age</th><th>escaped a deployment</th></tr></thead><tbody>",
        cal.local_date(week)
    );
    for s in bugs {
        let shown = match (selected, &s.team, &s.service) {
            (None, _, _) => true,
            (Some(t), Some(team), _) => *team == t.name,
            (Some(t), None, Some(svc)) => t.services.contains(svc),
            (Some(_), None, None) => false,
        };
        let Some(w) = s.weeks.first().filter(|_| shown) else {
            continue;
        };
        let scope = match (&s.team, &s.service) {
            (Some(t), _) => format!("team {}", esc(t)),
            (None, Some(svc)) => esc(svc),
            (None, None) => "organisation".to_owned(),
        };
        let escaped = if w.escaped_bugs.is_empty() {
            w.escaped.to_string()
        } else {
            let named: Vec<String> = w
                .escaped_bugs
                .iter()
                .map(|e| format!("{} ← deployment {}", esc(&e.bug), e.deployment))
                .collect();
            format!("{} <small>({})</small>", w.escaped, named.join(", "))
        };
        let _ = write!(
            h,
            "<tr><td>{scope}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{escaped}</td></tr>",
            w.opened,
            w.closed,
            w.reopened,
            w.open_at_end,
            w.open_age_p50_s
                .map_or("–".into(), |a| format!("{:.1} d", a / 86_400.0)),
        );
    }
    h.push_str("</tbody></table></section>\n");
}
