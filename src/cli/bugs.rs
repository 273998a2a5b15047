//! `bugs`: weekly bug patterns of the organisation, each team and each service.

use std::process::ExitCode;

use clap::Args;

use super::table::{OutputFormat, Table};
use super::{day, last_weeks};
use crate::app::App;

/// `bugs` options.
#[derive(Debug, Args)]
pub struct BugsArgs {
    /// Weeks to show, ending with the last complete one.
    #[arg(long, default_value_t = 13)]
    pub weeks: u32,
    /// Only this service.
    #[arg(long, conflicts_with = "team")]
    pub service: Option<String>,
    /// Only this team (its services pooled), then each of its services.
    #[arg(long, conflicts_with = "product")]
    pub team: Option<String>,
    /// Only this product (its services pooled), then each of its services.
    #[arg(long, conflicts_with = "service")]
    pub product: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// Weekly bug figures.
pub(super) fn bugs(app: &App, args: BugsArgs) -> anyhow::Result<ExitCode> {
    let cal = app.calendar();
    let model = crate::query::views::dora_model(&app.store, &app.settings)?;
    let scopes = crate::query::teams::dora_scopes(
        &model,
        &*app.teams()?,
        args.service.as_deref(),
        args.team.as_deref(),
        None,
    )?;
    let weeks = last_weeks(cal, args.weeks);
    let facts = crate::query::bugs::bug_facts(&app.store, &model, &app.settings)?;
    let series = match args.product.as_deref() {
        None => crate::query::bugs::bug_series(&facts, &scopes, &weeks, &app.settings),
        Some(name) => {
            let p = app.products.get(name).ok_or_else(|| {
                anyhow::anyhow!("no product {name:?}; known: {}", app.products.names())
            })?;
            crate::query::bugs::product_bug_series(&facts, p, &weeks, &app.settings)
        }
    };
    if args.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&series)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Bugs: issues labelled {} (escaped = opened within {} h after a deployment of the service)",
        app.config.github.bug_labels.join(" or "),
        app.settings.bugs.escaped_window_ms / 3_600_000
    );
    let table = Table::new("  ")
        .left(10)
        .right(6)
        .right(6)
        .right(8)
        .right(5)
        .right(9)
        .right(7);
    for s in &series {
        match (&s.team, &s.service) {
            _ if s.product.is_some() => {
                println!("\nproduct {}", s.product.as_deref().unwrap_or_default())
            }
            (Some(t), _) => println!("\nteam {t}"),
            (None, Some(svc)) => println!("\n{svc}"),
            (None, None) => println!("\norganisation"),
        }
        table.print(&[
            "week", "opened", "closed", "reopened", "open", "age p50", "escaped",
        ]);
        for w in &s.weeks {
            table.print(&[
                day(cal, w.week_ms),
                w.opened.to_string(),
                w.closed.to_string(),
                w.reopened.to_string(),
                w.open_at_end.to_string(),
                w.open_age_p50_s
                    .map_or("-".to_owned(), |a| format!("{:.1} d", a / 86_400.0)),
                w.escaped.to_string(),
            ]);
        }
        if let Some(w) = s.weeks.iter().rev().find(|w| w.escaped > 0) {
            let named: Vec<String> = w
                .escaped_bugs
                .iter()
                .map(|e| format!("{} (deployment {})", e.bug, e.deployment))
                .collect();
            println!(
                "  latest escaped, week of {}: {}",
                day(cal, w.week_ms),
                named.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
