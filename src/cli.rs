//! The command line: one subcommand per job.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::analysis::{week_start, WEEK_MS};
use crate::config::{Config, ConfigError, Sources};
use crate::serve::{self, DemoSeed};
use crate::sources::pull::Health;
use crate::sources::revenue_csv::Layout;
use crate::sources::revenue_import::{self, ImportOptions};
use crate::sources::{demo, sync_once, SourceKind, SyncOptions};
use crate::store::Store;
use crate::telemetry;

/// Barometer: business and engineering signals on one weekly axis.
#[derive(Debug, Parser)]
#[command(name = "barometer", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (TOML); its keys override the built-in defaults.
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "BAROMETER_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// Pin business time (the last complete week, the digest's schedule, the demo's end) to this
    /// instant (RFC 3339) or date (at 12:00 UTC), to reproduce a run on a later day.
    #[arg(long, global = true, env = "BAROMETER_NOW", value_name = "WHEN", value_parser = crate::clock::parse)]
    pub now: Option<DateTime<Utc>>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: HTTP server, /metrics and background work.
    Serve(ServeArgs),
    /// Seed the built-in demo organisation into the store.
    Demo(DemoArgs),
    /// Fetch new data from the configured sources once, then exit.
    Sync(SyncArgs),
    /// Import data files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Show monthly revenue figures: MRR, ARR, movements, growth, NRR and GRR.
    Revenue(RevenueArgs),
    /// Show weekly SLO figures: availability, error ratio, bad time, error budget, burn rates.
    Reliability(ReliabilityArgs),
    /// Show weekly DORA figures per service: deployment frequency, lead time, change failure
    /// rate, recovery time and rework rate, with their DORA bands.
    Dora(DoraArgs),
    /// Explain one DORA figure: the deployments, changes, pull requests, commits and failure
    /// signals behind it.
    Explain(ExplainArgs),
    /// The weekly view: revenue, reliability and delivery on one axis, the pressure index
    /// (growth momentum against resilience need), the regime and the shifts.
    Report(ReportArgs),
    /// Produce the weekly digest for architects: write its files (digest.out_dir) and post the
    /// webhook (digest.webhook_url_env), or print it.
    Digest(DigestArgs),
    /// Write the stored history in another format.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Seed the demo data set first if the store is empty (or a seeding was interrupted).
    #[arg(long)]
    pub demo: bool,
    /// Listen address; overrides server.listen.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// RNG seed of the demo data set.
    #[arg(long, default_value_t = 42, requires = "demo")]
    pub seed: u64,
}

/// `demo` options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// RNG seed: the same seed and end date give the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The data ends before the Monday of this date's week (default: this week).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub end: Option<NaiveDate>,
}

/// `sync` options.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The source to sync (default: every configured source).
    #[arg(long, value_enum)]
    pub source: Option<SourceKind>,
    /// Re-read from this date (UTC) instead of resuming from the stored cursor.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub since: Option<NaiveDate>,
    /// Only this repository (`owner/name`, GitHub).
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
}

/// `import` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import revenue CSV files (snapshots, movements or totals). Each file is validated whole
    /// and applied atomically; on any error nothing is applied and every bad row is listed.
    Revenue(ImportRevenueArgs),
    /// Show the import history.
    List,
}

/// `import revenue` options.
#[derive(Debug, Args)]
pub struct ImportRevenueArgs {
    /// CSV files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The layout; `auto` detects it from the header.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// The revenue source the files belong to; a file replaces the months it covers within it.
    #[arg(long, default_value = "default")]
    pub source: String,
    /// Validate and show what would change, without writing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `export` subcommands.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The weekly history as OpenMetrics with timestamps, on stdout, for
    /// `promtool tsdb create-blocks-from openmetrics`.
    Openmetrics {
        /// From the ISO week holding this date (default: all history).
        #[arg(long, value_name = "YYYY-MM-DD")]
        since: Option<NaiveDate>,
    },
}

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
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// `dora` options.
#[derive(Debug, Args)]
pub struct DoraArgs {
    /// Weeks to show, ending with the last complete one.
    #[arg(long, default_value_t = 13)]
    pub weeks: u32,
    /// Only this service (default: the organisation, then every service).
    #[arg(long)]
    pub service: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

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
    #[arg(long)]
    pub service: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

/// `digest` options.
#[derive(Debug, Args)]
pub struct DigestArgs {
    /// The week (any day of it, UTC; default: the last complete week).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub week: Option<NaiveDate>,
    /// Print the digest in this format instead of delivering it.
    #[arg(long, value_enum)]
    pub print: Option<DigestFormat>,
    /// Post the webhook even if it already got this week's digest.
    #[arg(long)]
    pub resend: bool,
}

/// `digest --print` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DigestFormat {
    /// Markdown.
    Markdown,
    /// A standalone HTML page.
    Html,
    /// Every figure as JSON.
    Json,
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

/// The Mondays (ms) of the last `n` complete ISO weeks, oldest first (at most ten years).
fn last_weeks(n: u32) -> Vec<i64> {
    let last = week_start(crate::clock::now_ms()) - WEEK_MS;
    (0..i64::from(n.clamp(1, 520)))
        .rev()
        .map(|i| last - i * WEEK_MS)
        .collect()
}

/// The date of an instant in the analysis time zone.
fn day(ms: i64) -> String {
    crate::analysis::local_date(ms).to_string()
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn hours(secs: Option<f64>) -> String {
    secs.map_or("-".to_owned(), |s| format!("{:.1} h", s / 3600.0))
}

fn print_report(
    w: &crate::serve::views::Weekly,
    service: Option<&str>,
    from: i64,
    to: i64,
    format: ReportFormat,
) -> anyhow::Result<()> {
    use crate::analysis::pressure::PressureWeek;
    let scope = match service {
        None => &w.org,
        Some(s) => w.services.get(s).ok_or_else(|| {
            let known: Vec<&str> = w.services.keys().map(String::as_str).collect();
            anyhow::anyhow!("no service {s:?}; known: {}", known.join(", "))
        })?,
    };
    // The pressure index is the organisation's: a service's rows have none.
    let none = PressureWeek {
        status: "-".into(),
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
                .map(|(r, p)| serde_json::json!({"week": day(r.signals.week_ms), "signals": r, "pressure": p}))
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
            ])?;
            for (r, p) in &rows {
                let s = &r.signals;
                out.write_record([
                    day(s.week_ms),
                    p.status.clone(),
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
                ])?;
            }
            out.flush()?;
        }
        ReportFormat::Table => {
            println!(
                "{:<10} {:>8} {:>6} {:>6} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6}  regime",
                "week", "as of", "NRR", "GRR", "deploys", "CFR4w", "burn", "G", "R", "P"
            );
            for (r, p) in &rows {
                let s = &r.signals;
                let pct =
                    |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.0}%", 100.0 * v));
                let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:+.2}"));
                println!(
                    "{:<10} {:>8} {:>6} {:>6} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6}  {}",
                    day(s.week_ms),
                    s.revenue_as_of.as_deref().unwrap_or("-"),
                    pct(s.nrr),
                    pct(s.grr),
                    s.deployments.map_or("-".to_owned(), |v| format!("{v:.0}")),
                    pct(s.cfr_4w),
                    s.burn_rate.map_or("-".to_owned(), |v| format!("{v:.2}")),
                    f(p.growth),
                    f(p.resilience),
                    f(p.p),
                    match (p.regime, &p.watch) {
                        (Some(r), Some(w)) if p.status == "scored" => {
                            format!("{} ({})", r.as_str(), w.summary)
                        }
                        (Some(r), None) if p.status == "scored" => r.as_str().to_owned(),
                        _ => p.status.clone(),
                    }
                );
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
                    day(c.week_ms),
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

fn print_explanation(e: &crate::analysis::dora::Explanation) {
    use crate::analysis::dora::FailureSignal;
    println!(
        "{} of {} in the week of {}: {}",
        e.metric.as_str(),
        e.service.as_deref().unwrap_or("the organisation"),
        day(e.week_ms),
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

/// Output formats of report commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON document.
    Json,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Detect from the header.
    Auto,
    /// customer_id, month, mrr.
    Snapshots,
    /// date, customer_id, type, amount.
    Movements,
    /// month, arr.
    Totals,
}

impl FormatArg {
    fn layout(self) -> Option<Layout> {
        match self {
            FormatArg::Auto => None,
            FormatArg::Snapshots => Some(Layout::Snapshots),
            FormatArg::Movements => Some(Layout::Movements),
            FormatArg::Totals => Some(Layout::Totals),
        }
    }
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it, secrets redacted. Exits 2 on any problem.
    Check,
}

/// Exit code for configuration problems.
pub const EXIT_CONFIG: u8 = 2;

fn load_config(cli: &Cli) -> Result<Config, ConfigError> {
    Config::load(&Sources {
        file: cli.config.clone(),
        env: None,
    })
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(at) = cli.now {
        crate::clock::pin(at);
    }
    let mut config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    crate::analysis::set_week_offset_ms(i64::from(config.analysis.utc_offset_s) * 1000);
    match cli.command {
        Command::Config(ConfigCommand::Check) => {
            print!("{}", config.to_redacted_toml()?);
            eprintln!("configuration is valid");
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => {
            telemetry::init(&config.log);
            let store = Store::open(&config.storage.path)?;
            let end = args.end.unwrap_or_else(|| crate::clock::now().date_naive());
            let summary = demo::seed(&store, args.seed, end, &CancellationToken::new())?;
            store.flush()?;
            println!(
                "seeded the demo organisation into {}: {} to {}, {} deployments, {} pull \
                 requests, {} incidents, {} customers ({} revenue rows), {} points",
                config.storage.path.display(),
                summary.start,
                summary.end,
                summary.deployments,
                summary.changes,
                summary.incidents,
                summary.customers,
                summary.revenue_rows,
                summary.points
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Revenue(args) => {
            let store = Store::open(&config.storage.path)?;
            let settings = crate::analysis::revenue::RevenueSettings {
                window: config.revenue.retention_window,
                reactivation_as_expansion: config.revenue.reactivation_as_expansion,
            };
            let months = crate::analysis::revenue::monthly(
                &revenue_import::snapshots(&store)?,
                settings,
                args.segment.as_deref(),
            );
            match args.format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&months)?),
                OutputFormat::Table => {
                    let pct =
                        |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1}%", 100.0 * v));
                    println!(
                        "{:<8} {:>14} {:>14} {:>9} {:>8} {:>8} {:>8} {:>8}",
                        "month", "MRR", "ARR", "customers", "MoM", "YoY", "NRR", "GRR"
                    );
                    for m in &months {
                        println!(
                            "{:<8} {:>14.2} {:>14.2} {:>9} {:>8} {:>8} {:>8} {:>8}",
                            m.month,
                            m.mrr,
                            m.arr,
                            m.customers,
                            pct(m.mom_growth),
                            pct(m.yoy_growth),
                            pct(m.nrr),
                            pct(m.grr)
                        );
                    }
                    if let Some(m) = months.last() {
                        println!(
                            "NRR/GRR: {} ({})",
                            m.retention_formula, config.revenue.currency
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Dora(args) => {
            let store = Store::open(&config.storage.path)?;
            let model = crate::serve::views::dora_model(&store, &config)?;
            let bands = crate::serve::views::band_table(&config);
            let weeks = last_weeks(args.weeks);
            let scopes: Vec<Option<String>> = match &args.service {
                Some(s) => {
                    if !model.services.iter().any(|x| x.name == *s) {
                        anyhow::bail!(
                            "no service {s:?}; known: {}",
                            model
                                .services
                                .iter()
                                .map(|x| x.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                    vec![Some(s.clone())]
                }
                None => std::iter::once(None)
                    .chain(model.services.iter().map(|s| Some(s.name.clone())))
                    .collect(),
            };
            let rows = crate::analysis::dora::weekly_each(&model, &scopes, &weeks, &bands);
            match args.format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
                OutputFormat::Table => {
                    println!("DORA bands: {} ({})", bands.source, bands.url);
                    for (scope, weeks) in scopes.iter().zip(&rows) {
                        println!("\n{}", scope.as_deref().unwrap_or("organisation"));
                        println!(
                            "  {:<10} {:>7} {:>6} {:>10} {:>10} {:>13} {:>10} {:>7}",
                            "week",
                            "deploys",
                            "days",
                            "lead p50",
                            "lead p90",
                            "CFR (n)",
                            "recovery",
                            "rework"
                        );
                        for w in weeks {
                            let f = &w.week;
                            println!(
                                "  {:<10} {:>7} {:>6} {:>10} {:>10} {:>13} {:>10} {:>7}",
                                day(w.week_ms),
                                f.deployments,
                                f.deploy_days,
                                hours(f.lead_time.map(|q| q.p50)),
                                hours(f.lead_time.map(|q| q.p90)),
                                f.change_failure_rate.map_or("-".to_owned(), |r| format!(
                                    "{:.0}% ({}){}",
                                    100.0 * r.value,
                                    r.n,
                                    if r.low_n { "*" } else { "" }
                                )),
                                hours(f.recovery_time.map(|q| q.p50)),
                                f.rework_rate
                                    .map_or("-".to_owned(), |r| format!("{:.0}%", 100.0 * r.value)),
                            );
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
        Command::Report(args) => {
            let store = Store::open(&config.storage.path)?;
            let model = crate::serve::views::dora_model(&store, &config)?;
            let slos = crate::serve::metrics::slo_defs(&config, demo::is_seeded(&store)?);
            let now = crate::clock::now_ms();
            let w = crate::serve::views::weekly(
                &store,
                &config,
                &model,
                &slos,
                now,
                args.service.as_deref(),
            )?;
            let ms = |d: Option<NaiveDate>, default: i64| {
                d.map_or(default, |d| week_start(crate::analysis::local_midnight(d)))
            };
            let (from, to) = (ms(args.from, i64::MIN), ms(args.to, i64::MAX));
            print_report(&w, args.service.as_deref(), from, to, args.format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Digest(args) => {
            telemetry::init(&config.log);
            let store = Arc::new(Store::open(&config.storage.path)?);
            let slos = Arc::new(crate::serve::metrics::slo_defs(
                &config,
                demo::is_seeded(&store)?,
            ));
            let week = match args.week {
                Some(d) => week_start(crate::analysis::local_midnight(d)),
                None => crate::digest::week_for(crate::clock::now_ms()),
            };
            let cache = Arc::new(crate::serve::views::DoraCache::default());
            if let Some(format) = args.print {
                let d = crate::digest::build(&store, &config, &cache, &slos, week)?;
                let out = match format {
                    DigestFormat::Markdown => crate::digest::render::markdown(&d),
                    DigestFormat::Html => crate::digest::render::html(&d),
                    DigestFormat::Json => serde_json::to_string_pretty(&d)? + "\n",
                };
                print!("{out}");
                return Ok(ExitCode::SUCCESS);
            }
            let job = crate::digest::deliver::DigestJob {
                config: Arc::new(config.clone()),
                store,
                cache,
                slos,
                health: Arc::new(Health::default()),
            };
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            let done = runtime.block_on(job.run(week, args.resend))?;
            for f in &done.files {
                println!("wrote {}", f.display());
            }
            if done.webhook {
                println!("posted the webhook");
            } else if done.webhook_already_sent {
                println!("the webhook already got this week's digest (--resend to post again)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain(args) => {
            let store = Store::open(&config.storage.path)?;
            let model = crate::serve::views::dora_model(&store, &config)?;
            if let Some(s) = &args.service {
                if !model.services.iter().any(|x| x.name == *s) {
                    anyhow::bail!("no service {s:?}");
                }
            }
            let bands = crate::serve::views::band_table(&config);
            let week = crate::analysis::local_midnight(args.week);
            let e = crate::analysis::dora::explain(
                &model,
                args.service.as_deref(),
                week,
                args.metric,
                &bands,
            );
            match args.format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&e)?),
                OutputFormat::Table => print_explanation(&e),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Reliability(args) => {
            let store = Store::open(&config.storage.path)?;
            let slos = crate::serve::metrics::slo_defs(&config, demo::is_seeded(&store)?);
            let weeks = last_weeks(args.weeks);
            let rows: Vec<_> = slos
                .iter()
                .map(|d| (d, crate::serve::metrics::slo_weeks(&store, d, &weeks)))
                .collect();
            match args.format {
                OutputFormat::Json => {
                    let doc: Vec<_> = rows
                        .iter()
                        .map(|(d, w)| serde_json::json!({"slo": d.name, "service": d.service, "target": d.spec.target, "weeks": w}))
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&doc)?);
                }
                OutputFormat::Table => {
                    let pct = |v: Option<f64>, digits: usize| {
                        v.map_or("-".to_owned(), |v| format!("{:.*}%", digits, 100.0 * v))
                    };
                    for (d, weeks) in &rows {
                        println!(
                            "{} ({}), target {}",
                            d.name,
                            d.service,
                            pct(Some(d.spec.target), 2)
                        );
                        println!(
                            "  {:<10} {:>9} {:>9} {:>9} {:>9} {:>8}",
                            "week", "avail.", "bad min", "budget", "burn 1d", "status"
                        );
                        for w in weeks {
                            let day = chrono::DateTime::from_timestamp_millis(w.week_start)
                                .map(|t| t.date_naive().to_string())
                                .unwrap_or_default();
                            println!(
                                "  {:<10} {:>9} {:>9} {:>9} {:>9} {:>8}",
                                day,
                                pct(w.availability, 3),
                                w.bad_minutes.map_or("-".into(), |m| format!("{m:.0}")),
                                pct(w.error_budget_remaining, 0),
                                w.burn_rates[2].map_or("-".into(), |b| format!("{b:.2}")),
                                match w.status {
                                    crate::analysis::reliability::SloStatus::Met => "met",
                                    crate::analysis::reliability::SloStatus::Breached => "breached",
                                    crate::analysis::reliability::SloStatus::NoData => "no data",
                                }
                            );
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(ExportCommand::Openmetrics { since }) => {
            let store = Store::open(&config.storage.path)?;
            let slos = crate::serve::metrics::slo_defs(&config, demo::is_seeded(&store)?);
            let since = since.map(crate::analysis::local_midnight);
            let text = crate::serve::export::openmetrics(
                &store,
                &config,
                &slos,
                since,
                crate::clock::now_ms(),
            )?;
            use std::io::Write;
            std::io::stdout().lock().write_all(text.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(ImportCommand::List) => {
            let store = Store::open(&config.storage.path)?;
            println!(
                "{:<27} {:<9} {:<10} {:<9} {:>8} {:<17} {:<12} file",
                "when", "outcome", "source", "layout", "rows", "months", "sha256"
            );
            for r in revenue_import::history(&store)? {
                let months = match (r.months.first(), r.months.last()) {
                    (Some(a), Some(b)) => format!("{a}..{b}"),
                    _ => "-".into(),
                };
                println!(
                    "{:<27} {:<9} {:<10} {:<9} {:>8} {:<17} {:<12} {}",
                    r.at.format("%Y-%m-%d %H:%M:%S UTC"),
                    r.outcome,
                    r.source,
                    r.layout,
                    r.rows,
                    months,
                    &r.sha256[..12],
                    r.file
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(ImportCommand::Revenue(args)) => {
            telemetry::init(&config.log);
            let store = Store::open(&config.storage.path)?;
            let options = ImportOptions {
                source: args.source.clone(),
                layout: args.format.layout(),
                dry_run: args.dry_run,
            };
            let mut failed = false;
            for path in &args.files {
                let name = path.display().to_string();
                let bytes = match std::fs::read(path) {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!("error: {name}: cannot read: {e}");
                        failed = true;
                        continue;
                    }
                };
                let bar = progress_bar(&bytes);
                let show = !bar.is_hidden();
                let result = revenue_import::import(
                    &store,
                    &config.revenue,
                    &name,
                    &bytes,
                    &options,
                    |line| {
                        if show && line % 4096 == 0 {
                            bar.set_position(line);
                        }
                    },
                );
                bar.finish_and_clear();
                match result {
                    Ok(summary) => println!("{summary}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        failed = true;
                    }
                }
            }
            store.flush()?;
            Ok(exit_code(failed))
        }
        Command::Sync(args) => {
            telemetry::init(&config.log);
            let kinds = match args.source {
                Some(kind) => vec![kind],
                None => SourceKind::configured(&config),
            };
            if kinds.is_empty() {
                anyhow::bail!("no source is configured (set prometheus.url or github.repos)");
            }
            if let Some(kind) = args.source {
                if !SourceKind::configured(&config).contains(&kind) {
                    anyhow::bail!("the {} source is not configured", kind.name());
                }
            }
            let store = Store::open(&config.storage.path)?;
            let since = args
                .since
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc());
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            let health = Health::default();
            let mut failed = false;
            if let Some(repo) = &args.repo {
                if !config.github.repos().contains(&repo.as_str()) {
                    anyhow::bail!("{repo} is not a configured GitHub repository");
                }
            }
            let options = SyncOptions {
                since,
                repo: args.repo.clone(),
                progress: true,
            };
            for kind in kinds {
                match runtime.block_on(sync_once(kind, &config, &store, &health, &options)) {
                    Ok(s) => println!(
                        "{}: {} requests ({} not modified), {} stored{}",
                        kind.name(),
                        s.requests,
                        s.not_modified,
                        match kind {
                            SourceKind::Prometheus => format!("{} points", s.points),
                            SourceKind::Github => format!("{} events", s.events),
                        },
                        if s.warnings.is_empty() {
                            String::new()
                        } else {
                            format!(", warnings: {}", s.warnings.join("; "))
                        }
                    ),
                    Err(e) => {
                        eprintln!("error: {}: {e}", kind.name());
                        failed = true;
                    }
                }
            }
            store.flush()?;
            Ok(exit_code(failed))
        }
        Command::Serve(args) => {
            telemetry::init(&config.log);
            if let Some(listen) = args.listen {
                config.server.listen = listen;
            }
            let store = Arc::new(Store::open(&config.storage.path)?);
            let demo_seed = args.demo.then(|| DemoSeed {
                seed: args.seed,
                end: crate::clock::now().date_naive(),
            });
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            runtime.block_on(async {
                let shutdown = CancellationToken::new();
                tokio::spawn(cancel_on_signal(shutdown.clone()));
                serve::run(Arc::new(config), store, demo_seed, shutdown, |_| {}).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A line-count progress bar on a terminal for files big enough to wait for; hidden otherwise
/// (the summary line is printed either way).
fn progress_bar(bytes: &[u8]) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if bytes.len() < 4 << 20 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    let bar = indicatif::ProgressBar::new(lines);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} validating {pos}/{len} lines [{bar:30}] {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Cancels `token` on SIGINT or SIGTERM.
async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received; shutting down"),
        _ = term => tracing::info!("SIGTERM received; shutting down"),
    }
    token.cancel();
}
