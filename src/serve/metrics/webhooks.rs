//! The webhook family: pushed deliveries by source, outcome and reason, and the time of the last
//! event applied per repository (GitHub) or service (pushed events). docs/webhooks.md.

use prometheus::{GaugeVec, IntCounterVec, Opts, Registry};

use crate::health::Health;
use crate::store::Store;

/// The sources whose freshness is kept as `<scope>/last_event` cursors.
pub(crate) const FRESHNESS_SOURCES: [&str; 2] = [
    crate::sources::github::webhook::WEBHOOK_SOURCE,
    crate::sources::events::SOURCE,
];

/// The last event applied per scope (repository or service) of a source: (scope, time, event).
pub(crate) fn last_events(
    store: &Store,
    source: &str,
) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>, String)>, crate::store::StoreError> {
    Ok(store
        .cursors(source)?
        .into_iter()
        .filter_map(|(name, c)| {
            let scope = name.strip_suffix("/last_event")?.to_owned();
            Some((scope, c.updated_at?, c.position.unwrap_or_default()))
        })
        .collect())
}

pub(super) struct WebhookFamilies {
    deliveries: IntCounterVec,
    last_event: GaugeVec,
}

impl WebhookFamilies {
    pub(super) fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let deliveries = IntCounterVec::new(
            Opts::new(
                "barometer_webhook_deliveries_total",
                "Pushed deliveries since start, by source (github, events), outcome (accepted, ignored, duplicate, rejected) and reason (the event, or why it was refused).",
            ),
            &["source", "outcome", "reason"],
        )?;
        registry.register(Box::new(deliveries.clone()))?;
        let last_event = GaugeVec::new(
            Opts::new(
                "barometer_webhook_last_event_timestamp_seconds",
                "When the last pushed event was applied, per source and repository or service.",
            ),
            &["source", "scope"],
        )?;
        registry.register(Box::new(last_event.clone()))?;
        Ok(Self {
            deliveries,
            last_event,
        })
    }

    pub(super) fn refresh(&self, store: &Store, health: &Health) {
        for ((source, outcome, reason), n) in health.deliveries.snapshot() {
            let c = self.deliveries.with_label_values(&[
                source.as_str(),
                outcome.as_str(),
                reason.as_str(),
            ]);
            c.inc_by(n.saturating_sub(c.get()));
        }
        for source in FRESHNESS_SOURCES {
            match last_events(store, source) {
                Ok(events) => {
                    for (scope, at, _) in events {
                        self.last_event
                            .with_label_values(&[source, scope.as_str()])
                            .set(at.timestamp_millis() as f64 / 1000.0);
                    }
                }
                Err(e) => tracing::warn!(error = %e, source, "cannot read webhook freshness"),
            }
        }
    }
}
