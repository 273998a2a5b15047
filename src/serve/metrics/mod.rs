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

use bytes::Bytes;

use prometheus::{
    proto::MetricFamily, Encoder, Gauge, GaugeVec, HistogramVec, IntCounter, IntGauge, IntGaugeVec,
    Registry, TextEncoder,
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

/// The families (name prefixes) a refresh sets before it analyses anything: the process, the
/// store, the sources, the webhooks and the digest.
const CURRENT_BEFORE_ANALYSIS: &[&str] = &[
    "barometer_analysis_complete",
    "barometer_build_info",
    "barometer_digest_",
    "barometer_source_",
    "barometer_store_",
    "barometer_sync_",
    "barometer_webhook_",
];

/// The families rendered before any refresh: what needs none.
const BEFORE_ANY_REFRESH: &[&str] = &["barometer_analysis_complete", "barometer_build_info"];

/// The daemon's metrics and their last rendering.
pub struct Metrics {
    registry: Registry,
    store_bytes: IntGauge,
    store_series: IntGauge,
    /// Whether the first refresh of the analysed families is done.
    analysed: IntGauge,
    /// Whether a refresh has set the store's and the sources' figures (before it analyses
    /// anything): until then only the build is rendered, not their initial zeros.
    measured: std::sync::atomic::AtomicBool,
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
    rendered: RwLock<Rendered>,
    /// Counts finished refreshes; remote-write sends after each.
    refreshed: tokio::sync::watch::Sender<u64>,
    /// The remote-write queues' own counters, in a registry of their own: they move with every
    /// request, and re-rendering them alone after a round does not gather every other family
    /// (50 000 series in `benches/remote_write.rs`) again.
    remote_registry: Registry,
    /// The remote-write queues' own counters.
    pub remote: RemoteWriteStats,
    /// The daemon's families as last rendered, kept when remote-write is configured: its rounds
    /// send what `/metrics` shows without gathering every family again (the crate clones and
    /// sorts each series on a gather: most of a 50 000-series round's CPU).
    snapshot: Option<RwLock<Arc<Vec<MetricFamily>>>>,
}

/// The exposition in three parts, in the order one registry would give (families sorted by
/// name): the families before the remote-write counters, the counters, the families after them.
#[derive(Default)]
struct Rendered {
    before: Vec<u8>,
    remote: Vec<u8>,
    after: Vec<u8>,
    /// The three together, what a scrape gets: shared, never copied per request.
    whole: Bytes,
}

impl Rendered {
    /// The daemon's families (sorted by name, as `Registry::gather` returns them) and the
    /// remote-write counters, rendered as one registry holding both would render them.
    fn new(main: &[MetricFamily], remote: &[MetricFamily]) -> Option<Self> {
        let split = main.partition_point(|f| f.name() < REMOTE_PREFIX);
        let mut r = Self {
            before: encode(&main[..split])?,
            remote: encode(remote)?,
            after: encode(&main[split..])?,
            whole: Bytes::new(),
        };
        r.compose();
        Some(r)
    }

    fn compose(&mut self) {
        let mut whole =
            Vec::with_capacity(self.before.len() + self.remote.len() + self.after.len());
        for part in [&self.before, &self.remote, &self.after] {
            whole.extend_from_slice(part);
        }
        self.whole = Bytes::from(whole);
    }
}

/// Every family of the remote-write counters starts with this; no other family does.
const REMOTE_PREFIX: &str = "barometer_remote_write_";

fn encode(families: &[MetricFamily]) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    match TextEncoder::new().encode(families, &mut buf) {
        Ok(()) => Some(buf),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            None
        }
    }
}

impl Metrics {
    /// What remote-write sends: the daemon's families as `/metrics` last rendered them (every
    /// one of them changes only in a refresh, which renders), and the queues' own counters as
    /// they stand.
    pub fn snapshot(&self) -> (Arc<Vec<MetricFamily>>, Vec<MetricFamily>) {
        let main = match &self.snapshot {
            Some(kept) => kept.read().unwrap_or_else(|p| p.into_inner()).clone(),
            None => Arc::new(self.registry.gather()),
        };
        (main, self.remote_registry.gather())
    }

    /// Adds a family beside the daemon's own: it is rendered and remote-written like them.
    /// `benches/remote_write.rs` exports 50 000 synthetic series this way, since no data set
    /// the daemon can hold produces that many.
    pub fn register(
        &self,
        collector: Box<dyn prometheus::core::Collector>,
    ) -> Result<(), prometheus::Error> {
        self.registry.register(collector)
    }

    /// Wakes at every finished refresh.
    pub fn subscribe_refreshed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.refreshed.subscribe()
    }

    /// Renders the whole exposition again (after a refresh).
    pub fn render(&self) {
        let mut families = self.registry.gather();
        // Until the first refresh has computed them, the analysed families hold only their
        // initial zeros (an index of 0, no customers), which a graph would show as a drop:
        // they are left out, and only what is already current is rendered.
        if self.analysed.get() == 0 {
            let current: &[&str] = if self.measured.load(std::sync::atomic::Ordering::Acquire) {
                CURRENT_BEFORE_ANALYSIS
            } else {
                BEFORE_ANY_REFRESH
            };
            families.retain(|f| current.iter().any(|p| f.name().starts_with(p)));
        }
        let Some(r) = Rendered::new(&families, &self.remote_registry.gather()) else {
            return;
        };
        *self.rendered.write().unwrap_or_else(|p| p.into_inner()) = r;
        if let Some(kept) = &self.snapshot {
            *kept.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(families);
        }
    }

    /// Renders only the remote-write counters again (after a request went out); the other
    /// families keep their last rendering.
    pub fn render_remote(&self) {
        let Some(remote) = encode(&self.remote_registry.gather()) else {
            return;
        };
        let mut r = self.rendered.write().unwrap_or_else(|p| p.into_inner());
        r.remote = remote;
        r.compose();
    }

    /// Waits until the first refresh has rendered every family: a scrape right after start
    /// sees the figures, not the empty families of a daemon still computing them. (A scrape
    /// bounds the wait, see `http::scrape_wait`.)
    pub async fn rendered_once(&self) {
        let mut refreshed = self.refreshed.subscribe();
        // Err: the sender is gone with the daemon; the last rendering is all there is.
        let _ = refreshed.wait_for(|n| *n > 0).await;
    }

    /// The last rendering.
    pub fn text(&self) -> Bytes {
        self.rendered
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .whole
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
            // Counted as a round all the same: `/metrics` waits for the first one, and must
            // not wait forever for a refresh that keeps failing.
            metrics.refreshed.send_modify(|n| *n += 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{IntCounterVec, Opts};

    #[test]
    fn three_parts_render_as_one_registry_would() {
        let (all, main, remote) = (Registry::new(), Registry::new(), Registry::new());
        let gauge = |name: &str| IntGauge::new(name, "h").unwrap();
        for name in ["barometer_build_info", "barometer_revenue_arr", "zz_last"] {
            all.register(Box::new(gauge(name))).unwrap();
            main.register(Box::new(gauge(name))).unwrap();
        }
        let counter = || {
            let c = IntCounterVec::new(
                Opts::new("barometer_remote_write_samples_total", "h"),
                &["remote"],
            )
            .unwrap();
            c.with_label_values(&["central"]).inc_by(3);
            c
        };
        all.register(Box::new(counter())).unwrap();
        remote.register(Box::new(counter())).unwrap();
        let r = Rendered::new(&main.gather(), &remote.gather()).unwrap();
        let one = encode(&all.gather()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&r.whole),
            String::from_utf8_lossy(&one)
        );
        // Between barometer_build_info and barometer_revenue_arr.
        assert!(String::from_utf8_lossy(&r.before).contains("barometer_build_info"));
        assert!(String::from_utf8_lossy(&r.after).starts_with("# HELP barometer_revenue_arr"));
    }
}
