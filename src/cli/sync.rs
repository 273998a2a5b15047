//! `sync`: fetch new data from the configured sources once.

use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;

use crate::app::App;
use crate::health::Health;
use crate::sources::{sync_once, SourceKind, SyncOptions};
use crate::telemetry;

/// `--source` values (the command line's names of [`SourceKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceArg {
    /// Prometheus's HTTP API.
    Prometheus,
    /// GitHub's REST API.
    Github,
}

impl From<SourceArg> for SourceKind {
    fn from(a: SourceArg) -> Self {
        match a {
            SourceArg::Prometheus => SourceKind::Prometheus,
            SourceArg::Github => SourceKind::Github,
        }
    }
}

/// `sync` options.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The source to sync (default: every configured source).
    #[arg(long, value_enum)]
    pub source: Option<SourceArg>,
    /// Re-read from this date (UTC) instead of resuming from the stored cursor.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub since: Option<NaiveDate>,
    /// Only this repository (`owner/name`, GitHub).
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
}

/// Syncs each chosen source once; fails when any failed.
pub(super) fn sync(app: &App, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let config = &*app.config;
    telemetry::init(&config.log);
    let source = args.source.map(SourceKind::from);
    let kinds = match source {
        Some(kind) => vec![kind],
        None => SourceKind::configured(config),
    };
    if kinds.is_empty() {
        anyhow::bail!("no source is configured (set prometheus.url or github.repos)");
    }
    if let Some(kind) = source {
        if !SourceKind::configured(config).contains(&kind) {
            anyhow::bail!("the {} source is not configured", kind.name());
        }
    }
    let store = &app.store;
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
        match runtime.block_on(sync_once(
            kind,
            config,
            &app.github,
            store,
            &health,
            &options,
        )) {
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
    Ok(super::exit_code(failed))
}
