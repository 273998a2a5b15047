//! Weeks in the analysis time zone (`analysis.timezone`): Monday 00:00 there starts a week.

use std::collections::BTreeMap;

use barometer::config::{Config, Sources};
use barometer::sources::demo;
use barometer::store::Store;
use chrono::{Datelike, NaiveDate, Weekday};

use crate::helpers::barometer;

const HOUR: i64 = 3_600_000;
const WEEK: i64 = 7 * 24 * HOUR;

fn report(store: &std::path::Path, timezone: &str) -> serde_json::Value {
    let out = barometer(store)
        .env("BAROMETER__ANALYSIS__TIMEZONE", timezone)
        .args(["report", "--from", "2026-01-05", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn weeks_start_on_monday_midnight_of_the_configured_zone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let end = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    {
        let store = Store::open(&path).unwrap();
        let token = tokio_util::sync::CancellationToken::new();
        assert!(demo::seed(&store, 42, end, &token).unwrap().complete);
    }

    // The deployments as the analysis dates them (independent of week boundaries).
    let at: Vec<i64> = {
        let store = Store::open(&path).unwrap();
        let config = Config::load(&Sources {
            file: None,
            env: Some(BTreeMap::new()),
            ..Default::default()
        })
        .unwrap();
        let model = barometer::query::views::dora_model(
            &store,
            &barometer::query::Settings::new(&config).expect("settings"),
        )
        .unwrap();
        model
            .deployments
            .iter()
            .filter(|d| d.succeeded())
            .map(|d| d.at_ms)
            .collect()
    };

    for (zone, offset) in [
        ("UTC", 0),
        ("+05:00", 5 * HOUR),
        ("-08:00", -8 * HOUR),
        ("Asia/Kolkata", 5 * HOUR + HOUR / 2),
    ] {
        let r = report(&path, zone);
        let weeks = r["weeks"].as_array().unwrap();
        assert!(weeks.len() > 40, "{zone}");
        for w in weeks {
            let label = NaiveDate::parse_from_str(w["week"].as_str().unwrap(), "%Y-%m-%d").unwrap();
            assert_eq!(label.weekday(), Weekday::Mon, "{zone}: {label}");
            let start = w["signals"]["week_ms"].as_i64().unwrap();
            let local_midnight = label
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_millis()
                - offset;
            assert_eq!(start, local_midnight, "{zone}: {label}");
            // Each week counts the deployments of its 7 days in that zone.
            if let Some(n) = w["signals"]["deployments"].as_f64() {
                let expected = at
                    .iter()
                    .filter(|t| (start..start + WEEK).contains(*t))
                    .count();
                assert_eq!(n as usize, expected, "{zone}: week of {label}");
            }
        }
    }
    // A bad zone is a configuration error naming the key.
    let out = barometer(&path)
        .env("BAROMETER__ANALYSIS__TIMEZONE", "Mars/Olympus")
        .args(["report"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("analysis.timezone"), "{err}");
}
