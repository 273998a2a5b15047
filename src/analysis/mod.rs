//! Pure analysis over slices read from the store: no I/O, no clocks.

pub mod changepoints;
pub mod correlate;
pub mod dora;
pub mod pressure;
pub mod reliability;
pub mod revenue;
pub mod trend;
pub mod weekly;

use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
/// Milliseconds in a week.
pub const WEEK_MS: i64 = 7 * DAY_MS;
/// 1969-12-29T00:00:00Z, the Monday before the Unix epoch (a Thursday).
const MONDAY_BEFORE_EPOCH_MS: i64 = -3 * DAY_MS;

/// UTC offset of the time zone whose Monday 00:00 starts a week, ms (`analysis.timezone`).
static WEEK_OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Sets the UTC offset of the week boundary (`analysis.timezone`). The one process-wide setting
/// of the analysis: fixed once at startup, before any analysis runs, so that every figure of a
/// process shares one calendar.
pub fn set_week_offset_ms(offset_ms: i64) {
    WEEK_OFFSET_MS.store(offset_ms, Ordering::Relaxed);
}

/// The UTC offset of the week boundary, ms.
pub fn week_offset_ms() -> i64 {
    WEEK_OFFSET_MS.load(Ordering::Relaxed)
}

/// Start of the ISO week holding `ts` (ms): Monday 00:00 in the analysis time zone (UTC unless
/// `analysis.timezone` says otherwise), as a UTC instant. Weeks are exactly 7 days.
pub fn week_start(ts: i64) -> i64 {
    week_start_at(ts, week_offset_ms())
}

/// Start of the week holding `ts` for a zone `offset_ms` ahead of UTC.
pub fn week_start_at(ts: i64, offset_ms: i64) -> i64 {
    (ts + offset_ms - MONDAY_BEFORE_EPOCH_MS).div_euclid(WEEK_MS) * WEEK_MS + MONDAY_BEFORE_EPOCH_MS
        - offset_ms
}

/// The calendar date of an instant in the analysis time zone.
pub fn local_date(ts: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_millis(ts + week_offset_ms())
        .map_or(chrono::NaiveDate::MIN, |t| t.date_naive())
}

/// 00:00 of a date in the analysis time zone, as a UTC instant (ms).
pub fn local_midnight(date: chrono::NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis())
        - week_offset_ms()
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
    fn weeks_start_on_monday_midnight_of_the_zone() {
        let hour = 3_600_000;
        // Monday 2026-11-23 00:00 UTC.
        let monday = 1_795_392_000_000;
        // In UTC+05:00 the week began on Sunday 19:00 UTC; 18:59 UTC Sunday is the week before.
        assert_eq!(week_start_at(monday + hour, 5 * hour), monday - 5 * hour);
        assert_eq!(
            week_start_at(monday - 5 * hour - 1, 5 * hour),
            monday - 5 * hour - WEEK_MS
        );
        // In UTC−08:00 Monday 03:00 UTC is still Sunday: the week before, which began on the
        // Monday before at 08:00 UTC.
        assert_eq!(
            week_start_at(monday + 3 * hour, -8 * hour),
            monday + 8 * hour - WEEK_MS
        );
        for offset in [
            -12 * hour,
            -3 * hour - hour / 2,
            0,
            5 * hour + hour / 2,
            14 * hour,
        ] {
            for ts in [monday - 1, monday, monday + 4 * DAY_MS + 17, 0, -DAY_MS] {
                let w = week_start_at(ts, offset);
                assert!(w <= ts && ts < w + WEEK_MS, "{offset} {ts}");
                let local = Utc
                    .timestamp_millis_opt(w + offset)
                    .single()
                    .expect("valid");
                assert_eq!(local.weekday(), Weekday::Mon);
                assert_eq!((w + offset) % DAY_MS, 0);
            }
        }
    }

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
