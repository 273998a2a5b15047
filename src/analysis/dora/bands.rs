//! DORA performance bands, read from the tables in `data/dora/` (data, not code).

use serde::{Deserialize, Serialize};

/// A performance band, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// Low performers.
    Low,
    /// Medium performers.
    Medium,
    /// High performers.
    High,
    /// Elite performers.
    Elite,
}

impl Band {
    /// elite = 4 … low = 1, the value of `barometer_dora_band`.
    pub fn score(self) -> u8 {
        match self {
            Band::Low => 1,
            Band::Medium => 2,
            Band::High => 3,
            Band::Elite => 4,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Medium => "medium",
            Band::High => "high",
            Band::Elite => "elite",
        }
    }
}

/// Which way is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// More is better (deployment frequency).
    Higher,
    /// Less is better (lead time, failure rate, recovery time).
    Lower,
}

/// Thresholds of one metric: a value meeting `elite` is elite, and so on; below `medium` is low.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Direction.
    pub better: Better,
    /// Elite threshold.
    pub elite: f64,
    /// High threshold.
    pub high: f64,
    /// Medium threshold.
    pub medium: f64,
}

impl Thresholds {
    /// The band of a value.
    pub fn band(&self, v: f64) -> Option<Band> {
        if !v.is_finite() {
            return None;
        }
        let meets = |t: f64| match self.better {
            Better::Higher => v >= t,
            Better::Lower => v <= t,
        };
        Some(if meets(self.elite) {
            Band::Elite
        } else if meets(self.high) {
            Band::High
        } else if meets(self.medium) {
            Band::Medium
        } else {
            Band::Low
        })
    }
}

/// The band table of one report year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandTable {
    /// Report year.
    pub year: u16,
    /// Where the figures come from.
    pub source: String,
    /// Link to the report.
    pub url: String,
    /// Successful deployments per week.
    pub deployment_frequency: Thresholds,
    /// Median lead time, seconds.
    pub lead_time: Thresholds,
    /// Change failure rate, ratio.
    pub change_failure_rate: Thresholds,
    /// Median recovery time, seconds.
    pub recovery_time: Thresholds,
}

/// The tables shipped with Barometer: (year, TOML text).
const TABLES: &[(u16, &str)] = &[(2023, include_str!("../../../data/dora/2023.toml"))];

/// Report years that have a table.
pub fn years() -> Vec<u16> {
    TABLES.iter().map(|(y, _)| *y).collect()
}

/// The table of a report year, if Barometer ships one.
pub fn table(year: u16) -> Option<BandTable> {
    let (_, text) = TABLES.iter().find(|(y, _)| *y == year)?;
    // The tables are part of the build and checked by a test, so a parse failure here is a
    // packaging bug; it is reported as "no table" rather than a panic.
    toml::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_table_parses_and_is_ordered() {
        for year in years() {
            let t = table(year).expect("table parses");
            assert_eq!(t.year, year);
            for th in [
                t.deployment_frequency,
                t.lead_time,
                t.change_failure_rate,
                t.recovery_time,
            ] {
                match th.better {
                    Better::Higher => assert!(th.elite > th.high && th.high > th.medium),
                    Better::Lower => assert!(th.elite < th.high && th.high < th.medium),
                }
            }
        }
    }

    #[test]
    fn bands_follow_the_2023_words() {
        let t = table(2023).expect("2023");
        // Several deploys a day is elite; twice a week high; twice a month medium; quarterly low.
        assert_eq!(t.deployment_frequency.band(10.0), Some(Band::Elite));
        assert_eq!(t.deployment_frequency.band(2.0), Some(Band::High));
        assert_eq!(t.deployment_frequency.band(0.5), Some(Band::Medium));
        assert_eq!(t.deployment_frequency.band(1.0 / 13.0), Some(Band::Low));
        // 20 hours elite, 3 days high, 2 weeks medium, 2 months low.
        assert_eq!(t.lead_time.band(20.0 * 3600.0), Some(Band::Elite));
        assert_eq!(t.lead_time.band(3.0 * 86400.0), Some(Band::High));
        assert_eq!(t.lead_time.band(14.0 * 86400.0), Some(Band::Medium));
        assert_eq!(t.lead_time.band(60.0 * 86400.0), Some(Band::Low));
        assert_eq!(t.change_failure_rate.band(0.05), Some(Band::Elite));
        assert_eq!(t.change_failure_rate.band(0.3), Some(Band::Low));
        assert_eq!(t.recovery_time.band(1800.0), Some(Band::Elite));
        assert_eq!(t.recovery_time.band(2.0 * 86400.0), Some(Band::Medium));
        assert_eq!(t.recovery_time.band(f64::NAN), None);
    }
}
