//! The `/metrics` exposition.
//!
//! A background task rebuilds the text whenever the store changes (and every few seconds for the
//! size on disk); a scrape only clones the last rendering, so it never waits on sled, a source or
//! the analysis.
//!
//! Layout: this file holds [`Metrics`], its rendering and the [`refresher`] task; `registry`
//! registers every family, `refresh` reads the store into them, and `dora`, `bugs` and
//! `pressure` are the gauge families with their own refresh.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramVec, IntCounter, IntGauge, IntGaugeVec, Registry,
    TextEncoder,
};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::health::{DigestOutcomes, Health};
use crate::store::Store;

mod bugs;
mod business;
mod dora;
mod pressure;
mod refresh;
mod registry;
mod remote;
pub(crate) mod webhooks;

pub use remote::RemoteWriteStats;

use bugs::BugGauges;
use business::BusinessGauges;
use dora::DoraGauges;
use pressure::PressureGauges;
use webhooks::WebhookFamilies;

/// The daemon's metrics and their last rendering.
pub struct Metrics {
    registry: Registry,
    store_bytes: IntGauge,
    store_series: IntGauge,
    store_events: IntGaugeVec,
    source_up: IntGaugeVec,
    source_last_success: GaugeVec,
    sync_duration: HistogramVec,
    slo_availability: GaugeVec,
    slo_budget: GaugeVec,
    slo_burn: GaugeVec,
    /// The current, partial week so far: availability, bad minutes, budget left.
    slo_week_to_date: [GaugeVec; 3],
    revenue_arr: GaugeVec,
    revenue_mrr: GaugeVec,
    revenue_nrr: GaugeVec,
    revenue_grr: GaugeVec,
    revenue_customers: IntGauge,
    dora: DoraGauges,
    bugs: BugGauges,
    business: BusinessGauges,
    pressure: PressureGauges,
    webhooks: WebhookFamilies,
    digest: Arc<DigestOutcomes>,
    digest_last_success: Gauge,
    digest_failures: IntCounter,
    app: App,
    health: Arc<Health>,
    rendered: RwLock<Arc<String>>,
    /// Counts finished refreshes; remote-write sends after each.
    refreshed: tokio::sync::watch::Sender<u64>,
    /// The remote-write queues' own counters.
    pub remote: RemoteWriteStats,
}

impl Metrics {
    /// Every family as it stands: what `/metrics` renders, for remote-write.
    pub fn gather(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.registry.gather()
    }

    /// Wakes at every finished refresh.
    pub fn subscribe_refreshed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.refreshed.subscribe()
    }

    /// Renders the exposition again (after the remote-write counters moved).
    pub fn render(&self) {
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
    let mut syncs = metrics.health.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = syncs.changed() => {
                if changed.is_err() {
                    break;
                }
            }
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
