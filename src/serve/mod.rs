//! The daemon: the HTTP server and its background tasks, under one cancellation token; the
//! route table of the API and the dashboard (`/`), with the state their handlers share.

pub mod api;
pub mod dashboard;
pub mod export;
pub mod guard;
pub mod http;
pub mod metrics;
pub mod remote_write;
pub mod system;
pub mod webhooks;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::NaiveDate;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::App;
use crate::health::{DigestOutcomes, Health, Readiness};
use crate::model::Calendar;
use crate::sources::{self, demo, SourceKind};
use crate::store::StoreError;
use http::error;

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
    /// Metrics could not be set up.
    #[error("cannot set up metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Demo seeding for `serve --demo`.
#[derive(Debug, Clone, Copy)]
pub struct DemoSeed {
    /// RNG seed.
    pub seed: u64,
    /// The Monday the data ends at.
    pub end: NaiveDate,
}

/// The weekly digest as the daemon serves (`/api/v1/digest`) and schedules it. The caller
/// supplies it (the CLI wires in the digest module), so that the server depends on no face beside
/// it: data flows into `serve` and `digest` from `query`, never from one face to the other.
pub trait DigestService: Send + Sync + 'static {
    /// The week the digest covers by default at `now_ms`: the last complete one.
    fn default_week(&self, calendar: Calendar, now_ms: i64) -> i64;
    /// Builds the digest of the week starting at `week_ms` and renders it. Blocking: it reads
    /// the store.
    fn page(
        &self,
        app: &App,
        week_ms: i64,
        format: DigestFormat,
    ) -> Result<DigestPage, DigestUnavailable>;
    /// The delivery schedule: runs until `shutdown`, once `ready` says the data is there, and
    /// counts its outcomes into `outcomes` (read by `/metrics`).
    fn schedule(
        &self,
        app: App,
        outcomes: Arc<DigestOutcomes>,
        ready: watch::Receiver<Readiness>,
        shutdown: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The formats `/api/v1/digest` answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestFormat {
    /// The digest's fields.
    Json,
    /// The Markdown the digest files and chat webhooks carry.
    Markdown,
    /// A standalone HTML page.
    Html,
}

/// A rendered digest.
#[derive(Debug)]
pub enum DigestPage {
    /// `format=json`, serialised (the field order of the digest's own type).
    Json(String),
    /// `format=markdown`.
    Markdown(String),
    /// `format=html`.
    Html(String),
}

/// Why a digest cannot be served.
#[derive(Debug)]
pub enum DigestUnavailable {
    /// There is no data for the week (404).
    NoData(String),
    /// Building or rendering failed (500; the cause is logged, never shown).
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

/// What `run` starts besides the server and the syncs.
#[derive(Default, Clone)]
pub struct RunOptions {
    /// Seed the demo data set first (`serve --demo`).
    pub demo: Option<DemoSeed>,
    /// Serve and schedule the weekly digest; without it `/api/v1/digest` answers 404.
    pub digest: Option<Arc<dyn DigestService>>,
}

/// Runs the daemon until `shutdown` is cancelled, then waits for running work (within
/// `server.shutdown_grace`) and flushes the store.
///
/// `on_listen` receives the bound address (useful with port 0).
pub async fn run(
    app: App,
    options: RunOptions,
    shutdown: CancellationToken,
    on_listen: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let RunOptions {
        demo: demo_seed,
        digest,
    } = options;
    // The demo's SLOs are reported from the start when it is about to be seeded.
    let app = if demo_seed.is_some() {
        app.with_demo_slos()
    } else {
        app
    };
    let (config, store, dora) = (app.config.clone(), app.store.clone(), app.dora.clone());
    let addr = config.server.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(ServeError::Http)?;
    tracing::info!(addr = %local, store = %store.path().display(), "listening");
    on_listen(local);

    let health = Arc::new(Health::default());
    let digest_outcomes = Arc::new(DigestOutcomes::default());
    let metrics = Arc::new(metrics::Metrics::new(
        app.clone(),
        health.clone(),
        digest_outcomes.clone(),
    )?);
    // The first refresh (every analysed family: DORA, SLOs, revenue, each product's view) is
    // the refresher's first round, in the background: the dashboard may answer from what the
    // store kept meanwhile, and `/metrics` waits for it (`Metrics::rendered_once`).
    let tracker = TaskTracker::new();
    // The default dashboard page is kept after each refresh, so that a restart finds it.
    tracker.spawn(dashboard::keeper(
        app.clone(),
        metrics.subscribe_refreshed(),
        shutdown.clone(),
    ));
    tracker.spawn(metrics::refresher(
        metrics.clone(),
        store.clone(),
        shutdown.clone(),
    ));
    let syncer = sources::Syncer::new(
        config.clone(),
        app.github.clone(),
        store.clone(),
        health.clone(),
    );
    for kind in SourceKind::configured(&config) {
        tracing::info!(source = kind.name(), "scheduling syncs");
        tracker.spawn(syncer.clone().schedule(kind, shutdown.clone()));
    }

    let (ready_tx, ready_rx) = watch::channel(Readiness::Starting("opening the store"));
    match demo_seed {
        Some(d) if demo::needs_seeding(&store)? => {
            let _ = ready_tx.send(Readiness::Starting("seeding the demo data set"));
            let (store, token, ready_tx) = (store.clone(), shutdown.clone(), ready_tx.clone());
            let health = health.clone();
            tracker.spawn_blocking(move || {
                tracing::info!(seed = d.seed, end = %d.end, "seeding the demo data set");
                let started = std::time::Instant::now();
                // Seeding is the demo's sync: it shows in the source metrics like one.
                match demo::seed(&store, d.seed, d.end, &token) {
                    Ok(summary) if summary.complete => {
                        tracing::info!(?summary, "demo data set ready");
                        health.record(demo::SOURCE, started.elapsed(), Ok(()));
                        let _ = ready_tx.send(Readiness::Ready);
                    }
                    Ok(_) => tracing::info!("demo seeding stopped by shutdown"),
                    Err(e) => {
                        tracing::error!(error = %e, "demo seeding failed");
                        health.record(demo::SOURCE, started.elapsed(), Err(e.to_string()));
                    }
                }
            });
        }
        _ => {
            let _ = ready_tx.send(Readiness::Ready);
        }
    }

    for receiver in &config.remote_write {
        tracker.spawn(remote_write::run(
            app.clone(),
            metrics.clone(),
            receiver.clone(),
            shutdown.clone(),
        ));
    }

    if config.revenue.watch_dir.is_some() {
        tracker.spawn(sources::revenue_watch::watch(
            config.clone(),
            store.clone(),
            shutdown.clone(),
        ));
    }

    if let Some(service) = digest.as_ref().filter(|_| config.digest.enabled) {
        tracker.spawn(service.schedule(
            app.clone(),
            digest_outcomes,
            ready_rx.clone(),
            shutdown.clone(),
        ));
    }

    let app = http::router(http::AppState {
        metrics,
        readiness: ready_rx,
    })
    .merge(routes(ApiState {
        app: app.clone(),
        syncer,
        tracker: tracker.clone(),
        health: health.clone(),
        digest,
    }))
    // Outside the API's token and same-origin guards: each webhook authenticates itself
    // (see `webhooks`).
    .merge(webhooks::routes(webhooks::WebhookState {
        app: app.clone(),
        health: health.clone(),
        serial: Arc::default(),
        pruned: Arc::default(),
    }));
    let stop = shutdown.clone();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            stop.cancelled().await;
            let _ = ready_tx.send(Readiness::Stopping);
        })
        .into_future();
    // Graceful shutdown waits for open connections; a client that never closes must not hold
    // the daemon past the grace period.
    let grace = config.server.shutdown_grace;
    let served = tokio::select! {
        r = server => r,
        _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(?grace, "HTTP connections still open after the grace period");
            Ok(())
        }
    };

    tracker.close();
    if tokio::time::timeout(config.server.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?config.server.shutdown_grace,
            "background work did not finish within the shutdown grace period"
        );
    }
    // The delivery model being kept for the next start, if any, is finished (about a second).
    tokio::task::spawn_blocking(move || dora.settle())
        .await
        .map_err(|e| ServeError::Http(std::io::Error::other(e)))?;
    store.flush()?;
    tracing::info!("store flushed; stopped");
    served.map_err(ServeError::Http)
}

/// State of the API handlers.
#[derive(Clone)]
pub struct ApiState {
    /// The application: configuration, store, settings, SLOs and the shared weekly view.
    pub app: App,
    /// Runs on-demand syncs.
    pub syncer: Arc<crate::sources::Syncer>,
    /// The daemon's task tracker, so shutdown waits for on-demand syncs too.
    pub tracker: tokio_util::task::TaskTracker,
    /// Health of the sources.
    pub health: Arc<crate::health::Health>,
    /// The weekly digest, when the caller wired it in.
    pub digest: Option<Arc<dyn DigestService>>,
}

/// The `/api/v1` routes.
pub fn routes(state: ApiState) -> Router {
    let limit = usize::try_from(state.app.config.revenue.max_upload_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/api/v1/revenue", get(api::revenue::revenue))
        .route("/api/v1/support", get(api::business::support))
        .route("/api/v1/cost", get(api::business::cost))
        .route("/api/v1/reliability", get(api::reliability::reliability))
        .route("/api/v1/dora", get(api::delivery::dora))
        .route("/api/v1/teams", get(api::teams::teams))
        .route("/api/v1/bugs", get(api::bugs::bugs))
        .route("/api/v1/products", get(api::products::products))
        .route("/api/v1/system", get(system::api))
        .route("/system", get(system::page))
        .route("/api/v1/weeks", get(api::weekly::weeks))
        .route("/api/v1/pressure", get(api::weekly::pressure))
        .route("/api/v1/shifts", get(api::weekly::shifts))
        .route("/api/v1/correlations", get(api::weekly::correlations))
        .route("/api/v1/digest", get(api::weekly::digest))
        .route("/", get(dashboard::page))
        .route("/api/v1/dora/explain", get(api::delivery::dora_explain))
        .route("/api/v1/imports", get(api::revenue::imports))
        .route("/api/v1/sync/{source}", post(api::sources::trigger_sync))
        .route("/api/v1/sources", get(api::sources::sources))
        .route(
            "/api/v1/imports/revenue",
            post(api::revenue::import_revenue).layer(DefaultBodyLimit::max(limit)),
        )
        .route(
            "/api/v1/imports/tickets",
            post(api::business::import_tickets).layer(DefaultBodyLimit::max(limit)),
        )
        .route(
            "/api/v1/imports/metrics",
            post(api::business::import_metrics).layer(DefaultBodyLimit::max(limit)),
        )
        .route_layer(middleware::from_fn(same_origin_writes))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

/// Refuses a state-changing request that a browser marks as sent from another site (see
/// [`guard`]); runs after the token check, so a bad token still answers 401.
async fn same_origin_writes(req: Request, next: Next) -> Response {
    match guard::same_origin(&req) {
        Ok(()) => next.run(req).await,
        Err(e) => error(StatusCode::FORBIDDEN, "cross_site", e.to_string()),
    }
}

/// Checks the bearer token when one is configured, in constant time over fixed-size digests
/// ([`guard::token_matches`]): the timing says nothing about the token or its length.
async fn require_token(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    if let Some(token) = &state.app.config.server.api_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !guard::token_matches(given, token.expose()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this API needs an Authorization: Bearer <server.api_token> header",
            );
        }
    }
    next.run(req).await
}

/// A `YYYY-MM-DD` query value: 00:00 of that date in the analysis time zone, ms.
pub(crate) fn parse_day(cal: Calendar, name: &str, v: &str) -> Result<i64, String> {
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .map(|d| cal.local_midnight(d))
        .ok_or_else(|| format!("{name}={v:?} is not a date (YYYY-MM-DD)"))
}
