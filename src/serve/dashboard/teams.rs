//! The dashboard's teams: the table of every team's pooled figures, and the `?team=` filter.

use std::fmt::Write;

use super::esc;
use crate::model::{Calendar, Team};
use crate::query::teams::TeamsView;

/// The teams part of the page: every team's roll-up, and the team the services table is
/// filtered to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Teams<'a> {
    /// The teams' roll-ups, when teams exist.
    pub view: Option<&'a TeamsView>,
    /// `?team=`.
    pub selected: Option<&'a Team>,
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
            esc(&t.services.join(", ")),
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
    h.push_str("</section>\n");
}
