//! Retries written once: exponential backoff with jitter, waits the upstream asks for
//! (`Retry-After`, a rate-limit reset), and a sleep that shutdown ends at once.
//!
//! Every pull over HTTP goes through [`retry`]: the GitHub client, the Prometheus source and the
//! digest webhook. Each says only how to read one failed attempt (its [`Retryable::verdict`]); the
//! schedule of waits lives in [`Backoff`].
//!
//! It is a module of its own, beside the data flow, so that the digest's webhook uses it without
//! importing the sources.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How many times to try, and the bounds of the waits between tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included).
    pub attempts: u32,
    /// Delay before the second attempt; grows by [`Backoff::factor`] each time.
    pub base_delay: Duration,
    /// Upper bound of one backoff delay, and of a `Retry-After` honoured by [`Verdict::After`].
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A fresh schedule of waits for one operation under this policy.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(*self)
    }
}

/// How a backoff delay is spread, so that many clients failing together do not retry together
/// (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015, names the three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// The delay itself: for tests and single clients.
    None,
    /// Uniform in `[0, d]`: the widest spread, but a retry can follow at once.
    Full,
    /// Uniform in `[d/2, d]`: half the spread, and never less than half the delay.
    #[default]
    Equal,
    /// Uniform in `[base, 3 × previous]`, capped: grows from the last wait, not the attempt count.
    Decorrelated,
}

/// What a failed attempt calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Give up now: trying again cannot help (a 4xx, a malformed answer, a shutdown).
    Fail,
    /// A transient failure (timeout, connection error, 5xx): try again after the next backoff
    /// delay, spending an attempt.
    Backoff,
    /// The upstream said when (`Retry-After` on a 429 or 503): try again after that long, at most
    /// [`RetryPolicy::max_delay`], spending an attempt.
    After(Duration),
    /// A rate limit with a known end: wait that long and ask again without spending an attempt,
    /// at most [`Backoff::max_pauses`] times. The caller bounds the wait before asking for it.
    Pause(Duration),
}

/// Whether a failed attempt is worth another, and when.
pub trait Retryable {
    /// How to go on after this error.
    fn verdict(&self) -> Verdict;
}

/// The wait of a [`sleep`] was cut short by shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled by shutdown")]
pub struct Cancelled;

/// Sleeps `duration`, or less if `cancel` fires first: a rate-limit pause can last an hour, and
/// shutdown must not wait for it.
pub async fn sleep(duration: Duration, cancel: &CancellationToken) -> Result<(), Cancelled> {
    tokio::select! {
        _ = cancel.cancelled() => Err(Cancelled),
        _ = tokio::time::sleep(duration) => Ok(()),
    }
}

/// The schedule of waits of one operation: which attempt it is at, how many rate-limit pauses it
/// took, and when it must give up.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    factor: u32,
    jitter: Jitter,
    max_pauses: u32,
    deadline: Option<Instant>,
    attempt: u32,
    pauses: u32,
    previous: Duration,
}

impl Backoff {
    /// Starts at the first attempt, doubling the delay with [`Jitter::Equal`], at most 5 pauses.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            factor: 2,
            jitter: Jitter::default(),
            max_pauses: 5,
            deadline: None,
            attempt: 1,
            pauses: 0,
            previous: policy.base_delay,
        }
    }

    /// The growth of the delay from one attempt to the next (at least 1).
    pub fn factor(mut self, factor: u32) -> Self {
        self.factor = factor.max(1);
        self
    }

    /// How delays are spread.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Rate-limit pauses allowed before a [`Verdict::Pause`] gives up: an upstream that keeps
    /// saying "later" is not waited on for ever.
    pub fn max_pauses(mut self, pauses: u32) -> Self {
        self.max_pauses = pauses;
        self
    }

    /// Gives up when the next wait would end more than `budget` after now.
    pub fn deadline(mut self, budget: Duration) -> Self {
        self.deadline = Some(Instant::now() + budget);
        self
    }

    /// The attempt being made (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Waits taken so far: backoff delays and rate-limit pauses.
    pub fn waits(&self) -> u32 {
        self.attempt - 1 + self.pauses
    }

    /// The delay before attempt `n` (n ≥ 2) before jitter: `base · factorⁿ⁻²`, at most
    /// `max_delay`.
    pub fn ceiling(&self, n: u32) -> Duration {
        let exp = n.saturating_sub(2).min(32);
        let grown = self
            .factor
            .checked_pow(exp)
            .map_or(self.policy.max_delay, |f| {
                self.policy.base_delay.saturating_mul(f)
            });
        grown.min(self.policy.max_delay)
    }

    fn jittered(&mut self, ceiling: Duration) -> Duration {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let mut rng = rand::rng();
        let d = match self.jitter {
            Jitter::None => ceiling,
            Jitter::Full => Duration::from_millis(rng.random_range(0..=ms(ceiling))),
            Jitter::Equal => {
                let c = ms(ceiling);
                Duration::from_millis(rng.random_range(c / 2..=c))
            }
            Jitter::Decorrelated => {
                let lo = ms(self.policy.base_delay);
                let hi = ms(self.previous).saturating_mul(3).max(lo);
                Duration::from_millis(rng.random_range(lo..=hi)).min(self.policy.max_delay)
            }
        };
        self.previous = d;
        d
    }

    /// The wait before the next attempt after one that failed with `verdict`, or `None` to give
    /// up (the verdict says so, the attempts or pauses are spent, or the deadline would pass).
    pub fn next_delay(&mut self, verdict: Verdict) -> Option<Duration> {
        let delay = match verdict {
            Verdict::Fail => return None,
            Verdict::Pause(wait) => {
                if self.pauses >= self.max_pauses {
                    return None;
                }
                wait
            }
            Verdict::Backoff | Verdict::After(_) => {
                if self.attempt >= self.policy.attempts {
                    return None;
                }
                match verdict {
                    Verdict::After(hint) => hint.min(self.policy.max_delay),
                    _ => self.jittered(self.ceiling(self.attempt + 1)),
                }
            }
        };
        if self.deadline.is_some_and(|d| Instant::now() + delay > d) {
            return None;
        }
        match verdict {
            Verdict::Pause(_) => self.pauses += 1,
            _ => self.attempt += 1,
        }
        Some(delay)
    }
}

/// Runs `op` until it succeeds, fails for good, runs out of attempts, or `cancel` fires during a
/// wait (then the error is `E::from(Cancelled)`). Each retry is logged with its reason; the caller
/// reads what was spent from `backoff` afterwards.
pub async fn retry<T, E, F, Fut>(
    backoff: &mut Backoff,
    cancel: &CancellationToken,
    what: &str,
    mut op: F,
) -> Result<T, E>
where
    E: Retryable + From<Cancelled> + Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    loop {
        let e = match op().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let verdict = e.verdict();
        let Some(delay) = backoff.next_delay(verdict) else {
            return Err(e);
        };
        let attempt = backoff.attempt();
        if let Verdict::Pause(_) = verdict {
            tracing::warn!(%what, error = %crate::redact::urls_in(&e.to_string()), wait = ?delay, "rate limited: waiting as asked");
        } else {
            tracing::warn!(%what, error = %crate::redact::urls_in(&e.to_string()), attempt, ?delay, "retrying");
        }
        sleep(delay, cancel).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        }
    }

    #[test]
    fn delays_grow_by_the_factor_and_stop_at_the_cap() {
        let b = policy().backoff();
        let ceilings: Vec<u64> = (2..=8).map(|n| b.ceiling(n).as_millis() as u64).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000, 1000]);
        let b = policy().backoff().factor(3);
        assert_eq!(b.ceiling(4), Duration::from_millis(900));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1), "no overflow");
        let mut b = policy().backoff().jitter(Jitter::None);
        let delays: Vec<_> = std::iter::from_fn(|| b.next_delay(Verdict::Backoff)).collect();
        assert_eq!(delays.len(), 9, "attempts count the first one");
        assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
        assert_eq!(delays.last(), Some(&Duration::from_secs(1)));
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        for _ in 0..200 {
            let mut full = policy().backoff().jitter(Jitter::Full);
            let mut equal = policy().backoff().jitter(Jitter::Equal);
            let mut deco = policy().backoff().jitter(Jitter::Decorrelated);
            for n in 2..=10 {
                let cap = full.ceiling(n);
                let f = full.next_delay(Verdict::Backoff).expect("attempts left");
                assert!(f <= cap, "full {f:?} > {cap:?}");
                let e = equal.next_delay(Verdict::Backoff).expect("attempts left");
                assert!(
                    e >= cap / 2 && e <= cap,
                    "equal {e:?} outside [{:?}, {cap:?}]",
                    cap / 2
                );
                let prev = deco.previous;
                let d = deco.next_delay(Verdict::Backoff).expect("attempts left");
                assert!(d >= Duration::from_millis(100).min(prev * 3), "{d:?}");
                assert!(
                    d <= (prev * 3).min(Duration::from_secs(1)),
                    "{d:?} after {prev:?}"
                );
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap_and_spends_an_attempt() {
        let mut b = policy().backoff();
        let hint = Duration::from_millis(750);
        assert_eq!(b.next_delay(Verdict::After(hint)), Some(hint));
        assert_eq!(b.attempt(), 2);
        assert_eq!(
            b.next_delay(Verdict::After(Duration::from_secs(90))),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn pauses_spend_no_attempt_and_are_bounded() {
        let mut b = RetryPolicy {
            attempts: 1,
            ..policy()
        }
        .backoff()
        .max_pauses(2);
        let wait = Duration::from_secs(120);
        assert_eq!(b.next_delay(Verdict::Pause(wait)), Some(wait), "not capped");
        assert_eq!(b.next_delay(Verdict::Pause(wait)), Some(wait));
        assert_eq!(b.next_delay(Verdict::Pause(wait)), None);
        assert_eq!(b.next_delay(Verdict::Backoff), None, "one attempt only");
        assert_eq!(b.next_delay(Verdict::Fail), None);
        assert_eq!(b.waits(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_ends_the_retries() {
        let mut b = policy()
            .backoff()
            .jitter(Jitter::None)
            .deadline(Duration::from_millis(250));
        assert_eq!(
            b.next_delay(Verdict::Backoff),
            Some(Duration::from_millis(100))
        );
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(b.next_delay(Verdict::Backoff), None, "100 + 200 > 250");
    }

    #[derive(Debug, PartialEq)]
    enum Failure {
        Flaky,
        Busy(Duration),
        Refused,
        Cancelled,
    }

    impl Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    impl From<Cancelled> for Failure {
        fn from(_: Cancelled) -> Self {
            Failure::Cancelled
        }
    }

    impl Retryable for Failure {
        fn verdict(&self) -> Verdict {
            match self {
                Failure::Flaky => Verdict::Backoff,
                Failure::Busy(d) => Verdict::After(*d),
                Failure::Refused | Failure::Cancelled => Verdict::Fail,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_waits_between_attempts_and_honours_retry_after() {
        let never = CancellationToken::new();
        let started = Instant::now();
        let mut answers = vec![Failure::Busy(Duration::from_secs(7)), Failure::Flaky].into_iter();
        let mut b = policy().backoff().jitter(Jitter::None);
        let out: Result<u32, Failure> = retry(&mut b, &never, "test", || {
            let next = answers.next();
            async move { next.map_or(Ok(42), Err) }
        })
        .await;
        assert_eq!(out, Ok(42));
        assert_eq!(b.attempt(), 3);
        // Retry-After 7 s capped at 1 s, then the second delay (200 ms).
        assert_eq!(started.elapsed(), Duration::from_millis(1_200));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_stops_at_a_final_failure_or_when_attempts_run_out() {
        let never = CancellationToken::new();
        let mut calls = 0;
        let mut b = policy().backoff();
        let out: Result<(), Failure> = retry(&mut b, &never, "test", || {
            calls += 1;
            async { Err(Failure::Refused) }
        })
        .await;
        assert_eq!((out, calls), (Err(Failure::Refused), 1));
        let mut calls = 0;
        let mut b = RetryPolicy {
            attempts: 3,
            ..policy()
        }
        .backoff();
        let out: Result<(), Failure> = retry(&mut b, &never, "test", || {
            calls += 1;
            async { Err(Failure::Flaky) }
        })
        .await;
        assert_eq!((out, calls), (Err(Failure::Flaky), 3));
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_ends_the_sleep_at_once() {
        let cancel = CancellationToken::new();
        let started = Instant::now();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            trigger.cancel();
        });
        let out = sleep(Duration::from_secs(3_600), &cancel).await;
        assert_eq!(out, Err(Cancelled));
        assert_eq!(started.elapsed(), Duration::from_secs(1));

        // Inside a retry: the pending wait ends and the error says why.
        let mut b = policy().backoff();
        let out: Result<(), Failure> = retry(&mut b, &cancel, "test", || async {
            Err(Failure::Busy(Duration::from_secs(60)))
        })
        .await;
        assert_eq!(out, Err(Failure::Cancelled));
        assert_eq!(started.elapsed(), Duration::from_secs(1), "no time passed");
    }
}
