//! The digest as Markdown (the source of truth) and as an HTML page rendered from it with
//! `pulldown-cmark` (CommonMark with GitHub tables).

use std::fmt::Write;

use super::{component_name, Digest};
use crate::analysis::pressure::{Component, PressureWeek};
use crate::model::PressureStatus;

fn pct(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{:.digits$} %", 100.0 * v))
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

/// A duration in seconds the way people read it.
fn duration(s: Option<f64>) -> String {
    match s {
        None => "–".into(),
        Some(s) if s < 3600.0 => format!("{:.0} min", s / 60.0),
        Some(s) if s < 2.0 * 86_400.0 => format!("{:.1} h", s / 3600.0),
        Some(s) => format!("{:.1} d", s / 86_400.0),
    }
}

/// A delivery table, one line per scope (the organisation, a service or a team).
fn delivery_table(m: &mut String, first: &str, lines: &[super::DeliveryLine], band_year: u16) {
    let _ = writeln!(
        m,
        "| {first} | deploys/week | lead time (median) | change failure rate | recovery (median) | bands ({}) |",
        band_year
    );
    let _ = writeln!(m, "|---|---:|---:|---:|---:|---|");
    for l in lines {
        let cfr = l.change_failure_rate.map_or_else(
            || "–".into(),
            |r| {
                format!(
                    "{:.0} % ({}/{}, 95 % CI {:.0}–{:.0} %{})",
                    100.0 * r.value,
                    r.k,
                    r.n,
                    100.0 * r.lo,
                    100.0 * r.hi,
                    if r.low_n { ", low n" } else { "" }
                )
            },
        );
        let bands: Vec<String> = l
            .bands
            .iter()
            .map(|(k, v)| format!("{} {v}", k.replace('_', " ")))
            .collect();
        let _ = writeln!(
            m,
            "| {} | {:.1} | {} | {} | {} | {} |",
            esc(&l.scope),
            l.deployments_per_week,
            duration(l.lead_time_p50_s),
            cfr,
            duration(l.recovery_p50_s),
            esc(&bands.join(", "))
        );
    }
}

fn money(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.0}"))
}

/// Escapes what Markdown would read as markup in names that come from data.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '\\'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Names of components, or "none".
fn names(cs: &[Component]) -> String {
    if cs.is_empty() {
        return "none".into();
    }
    let v: Vec<&str> = cs.iter().map(|c| component_name(*c)).collect();
    v.join(", ")
}

/// Which optional components the index used and which it missed, and the profitability tag
/// with its evidence (docs/pressure.md).
fn optional_and_profitability(m: &mut String, p: &PressureWeek) {
    let _ = writeln!(
        m,
        "Optional components used: {}; missing (left out, never zero): {}.\n",
        names(&p.optional_used),
        names(&p.optional_missing)
    );
    let Some(t) = &p.profitability else {
        let _ = writeln!(
            m,
            "Profitability: no cost or margin data, so no tag either way.\n"
        );
        return;
    };
    let _ = writeln!(
        m,
        "**Profitability: {}.** A tag on the regime, not part of P, set when at least 2 of its 3 conditions hold:\n",
        t.label()
    );
    for e in &t.evidence {
        let _ = writeln!(
            m,
            "- {} — {}: {}",
            e.condition.as_str().replace('_', " "),
            e.verdict(),
            esc(&e.summary)
        );
    }
    m.push('\n');
}

/// The digest in Markdown.
pub fn markdown(d: &Digest) -> String {
    let mut m = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(
        m,
        "# Barometer weekly digest: {} (week of {})\n",
        d.iso_week, d.week
    );

    // The headline: regime and pressure.
    let _ = writeln!(m, "## Pressure\n");
    match &d.pressure {
        Some(p) if p.status == PressureStatus::Scored => {
            let regime = p.regime.map_or("–", |r| r.as_str());
            let change = match (p.p, d.p_before) {
                (Some(now), Some(before)) => format!(" ({:+.2} on the week before)", now - before),
                _ => String::new(),
            };
            let _ = writeln!(
                m,
                "**Regime: {regime}.** Pressure index P = {}{change}; resilience need R = {}, growth momentum G = {}.",
                num(p.p, 2),
                num(p.resilience, 2),
                num(p.growth, 2)
            );
            if let Some(f) = &p.forced {
                let _ = writeln!(m, "\nThe regime is forced: {f}.");
            }
            if let Some(w) = &p.watch {
                let _ = writeln!(m, "\n*{}* (not a regime change).", w.summary);
            }
        }
        Some(p) => {
            let _ = writeln!(m, "The index is not scored this week: {}.", p.status);
        }
        None => {
            let _ = writeln!(m, "No index for this week.");
        }
    }
    let _ = writeln!(
        m,
        "\nP = R − G: positive means resilience work (stability, availability, support) presses harder than growth; see docs/pressure.md.\n"
    );
    match (&d.shift, &d.last_shift) {
        (Some(s), _) => {
            let _ = writeln!(m, "**Shift this week:** {}\n", esc(&s.summary));
            for e in &s.evidence {
                let _ = writeln!(
                    m,
                    "- {}: score {:.2} → {:.2} (push on P {:+.2})",
                    component_name(e.component),
                    e.before,
                    e.after,
                    e.push
                );
            }
            if let Some(cp) = &s.change_point {
                let _ = writeln!(
                    m,
                    "- backed by a change point of P in the week of {} (probability {:.2})",
                    super::day(d.calendar, cp.week_ms),
                    cp.probability
                );
            }
            m.push('\n');
        }
        (None, Some(s)) => {
            let _ = writeln!(
                m,
                "No shift this week. Last shift: {} → {} in the week of {} (since {}).\n",
                s.from.as_str(),
                s.to.as_str(),
                super::day(d.calendar, s.week_ms),
                super::day(d.calendar, s.since_ms)
            );
        }
        (None, None) => {
            let _ = writeln!(m, "No shift so far.\n");
        }
    }
    if !d.drivers.is_empty() {
        let _ = writeln!(m, "| component | side | value | score | anchor |");
        let _ = writeln!(m, "|---|---|---:|---:|---|");
        for s in &d.drivers {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {:+.2} | {} |",
                component_name(s.component),
                s.component.side().as_str(),
                num(Some(s.value), 3),
                s.score,
                esc(s.anchor)
            );
        }
        m.push('\n');
    }
    if let Some(p) = &d.pressure {
        optional_and_profitability(&mut m, p);
    }

    if let Some(a) = d.system.as_ref().filter(|a| !a.next_moves.is_empty()) {
        let _ = writeln!(
            m,
            "## Weak spots and next moves (system map, 13 weeks to this one)\n"
        );
        for n in &a.next_moves {
            let _ = writeln!(
                m,
                "- **{}**: {} — {} ({}; {})",
                esc(&n.component),
                esc(&n.action),
                esc(&n.figures),
                n.rule.as_str(),
                esc(n.source)
            );
        }
        m.push('\n');
    }

    let _ = writeln!(m, "## Reliability\n");
    if d.slos.is_empty() {
        let _ = writeln!(m, "No SLOs configured.\n");
    } else {
        let _ = writeln!(
            m,
            "| SLO | service | target | availability | burn rate | budget left |"
        );
        let _ = writeln!(m, "|---|---|---:|---:|---:|---:|");
        for s in &d.slos {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} |",
                esc(&s.slo),
                esc(&s.service),
                pct(Some(s.target), 2),
                pct(s.availability, 3),
                num(s.burn_rate, 2),
                pct(s.budget_remaining, 0)
            );
        }
        m.push('\n');
    }

    let _ = writeln!(m, "## Delivery (DORA, 4 weeks to this one)\n");
    if d.delivery.is_empty() {
        let _ = writeln!(m, "No deployments stored.\n");
    } else {
        delivery_table(&mut m, "scope", &d.delivery, d.band_year);
        m.push('\n');
    }
    if !d.teams.is_empty() {
        let _ = writeln!(
            m,
            "## Teams (DORA, 4 weeks to this one, each team's services pooled)\n"
        );
        delivery_table(&mut m, "team", &d.teams, d.band_year);
        if !d.unowned.is_empty() {
            let _ = writeln!(m, "\nOwned by no team: {}.", esc(&d.unowned.join(", ")));
        }
        for c in &d.ownership_conflicts {
            let _ = writeln!(m, "\nOwnership conflict: {}.", esc(c));
        }
        m.push('\n');
    }
    if !d.products.is_empty() {
        let _ = writeln!(
            m,
            "## Products (each on its own revenue, services and SLOs)\n"
        );
        let _ = writeln!(m, "| product | regime | P | last shift | missing |");
        let _ = writeln!(m, "|---|---|---:|---|---|");
        for p in &d.products {
            let shift = p.last_shift.as_ref().map_or_else(
                || "–".to_owned(),
                |s| {
                    format!(
                        "{} → {} (week of {})",
                        s.from.as_str(),
                        s.to.as_str(),
                        d.calendar.local_date(s.week_ms)
                    )
                },
            );
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} |",
                esc(&p.product),
                p.regime.map_or("–", |r| r.as_str()),
                num(p.p, 2),
                shift,
                if p.missing.is_empty() {
                    "–".to_owned()
                } else {
                    esc(&p.missing.join("; "))
                }
            );
        }
        m.push('\n');
    }
    if !d.bugs.is_empty() {
        let _ = writeln!(m, "## Bugs (this week)\n");
        let _ = writeln!(
            m,
            "| scope | opened | closed | reopened | open at week end | median age | escaped a deployment |"
        );
        let _ = writeln!(m, "|---|---:|---:|---:|---:|---:|---|");
        for s in &d.bugs {
            let Some(w) = s.weeks.first() else { continue };
            let scope = match (&s.team, &s.service) {
                (Some(t), _) => format!("team {}", esc(t)),
                (None, Some(svc)) => esc(svc),
                (None, None) => "organisation".to_owned(),
            };
            let escaped: Vec<String> = w
                .escaped_bugs
                .iter()
                .map(|e| format!("{} (deployment {})", esc(&e.bug), e.deployment))
                .collect();
            let _ = writeln!(
                m,
                "| {scope} | {} | {} | {} | {} | {} | {}{} |",
                w.opened,
                w.closed,
                w.reopened,
                w.open_at_end,
                duration(w.open_age_p50_s),
                w.escaped,
                if escaped.is_empty() {
                    String::new()
                } else {
                    format!(": {}", escaped.join(", "))
                }
            );
        }
        m.push('\n');
    }

    let _ = writeln!(m, "## Revenue\n");
    let s = &d.row.signals;
    match &s.revenue_as_of {
        Some(month) => {
            let _ = writeln!(
                m,
                "As of {month}: MRR {}, net new MRR {}, NRR {}, GRR {}, new logos {}.\n",
                money(s.mrr),
                money(s.net_new_mrr),
                pct(s.nrr, 1),
                pct(s.grr, 1),
                num(s.new_logos, 0)
            );
        }
        None => {
            let _ = writeln!(m, "No revenue data for this week.\n");
        }
    }

    customers(&mut m, &d.customers);

    let _ = writeln!(m, "## What moved\n");
    if d.movers.is_empty() {
        let _ = writeln!(
            m,
            "No signal's last 13 weeks differ from the 13 before by 10 % or more.\n"
        );
    }
    for (name, q, worse) in &d.movers {
        let _ = writeln!(
            m,
            "- {}: {:+.0} % quarter over quarter ({})",
            esc(name),
            100.0 * q,
            if *worse { "worse" } else { "better" }
        );
    }
    if !d.movers.is_empty() {
        m.push('\n');
    }
    if !d.change_points.is_empty() {
        let _ = writeln!(
            m,
            "Change points of the last half-year (each confirmed by the 8 weeks after it):\n"
        );
        for c in &d.change_points {
            let _ = writeln!(
                m,
                "- {} from the week of {}: {:.3} → {:.3} (95 % interval of the change {:+.3} to {:+.3}; probability {:.2})",
                esc(&c.signal.replace('_', " ")),
                super::day(d.calendar, c.week_ms),
                c.before,
                c.after,
                c.interval.0,
                c.interval.1,
                c.probability
            );
        }
        m.push('\n');
    }
    if !d.associations.is_empty() {
        let _ = writeln!(m, "Associations (not causes):\n");
        for a in &d.associations {
            let _ = writeln!(m, "- {}", esc(&a.summary));
        }
        m.push('\n');
    }
    if !d.gaps.is_empty() {
        let _ = writeln!(m, "## Data gaps\n");
        let _ = writeln!(
            m,
            "Missing or stale this week (never counted as zero): {}.\n",
            esc(&d.gaps.join(", "))
        );
    }
    m
}

/// The customers section: support this week, the top pains, cost and the Rule of 40.
fn customers(m: &mut String, c: &super::Customers) {
    if c.support.is_none() && c.cost.is_none() {
        return;
    }
    let _ = writeln!(m, "## Customers\n");
    if let Some(w) = &c.support {
        let _ = writeln!(
            m,
            "Support: {} tickets opened, {} solved, backlog {}; first response {} h, resolution {} h (medians); {} tickets per 100 customers, revenue-weighted {}.\n",
            w.opened,
            w.solved,
            w.backlog,
            num(w.first_response_median_h, 1),
            num(w.resolution_median_h, 1),
            num(w.per_100_customers, 1),
            num(w.revenue_weighted, 1)
        );
        for p in &c.pains {
            let _ = writeln!(
                m,
                "- {}: {} tickets from {} customers, ARR at stake {} (4 weeks before: {})",
                p.topic,
                p.tickets,
                p.customers,
                money(Some(p.arr_at_stake)),
                p.previous_tickets
            );
        }
        if c.unknown_customers > 0 {
            let _ = writeln!(
                m,
                "- {} customer ids are not in the revenue data (counted without revenue)",
                c.unknown_customers
            );
        }
        m.push('\n');
    }
    if let Some(k) = &c.cost {
        let rule = k
            .rule_of_40
            .as_ref()
            .map_or_else(|| "–".to_owned(), ToString::to_string);
        let _ = writeln!(
            m,
            "Cost ({}): cloud cost {} = {} of MRR; over 3 months cost {} against revenue {}; Rule of 40: {rule}.\n",
            k.month,
            money(k.cloud_cost),
            pct(k.cost_share, 1),
            pct(k.cost_growth_3m, 1),
            pct(k.revenue_growth_3m, 1)
        );
    }
}

/// The digest as a standalone HTML page.
pub fn html(d: &Digest) -> String {
    use pulldown_cmark::{html::push_html, Options, Parser};
    let md = markdown(d);
    let mut body = String::new();
    push_html(&mut body, Parser::new_ext(&md, Options::ENABLE_TABLES));
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Barometer digest {}</title>\n<style>\nbody {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1d2733; }}\ntable {{ border-collapse: collapse; margin: 0.5rem 0 1rem; }}\nth, td {{ border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; }}\nth {{ background: #f3f5f7; }}\ntd:not(:first-child) {{ font-variant-numeric: tabular-nums; }}\n</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        d.iso_week
    )
}
