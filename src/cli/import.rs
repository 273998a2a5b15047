//! `import` and `export`: data files in, the stored history out.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Subcommand};

use super::table::Table;
use crate::app::App;
use crate::sources::revenue_csv::Layout;
use crate::sources::revenue_import::{self, ImportOptions};
use crate::sources::set_import::{self, SetOptions};
use crate::telemetry;

/// `import` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import revenue CSV files (snapshots, movements, totals or customer attributes). Each file
    /// is validated whole and applied atomically; on any error nothing is applied and every bad
    /// row is listed.
    Revenue(ImportRevenueArgs),
    /// Import support-ticket CSV files as Zendesk, Intercom or Jira Service Management export
    /// them. Each file is validated whole and replaces the ticket set of its source atomically;
    /// on any error nothing is applied and every bad row is listed.
    Tickets(ImportSetArgs),
    /// Import business metrics in the long layout `date|week|month, metric, value[, labels]`
    /// (cloud_cost, gross_margin_ratio, operating_margin_ratio, engineering_headcount,
    /// support_headcount, or any other name). Same guarantees as tickets.
    Metrics(ImportSetArgs),
    /// Show the import history.
    List,
}

/// `import tickets` and `import metrics` options.
#[derive(Debug, Args)]
pub struct ImportSetArgs {
    /// CSV files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The source the files belong to; a file replaces the whole set of its source.
    #[arg(long, default_value = "default")]
    pub source: String,
    /// Validate and show what would change, without writing.
    #[arg(long)]
    pub dry_run: bool,
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
    /// Factor applied to every amount of these files instead of revenue.amount_scale (0.01 for
    /// amounts in cents). Stating it also confirms it to the cents check of ChartMogul exports.
    #[arg(long, value_name = "FACTOR", value_parser = parse_scale)]
    pub amount_scale: Option<f64>,
}

fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{s:?} is not a positive number")),
    }
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
    /// customer_id + name, segment, plan, currency, country, first_month.
    Attributes,
}

impl FormatArg {
    fn layout(self) -> Option<Layout> {
        match self {
            FormatArg::Auto => None,
            FormatArg::Snapshots => Some(Layout::Snapshots),
            FormatArg::Movements => Some(Layout::Movements),
            FormatArg::Totals => Some(Layout::Totals),
            FormatArg::Attributes => Some(Layout::Attributes),
        }
    }
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

/// Runs an `import` subcommand.
pub(super) fn import(app: &App, command: ImportCommand) -> anyhow::Result<ExitCode> {
    match command {
        ImportCommand::List => list(app),
        ImportCommand::Revenue(args) => revenue(app, args),
        ImportCommand::Tickets(args) => set(app, args, SetKind::Tickets),
        ImportCommand::Metrics(args) => set(app, args, SetKind::Metrics),
    }
}

#[derive(Clone, Copy)]
enum SetKind {
    Tickets,
    Metrics,
}

fn set(app: &App, args: ImportSetArgs, kind: SetKind) -> anyhow::Result<ExitCode> {
    telemetry::init(&app.config.log);
    let options = SetOptions {
        source: args.source.clone(),
        dry_run: args.dry_run,
    };
    let failed = each_file(&args.files, |name, bytes| {
        let config = &app.config.revenue;
        let result = match kind {
            SetKind::Tickets => with_progress(bytes, |tick| {
                set_import::import_tickets(&app.store, config, name, bytes, &options, tick)
            }),
            SetKind::Metrics => {
                set_import::import_metrics(&app.store, config, name, bytes, &options)
            }
        };
        result
            .map(|summary| summary.to_string())
            .map_err(|e| e.to_string())
    });
    app.store.flush()?;
    Ok(super::exit_code(failed))
}

/// Reads and imports each file in turn, printing each summary or error; whether any failed.
fn each_file(
    files: &[PathBuf],
    mut import: impl FnMut(&str, &[u8]) -> Result<String, String>,
) -> bool {
    let mut failed = false;
    for path in files {
        let name = path.display().to_string();
        let outcome = std::fs::read(path)
            .map_err(|e| format!("{name}: cannot read: {e}"))
            .and_then(|bytes| import(&name, &bytes));
        match outcome {
            Ok(summary) => println!("{summary}"),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    failed
}

fn list(app: &App) -> anyhow::Result<ExitCode> {
    let table = Table::new("")
        .left(27)
        .left(9)
        .left(10)
        .left(10)
        .right(8)
        .left(17)
        .left(12)
        .left(0);
    table.print(&[
        "when", "outcome", "source", "layout", "rows", "months", "sha256", "file",
    ]);
    for r in crate::query::revenue::history(&app.store)? {
        let months = match (r.months.first(), r.months.last()) {
            (Some(a), Some(b)) => format!("{a}..{b}"),
            _ => "-".into(),
        };
        table.print(&[
            r.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            r.outcome,
            r.source,
            r.layout,
            r.rows.to_string(),
            months,
            r.sha256[..12].to_owned(),
            r.file,
        ]);
    }
    Ok(ExitCode::SUCCESS)
}

fn revenue(app: &App, args: ImportRevenueArgs) -> anyhow::Result<ExitCode> {
    telemetry::init(&app.config.log);
    let store = &app.store;
    let options = ImportOptions {
        source: args.source.clone(),
        layout: args.format.layout(),
        dry_run: args.dry_run,
        amount_scale: args.amount_scale,
    };
    let failed = each_file(&args.files, |name, bytes| {
        with_progress(bytes, |tick| {
            revenue_import::import(store, &app.config.revenue, name, bytes, &options, tick)
        })
        .map(|summary| summary.to_string())
        .map_err(|e| e.to_string())
    });
    store.flush()?;
    Ok(super::exit_code(failed))
}

/// Runs an `export` subcommand.
pub(super) fn export(app: &App, command: ExportCommand) -> anyhow::Result<ExitCode> {
    let ExportCommand::Openmetrics { since } = command;
    let cal = app.calendar();
    let since = since.map(|d| cal.local_midnight(d));
    let text = crate::serve::export::openmetrics(
        &app.store,
        &app.settings,
        &app.slos,
        since,
        crate::clock::now_ms(),
        app.config.metrics.shard.as_deref(),
    )?;
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Runs an import with a progress bar (see [`progress_bar`]) ticked by line number.
fn with_progress<T>(bytes: &[u8], import: impl FnOnce(&(dyn Fn(u64) + Sync)) -> T) -> T {
    let bar = progress_bar(bytes);
    let show = !bar.is_hidden();
    let tick = |line: u64| {
        if show && line % 4096 == 0 {
            bar.set_position(line);
        }
    };
    let result = import(&tick);
    bar.finish_and_clear();
    result
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
