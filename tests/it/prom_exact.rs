//! Issue #14, Reliability: a week recounted by hand gives the same figures. A real Prometheus is
//! backfilled with a history whose every answer is written down below, synced at `step = "1h"`,
//! and read back through the library, the API, `/metrics`, the dashboard and the CLI.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use barometer::analysis::reliability::{weekly, SliPoints, SloSamples, SloSpec};
use barometer::analysis::WEEK_MS;
use barometer::config::{Config, Sources};
use barometer::model::{series, SeriesKey};
use barometer::query::{slo_defs, slo_weeks_at};
use barometer::sources::prometheus::Prometheus;
use barometer::sources::pull::RetryPolicy;
use barometer::store::Store;
use chrono::{DateTime, TimeZone, Utc};

use crate::helpers::{barometer, get_json, Daemon};
use crate::prom::{query, PromServer};

/// 2025-03-03, a Monday: week A starts here, week B a week later, week C (the current one) two.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 0, 0, 0).unwrap()
}

/// Business time: Wednesday of week C, 12:30 (60.5 h into the week; the last complete step
/// ends at 12:00, 60 h in).
fn now() -> DateTime<Utc> {
    t0() + chrono::Duration::days(16) + chrono::Duration::minutes(12 * 60 + 30)
}

/// Errors in the minute starting `m` seconds after t0; every minute has 2 000 requests.
///
/// Week A (days 0–6), 650 errors:
/// - day 1, 10:00–10:12: 12 minutes of 20 errors (1 % > the 0.1 % budget): 12 bad minutes;
/// - day 3, 15:30–15:37: 7 minutes of 50 errors (2.5 %): 7 bad minutes. 19 bad minutes in all,
///   in two hours that are each over the budget (0.2 % and 0.29 %): 120 at step resolution;
/// - day 2, 04:00–05:00: 60 minutes of 1 error (0.05 %, within the budget): no bad minute.
///
/// Week B (days 7–13), 16 000 errors:
/// - day 12, 08:00–08:03: 3 minutes of 2 000 errors: 3 bad minutes;
/// - day 10, 12:58–13:03: 5 minutes of 2 000 errors, inside a scrape gap (see [`in_gap`]):
///   counted by the counters, so in the week's and window's counts, but unknown minutes.
///
/// Week C (days 14–, up to day 16 12:00): day 15, 00:00–01:00: 60 minutes of 1 error.
fn errors(m: i64) -> u64 {
    let (day, minute) = (m.div_euclid(86_400), m.rem_euclid(86_400) / 60);
    match (day, minute) {
        (1, 600..612) => 20,
        (3, 930..937) => 50,
        (2, 240..300) | (15, 0..60) => 1,
        (12, 480..483) | (10, 778..783) => 2_000,
        _ => 0,
    }
}

/// The scrape gap: samples of day 10 at 12:56 to 13:04 are missing (9 samples). The minutes
/// ending 12:56 to 13:05 have fewer than two samples in their range: 10 unknown minutes. The gap
/// straddles the 13:00 step boundary, so the two hourly steps around it extrapolate and lose
/// what happened in it; the week's own `increase()` does not.
fn in_gap(s: i64) -> bool {
    s.div_euclid(86_400) == 10 && (776..=784).contains(&(s.rem_euclid(86_400) / 60))
}

/// Per-minute counters from t0 (both 0) to now's last complete step (day 16, 12:00).
fn history() -> String {
    let end = (now() - t0()).num_seconds() / 3_600 * 3_600;
    let (mut ok, mut bad) = (0u64, 0u64);
    let mut out = String::from("# TYPE http_requests counter\n");
    let mut s = 0;
    while s <= end {
        if s > 0 {
            let e = errors(s - 60);
            ok += 2_000 - e;
            bad += e;
        }
        if !in_gap(s) {
            let t = t0().timestamp() + s;
            writeln!(out, "http_requests_total{{code=\"200\"}} {ok} {t}").unwrap();
            writeln!(out, "http_requests_total{{code=\"500\"}} {bad} {t}").unwrap();
        }
        s += 60;
    }
    out.push_str("# EOF\n");
    out
}

const SLO: &str = "[[prometheus.slo]]\nname = \"api-availability\"\nservice = \"api\"\n\
    good_query = 'sum(increase(http_requests_total{code=\"200\"}[${step}]))'\n\
    total_query = 'sum(increase(http_requests_total[${step}]))'\n\
    target = 0.999\nwindow = \"28d\"\n";

/// A configuration file for `url`, in `dir`.
fn config_file(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("barometer.toml");
    std::fs::write(
        &path,
        format!(
            "[prometheus]\nurl = \"{url}\"\nstep = \"1h\"\nbackfill_since = \"2025-03-03\"\n\
             timeout = \"10s\"\ninterval = \"1h\"\n\n{SLO}"
        ),
    )
    .unwrap();
    path
}

/// Prometheus's own answer for the budget left over 28 days at `at`.
async fn prometheus_budget_left(url: &str, at: DateTime<Utc>) -> f64 {
    let promql = "1 - (1 - sum(increase(http_requests_total{code=\"200\"}[28d])) \
                  / sum(increase(http_requests_total[28d]))) / 0.001";
    let body = query(url, promql, Some(at.timestamp_millis())).await;
    body["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_week_recounted_by_hand_gives_the_same_figures() {
    let Some(server) = PromServer::start(&history(), None) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config_path = config_file(dir.path(), &server.url);
    let config = Config::load(&Sources {
        file: Some(config_path.clone()),
        env: Some(BTreeMap::new()),
        ..Default::default()
    })
    .unwrap();
    let store_path = dir.path().join("store");
    let store = Store::open(&store_path).unwrap();
    let policy = RetryPolicy {
        attempts: 2,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(50),
    };
    let prom = Prometheus::new(&config.prometheus, policy).unwrap();
    prom.sync(&store, None, now()).await.unwrap();

    let def = &slo_defs(&config, &[])[0];
    let (a, b, c) = (
        t0().timestamp_millis(),
        t0().timestamp_millis() + WEEK_MS,
        t0().timestamp_millis() + 2 * WEEK_MS,
    );
    let w = slo_weeks_at(&store, def, &[a, b, c], now().timestamp_millis()).unwrap();

    // Week A: 10 080 minutes × 2 000 requests; 650 errors; 19 bad minutes, none unknown.
    assert!(!w[0].partial);
    assert_eq!(w[0].total_requests, Some(20_160_000.0));
    assert_eq!(w[0].error_requests, Some(650.0));
    assert!((w[0].availability.unwrap() - (1.0 - 650.0 / 20_160_000.0)).abs() < 1e-12);
    assert_eq!(w[0].bad_minutes, Some(19.0));
    assert_eq!(w[0].unknown_minutes, Some(0.0));
    // At step resolution the same week read 2 bad hours = 120 minutes.
    let labels = [("slo", "api-availability"), ("service", "api")];
    let read = |name| {
        let key = SeriesKey::new(name, labels).unwrap();
        store.range(&key, a, b).unwrap()
    };
    let (good, total) = (read(series::SLO_GOOD), read(series::SLO_TOTAL));
    let spec = SloSpec {
        target: 0.999,
        window_ms: 28 * 86_400_000,
        step_ms: 3_600_000,
    };
    let steps = SloSamples::steps_only(SliPoints::Counts {
        good: &good,
        total: &total,
    });
    let old = weekly(&spec, &steps, &[a], now().timestamp_millis());
    assert_eq!(old[0].bad_minutes, Some(120.0));

    // Week B: 16 000 errors (10 000 of them in the scrape gap); 3 bad minutes; the gap's 10
    // minutes are unknown, neither good nor bad.
    assert!(!w[1].partial);
    assert_eq!(w[1].total_requests, Some(20_160_000.0));
    assert_eq!(w[1].error_requests, Some(16_000.0));
    assert_eq!(w[1].bad_minutes, Some(3.0));
    assert_eq!(w[1].unknown_minutes, Some(10.0));

    // Week C, partial: 60 h = 3 600 minutes × 2 000 requests, 60 errors, nothing bad or unknown.
    assert!(w[2].partial);
    assert_eq!(w[2].total_requests, Some(7_200_000.0));
    assert_eq!(w[2].error_requests, Some(60.0));
    assert_eq!(w[2].bad_minutes, Some(0.0));
    assert_eq!(w[2].unknown_minutes, Some(0.0));

    // Budget left over 28 days = 1 − (errors / requests since t0) / 0.001:
    // end of A: 650 / 20 160 000; end of B: 16 650 / 40 320 000; now (day 16 12:00):
    // 16 710 / 47 520 000. Summing hourly steps would lose the gap's 10 000 errors at B.
    let expected = [
        (0, t0() + chrono::Duration::days(7), 650.0 / 20_160_000.0),
        (
            1,
            t0() + chrono::Duration::days(14),
            16_650.0 / 40_320_000.0,
        ),
        (
            2,
            t0() + chrono::Duration::hours(16 * 24 + 12),
            16_710.0 / 47_520_000.0,
        ),
    ];
    for (i, at, ratio) in expected {
        let ours = w[i].error_budget_remaining.unwrap();
        assert!(
            (ours - (1.0 - ratio / 0.001)).abs() < 1e-9,
            "week {i}: {ours}"
        );
        let theirs = prometheus_budget_left(&server.url, at).await;
        assert!((ours - theirs).abs() < 1e-4, "week {i}: {ours} vs {theirs}");
    }
    drop(store);

    // The CLI: the two complete weeks, with their request counts.
    let out = barometer(&store_path)
        .env("BAROMETER_CONFIG", &config_path)
        .env("BAROMETER_NOW", now().to_rfc3339())
        .args(["reliability", "--weeks", "2", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let weeks = &doc[0]["weeks"];
    assert_eq!(weeks[0]["total_requests"], 20_160_000.0);
    assert_eq!(weeks[0]["error_requests"], 650.0);
    assert_eq!(weeks[0]["bad_minutes"], 19.0);
    assert_eq!(weeks[1]["unknown_minutes"], 10.0);
    let table = barometer(&store_path)
        .env("BAROMETER_CONFIG", &config_path)
        .env("BAROMETER_NOW", now().to_rfc3339())
        .args(["reliability", "--weeks", "2"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("requests") && table.contains("errors"),
        "{table}"
    );
    assert!(
        table.contains("20160000") && table.contains("16000"),
        "{table}"
    );

    // The API, /metrics and the dashboard show the current week, flagged partial.
    let now_s = now().to_rfc3339();
    let config_s = config_path.display().to_string();
    let mut env = vec![
        ("BAROMETER_NOW", now_s.as_str()),
        ("BAROMETER_CONFIG", config_s.as_str()),
    ];
    let daemon = Daemon::start_with_env(&store_path, &[], &mut env);
    daemon.wait_ready().await;
    let client = reqwest::Client::new();
    let api = get_json(&client, daemon.url("/api/v1/reliability?from=2025-03-03")).await;
    let weeks = api["slos"][0]["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 3, "{api}");
    assert_eq!(weeks[1]["partial"], false);
    assert_eq!(weeks[2]["partial"], true);
    assert_eq!(weeks[2]["total_requests"], 7_200_000.0);
    assert_eq!(weeks[2]["error_requests"], 60.0);
    let metrics = daemon
        .metrics_when(30, |m| {
            m.contains("barometer_slo_week_to_date_availability_ratio{")
        })
        .await;
    assert!(
        metrics.contains(
            "barometer_slo_week_to_date_bad_minutes{service=\"api\",slo=\"api-availability\"} 0\n"
        ),
        "{metrics}"
    );
    let page = crate::helpers::get_text(&client, daemon.url("/")).await;
    assert!(page.contains("id=\"week-to-date\""), "{page}");
    assert!(
        page.contains("This week so far (partial, from 2025-03-17)"),
        "{page}"
    );
    daemon.terminate();
}
