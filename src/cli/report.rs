//! `report`: the weekly view (revenue, reliability and delivery on one axis) and the pressure
//! index, as a table, JSON or CSV.

use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Args;

use super::day;
use super::table::Table;
use crate::app::App;
use crate::model::Calendar;

/// `report` options.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// First week (any day of it, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<NaiveDate>,
    /// Last week (any day of it, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<NaiveDate>,
    /// One service's delivery and reliability weeks and change points, instead of the
    /// organisation's (the pressure index is organisation-wide).
    #[arg(long, conflicts_with = "product")]
    pub service: Option<String>,
    /// One product's view: the revenue of its segments and plans, the delivery and SLOs of its
    /// services, and its own pressure index, regime and shifts.
    #[arg(long)]
    pub product: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

/// `report --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON document.
    Json,
    /// One CSV row per week.
    Csv,
}

/// Prints the weekly view.
pub(super) fn report(app: &App, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let cal = app.calendar();
    let store = &app.store;
    let model = crate::query::views::dora_model(store, &app.settings)?;
    let slos = &app.slos;
    let now = crate::clock::now_ms();
    let w = match args.product.as_deref() {
        None => crate::query::views::weekly(
            store,
            &app.settings,
            &model,
            slos,
            now,
            args.service.as_deref(),
        )?,
        Some(name) => {
            let product = app.products.get(name).ok_or_else(|| {
                anyhow::anyhow!("no product {name:?}; known: {}", app.products.names())
            })?;
            for missing in product.missing_sides() {
                eprintln!("product {name}: {missing}");
            }
            crate::query::views::product_weekly(store, &app.settings, &model, slos, now, product)?
        }
    };
    let ms = |d: Option<NaiveDate>, default: i64| {
        d.map_or(default, |d| cal.week_start(cal.local_midnight(d)))
    };
    let (from, to) = (ms(args.from, i64::MIN), ms(args.to, i64::MAX));
    print_report(cal, &w, args.service.as_deref(), from, to, args.format)?;
    Ok(ExitCode::SUCCESS)
}

fn print_report(
    cal: Calendar,
    w: &crate::query::views::Weekly,
    service: Option<&str>,
    from: i64,
    to: i64,
    format: ReportFormat,
) -> anyhow::Result<()> {
    use crate::analysis::pressure::{Component, PressureStatus, PressureWeek};
    let scope = match service {
        None => &w.org,
        Some(s) => w.services.get(s).ok_or_else(|| {
            let known: Vec<&str> = w.services.keys().map(String::as_str).collect();
            anyhow::anyhow!("no service {s:?}; known: {}", known.join(", "))
        })?,
    };
    // The pressure index is the organisation's: a service's rows have none.
    let none = PressureWeek {
        status: PressureStatus::NoIndex,
        ..PressureWeek::default()
    };
    let rows: Vec<_> = scope
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let p = match service {
                None => w.pressure.weeks.get(i).unwrap_or(&none),
                Some(_) => &none,
            };
            (r, p)
        })
        .filter(|(r, _)| r.signals.week_ms >= from && r.signals.week_ms <= to)
        .collect();
    let shifts: Vec<_> = w
        .pressure
        .shifts
        .iter()
        .filter(|s| service.is_none() && s.week_ms >= from && s.week_ms <= to)
        .collect();
    let change_points = scope.change_points_in(from, to);
    let num = |v: Option<f64>, digits: usize| v.map_or(String::new(), |v| format!("{v:.digits$}"));
    match format {
        ReportFormat::Json => {
            let weeks: Vec<_> = rows
                .iter()
                .map(|(r, p)| serde_json::json!({"week": day(cal, r.signals.week_ms), "signals": r, "pressure": p}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "scope": service.unwrap_or("organisation"),
                    "weeks": weeks,
                    "shifts": shifts,
                    "change_points": change_points,
                    "trends": scope.trends,
                }))?
            );
        }
        ReportFormat::Csv => {
            let mut out = csv::Writer::from_writer(std::io::stdout());
            out.write_record([
                "week",
                "status",
                "revenue_as_of",
                "mrr",
                "nrr",
                "grr",
                "deployments",
                "lead_time_s",
                "cfr_4w",
                "recovery_4w_s",
                "incidents",
                "burn_rate",
                "budget_consumed_4w",
                "growth",
                "resilience",
                "p",
                "regime",
                "watch",
                "optional_missing",
                "profitability",
            ])?;
            for (r, p) in &rows {
                let s = &r.signals;
                let cells = [
                    day(cal, s.week_ms),
                    p.status.to_string(),
                    s.revenue_as_of.clone().unwrap_or_default(),
                    num(s.mrr, 2),
                    num(s.nrr, 4),
                    num(s.grr, 4),
                    num(s.deployments, 0),
                    num(s.lead_time_s, 0),
                    num(s.cfr_4w, 4),
                    num(s.recovery_4w_s, 0),
                    num(s.incidents, 0),
                    num(s.burn_rate, 3),
                    num(s.budget_consumed_4w, 3),
                    num(p.growth, 3),
                    num(p.resilience, 3),
                    num(p.p, 3),
                    p.regime.map(|r| r.as_str().to_owned()).unwrap_or_default(),
                    p.watch
                        .as_ref()
                        .map(|w| w.summary.clone())
                        .unwrap_or_default(),
                    p.optional_missing
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    p.profitability
                        .as_ref()
                        .map(|t| t.label())
                        .unwrap_or_default()
                        .to_owned(),
                ];
                // Spreadsheets run cells that start like formulas (OWASP CSV injection).
                out.write_record(
                    cells
                        .iter()
                        .map(|c| crate::sheet::safe_cell(c).into_owned()),
                )?;
            }
            out.flush()?;
        }
        ReportFormat::Table => {
            let table = Table::new("")
                .left(10)
                .right(8)
                .right(6)
                .right(6)
                .right(7)
                .right(6)
                .right(6)
                .right(6)
                .right(6)
                .right(6)
                .gap("  ")
                .left(0);
            table.print(&[
                "week", "as of", "NRR", "GRR", "deploys", "CFR4w", "burn", "G", "R", "P", "regime",
            ]);
            for (r, p) in &rows {
                let s = &r.signals;
                let pct =
                    |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.0}%", 100.0 * v));
                let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:+.2}"));
                table.print(&[
                    day(cal, s.week_ms),
                    s.revenue_as_of.as_deref().unwrap_or("-").to_owned(),
                    pct(s.nrr),
                    pct(s.grr),
                    s.deployments.map_or("-".to_owned(), |v| format!("{v:.0}")),
                    pct(s.cfr_4w),
                    s.burn_rate.map_or("-".to_owned(), |v| format!("{v:.2}")),
                    f(p.growth),
                    f(p.resilience),
                    f(p.p),
                    match (p.regime, &p.watch) {
                        (Some(r), Some(w)) if p.status == PressureStatus::Scored => {
                            format!("{} ({})", r.as_str(), w.summary)
                        }
                        (Some(r), None) if p.status == PressureStatus::Scored => {
                            r.as_str().to_owned()
                        }
                        _ => p.status.to_string(),
                    },
                ]);
            }
            // The optional components and the profitability tag of the last scored week shown.
            if let Some((r, p)) = rows
                .iter()
                .rev()
                .find(|(_, p)| p.status == PressureStatus::Scored)
            {
                println!(
                    "\nweek of {}: optional components used: {}; missing (left out, never zero): {}",
                    day(cal, r.signals.week_ms),
                    Component::names(&p.optional_used),
                    Component::names(&p.optional_missing)
                );
                match &p.profitability {
                    None => println!("profitability: no cost or margin data"),
                    Some(t) => {
                        println!("{} (a tag on the regime, not part of P)", t.summary);
                        for e in &t.evidence {
                            let (c, v) = (e.condition.as_str(), e.verdict());
                            println!("  {c}: {v} - {}", e.summary);
                        }
                    }
                }
            }
            if service.is_none() {
                println!("\nshifts:");
                if shifts.is_empty() {
                    println!("  none in these weeks");
                }
                for s in shifts {
                    println!("  {}", s.summary);
                }
            }
            println!("\nchange points:");
            if change_points.is_empty() {
                println!("  none in these weeks");
            }
            for c in change_points {
                println!(
                    "  {} from the week of {}: {:.3} -> {:.3} (95% interval of the change {:+.3} to {:+.3}; probability {:.2})",
                    c.signal,
                    day(cal, c.week_ms),
                    c.before,
                    c.after,
                    c.interval.0,
                    c.interval.1,
                    c.probability
                );
            }
            println!("\nP = R - G (docs/pressure.md): R = resilience need 0..1, G = growth momentum -1..1; negative P: growth pressure dominates.");
        }
    }
    Ok(())
}
