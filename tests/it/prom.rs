//! The Prometheus source against a real Prometheus, backfilled with known answers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use barometer::analysis::reliability::SloStatus;
use barometer::analysis::WEEK_MS;
use barometer::config::{Config, Sources};
use barometer::model::{series, SeriesKey};
use barometer::query::{slo_defs, slo_weeks_at};
use barometer::sources::prometheus::{PromError, Prometheus};
use barometer::sources::pull::RetryPolicy;
use barometer::store::Store;
use chrono::{DateTime, TimeZone, Utc};

/// A Prometheus server on loopback with a temp data dir; stopped on drop, also when a test fails.
pub struct PromServer {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for PromServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An instant query (at `at` ms, or now); the answer must be a success.
pub async fn query(url: &str, promql: &str, at: Option<i64>) -> serde_json::Value {
    let mut form = vec![("query", promql.to_owned())];
    if let Some(at) = at {
        form.push(("time", (at / 1000).to_string()));
    }
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/api/v1/query"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "success", "{body}");
    body
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found && std::env::var_os("CI").is_some() {
        panic!("{tool} is not installed; .ci/run installs it");
    }
    found
}

impl PromServer {
    /// Backfills `openmetrics` with promtool and starts Prometheus on it; `None` when Prometheus
    /// is not installed (outside CI).
    pub fn start(openmetrics: &str, scrape: Option<&str>) -> Option<PromServer> {
        if !have("prometheus") || !have("promtool") {
            eprintln!("prometheus/promtool not installed: skipped (.ci/run installs them)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        if !openmetrics.is_empty() {
            let file = dir.path().join("history.om");
            std::fs::write(&file, openmetrics).unwrap();
            let out = Command::new("promtool")
                .args([
                    "tsdb",
                    "create-blocks-from",
                    "openmetrics",
                    "--max-block-duration=240h",
                ])
                .arg(&file)
                .arg(&data)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "backfill: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let config = dir.path().join("prometheus.yml");
        let mut yml = "global:\n  scrape_interval: 1s\n".to_owned();
        if let Some(target) = scrape {
            write!(
                yml,
                "scrape_configs:\n  - job_name: barometer\n    static_configs:\n      - targets: [\"{target}\"]\n"
            )
            .unwrap();
        }
        std::fs::write(&config, yml).unwrap();
        Some(Self::launch(dir, &config, &data, free_port(), &[]))
    }

    /// A Prometheus that receives remote-write (`--web.enable-remote-write-receiver`) and takes
    /// samples up to 1 000 days older than its newest (`out_of_order_time_window`), on `port`
    /// (a free one when `None`); `None` when Prometheus is not installed (outside CI).
    pub fn receiver(port: Option<u16>) -> Option<PromServer> {
        if !have("prometheus") {
            eprintln!("prometheus not installed: skipped (.ci/run installs it)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            "storage:\n  tsdb:\n    out_of_order_time_window: 1000d\n",
        )
        .unwrap();
        let port = port.unwrap_or_else(free_port);
        Some(Self::launch(
            dir,
            &config,
            &data,
            port,
            &["--web.enable-remote-write-receiver"],
        ))
    }

    fn launch(
        dir: tempfile::TempDir,
        config: &std::path::Path,
        data: &std::path::Path,
        port: u16,
        extra: &[&str],
    ) -> PromServer {
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // The default 15 d retention would delete the backfilled history at start-up.
            .arg("--storage.tsdb.retention.time=100y")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = PromServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = self.url.trim_start_matches("http://").to_owned();
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
                use std::io::{Read, Write};
                let _ = s.write_all(b"GET /-/ready HTTP/1.0\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "Prometheus not ready in 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// 2025-03-03, a Monday.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 0, 0, 0).unwrap()
}

/// Three weeks of per-minute request counters with known answers:
/// - week 1: 995 good + 5 bad every minute: exactly 0.5 % errors;
/// - week 2: no errors, but a 3-hour outage (Wednesday 10:00–13:00, every request fails) and a
///   counter reset (process restart) on Tuesday at 06:00;
/// - week 3: no errors, and a 6-hour scrape gap on Thursday 00:00–06:00 (no samples at all).
fn history() -> String {
    let start = t0().timestamp() - 600;
    let end = t0().timestamp() + 21 * 86_400;
    let (mut good, mut bad) = (0u64, 0u64);
    let mut out = String::from("# TYPE http_requests counter\n");
    let mut t = start;
    while t <= end {
        let since = t - t0().timestamp();
        let (day, minute_of_day) = (since.div_euclid(86_400), since.rem_euclid(86_400) / 60);
        // Samples 00:01–05:59 of day 17 are missing; nothing is counted meanwhile.
        let in_gap = day == 17 && (1..360).contains(&minute_of_day);
        // A sample counts the minute that ends at it, so classify by that minute's start.
        let m = since - 60;
        let (m_day, m_minute) = (m.div_euclid(86_400), m.rem_euclid(86_400) / 60);
        let (g, b) = match m_day {
            d if d < 7 => (995, 5),
            9 if (600..780).contains(&m_minute) => (0, 1000),
            _ => (1000, 0),
        };
        if since == 8 * 86_400 + 6 * 3_600 {
            // A restart: both counters start again from zero, then count this minute.
            good = g;
            bad = b;
        } else if t > start && !in_gap {
            good += g;
            bad += b;
        }
        if !in_gap {
            writeln!(out, "http_requests_total{{code=\"200\"}} {good} {t}").unwrap();
            writeln!(out, "http_requests_total{{code=\"500\"}} {bad} {t}").unwrap();
        }
        t += 60;
    }
    out.push_str("# EOF\n");
    out
}

fn prom_config(url: &str, extra: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("barometer.toml");
    std::fs::write(
        &path,
        format!(
            "[prometheus]\nurl = \"{url}\"\nstep = \"1h\"\nbackfill_since = \"2025-03-03\"\ntimeout = \"5s\"\n\n\
             [[prometheus.slo]]\nname = \"api-availability\"\nservice = \"api\"\n\
             good_query = 'sum(increase(http_requests_total{{code=\"200\"}}[${{step}}]))'\n\
             total_query = 'sum(increase(http_requests_total[${{step}}]))'\n\
             target = 0.999\nwindow = \"28d\"\n{extra}"
        ),
    )
    .unwrap();
    Config::load(&Sources {
        file: Some(path),
        env: Some(BTreeMap::new()),
        ..Default::default()
    })
    .unwrap()
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    }
}

fn keys() -> (SeriesKey, SeriesKey) {
    let labels = [("slo", "api-availability"), ("service", "api")];
    (
        SeriesKey::new(series::SLO_GOOD, labels).unwrap(),
        SeriesKey::new(series::SLO_TOTAL, labels).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_from_a_real_prometheus_gives_the_known_answers() {
    let Some(server) = PromServer::start(&history(), None) else {
        return;
    };
    let config = prom_config(&server.url, "");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let prom = Prometheus::new(&config.prometheus, quick_retries()).unwrap();
    let now = t0() + chrono::Duration::days(21) + chrono::Duration::minutes(30);

    let report = prom.sync(&store, None, now).await.unwrap();
    // 504 hourly steps per step target (good, total, bad minutes, known minutes), minus the 6
    // that fall in the scrape gap; 3 week ends for each of the 4 week targets (week and window,
    // good and total). Now is a week's end plus 30 min: no partial week to ask for yet.
    assert_eq!(report.points, 4 * (504 - 6) + 4 * 3);
    assert_eq!(
        report.requests, 8,
        "one chunk per target: 504 steps < 11 000, 3 weeks in one query_range"
    );

    let (good_key, total_key) = keys();
    let good = store.range(&good_key, i64::MIN, i64::MAX).unwrap();
    let total = store.range(&total_key, i64::MIN, i64::MAX).unwrap();
    assert_eq!(
        good.first().unwrap().ts,
        t0().timestamp_millis(),
        "stored at the step's start"
    );
    assert!(
        total.iter().all(|p| p.value > 0.0),
        "gaps are missing, never zero"
    );

    let def = &slo_defs(&config, &[])[0];
    let weeks: Vec<i64> = (0..3)
        .map(|w| t0().timestamp_millis() + w * WEEK_MS)
        .collect();
    let w = slo_weeks_at(&store, def, &weeks, now.timestamp_millis()).unwrap();
    assert!(w.iter().all(|w| !w.partial));

    // Week 1: exactly 0.5 % errors; every minute is over the 0.1 % budget.
    assert!(
        (w[0].error_ratio.unwrap() - 0.005).abs() < 1e-9,
        "{:?}",
        w[0]
    );
    assert_eq!(w[0].status, SloStatus::Breached);
    assert_eq!(w[0].bad_minutes, Some(10_080.0));
    assert_eq!(w[0].unknown_minutes, Some(0.0));
    assert_eq!(w[0].total_requests, Some(10_080_000.0));
    assert_eq!(w[0].error_requests, Some(50_400.0));
    assert!((w[0].burn_rates[0].unwrap() - 5.0).abs() < 1e-6);
    // The 28-day window holds the 10 minutes before the history's first sample too, at 0.5 %:
    // still 0.5 %, 5 budgets.
    assert!((w[0].error_budget_remaining.unwrap() - (1.0 - 5.0)).abs() < 1e-6);

    // Week 2: 180 bad minutes of 10 080, whatever the counter reset did.
    let ratio = 180.0 / 10_080.0;
    assert!(
        (w[1].error_ratio.unwrap() - ratio).abs() < 1e-9,
        "{:?}",
        w[1]
    );
    assert_eq!(w[1].bad_minutes, Some(180.0));
    assert_eq!(w[1].error_requests, Some(180_000.0));
    assert_eq!(w[1].coverage, 1.0);
    // Budget over 28 days: the 10 minutes before week 1 (50 errors in 10 000), weeks 1 and 2.
    let window_ratio = (50.0 + 50_400.0 + 180_000.0) / (10_000.0 + 20_160_000.0);
    assert!((w[1].error_budget_remaining.unwrap() - (1.0 - window_ratio / 0.001)).abs() < 1e-6);
    assert_eq!(w[1].burn_rates[0], Some(0.0));

    // Week 3: the gap is missing data, not good or bad time: the minutes ending 00:01 to 06:00
    // have no sample (one sample in their range): 360 unknown minutes.
    assert_eq!(w[2].availability, Some(1.0));
    assert_eq!(w[2].status, SloStatus::Met);
    assert_eq!(w[2].bad_minutes, Some(0.0));
    assert_eq!(w[2].unknown_minutes, Some(360.0));
    assert!((w[2].coverage - 162.0 / 168.0).abs() < 1e-12);

    // A re-run has nothing new to fetch and changes nothing.
    let again = prom.sync(&store, None, now).await.unwrap();
    assert_eq!((again.requests, again.points), (0, 0));
    assert_eq!(store.range(&total_key, i64::MIN, i64::MAX).unwrap(), total);
    // Asking again from a date rewrites the same values.
    let since = prom.sync(&store, Some(t0()), now).await.unwrap();
    assert_eq!(since.points, 4 * (504 - 6) + 4 * 3);
    assert_eq!(store.range(&total_key, i64::MIN, i64::MAX).unwrap(), total);
}

/// Runs a sync that must fail; returns the error and the store it left.
async fn failed_sync(config: &Config) -> (PromError, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let prom = Prometheus::new(&config.prometheus, quick_retries()).unwrap();
    let err = prom
        .sync(&store, None, t0() + chrono::Duration::days(1))
        .await
        .unwrap_err();
    (err, store, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_promql_syntax_error_names_the_slo_and_quotes_prometheus() {
    let Some(server) = PromServer::start("", None) else {
        return;
    };
    let mut config = prom_config(&server.url, "");
    if let barometer::config::Sli::Counts { good_query, .. } = &mut config.prometheus.slo[0].sli {
        *good_query = "sum(rate(http_requests_total[1h])".into();
    }
    let (err, store, _dir) = failed_sync(&config).await;
    assert!(matches!(err, PromError::BadQuery { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "slo api-availability good_query: Prometheus rejected the query (bad_data): "
        ),
        "{msg}"
    );
    assert!(
        msg.contains("parse error: unclosed left parenthesis"),
        "{msg}"
    );
    assert!(
        msg.ends_with("; query: sum(rate(http_requests_total[1h])"),
        "{msg}"
    );
    assert!(store.cursors("prometheus").unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_down_is_reported_after_retries() {
    let port = free_port();
    let config = prom_config(&format!("http://127.0.0.1:{port}"), "");
    let (err, store, _dir) = failed_sync(&config).await;
    assert!(matches!(err, PromError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("slo api-availability good_query: cannot reach Prometheus: "),
        "{err}"
    );
    assert!(store.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_503s_then_success_is_retried_with_backoff() {
    use axum::http::StatusCode;
    use axum::routing::post;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let app = axum::Router::new().route(
        "/api/v1/query_range",
        post(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        r#"{"status":"error","errorType":"unavailable","error":"too many queries"}"#
                            .to_owned(),
                    )
                } else {
                    let t = t0().timestamp() + 3_600;
                    (
                        StatusCode::OK,
                        format!(
                            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[[{t},"10"],[{},"NaN"]]}}]}},"warnings":["partial"]}}"#,
                            t + 3_600
                        ),
                    )
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // One target only: an error-ratio SLO.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.toml");
    std::fs::write(
        &path,
        format!(
            "[prometheus]\nurl = \"http://{addr}\"\nbackfill_since = \"2025-03-03\"\n\
             [[prometheus.slo]]\nname = \"web\"\nservice = \"web\"\nerror_ratio_query = \"x\"\n\
             target = 0.99\nwindow = \"7d\"\n"
        ),
    )
    .unwrap();
    let config = Config::load(&Sources {
        file: Some(path),
        env: Some(BTreeMap::new()),
        ..Default::default()
    })
    .unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let prom = Prometheus::new(&config.prometheus, quick_retries()).unwrap();
    let report = prom
        .sync(&store, None, t0() + chrono::Duration::hours(2))
        .await
        .unwrap();
    // Three attempts for the error ratio, then one request each for the bad and known minutes
    // and the current week's window ratio.
    assert_eq!(calls.load(Ordering::SeqCst), 6);
    assert_eq!(report.requests, 6);
    assert_eq!(
        report.warnings,
        [
            "error_ratio_query",
            "bad_minutes",
            "known_minutes",
            "window error_ratio"
        ]
        .map(|t| format!("slo web {t}: partial"))
    );
    let key = SeriesKey::new(
        series::SLO_ERROR_RATIO,
        [("slo", "web"), ("service", "web")],
    )
    .unwrap();
    let points = store.range(&key, i64::MIN, i64::MAX).unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].ts, t0().timestamp_millis());
    assert!(
        points[1].value.is_nan(),
        "NaN is kept as Prometheus sent it"
    );
}

#[test]
fn the_sync_command_reports_what_it_stored_and_resumes() {
    let Some(server) = PromServer::start(&history(), None) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("barometer.toml");
    std::fs::write(
        &config,
        format!(
            "[prometheus]\nurl = \"{}\"\nbackfill_since = \"2025-03-03\"\n\
             [[prometheus.query]]\nname = \"requests\"\nunit = \"requests\"\n\
             query = 'sum(increase(http_requests_total[${{step}}]))'\n",
            server.url
        ),
    )
    .unwrap();
    let run = || {
        crate::helpers::barometer(&dir.path().join("store"))
            .arg("--config")
            .arg(&config)
            .args(["sync", "--source", "prometheus"])
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    // Data ends 21 days after 2025-03-03; everything after that up to now is an empty answer.
    assert!(stdout.starts_with("prometheus: "), "{stdout}");
    assert!(stdout.contains(" 498 points stored"), "{stdout}");
    let second = run();
    assert!(second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stdout).contains(" 0 points stored"),
        "a re-run stores nothing: {}",
        String::from_utf8_lossy(&second.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bearer_token_is_sent_and_never_shown_in_errors() {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    const TOKEN: &str = "prom-secret-7f3a9c";
    let app = axum::Router::new().route(
        "/api/v1/query_range",
        post(|headers: HeaderMap| async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
            if auth == Some(&format!("Bearer {TOKEN}")) {
                (
                    StatusCode::OK,
                    r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
                )
            } else {
                (StatusCode::UNAUTHORIZED, "unauthorized")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut config = prom_config(&format!("http://{addr}"), "");
    config.prometheus.bearer_token_env = Some("BAROMETER_TEST_PROM_TOKEN".into());

    std::env::set_var("BAROMETER_TEST_PROM_TOKEN", TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let prom = Prometheus::new(&config.prometheus, quick_retries()).unwrap();
    prom.sync(&store, None, t0() + chrono::Duration::hours(3))
        .await
        .unwrap();

    std::env::set_var("BAROMETER_TEST_PROM_TOKEN", "wrong-token-0000");
    let prom = Prometheus::new(&config.prometheus, quick_retries()).unwrap();
    let err = prom
        .sync(&store, Some(t0()), t0() + chrono::Duration::hours(3))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "slo api-availability good_query: Prometheus answered HTTP 401: unauthorized"
    );
    assert!(!format!("{err:?}").contains("wrong-token") && !format!("{err:?}").contains(TOKEN));

    std::env::remove_var("BAROMETER_TEST_PROM_TOKEN");
    let missing = Prometheus::new(&config.prometheus, quick_retries())
        .err()
        .unwrap();
    assert_eq!(
        missing.to_string(),
        "environment variable BAROMETER_TEST_PROM_TOKEN (named in the prometheus configuration) is not set"
    );
}
