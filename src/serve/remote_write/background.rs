//! The thread a receiver's rounds are prepared on: its own, at a lower scheduling priority.
//!
//! Gathering, flattening and encoding a round of tens of thousands of series take a few hundred
//! milliseconds of CPU. On the runtime's blocking pool they compete with the workers that serve
//! `/metrics` and the dashboard as equals, and a scrape waits for them on a busy machine. Here
//! they run at nice [`NICE`]: when a core is free a round goes as fast as before; when the
//! machine is saturated, serving comes first and the round takes longer, which a receiver that
//! is written to every `interval` does not notice.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

/// The round thread's nice value. Linux's CFS weighs runnable threads by nice (kernel
/// `sched_prio_to_weight`: 1024 at 0, 110 at 10), so under contention the round gets about a
/// tenth of what a serving thread gets, and all of an idle core.
const NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A receiver's round thread; it ends when this is dropped.
pub(super) struct Background {
    jobs: mpsc::Sender<Job>,
}

impl Background {
    /// Starts the thread, named after the receiver.
    pub(super) fn start(remote: &str) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let name = remote.to_owned();
        std::thread::Builder::new()
            .name(format!("remote-write:{remote}"))
            .spawn(move || {
                lower_priority(&name);
                for job in queue {
                    // A panicking round is reported by `run` (its answer never comes); the
                    // thread stays for the next one.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                }
            })?;
        Ok(Self { jobs })
    }

    /// Runs `work` on the thread; `None` if it panicked.
    pub(super) async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The receiving side is gone only when the writer stopped: nobody to tell.
            let _ = answer.send(work());
        });
        if self.jobs.send(job).is_err() {
            // The thread ends only with this value; a send cannot fail while it is alive.
            return None;
        }
        answered.await.ok()
    }
}

/// Runs the future `work` builds to its end on a thread of its own, with a single-threaded
/// runtime, at nice [`NICE`]; the answer comes when it has ended (or panicked: dropped).
pub(super) fn on_own_runtime<F, Fut>(
    remote: &str,
    work: F,
) -> std::io::Result<tokio::sync::oneshot::Receiver<()>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done, finished) = tokio::sync::oneshot::channel();
    let name = remote.to_owned();
    std::thread::Builder::new()
        .name(format!("remote-write-io:{remote}"))
        .spawn(move || {
            lower_priority(&name);
            runtime.block_on(work());
            // Nobody waits any more only when the daemon is already going down.
            let _ = done.send(());
        })?;
    Ok(finished)
}

/// Lowers the calling thread's priority. Linux keeps the nice value per thread
/// (setpriority(2), NOTES), so `PRIO_PROCESS` with the caller's id touches only this thread;
/// elsewhere the call would renice the whole daemon, so it is not made.
fn lower_priority(remote: &str) {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(None, NICE) {
        tracing::warn!(remote, error = %e, "cannot lower the remote-write thread's priority");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (remote, NICE);
}
