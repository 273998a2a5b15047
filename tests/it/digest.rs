//! The weekly digest: its files, its webhook (a fake one on loopback), and the daemon's schedule.

use std::path::Path;
use std::time::Duration;

use barometer::sources::demo;
use barometer::store::Store;
use chrono::{Datelike, NaiveDate};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{barometer, Daemon};

/// The secret part of the fake webhook's URL: it must never show.
const SECRET: &str = "T0001-B0002-s3cr3tW3bh00kT0k3n";

fn seed(dir: &Path) -> std::path::PathBuf {
    let store_path = dir.join("store");
    let store = Store::open(&store_path).unwrap();
    let end = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    assert!(demo::seed(&store, 42, end, &token).unwrap().complete);
    store_path
}

/// A configuration file with every digest format. (The helpers put the digests of a store at
/// `<store>.digests`.)
fn config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let file = dir.join("barometer.toml");
    std::fs::write(
        &file,
        format!("[digest]\nformats = [\"markdown\", \"html\", \"json\"]\n{extra}"),
    )
    .unwrap();
    file
}

fn run(store: &Path, config: &Path, args: &[&str], env: &[(String, String)]) -> (bool, String) {
    let out = barometer(store)
        .arg("--config")
        .arg(config)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_week_s_digest_is_written_in_every_format_agrees_with_the_report_and_reruns_identically() {
    let dir = tempfile::tempdir().unwrap();
    let store = seed(dir.path());
    let cfg = config(dir.path(), "");

    let (ok, out) = run(&store, &cfg, &["digest", "--week", "2026-02-18"], &[]);
    assert!(ok, "{out}");
    let digests = store.with_extension("digests");
    let md = std::fs::read_to_string(digests.join("barometer-digest-2026-W08.md")).unwrap();
    let html = std::fs::read_to_string(digests.join("barometer-digest-2026-W08.html")).unwrap();
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(digests.join("barometer-digest-2026-W08.json")).unwrap(),
    )
    .unwrap();

    assert!(md.starts_with("# Barometer weekly digest: 2026-W08 (week of 2026-02-16)"));
    for section in [
        "## Pressure",
        "## Reliability",
        "## Delivery",
        "## Revenue",
        "## What moved",
    ] {
        assert!(md.contains(section), "{section} missing:\n{md}");
    }
    assert!(md.contains("| api-availability | api |"), "{md}");
    assert!(
        html.contains("<h1>Barometer weekly digest: 2026-W08"),
        "{html}"
    );
    assert!(html.contains("<table>") && html.contains("<th>SLO</th>"));

    // The digest's figures are the report's for that week.
    let (ok, report) = run(
        &store,
        &cfg,
        &[
            "report",
            "--from",
            "2026-02-16",
            "--to",
            "2026-02-16",
            "--format",
            "json",
        ],
        &[],
    );
    assert!(ok, "{report}");
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let week = &report["weeks"][0];
    assert_eq!(json["pressure"]["p"], week["pressure"]["p"]);
    assert_eq!(json["pressure"]["regime"], week["pressure"]["regime"]);
    assert_eq!(json["pressure"]["regime"], "resilience");
    assert_eq!(json["row"]["deployments"], week["signals"]["deployments"]);
    assert_eq!(json["row"]["nrr"], week["signals"]["nrr"]);
    let regime = json["pressure"]["regime"].as_str().unwrap();
    assert!(md.contains(&format!("**Regime: {regime}.**")), "{md}");
    // Delivery: the organisation and each service, CFR with its n and interval.
    let delivery = json["delivery"].as_array().unwrap();
    assert_eq!(delivery[0]["scope"], "organisation");
    assert!(delivery.len() >= 3);
    assert!(delivery[0]["change_failure_rate"]["n"].as_u64().unwrap() > 0);
    // Only change points known by the end of the week are reported.
    let week_ms = json["week_ms"].as_i64().unwrap();
    for c in json["change_points"].as_array().unwrap() {
        assert!(
            c["week_ms"].as_i64().unwrap() + 7 * 7 * 86_400_000 <= week_ms,
            "{c}"
        );
    }

    // The same week again: the same bytes.
    let (ok, out) = run(&store, &cfg, &["digest", "--week", "2026-02-16"], &[]);
    assert!(ok, "{out}");
    assert_eq!(
        std::fs::read_to_string(digests.join("barometer-digest-2026-W08.md")).unwrap(),
        md
    );
    // No stray temporary files.
    let names: Vec<String> = std::fs::read_dir(&digests)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");

    // Printing instead of delivering; a week without data is a clear error.
    let (ok, printed) = run(
        &store,
        &cfg,
        &["digest", "--week", "2026-02-16", "--print", "markdown"],
        &[],
    );
    assert!(ok);
    assert_eq!(printed.trim_end(), md.trim_end());
    let (ok, out) = run(&store, &cfg, &["digest", "--week", "2019-01-07"], &[]);
    assert!(!ok);
    assert!(out.contains("no data for the week of 2019-01-07"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_gets_the_digest_once_after_a_retry_and_its_secret_never_shows() {
    let dir = tempfile::tempdir().unwrap();
    let store = seed(dir.path());
    let cfg = config(
        dir.path(),
        "webhook_url_env = \"BAROMETER_TEST_WEBHOOK\"\nwebhook_timeout = \"5s\"\n",
    );
    let hook = MockServer::start().await;
    let hook_path = format!("/services/{SECRET}");
    Mock::given(method("POST"))
        .and(path(hook_path.clone()))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&hook)
        .await;
    Mock::given(method("POST"))
        .and(path(hook_path.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .with_priority(2)
        .mount(&hook)
        .await;
    let url = format!("{}{hook_path}", hook.uri());
    assert!(url.starts_with("http://127.0.0.1:"));
    let env = vec![("BAROMETER_TEST_WEBHOOK".to_owned(), url.clone())];

    let (s, c, e) = (store.clone(), cfg.clone(), env.clone());
    let first =
        tokio::task::spawn_blocking(move || run(&s, &c, &["digest", "--week", "2026-02-16"], &e))
            .await
            .unwrap();
    assert!(first.0, "{}", first.1);
    assert!(first.1.contains("posted the webhook"), "{}", first.1);
    assert!(!first.1.contains(SECRET), "{}", first.1);
    let got = hook.received_requests().await.unwrap();
    assert_eq!(got.len(), 2, "one 503, then the delivery");
    let body: serde_json::Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(body["blocks"][0]["type"], "markdown");
    assert_eq!(
        body["blocks"][0]["text"], body["text"],
        "a short digest fits whole"
    );
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("# Barometer weekly digest: 2026-W08"),
        "{text}"
    );
    assert_eq!(
        text,
        std::fs::read_to_string(
            store
                .with_extension("digests")
                .join("barometer-digest-2026-W08.md")
        )
        .unwrap()
    );

    // Again: the store remembers the week went out.
    let (s, c, e) = (store.clone(), cfg.clone(), env.clone());
    let again =
        tokio::task::spawn_blocking(move || run(&s, &c, &["digest", "--week", "2026-02-16"], &e))
            .await
            .unwrap();
    assert!(again.0 && again.1.contains("already got"), "{}", again.1);
    assert_eq!(hook.received_requests().await.unwrap().len(), 2);
    let (s, c, e) = (store.clone(), cfg.clone(), env.clone());
    let resent = tokio::task::spawn_blocking(move || {
        run(&s, &c, &["digest", "--week", "2026-02-16", "--resend"], &e)
    })
    .await
    .unwrap();
    assert!(resent.0, "{}", resent.1);
    assert_eq!(hook.received_requests().await.unwrap().len(), 3);

    // A webhook that refuses: the run fails, naming the host and status but not the URL's
    // secret; the files are written all the same.
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&refusing)
        .await;
    let bad = format!("{}/services/{SECRET}", refusing.uri());
    let env2 = vec![("BAROMETER_TEST_WEBHOOK".to_owned(), bad.clone())];
    let (s, c) = (store.clone(), cfg.clone());
    let failed = tokio::task::spawn_blocking(move || {
        run(&s, &c, &["digest", "--week", "2026-03-02"], &env2)
    })
    .await
    .unwrap();
    assert!(!failed.0);
    assert!(
        failed.1.contains("webhook at 127.0.0.1 failed: HTTP 404"),
        "{}",
        failed.1
    );
    assert!(!failed.1.contains(SECRET), "{}", failed.1);
    assert_eq!(
        refusing.received_requests().await.unwrap().len(),
        1,
        "4xx is not retried"
    );
    assert!(store
        .with_extension("digests")
        .join("barometer-digest-2026-W10.md")
        .exists());
    // Not set at all: a clear error.
    let (s, c) = (store.clone(), cfg.clone());
    let unset =
        tokio::task::spawn_blocking(move || run(&s, &c, &["digest", "--week", "2026-03-02"], &[]))
            .await
            .unwrap();
    assert!(!unset.0);
    assert!(
        unset.1.contains("BAROMETER_TEST_WEBHOOK, which is not set"),
        "{}",
        unset.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_delivers_the_due_digest_once_and_not_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let today = crate::helpers::now().weekday().to_string().to_lowercase();
    let cfg = config(
        dir.path(),
        &format!("weekday = {today:?}\nhour = 0\nwebhook_url_env = \"BAROMETER_TEST_WEBHOOK\"\n"),
    );
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let url = format!("{}/services/{SECRET}", hook.uri());
    let cfg_arg = cfg.to_string_lossy().into_owned();
    let start = || {
        Daemon::start_with_env(
            &store,
            &["--demo"],
            &mut vec![
                ("BAROMETER_TEST_WEBHOOK", url.as_str()),
                ("BAROMETER_CONFIG", cfg_arg.as_str()),
            ],
        )
    };
    let daemon = start();
    // Due since 00:00 on the pinned day: delivered once the demo data is in.
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    while hook.received_requests().await.unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no digest within 240 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let week = barometer::digest::week_for(
        barometer::model::Calendar::UTC,
        crate::helpers::now().timestamp_millis(),
    );
    let iso = barometer::digest::iso_week(barometer::model::Calendar::UTC, week);
    let body: serde_json::Value =
        serde_json::from_slice(&hook.received_requests().await.unwrap()[0].body).unwrap();
    assert!(body["text"].as_str().unwrap().contains(&iso));
    assert!(store
        .with_extension("digests")
        .join(format!("barometer-digest-{iso}.html"))
        .exists());
    let metrics = daemon
        .metrics_when(40, |t| {
            t.lines().any(|l| {
                l.starts_with("barometer_digest_last_success_timestamp_seconds ")
                    && !l.ends_with(" 0")
            })
        })
        .await;
    assert!(metrics.contains("barometer_digest_failures_total 0"));
    // The API serves the same digest, and says why when it cannot.
    let client = reqwest::Client::new();
    let md = client
        .get(daemon.url("/api/v1/digest?format=markdown"))
        .send()
        .await
        .unwrap();
    assert_eq!(md.status(), 200);
    let md = md.text().await.unwrap();
    assert_eq!(
        md,
        std::fs::read_to_string(
            store
                .with_extension("digests")
                .join(format!("barometer-digest-{iso}.md"))
        )
        .unwrap()
    );
    let json = crate::helpers::get_json(&client, daemon.url("/api/v1/digest")).await;
    assert_eq!(json["iso_week"], iso.as_str());
    for (query, status) in [
        ("week=2019-01-07", 404),
        ("format=pdf", 400),
        ("weeks=1", 400),
    ] {
        let r = client
            .get(daemon.url(&format!("/api/v1/digest?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{query}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    assert!(daemon.terminate().success());

    // Restarted on the same store: the week's digest already went out.
    let daemon = start();
    daemon.wait_ready().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(hook.received_requests().await.unwrap().len(), 1);
    assert!(daemon.terminate().success());
}

/// The daemon's schedule on a paused clock: the due digest goes out once, the checks that follow
/// (every five minutes) deliver nothing more, and shutdown ends the loop, without a real sleep.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_schedule_delivers_the_due_digest_once_on_a_paused_clock() {
    use barometer::app::App;
    use barometer::config::{Config, Sources};
    use barometer::digest::deliver::{schedule, DigestJob};
    use barometer::health::{DigestOutcomes, Readiness};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("digests");
    let env = [
        (
            "BAROMETER__STORAGE__PATH".to_owned(),
            dir.path().join("store").display().to_string(),
        ),
        (
            "BAROMETER__DIGEST__OUT_DIR".to_owned(),
            out.display().to_string(),
        ),
    ];
    let config = Config::load(&Sources {
        env: Some(env.into_iter().collect()),
        ..Default::default()
    })
    .unwrap();
    barometer::clock::pin(crate::helpers::now());
    let app = App::build(config).unwrap();
    let end = crate::helpers::now().date_naive();
    demo::seed(&app.store, 42, end, &Default::default()).unwrap();
    let app = app.with_demo_slos();

    let outcomes = Arc::new(DigestOutcomes::default());
    let job = DigestJob {
        app,
        outcomes: outcomes.clone(),
    };
    let (_ready, ready_rx) = tokio::sync::watch::channel(Readiness::Ready);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(schedule(job, ready_rx, shutdown.clone()));

    // Due since Monday: delivered at the first check.
    while outcomes.last_success_seconds().is_none() {
        assert_eq!(outcomes.failures(), 0, "the digest failed");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let delivered = outcomes.last_success_seconds();
    let files = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(files, 2, "markdown and html, the default formats");

    // An hour of checks on the paused clock: nothing goes out again.
    tokio::time::sleep(Duration::from_secs(3_600)).await;
    assert_eq!(outcomes.last_success_seconds(), delivered);
    assert_eq!(outcomes.failures(), 0);

    shutdown.cancel();
    task.await.unwrap();
}
