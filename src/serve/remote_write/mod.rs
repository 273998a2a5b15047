//! Prometheus remote-write 1.0: the daemon pushes what `/metrics` exports into Prometheus,
//! Mimir, Cortex, Thanos Receive or VictoriaMetrics (docs/scaling.md).
//!
//! One task per `[[remote_write]]` receiver. Its producer turns each finished metrics refresh
//! (and every `interval`) into requests of at most 2 000 samples, on the blocking pool; its
//! sender posts them in order, the first while the next is still being encoded. Between the
//! two sits a bounded queue: while the receiver is down the sender backs off (exponential,
//! jittered, at most `max_backoff`) and the queue holds at most `queue_capacity` requests,
//! dropping the oldest and counting what it dropped, so the daemon never blocks or grows
//! without bound.
//!
//! With `timestamps = "week"` the weekly history (the samples `export openmetrics` writes, at
//! their weeks' Mondays) is sent instead of the weekly families' current values, and only the
//! samples the receiver has not accepted yet: a sample is sent again only if its request was
//! dropped or failed, never a second time after the receiver took it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::{RemoteWriteConfig, Stamping};
use crate::retry::{Backoff, Jitter, RetryPolicy, Verdict};

use super::metrics::{Metrics, RemoteWriteStats};

mod background;
mod client;
pub mod wire;

use background::Background;
use client::Client;

use wire::SeriesLabels;

/// Samples in one request at most, the current values as much as the week-stamped ones:
/// receivers bound a request's size (Mimir's default `distributor.max-recv-msg-size` is
/// 100 MiB), and Prometheus takes many small requests faster than one large one (50 000
/// samples: one request 0.54 s, 25 of 2 000 0.30 s, 100 of 500 0.32 s; BENCHMARKS.md,
/// "Remote-write"). Prometheus's own queue sends 2 000 (`DefaultQueueConfig`, 500 before 2.5x).
const MAX_SAMPLES_PER_REQUEST: usize = 2_000;

/// Why a receiver cannot be written to at all.
#[derive(Debug, thiserror::Error)]
pub enum RemoteWriteError {
    /// A secret's variable is not set.
    #[error("remote_write {remote:?}: environment variable {var} is not set")]
    MissingSecret {
        /// The receiver.
        remote: String,
        /// The variable's name (never its value).
        var: String,
    },
    /// The HTTP client cannot be built.
    #[error("remote_write {remote:?}: cannot build the HTTP client: {detail}")]
    Client {
        /// The receiver.
        remote: String,
        /// Why.
        detail: String,
    },
}

/// A sample's identity for "already sent": its series and timestamp.
type SampleKey = (SeriesLabels, i64);

/// One request waiting to go out.
#[derive(Debug, Clone)]
struct Batch {
    id: u64,
    body: Vec<u8>,
    samples: usize,
    /// Week-stamped samples it carries (value bits), acknowledged when it is accepted.
    keys: Vec<(SampleKey, u64)>,
}

/// The bounded queue between producer and sender, and what the receiver has accepted.
#[derive(Default)]
struct Shared {
    queue: VecDeque<Batch>,
    /// Week-stamped samples accepted by the receiver.
    acked: HashMap<SampleKey, u64>,
    /// Week-stamped samples in a queued request.
    pending: HashMap<SampleKey, u64>,
    next_id: u64,
    /// The producer is still queueing a round's requests (the sender may drain the queue
    /// before the last one is in).
    producing: bool,
}

/// Writes to one receiver until `shutdown`.
pub async fn run(
    app: App,
    metrics: Arc<Metrics>,
    config: RemoteWriteConfig,
    shutdown: CancellationToken,
) {
    let name = config.name.clone();
    let client = match Client::new(config.clone()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "remote-write disabled");
            return;
        }
    };
    tracing::info!(remote = %name, timestamps = ?config.timestamps, "remote-write started");
    let background = match Background::start(&name) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(remote = %name, error = %e, "cannot start the remote-write thread; remote-write disabled");
            return;
        }
    };
    // The queue's tasks (waiting for refreshes and ticks, posting requests) get a runtime of
    // their own too, so that not even the sending competes with the workers serving `/metrics`.
    let writer = move || async move {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let notify = Arc::new(Notify::new());
        let stats = metrics.remote.clone();
        tokio::join!(
            produce(
                &app,
                &metrics,
                &config,
                &background,
                &shared,
                &notify,
                &stats,
                &shutdown
            ),
            send(&client, &metrics, &shared, &notify, &stats, &shutdown),
        );
    };
    match background::on_own_runtime(&name, writer) {
        Ok(finished) => {
            if finished.await.is_err() {
                tracing::error!(remote = %name, "the remote-write runtime stopped unexpectedly");
            }
        }
        Err(e) => {
            tracing::error!(remote = %name, error = %e, "cannot start the remote-write runtime; remote-write disabled");
            return;
        }
    }
    tracing::info!(remote = %name, "remote-write stopped");
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Turns refreshes into requests.
#[allow(clippy::too_many_arguments)]
async fn produce(
    app: &App,
    metrics: &Arc<Metrics>,
    config: &RemoteWriteConfig,
    background: &Background,
    shared: &Arc<Mutex<Shared>>,
    notify: &Arc<Notify>,
    stats: &RemoteWriteStats,
    shutdown: &CancellationToken,
) {
    // Nothing is sent before the first refresh has computed every family.
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = metrics.rendered_once() => {}
    }
    let mut refreshed = metrics.subscribe_refreshed();
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The fingerprint of the current values last sent.
    let mut last: Option<u64> = None;
    loop {
        let ticked = tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = refreshed.changed() => {
                if changed.is_err() {
                    return;
                }
                false
            }
            _ = tick.tick() => true,
        };
        let history = match config.timestamps {
            Stamping::Now => Vec::new(),
            Stamping::Week => {
                let app = app.clone();
                let read = tokio::task::spawn_blocking(move || {
                    super::export::history(
                        &app.store,
                        &app.settings,
                        &app.slos,
                        None,
                        crate::clock::now_ms(),
                    )
                })
                .await;
                match read {
                    Ok(Ok(h)) => h,
                    Ok(Err(e)) => {
                        tracing::warn!(remote = %config.name, error = %e, "cannot read the weekly history");
                        continue;
                    }
                    Err(_) => {
                        tracing::error!(remote = %config.name, "reading the weekly history panicked");
                        continue;
                    }
                }
            }
        };
        let prev = last.take();
        let started = tokio::time::Instant::now();
        let round = {
            let (metrics, shared, notify) = (metrics.clone(), shared.clone(), notify.clone());
            let (config, stats) = (config.clone(), stats.clone());
            let shard = app.config.metrics.shard.clone();
            // Gathering, flattening and encoding tens of thousands of series take hundreds of
            // milliseconds of CPU: on the round thread, below the workers serving `/metrics`.
            move || {
                let (families, own) = metrics.snapshot();
                // Families the history covers go out with their weeks' timestamps only.
                let weekly: Vec<&str> = history.iter().map(|f| f.name).collect();
                let keep = |name: &str| !weekly.contains(&name);
                let mut current = wire::flatten(&families, &[], keep);
                current.extend(wire::flatten(&own, &[], keep));
                drop(families);
                // The current values go out when a figure moved, and every `interval` anyway (a
                // receiver marks a series stale after 5 minutes without a sample).
                let seen = fingerprint(&current);
                let due = ticked || prev != Some(seen);
                let week_samples = week_stamped(&history, shard.as_deref());
                let current = due.then_some(current);
                lock(&shared).producing = true;
                let queued = enqueue(&shared, &notify, &config, &stats, current, week_samples);
                let drained = {
                    let mut s = lock(&shared);
                    s.producing = false;
                    s.queue.is_empty()
                };
                // The sender rendered nothing while the round was still coming in.
                if queued && drained {
                    metrics.render_remote();
                }
                if due && queued {
                    (Some(seen), true)
                } else {
                    (prev, false)
                }
            }
        };
        match background.run(round).await {
            Some((l, sent)) => {
                last = l;
                // `interval` counts from the last send, whatever caused it.
                if sent {
                    tick.reset_at(started + config.interval);
                }
            }
            None => {
                tracing::error!(remote = %config.name, "preparing a remote-write round panicked")
            }
        }
    }
}

/// A round's values in one number, to tell whether any figure moved since the last round sent
/// (a collision would hold a change back until the next `interval`, never lose it). The queue's
/// own counters move with every send, so they do not count as a change.
fn fingerprint(current: &[wire::Current]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    for (labels, value) in current {
        let own = labels
            .iter()
            .any(|l| l.name == "__name__" && l.value.starts_with("barometer_remote_write_"));
        if !own {
            labels.hash(&mut h);
            value.to_bits().hash(&mut h);
        }
    }
    h.finish()
}

/// Builds the requests of one round and queues each as soon as it is encoded (the sender posts
/// one while the next is built), dropping the oldest past the bound: the current values
/// (`current`, when due) and the week-stamped samples the receiver has not accepted and no
/// queued request carries. Returns whether anything was queued.
fn enqueue(
    shared: &Mutex<Shared>,
    notify: &Notify,
    config: &RemoteWriteConfig,
    stats: &RemoteWriteStats,
    current: Option<Vec<wire::Current>>,
    week_samples: Vec<(SampleKey, f64)>,
) -> bool {
    let fresh: Vec<(SampleKey, f64)> = {
        let s = lock(shared);
        week_samples
            .into_iter()
            .filter(|(key, v)| {
                let bits = v.to_bits();
                s.acked.get(key) != Some(&bits) && s.pending.get(key) != Some(&bits)
            })
            .collect()
    };
    if current.is_none() && fresh.is_empty() {
        return false;
    }
    let sent_at = wall_ms();
    let push = |request: wire::WriteRequest, keys: Vec<(SampleKey, u64)>, count: usize| {
        if count == 0 {
            return;
        }
        let body = match wire::encode(&request) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(remote = %config.name, error = %e, "cannot compress a request");
                return;
            }
        };
        let mut s = lock(shared);
        for (k, bits) in &keys {
            s.pending.insert(k.clone(), *bits);
        }
        let id = s.next_id;
        s.next_id += 1;
        s.queue.push_back(Batch {
            id,
            body,
            samples: count,
            keys,
        });
        while s.queue.len() > config.queue_capacity {
            let Some(old) = s.queue.pop_front() else {
                break;
            };
            for (k, _) in &old.keys {
                s.pending.remove(k);
            }
            stats
                .samples
                .with_label_values(&[config.name.as_str(), "dropped"])
                .inc_by(old.samples as u64);
            tracing::warn!(remote = %config.name, samples = old.samples, "remote-write queue full: dropped the oldest request");
        }
        stats
            .queued
            .with_label_values(&[config.name.as_str()])
            .set(s.queue.len() as i64);
        drop(s);
        notify.notify_one();
    };
    // The current values first, then the week-stamped samples (only those are acknowledged).
    let mut current = current.into_iter().flatten().peekable();
    while current.peek().is_some() {
        let request =
            wire::current_request(current.by_ref().take(MAX_SAMPLES_PER_REQUEST), sent_at);
        let count = request.timeseries.len();
        push(request, Vec::new(), count);
    }
    let mut series: BTreeMap<SeriesLabels, Vec<(i64, f64)>> = BTreeMap::new();
    let mut keys = Vec::new();
    let mut count = 0;
    for ((labels, ts), v) in fresh {
        if count >= MAX_SAMPLES_PER_REQUEST {
            push(
                wire::request(&std::mem::take(&mut series)),
                std::mem::take(&mut keys),
                count,
            );
            count = 0;
        }
        keys.push(((labels.clone(), ts), v.to_bits()));
        series.entry(labels).or_default().push((ts, v));
        count += 1;
    }
    push(wire::request(&series), keys, count);
    true
}

/// The history's samples as series with `__name__` (and the shard), at their weeks' starts.
fn week_stamped(history: &[super::export::Family], shard: Option<&str>) -> Vec<(SampleKey, f64)> {
    let mut out = Vec::new();
    for f in history {
        for (labels, value, week) in &f.samples {
            let mut l: SeriesLabels = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .chain(std::iter::once(("__name__".to_owned(), f.name.to_owned())))
                .chain(shard.map(|s| ("shard".to_owned(), s.to_owned())))
                .collect();
            l.sort();
            out.push(((l, *week), *value));
        }
    }
    out
}

/// Sample time of the current values: the system clock, since a receiver accepts samples only
/// near its own "now" (business time may be pinned to another day).
fn wall_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Posts queued requests in order, backing off while the receiver fails.
async fn send(
    client: &Client,
    metrics: &Arc<Metrics>,
    shared: &Mutex<Shared>,
    notify: &Notify,
    stats: &RemoteWriteStats,
    shutdown: &CancellationToken,
) {
    let name = client.config.name.as_str();
    let policy = RetryPolicy {
        attempts: u32::MAX,
        base_delay: Duration::from_millis(500).min(client.config.max_backoff),
        max_delay: client.config.max_backoff,
    };
    let mut backoff = Backoff::new(policy).jitter(Jitter::Equal);
    loop {
        let next = lock(shared).queue.front().cloned();
        let Some(batch) = next else {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = notify.notified() => continue,
            }
        };
        let outcome = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = client.post(batch.body.clone()) => r,
        };
        let finished = match &outcome {
            Ok(()) => true,
            Err(e) => e.verdict() == Verdict::Fail,
        };
        if finished {
            finish(shared, stats, name, batch.id, &batch.keys);
        }
        match outcome {
            Ok(()) => {
                backoff = Backoff::new(policy).jitter(Jitter::Equal);
                stats
                    .samples
                    .with_label_values(&[name, "sent"])
                    .inc_by(batch.samples as u64);
                stats
                    .last_success
                    .with_label_values(&[name])
                    .set(wall_ms() as f64 / 1000.0);
                tracing::debug!(remote = %name, samples = batch.samples, "remote-write request accepted");
            }
            Err(e) => {
                stats.failures.with_label_values(&[name, e.reason()]).inc();
                let verdict = e.verdict();
                if verdict == Verdict::Fail {
                    stats
                        .samples
                        .with_label_values(&[name, "rejected"])
                        .inc_by(batch.samples as u64);
                    tracing::error!(remote = %name, error = %e, samples = batch.samples, "remote-write request refused; not retried");
                } else {
                    let delay = backoff
                        .next_delay(verdict)
                        .unwrap_or(client.config.max_backoff);
                    tracing::warn!(remote = %name, error = %e, ?delay, "remote-write failed; retrying");
                    render(metrics).await;
                    if crate::retry::sleep(delay, shutdown).await.is_err() {
                        return;
                    }
                }
            }
        }
        // Once a round is through rather than after every request (a round of 50 000 series is
        // 25 requests); only the queue's counters are rendered again.
        let drained = {
            let s = lock(shared);
            s.queue.is_empty() && !s.producing
        };
        if drained {
            render(metrics).await;
        }
    }
}

/// Renders the queue's counters in `/metrics` again, on the blocking pool: joining them to the
/// other families' rendering copies the whole exposition.
async fn render(metrics: &Arc<Metrics>) {
    let m = metrics.clone();
    if tokio::task::spawn_blocking(move || m.render_remote())
        .await
        .is_err()
    {
        tracing::error!("rendering the metrics panicked");
    }
}

/// Takes a request the receiver accepted (or refused for good) off the queue; its week-stamped
/// samples are not offered again (a refused one would be refused again).
fn finish(
    shared: &Mutex<Shared>,
    stats: &RemoteWriteStats,
    name: &str,
    id: u64,
    keys: &[(SampleKey, u64)],
) {
    let mut s = lock(shared);
    if let Some(i) = s.queue.iter().position(|b| b.id == id) {
        s.queue.remove(i);
    }
    for (k, bits) in keys {
        s.pending.remove(k);
        s.acked.insert(k.clone(), *bits);
    }
    stats
        .queued
        .with_label_values(&[name])
        .set(s.queue.len() as i64);
}

#[cfg(test)]
mod tests;
