//! `serve` and `demo`: the daemon, and the built-in demo organisation.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::serve::{self, DemoSeed};
use crate::sources::demo;
use crate::telemetry;

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

/// Runs the daemon until SIGINT or SIGTERM.
pub(super) fn serve(app: App, args: ServeArgs) -> anyhow::Result<ExitCode> {
    telemetry::init(&app.config.log);
    let demo_seed = args.demo.then(|| DemoSeed {
        seed: args.seed,
        end: crate::clock::now().date_naive(),
    });
    let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        let options = serve::RunOptions {
            demo: demo_seed,
            digest: Some(Arc::new(super::DaemonDigest)),
        };
        serve::run(app, options, shutdown, |_| {}).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Seeds the demo organisation.
pub(super) fn seed(app: &App, args: DemoArgs) -> anyhow::Result<ExitCode> {
    telemetry::init(&app.config.log);
    let store = &app.store;
    let end = args.end.unwrap_or_else(|| crate::clock::now().date_naive());
    let summary = demo::seed(store, args.seed, end, &CancellationToken::new())?;
    store.flush()?;
    println!(
        "seeded the demo organisation into {}: {} to {}, {} deployments, {} pull \
         requests, {} incidents, {} bugs, {} customers ({} revenue rows), {} points",
        app.config.storage.path.display(),
        summary.start,
        summary.end,
        summary.deployments,
        summary.changes,
        summary.incidents,
        summary.bugs,
        summary.customers,
        summary.revenue_rows,
        summary.points
    );
    Ok(ExitCode::SUCCESS)
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
