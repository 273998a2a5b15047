//! `dora` and `explain`: the weekly DORA figures, and the chain behind one of them.

use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Args;

use super::table::{OutputFormat, Table};
use super::{day, hours, last_weeks, when};
use crate::analysis::dora::Scope;
use crate::app::App;
use crate::model::Calendar;

/// `dora` options.
#[derive(Debug, Args)]
pub struct DoraArgs {
    /// Weeks to show, ending with the last complete one.
    #[arg(long, default_value_t = 13)]
    pub weeks: u32,
    /// Only this service (default: the organisation, every team, then every service).
    #[arg(long, conflicts_with = "team")]
    pub service: Option<String>,
    /// Only this team (its services pooled), then each of its services.
    #[arg(long)]
    pub team: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// `explain` options.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The service (default: the whole organisation).
    #[arg(long)]
    pub service: Option<String>,
    /// Any day of the ISO week (UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub week: NaiveDate,
    /// deployment_frequency, lead_time, change_failure_rate, recovery_time or rework_rate.
    #[arg(long)]
    pub metric: crate::analysis::dora::Metric,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// Weekly DORA figures of the organisation and each service (or one service).
pub(super) fn dora(app: &App, args: DoraArgs) -> anyhow::Result<ExitCode> {
    let cal = app.calendar();
    let store = &app.store;
    // One service alone: only its part's events are read (a service the store does not know
    // falls through to the whole model, whose error lists the known ones).
    let part = match (&args.service, &args.team) {
        (Some(s), None) => crate::query::views::dora_model_of(store, &app.settings, s)?,
        _ => None,
    };
    let model = match part {
        Some(model) => model,
        None => crate::query::views::dora_model(store, &app.settings)?,
    };
    let bands = app.settings.bands.clone();
    let weeks = last_weeks(cal, args.weeks);
    let teams = app.teams()?;
    let scopes = crate::query::teams::dora_scopes(
        &model,
        &teams,
        args.service.as_deref(),
        args.team.as_deref(),
        None,
    )?;
    let rows = crate::analysis::dora::weekly_scopes(&model, &scopes, &weeks, &bands);
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        OutputFormat::Table => {
            let table = Table::new("  ")
                .left(10)
                .right(7)
                .right(6)
                .right(10)
                .right(10)
                .right(13)
                .right(10)
                .right(7);
            println!("DORA bands: {} ({})", bands.source, bands.url);
            for (scope, weeks) in scopes.iter().zip(&rows) {
                match scope {
                    Scope::Org => println!("\norganisation"),
                    Scope::Service(s) => match teams.owner_of(s) {
                        Some(t) => println!("\n{s} (team {})", t.name),
                        None => println!("\n{s}"),
                    },
                    Scope::Team { name, services } => {
                        println!("\nteam {name}: {}", services.join(", "))
                    }
                }
                table.print(&[
                    "week", "deploys", "days", "lead p50", "lead p90", "CFR (n)", "recovery",
                    "rework",
                ]);
                for w in weeks {
                    let f = &w.week;
                    table.print(&[
                        day(cal, w.week_ms),
                        f.deployments.to_string(),
                        f.deploy_days.to_string(),
                        hours(f.lead_time.map(|q| q.p50)),
                        hours(f.lead_time.map(|q| q.p90)),
                        f.change_failure_rate.map_or("-".to_owned(), |r| {
                            format!(
                                "{:.0}% ({}){}",
                                100.0 * r.value,
                                r.n,
                                if r.low_n { "*" } else { "" }
                            )
                        }),
                        hours(f.recovery_time.map(|q| q.p50)),
                        f.rework_rate
                            .map_or("-".to_owned(), |r| format!("{:.0}%", 100.0 * r.value)),
                    ]);
                }
                if let Some(w) = weeks.last() {
                    let b: Vec<String> = w
                        .rolling_13w
                        .bands
                        .iter()
                        .map(|(m, b)| format!("{} {}", m.as_str(), b.as_str()))
                        .collect();
                    println!("  13-week bands: {}", b.join(", "));
                }
            }
            println!("\n* fewer than 5 deployments: the rate says little");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `teams` options.
#[derive(Debug, Args)]
pub struct TeamsArgs {
    /// The last week of the 13 (any day of it; default: the last complete week).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub week: Option<NaiveDate>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// The teams' roll-ups.
pub(super) fn teams(app: &App, args: TeamsArgs) -> anyhow::Result<ExitCode> {
    let cal = app.calendar();
    let model = crate::query::views::dora_model(&app.store, &app.settings)?;
    let week = match args.week {
        Some(d) => cal.week_start(cal.local_midnight(d)),
        None => cal.week_start(crate::clock::now_ms()) - crate::analysis::WEEK_MS,
    };
    let view = crate::query::teams::teams_view(
        &model,
        &*app.teams()?,
        &app.slos,
        week,
        &app.settings.bands,
    );
    if args.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(ExitCode::SUCCESS);
    }
    if view.teams.is_empty() {
        println!("no teams configured ([[teams]] in the configuration; see docs/teams.md)");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "13 weeks to {} (each team's services pooled)",
        day(cal, week)
    );
    let table = Table::new("  ")
        .left(10)
        .left(24)
        .right(9)
        .right(9)
        .right(10)
        .right(9)
        .left(30);
    table.print(&[
        "team",
        "services",
        "deploys/w",
        "lead p50",
        "CFR (n)",
        "recovery",
        "bands",
    ]);
    for t in &view.teams {
        let f = t.dora_13w.as_ref();
        table.print(&[
            t.name.clone(),
            t.services.join(", "),
            f.map_or("-".to_owned(), |f| format!("{:.1}", f.deployments_per_week)),
            hours(f.and_then(|f| f.lead_time.map(|q| q.p50))),
            f.and_then(|f| f.change_failure_rate)
                .map_or("-".to_owned(), |r| {
                    format!("{:.0}% ({})", 100.0 * r.value, r.n)
                }),
            hours(f.and_then(|f| f.recovery_time.map(|q| q.p50))),
            f.map_or(String::new(), |f| {
                f.bands
                    .iter()
                    .map(|(m, b)| format!("{} {}", m.as_str(), b.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        ]);
    }
    if !view.unowned.is_empty() {
        println!("\nowned by no team: {}", view.unowned.join(", "));
    }
    for t in view
        .teams
        .iter()
        .filter(|t| !t.derived_from_codeowners.is_empty())
    {
        println!(
            "{}: from CODEOWNERS: {}",
            t.name,
            t.derived_from_codeowners.join(", ")
        );
    }
    for c in &view.conflicts {
        println!("ownership conflict: {c}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The deployments, changes and failure signals behind one figure.
pub(super) fn explain(app: &App, args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let cal = app.calendar();
    let store = &app.store;
    let model = crate::query::views::dora_model(store, &app.settings)?;
    if let Some(s) = &args.service {
        if !model.services.iter().any(|x| x.name == *s) {
            anyhow::bail!("no service {s:?}");
        }
    }
    let bands = app.settings.bands.clone();
    let week = cal.local_midnight(args.week);
    let e =
        crate::analysis::dora::explain(&model, args.service.as_deref(), week, args.metric, &bands);
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&e)?),
        OutputFormat::Table => print_explanation(cal, &e),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_explanation(cal: Calendar, e: &crate::analysis::dora::Explanation) {
    use crate::analysis::dora::FailureSignal;
    println!(
        "{} of {} in the week of {}: {}",
        e.metric.as_str(),
        e.service.as_deref().unwrap_or("the organisation"),
        day(cal, e.week_ms),
        e.value.map_or("no value".to_owned(), |v| format!("{v:.4}"))
    );
    println!("  = {}", e.formula);
    let c = &e.figures.coverage;
    println!(
        "  coverage: change sets resolved {}, incidents attributed {}",
        c.change_sets_resolved
            .map_or("-".into(), |v| format!("{:.0}%", 100.0 * v)),
        c.incidents_attributed
            .map_or("-".into(), |v| format!("{:.0}%", 100.0 * v)),
    );
    for d in &e.deployments {
        println!(
            "\n  deployment {} of {} at {} ({:?}), sha {}, change set {:?}",
            d.id,
            d.service,
            when(d.at_ms),
            d.state,
            &d.sha[..d.sha.len().min(12)],
            d.change_set
        );
        for ch in &d.changes {
            let who = ch.pr.map_or(
                format!("commit {}", &ch.title[..ch.title.len().min(12)]),
                |n| format!("PR #{n} {:?}", ch.title),
            );
            println!(
                "    {who}: {} commit(s), first {}, lead {}{}",
                ch.commits.len(),
                when(ch.first_commit_ms),
                hours(Some(ch.lead_ms as f64 / 1000.0)),
                ch.unplanned
                    .as_ref()
                    .map_or(String::new(), |u| format!(", unplanned: {u}"))
            );
        }
        for f in &d.failures {
            let text = match f {
                FailureSignal::Status { state } => format!("status {state:?}"),
                FailureSignal::Incident { number, how } => format!("incident #{number} ({how})"),
                FailureSignal::Revert { by, reverted } => {
                    format!("revert: PR #{by} reverted #{reverted}")
                }
                FailureSignal::RolledBack { by } => format!("rolled back by deployment {by}"),
            };
            println!("    failure: {text}");
        }
        if let Some(u) = &d.unplanned {
            println!("    unplanned: {u}");
        }
        if let Some(r) = &d.recovery {
            println!(
                "    recovered after {} by {}",
                hours(Some(r.duration_ms as f64 / 1000.0)),
                r.by
            );
        }
    }
    for i in &e.incidents {
        println!(
            "\n  incident #{} opened {}: {}",
            i.number,
            when(i.opened_ms),
            if i.deployments.is_empty() {
                i.how.clone()
            } else {
                format!("deployments {:?} ({})", i.deployments, i.how)
            }
        );
    }
}
