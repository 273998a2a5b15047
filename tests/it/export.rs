//! `barometer export openmetrics`: promtool backfills it, and a Prometheus started on those blocks
//! answers the same weekly values the API computes.

use barometer::analysis::{Calendar, WEEK_MS};
use barometer::config::{Config, Sources};
use barometer::query::{slo_defs, slo_weeks};
use barometer::sources::demo;
use barometer::store::Store;

use crate::prom::PromServer;

async fn instant(url: &str, query: &str, at: i64) -> Option<f64> {
    let body = crate::prom::query(url, query, Some(at)).await;
    body["data"]["result"][0]["value"][1]
        .as_str()
        .map(|v| v.parse().unwrap())
}

/// A store in `dir` holding the demo organisation up to the pinned week.
fn seeded_store(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("store");
    let store = Store::open(&path).unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    demo::seed(&store, 42, crate::helpers::now().date_naive(), &token).unwrap();
    store.flush().unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn exported_history_backfills_into_prometheus_with_the_same_values() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = seeded_store(dir.path());
    let text = crate::helpers::stdout_of(
        crate::helpers::barometer(&store_path).args(["export", "openmetrics"]),
    );
    assert!(text.ends_with("# EOF\n"));

    let Some(server) = PromServer::start(&text, None) else {
        return;
    };
    let store = Store::open(&store_path).unwrap();
    let config = Config::load(&Sources {
        file: None,
        env: Some(Default::default()),
        ..Default::default()
    })
    .unwrap();
    let slos = slo_defs(&config, &barometer::sources::demo::slos());
    let api = slos.iter().find(|d| d.name == "api-availability").unwrap();
    let last = Calendar::UTC.week_start(crate::helpers::now().timestamp_millis()) - WEEK_MS;
    let weeks = [last - 60 * WEEK_MS, last - 10 * WEEK_MS, last];
    let expected = slo_weeks(&store, api, &weeks).unwrap();
    for w in &expected {
        let got = instant(
            &server.url,
            "barometer_slo_availability_ratio{slo=\"api-availability\"}",
            w.week_start,
        )
        .await;
        assert_eq!(got, w.availability, "week {}", w.week_start);
        let budget = instant(
            &server.url,
            "barometer_slo_error_budget_remaining_ratio{slo=\"api-availability\"}",
            w.week_start,
        )
        .await;
        assert_eq!(budget, w.error_budget_remaining);
    }
    // Revenue is monthly: the recent weeks of a month not yet closed have none.
    let arr = instant(
        &server.url,
        "barometer_revenue_arr{currency=\"USD\"}",
        last - 8 * WEEK_MS,
    )
    .await;
    assert!(arr.unwrap() > 1e6);
}

#[test]
fn the_reliability_command_reports_the_last_complete_weeks() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = seeded_store(dir.path());
    let out = crate::helpers::barometer(&store_path)
        .args(["reliability", "--weeks", "3", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let slos = doc.as_array().unwrap();
    assert_eq!(slos.len(), 2);
    let last = Calendar::UTC.week_start(crate::helpers::now().timestamp_millis()) - WEEK_MS;
    let weeks: Vec<i64> = slos[1]["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["week_start"].as_i64().unwrap())
        .collect();
    assert_eq!(weeks, vec![last - 2 * WEEK_MS, last - WEEK_MS, last]);

    let table = crate::helpers::barometer(&store_path)
        .args(["reliability", "--weeks", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.starts_with("storefront-availability (storefront), target 99.90%"),
        "{text}"
    );
}
