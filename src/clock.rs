//! Business time: the "now" that decides the last complete week, the digest's schedule and the
//! demo's end date.
//!
//! It is the system clock unless pinned (`--now` or `BAROMETER_NOW`), so a report, a digest or a
//! test run can be reproduced on any later day. A pinned clock still advances from the pinned
//! instant at the system clock's pace, so a long-running daemon keeps its schedule.
//! Timestamps of bookkeeping (when a record was written, rate-limit resets) stay on the system
//! clock: they describe this process, not the data.

use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, Utc};

/// The pinned instant and when (on the monotonic clock) it was pinned.
static PINNED: OnceLock<(DateTime<Utc>, Instant)> = OnceLock::new();

/// Pins business time to `at` for the rest of the process. Only the first call has an effect;
/// it returns `false` when the clock was already pinned to another instant.
pub fn pin(at: DateTime<Utc>) -> bool {
    PINNED.get_or_init(|| (at, Instant::now())).0 == at
}

/// The current business time.
pub fn now() -> DateTime<Utc> {
    match PINNED.get() {
        Some((at, since)) => {
            *at + chrono::Duration::from_std(since.elapsed()).unwrap_or(chrono::Duration::zero())
        }
        None => Utc::now(),
    }
}

/// [`now`] in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    now().timestamp_millis()
}

/// Parses `--now`: an RFC 3339 instant or a date (taken at 12:00 UTC, mid-day, so a pinned date
/// lies in the same ISO week in every supported time zone).
pub fn parse(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            let shown: String = s.chars().take(64).collect();
            format!("{shown:?} is neither an RFC 3339 instant nor a YYYY-MM-DD date")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_instants_and_dates() {
        assert_eq!(
            parse("2026-11-25").unwrap().to_rfc3339(),
            "2026-11-25T12:00:00+00:00"
        );
        assert_eq!(
            parse("2026-11-25T08:00:00+02:00").unwrap().to_rfc3339(),
            "2026-11-25T06:00:00+00:00"
        );
        assert!(parse("yesterday").unwrap_err().contains("yesterday"));
    }
}
