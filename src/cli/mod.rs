//! The command line: one subcommand per job, one file per command group.
//!
//! Every command but `config check` runs on one [`App`], built once from the configuration.

mod bugs;
mod business;
mod daemon;
mod delivery;
mod digest;
mod figures;
mod import;
mod report;
mod sync;
mod system;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use crate::analysis::WEEK_MS;
use crate::app::App;
use crate::config::{Config, ConfigError, Sources};
use crate::model::Calendar;

pub use bugs::BugsArgs;
pub use business::BusinessArgs;
pub use daemon::{DemoArgs, ServeArgs};
pub use delivery::{DoraArgs, ExplainArgs, TeamsArgs};
pub use digest::{DaemonDigest, DigestArgs, DigestFormat};
pub use figures::{ReliabilityArgs, RevenueArgs};
pub use import::{ExportCommand, FormatArg, ImportCommand, ImportRevenueArgs, ImportSetArgs};
pub use report::{ReportArgs, ReportFormat};
pub use sync::{SourceArg, SyncArgs};
pub use system::{SystemArgs, SystemFormat};
pub use table::OutputFormat;

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
    /// Show weekly support load (tickets opened, solved, backlog, response and resolution
    /// medians, tickets per 100 customers, revenue-weighted tickets) and the top customer pains.
    Support(business::BusinessArgs),
    /// Show monthly cost and margin: cloud cost against MRR, cost growth against revenue
    /// growth, revenue per engineer and the Rule of 40, and every stored metric.
    Cost(business::BusinessArgs),
    /// Show weekly SLO figures: availability, error ratio, bad time, error budget, burn rates.
    Reliability(ReliabilityArgs),
    /// Show weekly DORA figures per service: deployment frequency, lead time, change failure
    /// rate, recovery time and rework rate, with their DORA bands.
    Dora(DoraArgs),
    /// Show the teams: their services, SLOs and pooled DORA figures of the last 13 weeks, and
    /// the services no team owns.
    Teams(TeamsArgs),
    /// Show weekly bug patterns: opened (by severity), closed, reopened, the open backlog and
    /// its age, and the bugs that escaped a deployment.
    Bugs(BugsArgs),
    /// Explain one DORA figure: the deployments, changes, pull requests, commits and failure
    /// signals behind it.
    Explain(ExplainArgs),
    /// The weekly view: revenue, reliability and delivery on one axis, the pressure index
    /// (growth momentum against resilience need), the regime and the shifts.
    Report(ReportArgs),
    /// Show the system map: the components, their dependencies and figures, the weak spots
    /// and the next moves (table, JSON, Mermaid or Graphviz).
    System(SystemArgs),
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

/// The Mondays (ms) of the last `n` complete ISO weeks, oldest first (at most ten years).
fn last_weeks(cal: Calendar, n: u32) -> Vec<i64> {
    let last = cal.week_start(crate::clock::now_ms()) - WEEK_MS;
    (0..i64::from(n.clamp(1, 520)))
        .rev()
        .map(|i| last - i * WEEK_MS)
        .collect()
}

/// The date of an instant in the analysis time zone.
fn day(cal: Calendar, ms: i64) -> String {
    cal.local_date(ms).to_string()
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn hours(secs: Option<f64>) -> String {
    secs.map_or("-".to_owned(), |s| format!("{:.1} h", s / 3600.0))
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
    // Command-line settings are the last configuration layer, validated with the others.
    let mut overrides = Vec::new();
    if let Command::Serve(ServeArgs {
        listen: Some(listen),
        ..
    }) = &cli.command
    {
        overrides.push(("server.listen".to_owned(), listen.to_string()));
    }
    Config::load(&Sources {
        file: cli.config.clone(),
        env: None,
        overrides,
    })
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(at) = cli.now {
        crate::clock::pin(at);
    }
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let command = match cli.command {
        Command::Config(ConfigCommand::Check) => {
            print!("{}", config.to_redacted_toml()?);
            eprintln!("configuration is valid");
            return Ok(ExitCode::SUCCESS);
        }
        other => other,
    };
    let app = App::build(config)?;
    match command {
        Command::Config(ConfigCommand::Check) => unreachable!("handled before the store is opened"),
        Command::Serve(args) => daemon::serve(app, args),
        Command::Demo(args) => daemon::seed(&app, args),
        Command::Sync(args) => sync::sync(&app, args),
        Command::Import(c) => import::import(&app, c),
        Command::Export(c) => import::export(&app, c),
        Command::Revenue(args) => figures::revenue(&app, args),
        Command::Reliability(args) => figures::reliability(&app, args),
        Command::Support(args) => business::support(&app, args),
        Command::Cost(args) => business::cost(&app, args),
        Command::Dora(args) => delivery::dora(&app, args),
        Command::Explain(args) => delivery::explain(&app, args),
        Command::Teams(args) => delivery::teams(&app, args),
        Command::Bugs(args) => bugs::bugs(&app, args),
        Command::Report(args) => report::report(&app, args),
        Command::Digest(args) => digest::digest(&app, args),
        Command::System(args) => system::system(&app, args),
    }
}

fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
