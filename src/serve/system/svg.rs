//! The `/system` page: the components as an SVG graph in layers by dependency depth (users above
//! what they depend on), each node with its figures, weak spots outlined and listed with their
//! reasons, then the next moves. No script and no external asset: one self-contained page.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::analysis::system::{format_latency, ComponentFigures};
use crate::model::Calendar;
use crate::query::system::{band_name, ComponentView, SystemView};

const NODE_W: i64 = 190;
const NODE_H: i64 = 118;
const GAP_X: i64 = 24;
const GAP_Y: i64 = 64;
const MARGIN: i64 = 16;

const CSS: &str = "body{font:14px system-ui,sans-serif;margin:1.5rem;color:#1f2328;background:#fff}\
h1{font-size:1.4rem;margin:0 0 .3rem}p{margin:.3rem 0}svg{max-width:100%;height:auto}\
.node rect{fill:#f6f8fa;stroke:#8c959f;stroke-width:1.2}.node.weak rect{fill:#fff5f5;stroke:#cf222e;stroke-width:2.5}\
.node text{font-size:11px;fill:#1f2328}.node .name{font-size:13px;font-weight:600}.node .why{fill:#cf222e}\
.edge{stroke:#8c959f;stroke-width:1.2;fill:none}.spark{stroke:#0969da;stroke-width:1.2;fill:none}table{border-collapse:collapse;margin-top:.5rem}\
td,th{border-bottom:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}\
.empty{color:#57606a}";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".to_owned(), |v| format!("{:.*} %", digits, v * 100.0))
}

/// Node positions: one row per depth; within a row, nodes sorted by the mean x of their users
/// (the barycentre heuristic of Sugiyama-style layouts), which keeps most edges short.
fn layout(view: &SystemView) -> (BTreeMap<&str, (i64, i64)>, i64, i64) {
    let mut rows: BTreeMap<usize, Vec<&ComponentView>> = BTreeMap::new();
    for c in &view.components {
        rows.entry(c.depth).or_default().push(c);
    }
    let widest = rows.values().map(Vec::len).max().unwrap_or(0) as i64;
    let width = 2 * MARGIN + widest * (NODE_W + GAP_X) - GAP_X;
    let mut at: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (depth, row) in &mut rows {
        let users_x = |c: &ComponentView| -> f64 {
            let xs: Vec<i64> = view
                .components
                .iter()
                .filter(|u| u.component.depends_on.contains(&c.component.name))
                .filter_map(|u| at.get(u.component.name.as_str()).map(|p| p.0))
                .collect();
            if xs.is_empty() {
                0.0
            } else {
                xs.iter().sum::<i64>() as f64 / xs.len() as f64
            }
        };
        let mut keyed: Vec<(f64, usize, &ComponentView)> = row
            .iter()
            .enumerate()
            .map(|(i, c)| (users_x(c), i, *c))
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let row_w = keyed.len() as i64 * (NODE_W + GAP_X) - GAP_X;
        let x0 = (width - row_w) / 2;
        let y = MARGIN + *depth as i64 * (NODE_H + GAP_Y);
        for (i, (_, _, c)) in keyed.into_iter().enumerate() {
            at.insert(&c.component.name, (x0 + i as i64 * (NODE_W + GAP_X), y));
        }
    }
    let height = 2 * MARGIN + rows.len() as i64 * (NODE_H + GAP_Y) - GAP_Y;
    (
        at,
        width.max(NODE_W + 2 * MARGIN),
        height.max(NODE_H + 2 * MARGIN),
    )
}

/// A latency in its unit, `-` when unknown.
fn latency(v: Option<f64>, unit: Option<&str>) -> String {
    v.map_or("-".to_owned(), |v| format_latency(v, unit.unwrap_or("")))
}

/// The node's lines below its name.
fn lines(f: &ComponentFigures) -> [String; 5] {
    let unit = f.latency_unit.as_deref();
    [
        match (f.availability, f.slo_target) {
            (Some(a), Some(t)) => format!("avail {} / SLO {}", pct(Some(a), 2), pct(Some(t), 1)),
            (None, Some(t)) => format!("avail - / SLO {}", pct(Some(t), 1)),
            _ => "no SLO".to_owned(),
        },
        format!(
            "budget {} · DORA {}",
            pct(f.budget_left, 0),
            band_name(f.dora_band)
        ),
        format!(
            "CFR {} · inc {} · bugs {}",
            pct(f.cfr, 0),
            f.open_incidents,
            f.open_bugs
        ),
        match (f.latency, f.latency_objective) {
            (None, _) => "p95 -".to_owned(),
            // The objective in the same unit, without repeating it, so the row leaves room for
            // the sparkline.
            (Some(_), Some(o)) => {
                let (l, obj) = (latency(f.latency, unit), latency(Some(o), unit));
                let same_unit = l.split_once(' ').map(|x| x.1) == obj.split_once(' ').map(|x| x.1);
                let obj = match obj.split_once(' ') {
                    Some((n, _)) if same_unit => n.to_owned(),
                    _ => obj,
                };
                format!("p95 {l} · obj {obj}")
            }
            (Some(_), None) => format!("p95 {}", latency(f.latency, unit)),
        },
        format!("team {}", f.team.as_deref().unwrap_or("none")),
    ]
}

/// The weekly latency as a small line at the right of the node's latency row, scaled to its own
/// range; weeks without samples are gaps. The weekly figures are in `/api/v1/system`.
fn sparkline(weeks: &[Option<f64>], x: i64, y: i64) -> String {
    const W: f64 = 44.0;
    const H: f64 = 10.0;
    let known: Vec<f64> = weeks.iter().flatten().copied().collect();
    if known.len() < 2 {
        return String::new();
    }
    let (lo, hi) = known
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    let span = if hi - lo > 1e-12 { hi - lo } else { 1.0 };
    let step = W / (weeks.len().max(2) - 1) as f64;
    let mut d = String::new();
    let mut pen_up = true;
    for (i, v) in weeks.iter().enumerate() {
        match v {
            Some(v) => {
                let px = x as f64 + i as f64 * step;
                let py = y as f64 + H - (v - lo) / span * H;
                let _ = write!(d, "{}{px:.1},{py:.1}", if pen_up { "M" } else { "L" });
                pen_up = false;
            }
            None => pen_up = true,
        }
    }
    format!("<path class=\"spark\" d=\"{d}\"/>")
}

/// The SVG graph.
pub(super) fn graph(view: &SystemView) -> String {
    let (at, width, height) = layout(view);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"system-map\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"System map\">\
<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#8c959f\"/></marker></defs>"
    );
    for c in &view.components {
        let Some(&(x, y)) = at.get(c.component.name.as_str()) else {
            continue;
        };
        for d in &c.component.depends_on {
            if let Some(&(dx, dy)) = at.get(d.as_str()) {
                let (x1, y1, x2, y2) = (x + NODE_W / 2, y + NODE_H, dx + NODE_W / 2, dy);
                let mid = (y1 + y2) / 2;
                let _ = write!(
                    s,
                    "<path class=\"edge\" d=\"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}\" marker-end=\"url(#arrow)\"><title>{} depends on {}</title></path>",
                    esc(&c.component.name),
                    esc(d)
                );
            }
        }
    }
    for c in &view.components {
        let Some(&(x, y)) = at.get(c.component.name.as_str()) else {
            continue;
        };
        let name = &c.component.name;
        let reasons: Vec<&str> = view
            .assessment
            .weak_spots
            .iter()
            .filter(|w| &w.component == name)
            .map(|w| w.reason.as_str())
            .collect();
        let class = if reasons.is_empty() {
            "node"
        } else {
            "node weak"
        };
        let mut title = format!("{name} ({})", c.component.kind);
        for r in &reasons {
            title.push_str("\nweak spot: ");
            title.push_str(r);
        }
        let _ = write!(
            s,
            "<a href=\"/?service={}\"><g class=\"{class}\" data-component=\"{}\"><title>{}</title>\
<rect x=\"{x}\" y=\"{y}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"6\"/>\
<text class=\"name\" x=\"{}\" y=\"{}\">{} <tspan font-weight=\"400\" font-size=\"10\">{}</tspan></text>",
            percent_encoding::utf8_percent_encode(&c.component.service, percent_encoding::NON_ALPHANUMERIC),
            esc(name),
            esc(&title),
            x + 8,
            y + 17,
            esc(name),
            c.component.kind,
        );
        for (i, line) in lines(&c.figures).iter().enumerate() {
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"{}\">{}</text>",
                x + 8,
                y + 34 + 14 * i as i64,
                esc(line)
            );
        }
        s.push_str(&sparkline(
            &c.latency_weeks,
            x + NODE_W - 52,
            y + 34 + 14 * 3 - 10,
        ));
        if let Some(first) = reasons.first() {
            let more = if reasons.len() > 1 {
                format!(" (+{})", reasons.len() - 1)
            } else {
                String::new()
            };
            // The box holds about 28 characters at this size; the full reasons are in the
            // node's title and the table below.
            let short: String = if first.chars().count() > 24 {
                first.chars().take(23).chain(['…']).collect()
            } else {
                (*first).to_owned()
            };
            let _ = write!(
                s,
                "<text class=\"why\" x=\"{}\" y=\"{}\">⚠ {}{}</text>",
                x + 8,
                y + NODE_H - 6,
                esc(&short),
                esc(&more)
            );
        }
        s.push_str("</g></a>");
    }
    s.push_str("</svg>");
    s
}

/// The whole page.
pub(super) fn page(view: &SystemView, cal: Calendar) -> String {
    let mut s = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Barometer: system map</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>{CSS}</style>\n</head>\n<body>\n<header><h1>System map</h1><p>{} components, weeks {} to {}; users above what they depend on. A red outline is a weak spot; click a component for its service page.</p></header>\n",
        view.components.len(),
        cal.local_date(view.from_ms),
        cal.local_date(view.to_ms - 1),
    );
    if view.components.is_empty() {
        s.push_str("<p class=\"empty\">No system model: configure [[system.component]] or system.catalog_paths (docs/system.md).</p>\n");
    } else {
        s.push_str(&graph(view));
    }
    s.push_str("\n<h2>Weak spots</h2>\n");
    if view.assessment.weak_spots.is_empty() {
        s.push_str("<p class=\"empty\">None.</p>\n");
    } else {
        s.push_str(
            "<table id=\"weak-spots\"><tr><th>component</th><th>rule</th><th>reason</th></tr>\n",
        );
        for w in &view.assessment.weak_spots {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&w.component),
                w.rule.as_str(),
                esc(&w.reason)
            );
        }
        s.push_str("</table>\n");
    }
    s.push_str("<h2>Next moves</h2>\n");
    if view.assessment.next_moves.is_empty() {
        s.push_str("<p class=\"empty\">None.</p>\n");
    } else {
        s.push_str("<table id=\"next-moves\"><tr><th>component</th><th>move</th><th>figures</th><th>rule</th></tr>\n");
        for m in &view.assessment.next_moves {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&m.component),
                esc(&m.action),
                esc(&m.figures),
                esc(m.source)
            );
        }
        s.push_str("</table>\n");
    }
    s.push_str("<footer><p>JSON: <a href=\"/api/v1/system\">/api/v1/system</a> · <a href=\"/\">dashboard</a> · rules: docs/system.md</p></footer>\n</body>\n</html>\n");
    s
}
