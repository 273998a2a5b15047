//! A calendar month, `YYYY-MM`: one type from the CSV parser to the API.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A month as a running index: year × 12 + (month − 1).
pub type MonthIdx = i32;

/// A calendar month of years 1..=9999, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(MonthIdx);

/// Why a text is not a month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a month (YYYY-MM)")]
pub struct MonthError(String);

impl Month {
    /// The month of a running index (year × 12 + month − 1).
    pub fn from_index(index: MonthIdx) -> Self {
        Self(index)
    }

    /// The month holding `date`.
    pub fn of(date: NaiveDate) -> Self {
        use chrono::Datelike;
        Self::from_index(date.year() * 12 + date.month0() as i32)
    }

    /// The month of a year and a month number (1..=12), if valid.
    pub fn new(year: i32, month: u32) -> Option<Self> {
        ((1..=12).contains(&month) && (1..=9999).contains(&year))
            .then(|| Self(year * 12 + month as i32 - 1))
    }

    /// The running index.
    pub fn index(self) -> MonthIdx {
        self.0
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }

    /// The month number, 1..=12.
    pub fn number(self) -> u32 {
        self.0.rem_euclid(12) as u32 + 1
    }

    /// The first day of the month.
    pub fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year(), self.number(), 1)
    }

    /// The month after.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl FromStr for Month {
    type Err = MonthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s.split_once('-').and_then(|(y, m)| {
            let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
            Month::new(y, m)
        });
        parsed.ok_or_else(|| MonthError(s.chars().take(32).collect()))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.number())
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_a_month() {
        let m: Month = "2026-03".parse().unwrap();
        assert_eq!((m.year(), m.number()), (2026, 3));
        assert_eq!(m.to_string(), "2026-03");
        assert_eq!(Month::from_index(m.index()), m);
        assert_eq!(m.next().to_string(), "2026-04");
        for bad in ["2026-13", "2026-00", "26", "2026-1x", "0-01"] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
    }
}
