//! `barometer system`: the system map as a table, JSON, a Mermaid flowchart or a Graphviz graph,
//! to paste into docs and ADRs.

use std::fmt::Write;
use std::process::ExitCode;

use clap::Args;

use super::table::Table;
use super::{day, last_weeks};
use crate::analysis::system::format_latency;
use crate::app::App;
use crate::model::ComponentKind;
use crate::query::system::{band_name, SystemView};

/// Output formats of `barometer system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SystemFormat {
    /// Aligned columns, then the weak spots and next moves.
    Table,
    /// The components, their figures, weak spots and next moves as JSON.
    Json,
    /// A Mermaid flowchart (users above what they depend on; weak spots outlined).
    Mermaid,
    /// A Graphviz `digraph`.
    Dot,
}

/// `barometer system`.
#[derive(Debug, Args)]
pub struct SystemArgs {
    /// The last complete weeks to read the figures over.
    #[arg(long, default_value_t = 13)]
    pub weeks: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SystemFormat::Table)]
    pub format: SystemFormat,
}

/// Prints the map.
pub(super) fn system(app: &App, args: SystemArgs) -> anyhow::Result<ExitCode> {
    let weeks = last_weeks(app.calendar(), args.weeks);
    let view = app.system_view(&weeks)?;
    match args.format {
        SystemFormat::Json => println!("{}", serde_json::to_string_pretty(&view)?),
        SystemFormat::Mermaid => print!("{}", mermaid(&view)),
        SystemFormat::Dot => print!("{}", dot(&view)),
        SystemFormat::Table => table(app, &view),
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".to_owned(), |v| format!("{:.*} %", digits, v * 100.0))
}

fn table(app: &App, view: &SystemView) {
    if view.components.is_empty() {
        println!(
            "no system model ([[system.component]] or system.catalog_paths; see docs/system.md)"
        );
        return;
    }
    let cal = app.calendar();
    println!(
        "weeks {} to {}",
        day(cal, view.from_ms),
        day(cal, view.to_ms - 1)
    );
    let t = Table::new("  ")
        .left(18)
        .left(12)
        .left(10)
        .right(5)
        .right(9)
        .right(8)
        .left(7)
        .right(6)
        .right(8)
        .right(5)
        .right(5)
        .left(0);
    t.print(&[
        "component",
        "kind",
        "team",
        "depth",
        "avail",
        "budget",
        "DORA",
        "CFR",
        "p95",
        "bugs",
        "deps",
        "depends on",
    ]);
    for c in &view.components {
        let f = &c.figures;
        t.print(&[
            c.component.name.clone(),
            c.component.kind.to_string(),
            f.team.clone().unwrap_or_else(|| "-".into()),
            c.depth.to_string(),
            pct(f.availability, 2),
            pct(f.budget_left, 0),
            band_name(f.dora_band).to_owned(),
            pct(f.cfr, 0),
            f.latency.map_or("-".to_owned(), |v| {
                format_latency(v, f.latency_unit.as_deref().unwrap_or(""))
            }),
            f.open_bugs.to_string(),
            f.dependants.to_string(),
            c.component.depends_on.join(", "),
        ]);
    }
    println!("\nweak spots");
    for w in &view.assessment.weak_spots {
        println!("  {}: {}", w.component, w.reason);
    }
    println!("\nnext moves");
    for m in &view.assessment.next_moves {
        println!(
            "  {}: {} ({}; {})",
            m.component, m.action, m.figures, m.source
        );
    }
}

/// A label safe inside Mermaid's `"…"` (its entity codes) and Graphviz's (backslash escapes).
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// A Mermaid flowchart: node shapes by kind (database a cylinder, queue a parallelogram, external
/// API a hexagon, frontend a stadium), edges from a user to what it depends on.
pub(crate) fn mermaid(view: &SystemView) -> String {
    let mut s = String::from("flowchart TD\n");
    let id = |name: &str| {
        view.components
            .iter()
            .position(|c| c.component.name == name)
            .map_or_else(|| "unknown".to_owned(), |i| format!("c{i}"))
    };
    for (i, c) in view.components.iter().enumerate() {
        let f = &c.figures;
        let label = mermaid_text(&format!(
            "{}<br/>{} · {}<br/>avail {} · DORA {}",
            c.component.name,
            c.component.kind,
            f.team.as_deref().unwrap_or("no owner"),
            pct(f.availability, 2),
            band_name(f.dora_band)
        ))
        // The line breaks are Mermaid's own markup: keep them.
        .replace("#lt;br/#gt;", "<br/>");
        let (open, close) = match c.component.kind {
            ComponentKind::Service => ("[", "]"),
            ComponentKind::Database => ("[(", ")]"),
            ComponentKind::Queue => ("[/", "/]"),
            ComponentKind::ExternalApi => ("{{", "}}"),
            ComponentKind::Frontend => ("([", "])"),
        };
        let _ = writeln!(s, "  c{i}{open}\"{label}\"{close}");
    }
    for (i, c) in view.components.iter().enumerate() {
        for d in &c.component.depends_on {
            let _ = writeln!(s, "  c{i} --> {}", id(d));
        }
    }
    let weak: Vec<String> = view
        .components
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            view.assessment
                .weak_spots
                .iter()
                .any(|w| w.component == c.component.name)
        })
        .map(|(i, _)| format!("c{i}"))
        .collect();
    if !weak.is_empty() {
        s.push_str("  classDef weak stroke:#cf222e,stroke-width:3px\n");
        let _ = writeln!(s, "  class {} weak", weak.join(","));
    }
    s
}

fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A Graphviz digraph, top to bottom like the page.
pub(crate) fn dot(view: &SystemView) -> String {
    let mut s = String::from(
        "digraph system {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n",
    );
    for c in &view.components {
        let f = &c.figures;
        let weak = view
            .assessment
            .weak_spots
            .iter()
            .any(|w| w.component == c.component.name);
        let shape = match c.component.kind {
            ComponentKind::Database => "cylinder",
            ComponentKind::Queue => "parallelogram",
            ComponentKind::ExternalApi => "hexagon",
            ComponentKind::Frontend => "oval",
            ComponentKind::Service => "box",
        };
        let _ = writeln!(
            s,
            "  \"{}\" [shape={shape}, label=\"{}\\n{} · {}\\navail {} · DORA {}\"{}];",
            dot_text(&c.component.name),
            dot_text(&c.component.name),
            c.component.kind,
            dot_text(f.team.as_deref().unwrap_or("no owner")),
            pct(f.availability, 2),
            band_name(f.dora_band),
            if weak { ", color=red, penwidth=2" } else { "" }
        );
    }
    for c in &view.components {
        for d in &c.component.depends_on {
            let _ = writeln!(
                s,
                "  \"{}\" -> \"{}\";",
                dot_text(&c.component.name),
                dot_text(d)
            );
        }
    }
    s.push_str("}\n");
    s
}
