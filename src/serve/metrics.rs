//! The `/metrics` exposition.
//!
//! A background task rebuilds the text whenever the store changes (and every few seconds for the
//! size on disk); a scrape only clones the last rendering, so it never waits on sled, a source or
//! the analysis.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus::{Encoder, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// The daemon's metrics and their last rendering.
pub struct Metrics {
    registry: Registry,
    store_bytes: IntGauge,
    store_series: IntGauge,
    store_events: IntGaugeVec,
    rendered: RwLock<Arc<String>>,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let build_info = IntGaugeVec::new(
            Opts::new(
                "barometer_build_info",
                "Build information; always 1, the labels carry the data.",
            ),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let store_bytes = IntGauge::new(
            "barometer_store_bytes",
            "Bytes the embedded store takes on disk.",
        )?;
        let store_series =
            IntGauge::new("barometer_store_series", "Time series held in the store.")?;
        let store_events = IntGaugeVec::new(
            Opts::new(
                "barometer_store_events",
                "Raw events held in the store, by kind.",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(store_bytes.clone()))?;
        registry.register(Box::new(store_series.clone()))?;
        registry.register(Box::new(store_events.clone()))?;
        let metrics = Self {
            registry,
            store_bytes,
            store_series,
            store_events,
            rendered: RwLock::new(Arc::new(String::new())),
        };
        metrics.render();
        Ok(metrics)
    }

    /// Reads the store's figures and renders the exposition.
    pub fn refresh(&self, store: &Store) {
        match store.size_on_disk() {
            Ok(bytes) => self
                .store_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX)),
            Err(e) => tracing::warn!(error = %e, "cannot read the store size"),
        }
        self.store_series
            .set(i64::try_from(store.series_count()).unwrap_or(i64::MAX));
        for kind in ["deployment", "change", "commit", "incident", "revenue"] {
            self.store_events.with_label_values(&[kind]).set(0);
        }
        for (kind, n) in store.event_counts() {
            self.store_events
                .with_label_values(&[kind.as_str()])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.render();
    }

    fn render(&self) {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "cannot encode metrics");
            return;
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        *self.rendered.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(text);
    }

    /// The last rendering.
    pub fn text(&self) -> Arc<String> {
        self.rendered
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Keeps the rendering current until `shutdown`. Bursts of commits are coalesced.
pub async fn refresher(metrics: Arc<Metrics>, store: Arc<Store>, shutdown: CancellationToken) {
    let mut changes = store.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
                changes.borrow_and_update();
            }
            _ = tick.tick() => {}
        }
        let (m, s) = (metrics.clone(), store.clone());
        if tokio::task::spawn_blocking(move || m.refresh(&s))
            .await
            .is_err()
        {
            tracing::error!("metrics refresh panicked");
        }
    }
}
