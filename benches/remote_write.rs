//! The daemon's remote-write with 50 000 series (issue #20, "Speed"), driven by
//! `bench/remote_write.sh`, which times it against Prometheus's own remote-write into the same
//! receiver and measures `/metrics` meanwhile.
//!
//! No data set the daemon can hold exports 50 000 series, so this assembles the daemon's own
//! parts as `serve::run` does — `Metrics` with its refresher, one `remote_write::run` task per
//! `[[remote_write]]`, the router that serves `/metrics` — and registers one synthetic gauge
//! family beside the daemon's families: `bench_series{instance, job, series}`, the labels a
//! Prometheus scrape of the peer's target gives its series, with the same values. Everything
//! after the registry (gathering, flattening, batching, protobuf, snappy, the HTTP client, the
//! queue and the re-rendering after each request) is the production code.
//!
//! Settings come from the environment (the script sets them):
//! - `RW_SERIES` — series to export (default 50 000);
//! - `RW_RECEIVER` — the receiver's base URL (`http://127.0.0.1:PORT`); without it nothing is
//!   remote-written (the idle case of the `/metrics` measurement);
//! - `RW_INTERVAL` — the writer's `interval`, how often the current values go out (default 2s);
//! - `RW_JOB`, `RW_INSTANCE` — the `job` and `instance` label values;
//! - `RW_LISTEN` — where `/metrics` is served (default `127.0.0.1:0`).
//!
//! Prints `listening ADDR` on stdout, then runs until SIGTERM or Ctrl-C.
//!
//! Build with `cargo bench --bench remote_write --no-run`; the script runs the executable.

use std::net::SocketAddr;
use std::sync::Arc;

use barometer::app::App;
use barometer::config::{Config, Sources};
use barometer::health::{DigestOutcomes, Health, Readiness};
use barometer::serve::{http, metrics, remote_write};
use prometheus::{GaugeVec, Opts};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn main() {
    // `cargo bench` passes `--bench`; this target takes its settings from the environment.
    let series: usize = env_or("RW_SERIES", "50000")
        .parse()
        .expect("RW_SERIES is a count");
    let receiver = std::env::var("RW_RECEIVER").ok();
    let interval = env_or("RW_INTERVAL", "2s");
    let job = env_or("RW_JOB", "bench-baro");
    let instance = env_or("RW_INSTANCE", "127.0.0.1:9");
    let listen: SocketAddr = env_or("RW_LISTEN", "127.0.0.1:0")
        .parse()
        .expect("RW_LISTEN is an address");

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("barometer.toml");
    let mut toml = format!(
        "[storage]\npath = \"{}\"\n",
        dir.path().join("store").display()
    );
    if let Some(url) = &receiver {
        toml.push_str(&format!(
            "\n[[remote_write]]\nurl = \"{url}/api/v1/write\"\nname = \"bench\"\ninterval = \"{interval}\"\n"
        ));
    }
    std::fs::write(&file, toml).expect("write the configuration");
    let config = Config::load(&Sources {
        file: Some(file),
        env: Some(Default::default()),
        ..Sources::default()
    })
    .expect("valid configuration");
    barometer::telemetry::init(&config.log);
    let app = App::build(config).expect("app");

    let metrics = Arc::new(
        metrics::Metrics::new(
            app.clone(),
            Arc::new(Health::default()),
            Arc::new(DigestOutcomes::default()),
        )
        .expect("metrics"),
    );
    let gauges = GaugeVec::new(
        Opts::new(
            "bench_series",
            "A synthetic series of the remote-write benchmark.",
        ),
        &["instance", "job", "series"],
    )
    .expect("gauge family");
    for i in 0..series {
        gauges
            .with_label_values(&[instance.as_str(), job.as_str(), &format!("{i:05}")])
            .set(i as f64);
    }
    metrics
        .register(Box::new(gauges))
        .expect("register the family");
    metrics.refresh(&app.store);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(metrics::refresher(
            metrics.clone(),
            app.store.clone(),
            shutdown.clone(),
        ));
        for r in &app.config.remote_write {
            tracker.spawn(remote_write::run(
                app.clone(),
                metrics.clone(),
                r.clone(),
                shutdown.clone(),
            ));
        }
        let (_ready, readiness) = watch::channel(Readiness::Ready);
        let router = http::router(http::AppState {
            metrics: metrics.clone(),
            readiness,
        });
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .expect("bind the listen address");
        let addr = listener.local_addr().expect("bound address");
        println!("listening {addr}");

        let stop = shutdown.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            stop.cancel();
        });
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await
            .expect("serve /metrics");
        tracker.close();
        tracker.wait().await;
    });
}
