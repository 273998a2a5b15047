//! Pure analysis over slices read from the store: no I/O, no clocks.

pub mod changepoints;
pub mod correlate;
pub mod dora;
pub mod pressure;
pub mod reliability;
pub mod revenue;
pub mod trend;
pub mod weekly;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
/// Milliseconds in a week.
pub const WEEK_MS: i64 = 7 * DAY_MS;
/// 1969-12-29T00:00:00Z, the Monday before the Unix epoch (a Thursday).
const MONDAY_BEFORE_EPOCH_MS: i64 = -3 * DAY_MS;

/// Monday 00:00 UTC of the ISO week holding `ts` (milliseconds), for any `ts`.
pub fn week_start(ts: i64) -> i64 {
    (ts - MONDAY_BEFORE_EPOCH_MS).div_euclid(WEEK_MS) * WEEK_MS + MONDAY_BEFORE_EPOCH_MS
}

/// `f` over `items` on every available core (scoped threads, contiguous chunks), results in
/// order.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Utc, Weekday};

    #[test]
    fn weeks_start_on_monday_midnight_utc() {
        for ts in [
            0,
            -1,
            1_764_000_000_000,
            -5_000_000_000_000,
            1_795_000_000_123,
        ] {
            let w = week_start(ts);
            let d = Utc.timestamp_millis_opt(w).single().expect("valid");
            assert_eq!(d.weekday(), Weekday::Mon, "{ts}");
            assert_eq!(w % DAY_MS, 0);
            assert!(w <= ts && ts < w + WEEK_MS);
        }
    }
}
