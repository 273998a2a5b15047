//! A watch on sled's shared I/O thread pool, to get it out of a known deadlock.
//!
//! sled 0.34.7 (the last 0.34 release) truncates the end of its log file on its shared thread
//! pool while the segment accountant's lock is held, and a later allocation waits for that
//! truncation with the lock still held. The pool's seven resident threads can all be blocked on
//! that same lock (each writing a log buffer), and the pool starts a further thread only when a
//! new task finds more than seven queued: the truncation then never runs and the store hangs.
//! Rewriting event blocks frees many log segments, so it makes this much likelier (two demo
//! seedings hung this way in the test suite). sled fixed it upstream (PR #1269) after 0.34.7.
//!
//! The watch asks sled for an asynchronous flush now and then, which is a task on that pool. If
//! one stays unfinished for [`STUCK`], it queues a burst of further flushes: with more than
//! seven tasks queued, sled starts a thread, which takes the oldest task first, the truncation,
//! and the lock is released. The flushes themselves are harmless (sled's own flusher does the
//! same every half second), and a merely slow disk costs a few extra short-lived threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the watch looks.
const TICK: Duration = Duration::from_secs(1);
/// How long a flush may stay unfinished before the pool is taken for stuck.
const STUCK: Duration = Duration::from_secs(5);
/// Tasks queued per burst: enough to pass sled's threshold of seven queued tasks on their own.
const BURST: usize = 8;

/// A flush requested from the pool, or anything else that may stay pending.
type Pending = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The watch's state, apart from its thread so that it can be tested without sled.
struct Watch<K> {
    kick: K,
    pending: Option<(Pending, Instant)>,
    /// When the last burst was sent, so that bursts are at least [`STUCK`] apart.
    last_burst: Option<Instant>,
    bursts: u64,
}

impl<K: FnMut() -> Pending> Watch<K> {
    fn new(kick: K) -> Self {
        Self {
            kick,
            pending: None,
            last_burst: None,
            bursts: 0,
        }
    }

    /// Polls `fut` once; whether it finished.
    fn poll(fut: &mut Pending) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        matches!(fut.as_mut().poll(&mut cx), Poll::Ready(()))
    }

    /// One look at `now`.
    fn tick(&mut self, now: Instant) {
        if let Some((fut, _)) = &mut self.pending {
            if Self::poll(fut) {
                self.pending = None;
            }
        }
        if let Some((_, since)) = &self.pending {
            let stuck = now.duration_since(*since) >= STUCK;
            let due = self
                .last_burst
                .is_none_or(|at| now.duration_since(at) >= STUCK);
            if stuck && due {
                tracing::warn!(
                    "the store's I/O pool has made no progress for {} s; queueing {BURST} \
                     flushes so that sled starts another thread (a known sled 0.34 deadlock)",
                    STUCK.as_secs()
                );
                for _ in 0..BURST {
                    // Dropped once queued: what matters is the task, not its answer.
                    let mut extra = (self.kick)();
                    Self::poll(&mut extra);
                }
                self.last_burst = Some(now);
                self.bursts += 1;
            }
        }
        if self.pending.is_none() {
            let mut fut = (self.kick)();
            if !Self::poll(&mut fut) {
                self.pending = Some((fut, now));
            }
        }
    }
}

/// The watch's thread; stopped and joined when dropped.
pub(super) struct PoolWatch {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PoolWatch {
    /// Starts watching through `db`'s flushes.
    pub(super) fn start(db: &sled::Db) -> std::io::Result<Self> {
        let db = db.clone();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("store-pool-watch".into())
            .spawn(move || {
                let mut watch = Watch::new(|| -> Pending {
                    let db = db.clone();
                    Box::pin(async move {
                        // A flush that fails is reported by the next commit or flush that
                        // needs it; here only its progress matters.
                        if let Err(e) = db.flush_async().await {
                            tracing::debug!("background flush: {e}");
                        }
                    })
                });
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                    watch.tick(Instant::now());
                }
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for PoolWatch {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread at once; joining lets go of its database handle
        // before the store's own, so that the directory's lock is released as before.
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the store's pool watch panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_flush_that_never_finishes_brings_bursts_at_most_every_stuck_interval() {
        let kicks = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&kicks);
        // A pool that never runs anything: every flush stays pending.
        let mut watch = Watch::new(move || -> Pending {
            counted.fetch_add(1, Ordering::Relaxed);
            Box::pin(std::future::pending())
        });
        let t0 = Instant::now();
        watch.tick(t0);
        assert_eq!(kicks.load(Ordering::Relaxed), 1);
        // Not yet stuck: nothing more is queued.
        watch.tick(t0 + STUCK - TICK);
        assert_eq!((kicks.load(Ordering::Relaxed), watch.bursts), (1, 0));
        // Stuck: one burst of BURST flushes.
        watch.tick(t0 + STUCK);
        assert_eq!(
            (kicks.load(Ordering::Relaxed), watch.bursts),
            (1 + BURST, 1)
        );
        // Still stuck right after: no second burst until another STUCK has passed.
        watch.tick(t0 + STUCK + TICK);
        assert_eq!(watch.bursts, 1);
        watch.tick(t0 + STUCK * 2);
        assert_eq!(
            (kicks.load(Ordering::Relaxed), watch.bursts),
            (1 + 2 * BURST, 2)
        );
    }

    #[test]
    fn flushes_that_finish_never_bring_a_burst() {
        let kicks = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&kicks);
        let mut watch = Watch::new(move || -> Pending {
            counted.fetch_add(1, Ordering::Relaxed);
            Box::pin(std::future::ready(()))
        });
        let t0 = Instant::now();
        for i in 0..30 {
            watch.tick(t0 + TICK * i);
        }
        assert_eq!((kicks.load(Ordering::Relaxed), watch.bursts), (30, 0));
    }

    #[test]
    fn the_watch_stops_with_its_store_and_lets_go_of_the_directory() {
        let dir = tempfile::tempdir().expect("a temp dir");
        {
            let store = super::super::Store::open(dir.path()).expect("opens");
            drop(store);
        }
        // Reopening at once works only if the watch's handle was let go with the store's.
        super::super::Store::open(dir.path()).expect("reopens");
    }
}
