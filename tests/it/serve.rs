//! The daemon, black-box on a free port: its API and metrics in-process (`spawn_app`); signals,
//! exit codes, the store lock and the log as a `barometer serve` process.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use barometer::store::Store;

use crate::helpers::{spawn_demo_app, Daemon};

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_demo_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store");
    let daemon = Daemon::start(&store_path, &["--demo"]);
    assert!(daemon.addr.ip().is_loopback());
    let client = reqwest::Client::new();
    let health = client.get(daemon.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    daemon.wait_ready().await;

    let status = daemon.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM must stop the daemon with exit code 0"
    );
    let store = Store::open(&store_path).expect("store reopens after shutdown");
    assert!(store.event_counts()["deployment"] > 1000);
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_demo_answers_health_metrics_and_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store");
    let daemon = spawn_demo_app(&store_path).await;
    assert!(daemon.addr.ip().is_loopback());
    let client = reqwest::Client::new();

    let health = client.get(daemon.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    daemon.wait_ready().await;

    // The exposition is rebuilt shortly after the last demo batch lands. The demo writes its bugs,
    // then its tickets and business metrics (cost) last: a refresh that ran while it was still
    // seeding shows the SLO and revenue figures already, but no open bug or cost yet; and the
    // demo is marked successful only after its last batch, so a refresh right after that batch
    // may not have its success time yet. A refresh computes the weekly view (the pressure index
    // and its profitability tag) before it reads the cost gauges, so a batch landing between
    // them shows cost without the tag until the next refresh: awaited too, as every family
    // Grafana queries (checked below).
    let queried = crate::deploy::grafana_metric_families();
    let text = daemon
        .metrics_when(10, |t| {
            let exported = crate::deploy::exported_families(t);
            t.contains("barometer_source_last_success_timestamp_seconds{")
                && t.contains("barometer_slo_availability_ratio{service=\"api\"")
                && t.contains("barometer_revenue_nrr_ratio")
                && metric(t, "barometer_bugs_open{service=\"all\",team=\"\"}")
                    .is_some_and(|open| open > 0.0)
                && t.contains("barometer_cost{")
                && queried.iter().all(|(family, _)| {
                    family.starts_with("barometer_remote_write_")
                        || exported.contains(family.as_str())
                })
        })
        .await;
    assert_eq!(
        metric(
            &text,
            &format!(
                "barometer_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some(1.0)
    );
    assert!(metric(&text, "barometer_store_bytes").unwrap() > 0.0);
    // The demo's repositories push their events (docs/webhooks.md): each one's last event.
    let sources = crate::helpers::get_json(&client, daemon.url("/api/v1/sources")).await;
    let pushed = sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "github-webhook")
        .unwrap();
    assert_eq!(
        pushed["last_events"].as_array().unwrap().len(),
        4,
        "{pushed}"
    );
    assert!(metric(&text, "barometer_store_events{kind=\"deployment\"}").unwrap() > 1000.0);
    // Two years of monthly revenue: one record per month.
    assert_eq!(
        metric(&text, "barometer_store_events{kind=\"revenue\"}"),
        Some(24.0)
    );
    assert!(metric(&text, "barometer_revenue_arr{currency=\"USD\"}").unwrap() > 1e6);
    // The demo ends in strain: NRR below 100 %; SLO figures for the last complete week.
    assert!(metric(&text, "barometer_revenue_nrr_ratio{formula=\"cohort_12m\"}").unwrap() < 1.0);
    let availability = metric(
        &text,
        "barometer_slo_availability_ratio{service=\"api\",slo=\"api-availability\"}",
    )
    .unwrap();
    assert!(availability > 0.9 && availability <= 1.0, "{availability}");
    assert!(text.contains(
        "barometer_slo_burn_rate{service=\"api\",slo=\"api-availability\",window=\"1h\"}"
    ));
    // DORA figures over the last 4 weeks, per service and org-wide, with their bands.
    let per_week = metric(
        &text,
        "barometer_dora_deployments_per_week{repo=\"all\",service=\"all\",team=\"\"}",
    )
    .unwrap();
    // Each service carries its owner (the demo's teams); each team pools its services.
    let per_service = |s: &str, team: &str| {
        let repo = format!("acme/{s}");
        metric(
            &text,
            &format!(
                "barometer_dora_deployments_per_week{{repo=\"{repo}\",service=\"{s}\",team=\"{team}\"}}"
            ),
        )
        .unwrap_or_else(|| panic!("{s} of {team}"))
    };
    let per_team = |team: &str| {
        metric(
            &text,
            &format!(
                "barometer_dora_deployments_per_week{{repo=\"\",service=\"\",team=\"{team}\"}}"
            ),
        )
        .unwrap_or_else(|| panic!("team {team}"))
    };
    let services: f64 = [
        ("storefront", "web"),
        ("api", "platform"),
        ("billing", "payments"),
        ("mobile", "web"),
    ]
    .iter()
    .map(|(s, t)| per_service(s, t))
    .sum();
    assert!(
        per_week > 1.0 && (per_week - services).abs() < 1e-9,
        "{per_week} vs {services}"
    );
    let web = per_service("storefront", "web") + per_service("mobile", "web");
    assert!((per_team("web") - web).abs() < 1e-9, "web {web}");
    let teams = per_team("web") + per_team("platform") + per_team("payments");
    assert!((teams - per_week).abs() < 1e-9, "{teams} vs {per_week}");
    // Bugs of the last complete week, org-wide and per team.
    let open_bugs = metric(&text, "barometer_bugs_open{service=\"all\",team=\"\"}").unwrap();
    let team_bugs: f64 = ["web", "platform", "payments"]
        .iter()
        .map(|t| {
            metric(
                &text,
                &format!("barometer_bugs_open{{service=\"\",team=\"{t}\"}}"),
            )
            .unwrap()
        })
        .sum();
    assert!(
        open_bugs > 0.0 && (open_bugs - team_bugs).abs() < 1e-9,
        "{open_bugs} vs {team_bugs}"
    );
    let cfr = metric(
        &text,
        "barometer_dora_change_failure_ratio{repo=\"all\",service=\"all\",team=\"\"}",
    )
    .unwrap();
    assert!((0.0..=1.0).contains(&cfr));
    assert!(text.contains(
        "barometer_dora_lead_time_seconds{percentile=\"90\",repo=\"acme/api\",service=\"api\",team=\"platform\"}"
    ));
    let band = metric(
        &text,
        "barometer_dora_band{metric=\"deployment_frequency\",repo=\"all\",report_year=\"2023\",service=\"all\",team=\"\"}",
    )
    .unwrap_or_else(|| panic!("{}", text.lines().filter(|l| l.contains("dora_band")).collect::<Vec<_>>().join("\n")));
    assert!((1.0..=4.0).contains(&band));

    if let Ok(mut promtool) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        promtool
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = promtool.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("promtool not installed: skipping the exposition lint (.ci/run installs it)");
    }

    // Weekly reliability per SLO, the last 26 complete weeks by default, then the current one
    // flagged partial.
    let rel: serde_json::Value =
        crate::helpers::get_json(&client, daemon.url("/api/v1/reliability")).await;
    let slos = rel["slos"].as_array().unwrap();
    assert_eq!(slos.len(), 2);
    let weeks = slos[0]["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 27);
    assert_eq!(weeks[25]["coverage"], 1.0);
    assert_eq!(weeks[26]["partial"], true);
    assert!(weeks[..26]
        .iter()
        .all(|w| w["partial"] == false && (w["status"] == "met" || w["status"] == "breached")));
    let bad = client
        .get(daemon.url("/api/v1/reliability?from=yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    assert_eq!(
        body["error"]["message"],
        "from=\"yesterday\" is not a date (YYYY-MM-DD)"
    );

    // The pressure index: the demo ends under strain, so the regime is resilience, and the
    // shift to it is explained by its components.
    let p = metric(&text, "barometer_pressure_index").unwrap();
    assert!(p > 0.25, "P = {p}");
    assert_eq!(
        metric(&text, "barometer_regime{regime=\"resilience\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "barometer_regime{regime=\"growth\"}"),
        Some(0.0)
    );
    let shifts: serde_json::Value =
        crate::helpers::get_json(&client, daemon.url("/api/v1/shifts")).await;
    let last = shifts["shifts"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["to"], "resilience");
    assert!(!last["evidence"].as_array().unwrap().is_empty());
    // Change points: the strain shows as a rise in the 4-week CFR, with an interval above 0.
    let cps = shifts["change_points"]["points"].as_array().unwrap();
    assert!(
        cps.iter().any(|c| c["signal"] == "cfr_4w"
            && c["after"].as_f64().unwrap() > c["before"].as_f64().unwrap()
            && c["interval"][0].as_f64().unwrap() > 0.0),
        "{cps:?}"
    );
    let weeks: serde_json::Value =
        crate::helpers::get_json(&client, daemon.url("/api/v1/weeks?from=2026-01-05")).await;
    let rows = weeks["weeks"].as_array().unwrap();
    assert!(rows.len() > 40);
    assert_eq!(rows.last().unwrap()["coverage"]["cfr_4w"], "partial week");
    assert_eq!(rows[0]["coverage"]["mrr"], "complete");
    // Trends as of the last complete week: under strain CFR is far above a year of growth.
    let cfr = &weeks["trends"]["signals"]["cfr_4w"];
    assert!(cfr["mean_13w"].as_f64().unwrap() > 0.15, "{cfr}");
    assert!(cfr["slope_13w"].is_number());
    // The CFR's n, Wilson interval and low-n flag ride along.
    let detail = &rows[0]["cfr_4w_detail"];
    assert!(detail["n"].as_u64().unwrap() > 0, "{detail}");
    assert!(detail["lo"].as_f64().unwrap() <= detail["value"].as_f64().unwrap());
    assert_eq!(detail["low_n"], detail["n"].as_u64().unwrap() < 5);

    // Per service: the same table for one service, its change points computed on request.
    let services: Vec<String> = weeks["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(services.len() >= 4, "{services:?}");
    let mut service_deploys = 0.0;
    let mut service_cps = 0;
    for name in &services {
        let one: serde_json::Value = crate::helpers::get_json(
            &client,
            daemon.url(&format!("/api/v1/weeks?from=2026-01-05&service={name}")),
        )
        .await;
        assert_eq!(one["scope"], name.as_str());
        let srows = one["weeks"].as_array().unwrap();
        assert_eq!(srows.len(), rows.len(), "{name}: the same weeks");
        assert!(
            srows.iter().all(|r| r["mrr"].is_null()),
            "revenue is org-wide"
        );
        service_deploys += srows[0]["deployments"].as_f64().unwrap_or(0.0);
        service_cps += one["change_points"].as_array().unwrap().len();
    }
    // Services whose deployments are not in any SLO-only scope add up to the organisation.
    assert!(service_deploys <= rows[0]["deployments"].as_f64().unwrap());
    assert!(service_deploys > 0.0);
    assert!(service_cps > 0, "the strain shows in some service");
    // By repository: the one service deployed from it.
    let dora = crate::helpers::get_json(&client, daemon.url("/api/v1/dora")).await;
    let svc = dora["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"].is_string())
        .unwrap();
    let (name, repo) = (
        svc["service"].as_str().unwrap(),
        svc["repo"].as_str().unwrap(),
    );
    let by_repo = crate::helpers::get_json(
        &client,
        daemon.url(&format!("/api/v1/weeks?from=2026-01-05&repo={repo}")),
    )
    .await;
    assert_eq!(by_repo["scope"], name, "{by_repo}");
    let r = client
        .get(daemon.url("/api/v1/weeks?repo=nobody/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client
        .get(daemon.url("/api/v1/weeks?service=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("known:"));

    let pressure: serde_json::Value = crate::helpers::get_json(
        &client,
        daemon.url("/api/v1/pressure?from=2026-03-02&to=2026-03-30"),
    )
    .await;
    let pw = pressure["weeks"].as_array().unwrap();
    assert_eq!(pw.len(), 5);
    assert!(pw
        .iter()
        .all(|w| w["status"] == "scored" && w["regime"] == "resilience"));
    let r = client
        .get(daemon.url("/api/v1/pressure?from=2026-03-40"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Correlations: 16 business × engineering pairs; the demo's two years give 23 monthly
    // changes, under the 24 needed, so each says so instead of a number.
    let corr: serde_json::Value =
        crate::helpers::get_json(&client, daemon.url("/api/v1/correlations")).await;
    let pairs = corr["correlations"].as_array().unwrap();
    assert_eq!(pairs.len(), 16);
    for p in pairs {
        assert!(
            p["enough_data"] == true
                || p["summary"]
                    .as_str()
                    .unwrap()
                    .starts_with("not enough data"),
            "{p}"
        );
        assert!(p["rho"].is_null() || p["summary"].as_str().unwrap().contains("lag"));
    }

    // DORA views: weekly figures per service with rolling windows, and the chain behind one.
    let dora: serde_json::Value = crate::helpers::get_json(
        &client,
        daemon.url("/api/v1/dora?repo=acme/api&from=2026-01-05&to=2026-03-02"),
    )
    .await;
    let series = dora["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["service"], "api");
    assert_eq!(series[0]["weeks"].as_array().unwrap().len(), 9);
    assert_eq!(dora["bands"]["year"], 2023);
    let week = &series[0]["weeks"][8];
    let ok = week["week"]["deployments"].as_u64().unwrap();
    let explain: serde_json::Value = crate::helpers::get_json(
        &client,
        daemon.url("/api/v1/dora/explain?service=api&week=2026-03-02&metric=deployment_frequency"),
    )
    .await;
    assert_eq!(explain["deployments"].as_array().unwrap().len() as u64, ok);
    assert_eq!(explain["value"].as_f64().unwrap(), ok as f64);
    for bad in [
        "/api/v1/dora?from=2026-13-01",
        "/api/v1/dora?window=4",
        "/api/v1/dora/explain?service=api&week=2026-03-02&metric=speed",
    ] {
        let r = client.get(daemon.url(bad)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_request", "{bad}");
    }
    let r = client
        .get(daemon.url("/api/v1/dora?service=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Every metric Grafana queries (dashboard panels, annotations, variables, alert rules) is one
    // the daemon exports. The remote-write families appear only with a receiver configured:
    // tests/it/remote_write.rs checks those.
    let exported = crate::deploy::exported_families(&text);
    for (family, place) in &queried {
        assert!(
            family.starts_with("barometer_remote_write_") || exported.contains(family.as_str()),
            "{family} (in {place}) is not exported"
        );
    }
    assert!(
        queried.len() >= 30,
        "Grafana queries {} metrics",
        queried.len()
    );

    // The OpenAPI document lists the routes that answer.
    let openapi: serde_json::Value =
        crate::helpers::get_json(&client, daemon.url("/api/openapi.json")).await;
    let paths: Vec<&String> = openapi["paths"].as_object().unwrap().keys().collect();
    for path in &paths {
        if path.contains('{') || path.starts_with("/api/v1/imports/") {
            continue;
        }
        let r = client.get(daemon.url(path)).send().await.unwrap();
        assert_ne!(r.status(), 404, "{path} is documented but not served");
    }
    assert!(paths.len() >= 9);

    let missing = client.get(daemon.url("/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["message"], "no route for GET /nope");

    // A clean stop, as on SIGTERM (the signal and exit code: serve_demo_stops_cleanly_on_sigterm).
    daemon.stop().await;
    let store = Store::open(&store_path).expect("store reopens after shutdown");
    assert!(store.event_counts()["deployment"] > 1000);
}

#[test]
fn a_second_daemon_on_the_same_store_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store");
    let first = Daemon::start(&store_path, &[]);
    let out = crate::helpers::barometer(&store_path)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "error: the data directory {} is in use by another running barometer",
            store_path.display()
        )),
        "{stderr}"
    );
    assert_eq!(first.terminate().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prometheus_that_is_down_shows_in_metrics_while_serving_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::prom::free_port();
    let config = dir.path().join("barometer.toml");
    std::fs::write(
        &config,
        format!(
            "[prometheus]\nurl = \"http://127.0.0.1:{port}\"\ntimeout = \"1s\"\n\
             [[prometheus.slo]]\nname = \"api\"\nservice = \"api\"\nerror_ratio_query = \"x\"\n\
             target = 0.999\nwindow = \"28d\"\n"
        ),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let daemon = Daemon::start(&dir.path().join("store"), &["--config", &config_arg]);
    let client = reqwest::Client::new();
    let text = daemon
        .metrics_when(60, |t| {
            t.contains("barometer_source_up{source=\"prometheus\"}")
        })
        .await;
    assert_eq!(
        metric(&text, "barometer_source_up{source=\"prometheus\"}"),
        Some(0.0)
    );
    assert!(text.contains("barometer_sync_duration_seconds_count{source=\"prometheus\"} 1"));
    assert_eq!(
        metric(
            &text,
            "barometer_source_last_success_timestamp_seconds{source=\"prometheus\"}"
        ),
        None,
        "never succeeded"
    );
    // The digest is due (it is past Monday 08:00 UTC unless this runs early on a Monday) but
    // there is no data: that is said once in the log, and is not a failure.
    let mut saw = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        match daemon
            .logs
            .recv_timeout(std::time::Duration::from_millis(200))
        {
            Ok(line) => {
                assert!(!line.contains("weekly digest failed"), "{line}");
                let done = line.contains("no weekly digest yet");
                saw.push(line);
                if done {
                    break;
                }
            }
            Err(_) => continue,
        }
    }
    let monday_early = {
        use chrono::{Datelike, Timelike};
        let now = crate::helpers::now();
        now.weekday() == chrono::Weekday::Mon && now.hour() < 8
    };
    assert!(
        monday_early
            || saw
                .iter()
                .any(|l| l.contains("the store holds no data yet")),
        "{saw:#?}"
    );
    let health = client.get(daemon.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the daemon keeps serving");

    // On-demand syncs: one at a time per source; unknown sources are 404.
    let first = client
        .post(daemon.url("/api/v1/sync/prometheus"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 202);
    let second = client
        .post(daemon.url("/api/v1/sync/prometheus"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        second.status(),
        409,
        "a sync is running (it retries a server that is down)"
    );
    let body: serde_json::Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "sync_running");
    let unknown = client
        .post(daemon.url("/api/v1/sync/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(daemon.terminate().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_prometheus_scrapes_the_demo_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = spawn_demo_app(&dir.path().join("store")).await;
    daemon.wait_ready().await;
    let Some(prom) = crate::prom::PromServer::start("", Some(&daemon.addr.to_string())) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = crate::prom::query(
            &prom.url,
            "barometer_revenue_arr or barometer_slo_availability_ratio or barometer_dora_deployments_per_week",
            None,
        )
        .await;
        let names: std::collections::BTreeSet<String> = body["data"]["result"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|s| s["metric"]["__name__"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if names.len() == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped the figures: {body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(prom);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_demo_seeding_exits_0_with_whole_batches_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store");
    let daemon = Daemon::start(&store_path, &["--demo"]);
    // Seeding takes seconds in a debug build: stop it once the first batches are in.
    daemon
        .metrics_when(30, |t| {
            metric(t, "barometer_store_events{kind=\"deployment\"}").unwrap_or(0.0) > 0.0
        })
        .await;
    assert_eq!(daemon.terminate().code(), Some(0));
    {
        let store = Store::open(&store_path).expect("consistent store after SIGTERM");
        let end = crate::helpers::now().date_naive();
        let (whole, absent) = crate::crash::check_chunks_until(&store, end);
        assert!(
            whole > 0 && absent > 0,
            "stopped mid-way: {whole} whole, {absent} absent"
        );
        assert!(barometer::sources::demo::needs_seeding(&store).unwrap());
    }
    // The next start finishes the seeding.
    let again = Daemon::start(&store_path, &["--demo"]);
    again.wait_ready().await;
    assert_eq!(again.terminate().code(), Some(0));
    let store = Store::open(&store_path).unwrap();
    assert!(!barometer::sources::demo::needs_seeding(&store).unwrap());
}
