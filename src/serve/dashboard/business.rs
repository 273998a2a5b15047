//! The dashboard's support and cost section: the weekly support load next to revenue and
//! reliability, the "top customer pains" table, and the latest month's cost and Rule of 40.

use std::fmt::Write;

use super::esc;
use crate::analysis::cost::CostReport;
use crate::analysis::support::SupportReport;
use crate::model::Calendar;

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

/// Support load (last 8 complete weeks), top pains, and cost; nothing without the data.
pub(super) fn section(
    h: &mut String,
    cal: Calendar,
    support: Option<&SupportReport>,
    cost: Option<&CostReport>,
) {
    if let Some(r) = support {
        let _ = write!(
            h,
            "<section><h2>Support load</h2><table id=\"support\"><thead><tr><th>week</th><th>opened</th><th>solved</th><th>backlog</th><th>first response (median)</th><th>resolution (median)</th><th>per 100 customers</th><th>revenue-weighted</th></tr></thead><tbody>"
        );
        // The report runs to the current week; the table shows complete weeks.
        let complete = &r.weeks[..r.weeks.len().saturating_sub(1)];
        for w in complete.iter().rev().take(8).rev() {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} h</td><td>{} h</td><td>{}</td><td>{}</td></tr>",
                cal.local_date(w.week_start),
                w.opened,
                w.solved,
                w.backlog,
                num(w.first_response_median_h, 1),
                num(w.resolution_median_h, 1),
                num(w.per_100_customers, 1),
                num(w.revenue_weighted, 1)
            );
        }
        let _ = write!(
            h,
            "</tbody></table><h2>Top customer pains (last {} weeks)</h2><table id=\"pains\"><thead><tr><th>component / tag</th><th>tickets</th><th>customers</th><th>ARR at stake</th><th>trend</th></tr></thead><tbody>",
            r.pain_window_weeks
        );
        for p in r.pains.iter().take(10) {
            let trend = match p.tickets.cmp(&p.previous_tickets) {
                std::cmp::Ordering::Greater => "↑",
                std::cmp::Ordering::Less => "↓",
                std::cmp::Ordering::Equal => "→",
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{trend} (was {})</td></tr>",
                esc(&p.topic),
                p.tickets,
                p.customers,
                p.arr_at_stake,
                p.previous_tickets
            );
        }
        let _ = write!(h, "</tbody></table>");
        if !r.unknown_customers.is_empty() || r.tickets_without_customer > 0 {
            let _ = write!(
                h,
                "<p class=\"note\">{} customer ids are not in the revenue data and {} tickets have no customer: they count as tickets, without revenue (<a href=\"/api/v1/support\">list</a>).</p>",
                r.unknown_customers.len(),
                r.tickets_without_customer
            );
        }
        let _ = writeln!(h, "</section>");
    }
    if let Some(c) = cost {
        let Some(m) = c.months.iter().rev().find(|m| m.mrr.is_some()) else {
            return;
        };
        let pct = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{:.1} %", v * 100.0));
        let rule = m
            .rule_of_40
            .as_ref()
            .map_or_else(|| "–".to_owned(), ToString::to_string);
        let _ = writeln!(
            h,
            "<section><h2>Cost and margin ({})</h2><p id=\"cost\">Cloud cost {} ({} of MRR); over 3 months cost {} against revenue {}{}; ARR per engineer {}; gross margin {}, operating margin {}; Rule of 40: {} (<a href=\"/api/v1/cost\">JSON</a>).</p></section>",
            m.month,
            num(m.cloud_cost, 0),
            pct(m.cost_share),
            pct(m.cost_growth_3m),
            pct(m.revenue_growth_3m),
            if m.cost_outgrows_revenue == Some(true) { " — <strong>cost outgrows revenue</strong>" } else { "" },
            num(m.revenue_per_engineer, 0),
            pct(m.gross_margin),
            pct(m.operating_margin),
            esc(&rule)
        );
    }
}

/// Under the headline: the optional components the index used and missed, and the
/// profitability tag as a badge with its evidence (docs/pressure.md).
pub(super) fn pressure_extras(h: &mut String, p: &crate::analysis::pressure::PressureWeek) {
    let names = crate::analysis::pressure::Component::names;
    let _ = write!(
        h,
        "<p class=\"note\" id=\"optional\">Optional components used: {}; missing (left out, never zero): {}.</p>",
        esc(&names(&p.optional_used)),
        esc(&names(&p.optional_missing))
    );
    let Some(t) = &p.profitability else {
        let _ = write!(
            h,
            "<p class=\"note\" id=\"profitability\">Profitability: no cost or margin data.</p>"
        );
        return;
    };
    let _ = write!(
        h,
        "<div class=\"tag{}\" id=\"profitability\">profitability: <strong>{}</strong></div><ul class=\"note\" id=\"profitability-evidence\">",
        if t.tagged { " on" } else { "" },
        t.label()
    );
    for e in &t.evidence {
        let _ = write!(
            h,
            "<li>{}: {} — {}</li>",
            e.condition.as_str().replace('_', " "),
            e.verdict(),
            esc(&e.summary)
        );
    }
    let _ = write!(h, "</ul>");
}
