//! The business calendar: weeks that start on Monday 00:00 in the analysis time zone.
//!
//! One value, built once from `analysis.timezone` and handed to whatever cuts time into weeks,
//! days or months, so that every figure of a process shares one calendar without a global.

use chrono::{Datelike, NaiveDate};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
/// Milliseconds in a week.
pub const WEEK_MS: i64 = 7 * DAY_MS;
/// 1969-12-29T00:00:00Z, the Monday before the Unix epoch (a Thursday).
const MONDAY_BEFORE_EPOCH_MS: i64 = -3 * DAY_MS;

/// ISO weeks (Monday 00:00) in a time zone a fixed offset from UTC.
///
/// A zone name is counted at its standard offset (see `analysis.timezone`): a week is then
/// always exactly 7 days, which the weekly figures rely on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calendar {
    offset_ms: i64,
}

impl Calendar {
    /// Weeks in UTC.
    pub const UTC: Calendar = Calendar { offset_ms: 0 };

    /// Weeks in the zone `offset_s` seconds ahead of UTC.
    pub fn with_offset_s(offset_s: i32) -> Self {
        Self {
            offset_ms: i64::from(offset_s) * 1000,
        }
    }

    /// The zone's offset from UTC, ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// Start of the ISO week holding `ts` (ms): Monday 00:00 in the zone, as a UTC instant.
    pub fn week_start(&self, ts: i64) -> i64 {
        week_start_at(ts, self.offset_ms)
    }

    /// The calendar date of an instant in the zone.
    pub fn local_date(&self, ts: i64) -> NaiveDate {
        chrono::DateTime::from_timestamp_millis(ts + self.offset_ms)
            .map_or(NaiveDate::MIN, |t| t.date_naive())
    }

    /// 00:00 of a date in the zone, as a UTC instant (ms).
    pub fn local_midnight(&self, date: NaiveDate) -> i64 {
        date.and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_millis())
            - self.offset_ms
    }

    /// The month holding an instant in the zone, as a running index (year × 12 + month − 1).
    pub fn month_index(&self, ts: i64) -> i32 {
        let d = self.local_date(ts);
        d.year() * 12 + d.month0() as i32
    }
}

/// Start of the week holding `ts` for a zone `offset_ms` ahead of UTC.
pub fn week_start_at(ts: i64, offset_ms: i64) -> i64 {
    (ts + offset_ms - MONDAY_BEFORE_EPOCH_MS).div_euclid(WEEK_MS) * WEEK_MS + MONDAY_BEFORE_EPOCH_MS
        - offset_ms
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc, Weekday};

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
            let w = Calendar::UTC.week_start(ts);
            let d = Utc.timestamp_millis_opt(w).single().expect("valid");
            assert_eq!(d.weekday(), Weekday::Mon, "{ts}");
            assert_eq!(w % DAY_MS, 0);
            assert!(w <= ts && ts < w + WEEK_MS);
        }
    }
}
