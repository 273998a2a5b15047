//! `revenue` and `reliability`: the monthly revenue figures and the weekly SLO figures.

use std::process::ExitCode;

use clap::Args;

use super::table::{OutputFormat, Table};
use crate::analysis::reliability::SloStatus;
use crate::app::App;

/// `revenue` options.
#[derive(Debug, Args)]
pub struct RevenueArgs {
    /// Only customers of this segment.
    #[arg(long)]
    pub segment: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// `reliability` options.
#[derive(Debug, Args)]
pub struct ReliabilityArgs {
    /// Weeks to show, ending with the last complete one.
    #[arg(long, default_value_t = 13)]
    pub weeks: u32,
    /// Only the SLOs of this team's services.
    #[arg(long)]
    pub team: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// Monthly revenue figures.
pub(super) fn revenue(app: &App, args: RevenueArgs) -> anyhow::Result<ExitCode> {
    let months = crate::analysis::revenue::monthly(
        &crate::query::revenue::snapshots(&app.store)?,
        app.settings.revenue,
        args.segment.as_deref(),
    );
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&months)?),
        OutputFormat::Table => {
            let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1}%", 100.0 * v));
            let table = Table::new("")
                .left(8)
                .right(14)
                .right(14)
                .right(9)
                .right(8)
                .right(8)
                .right(8)
                .right(8);
            table.print(&[
                "month",
                "MRR",
                "ARR",
                "customers",
                "MoM",
                "YoY",
                "NRR",
                "GRR",
            ]);
            for m in &months {
                table.print(&[
                    m.month.to_string(),
                    format!("{:.2}", m.mrr),
                    format!("{:.2}", m.arr),
                    m.customers.to_string(),
                    pct(m.mom_growth),
                    pct(m.yoy_growth),
                    pct(m.nrr),
                    pct(m.grr),
                ]);
            }
            if let Some(m) = months.last() {
                println!(
                    "NRR/GRR: {} ({})",
                    m.retention_formula, app.settings.currency
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Weekly SLO figures.
pub(super) fn reliability(app: &App, args: ReliabilityArgs) -> anyhow::Result<ExitCode> {
    let weeks = super::last_weeks(app.calendar(), args.weeks);
    let teams = app.teams()?;
    let team = match args.team.as_deref() {
        Some(name) => Some(teams.get(name).ok_or_else(|| {
            let known: Vec<&str> = teams.iter().map(|t| t.name.as_str()).collect();
            anyhow::anyhow!("no team {name:?}; known: {}", known.join(", "))
        })?),
        None => None,
    };
    let rows: Vec<_> = app
        .slos
        .iter()
        .filter(|d| team.is_none_or(|t| t.services.contains(&d.service)))
        .map(|d| Ok((d, crate::query::slo_weeks(&app.store, d, &weeks)?)))
        .collect::<Result<_, crate::store::StoreError>>()?;
    match args.format {
        OutputFormat::Json => {
            let doc: Vec<_> = rows
                .iter()
                .map(|(d, w)| serde_json::json!({"slo": d.name, "service": d.service, "team": teams.owner_of(&d.service).map(|t| t.name.as_str()), "target": d.spec.target, "weeks": w}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        OutputFormat::Table => {
            let pct = |v: Option<f64>, digits: usize| {
                v.map_or("-".to_owned(), |v| format!("{:.*}%", digits, 100.0 * v))
            };
            let table = Table::new("  ")
                .left(10)
                .right(9)
                .right(9)
                .right(9)
                .right(9)
                .right(12)
                .right(9)
                .right(8);
            for (d, weeks) in &rows {
                println!(
                    "{} ({}), target {}",
                    d.name,
                    d.service,
                    pct(Some(d.spec.target), 2)
                );
                table.print(&[
                    "week", "avail.", "bad min", "budget", "burn 1d", "requests", "errors",
                    "status",
                ]);
                let count = |v: Option<f64>| v.map_or("-".into(), |n| format!("{n:.0}"));
                for w in weeks {
                    let day = chrono::DateTime::from_timestamp_millis(w.week_start)
                        .map(|t| t.date_naive().to_string())
                        .unwrap_or_default();
                    table.print(&[
                        day,
                        pct(w.availability, 3),
                        count(w.bad_minutes),
                        pct(w.error_budget_remaining, 0),
                        w.burn_rates[2].map_or("-".into(), |b| format!("{b:.2}")),
                        count(w.total_requests),
                        count(w.error_requests),
                        match w.status {
                            SloStatus::Met => "met",
                            SloStatus::Breached => "breached",
                            SloStatus::NoData => "no data",
                        }
                        .to_owned(),
                    ]);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
