//! `digest`: build the weekly digest, then deliver it (files and webhook) or print it.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::health::{DigestOutcomes, Readiness};
use crate::model::Calendar;
use crate::serve;
use crate::telemetry;

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

/// Builds the digest of a week and delivers or prints it.
pub(super) fn digest(app: &App, args: DigestArgs) -> anyhow::Result<ExitCode> {
    let cal = app.calendar();
    let config = &app.config;
    telemetry::init(&config.log);
    let week = match args.week {
        Some(d) => cal.week_start(cal.local_midnight(d)),
        None => crate::digest::week_for(cal, crate::clock::now_ms()),
    };
    if let Some(format) = args.print {
        let d = crate::digest::build(app, week)?;
        let out = match format {
            DigestFormat::Markdown => crate::digest::render::markdown(&d),
            DigestFormat::Html => crate::digest::render::html(&d),
            DigestFormat::Json => serde_json::to_string_pretty(&d)? + "\n",
        };
        print!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    let job = crate::digest::deliver::DigestJob {
        app: app.clone(),
        outcomes: Arc::default(),
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

/// The weekly digest wired into the daemon: `serve` says what it needs from a digest
/// ([`serve::DigestService`]), this supplies it from [`crate::digest`], so neither face imports
/// the other.
#[derive(Debug, Clone, Copy, Default)]
pub struct DaemonDigest;

impl serve::DigestService for DaemonDigest {
    fn default_week(&self, calendar: Calendar, now_ms: i64) -> i64 {
        crate::digest::week_for(calendar, now_ms)
    }

    fn page(
        &self,
        app: &App,
        week_ms: i64,
        format: serve::DigestFormat,
    ) -> Result<serve::DigestPage, serve::DigestUnavailable> {
        use crate::digest::{build, render, DigestError};
        let d = build(app, week_ms).map_err(|e| match e {
            DigestError::NoWeek(..) | DigestError::Empty => {
                serve::DigestUnavailable::NoData(e.to_string())
            }
            e => serve::DigestUnavailable::Failed(Box::new(e)),
        })?;
        Ok(match format {
            serve::DigestFormat::Markdown => serve::DigestPage::Markdown(render::markdown(&d)),
            serve::DigestFormat::Html => serve::DigestPage::Html(render::html(&d)),
            serve::DigestFormat::Json => serve::DigestPage::Json(
                serde_json::to_string(&d)
                    .map_err(|e| serve::DigestUnavailable::Failed(Box::new(e)))?,
            ),
        })
    }

    fn schedule(
        &self,
        app: App,
        outcomes: Arc<DigestOutcomes>,
        ready: watch::Receiver<Readiness>,
        shutdown: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(crate::digest::deliver::schedule(
            crate::digest::deliver::DigestJob { app, outcomes },
            ready,
            shutdown,
        ))
    }
}
