//! The remote-write queues' own counters, beside the figures they send.

use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Counters and gauges of every `[[remote_write]]` receiver, by its `remote` name.
#[derive(Clone)]
pub struct RemoteWriteStats {
    /// Samples by outcome: `sent`, `dropped` (the queue was full: the oldest request went),
    /// `rejected` (the receiver refused them for good, a 4xx).
    pub samples: IntCounterVec,
    /// Failed attempts by reason (`network`, `http_5xx`, `http_429`, `http_4xx`), retried or not.
    pub failures: IntCounterVec,
    /// Requests waiting in the queue.
    pub queued: IntGaugeVec,
    /// Unix time of the last accepted request.
    pub last_success: GaugeVec,
}

impl RemoteWriteStats {
    pub(crate) fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let samples = IntCounterVec::new(
            Opts::new(
                "barometer_remote_write_samples_total",
                "Samples handed to a remote-write receiver, by outcome (sent, dropped, rejected).",
            ),
            &["remote", "outcome"],
        )?;
        let failures = IntCounterVec::new(
            Opts::new(
                "barometer_remote_write_failures_total",
                "Failed remote-write requests, by reason (network, http_5xx, http_429, http_4xx).",
            ),
            &["remote", "reason"],
        )?;
        let queued = IntGaugeVec::new(
            Opts::new(
                "barometer_remote_write_queue_requests",
                "Remote-write requests waiting to be sent.",
            ),
            &["remote"],
        )?;
        let last_success = GaugeVec::new(
            Opts::new(
                "barometer_remote_write_last_success_timestamp_seconds",
                "Unix time a remote-write receiver last accepted a request.",
            ),
            &["remote"],
        )?;
        registry.register(Box::new(samples.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(queued.clone()))?;
        registry.register(Box::new(last_success.clone()))?;
        Ok(Self {
            samples,
            failures,
            queued,
            last_success,
        })
    }
}
