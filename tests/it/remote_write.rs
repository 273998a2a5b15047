//! Remote-write into a real Prometheus (`--web.enable-remote-write-receiver`, with an
//! out-of-order window): what arrives equals what `/metrics` exports, shards stay apart by
//! label, week-stamped history lands at its weeks, and a receiver that is down for a while gets
//! the backlog the bounded queue kept.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::helpers::{barometer, seeded_demo_with, spawn_app, stdout_of, TestApp};
use crate::prom::{free_port, query, PromServer};

/// A series' identity: `__name__` and its labels, sorted.
type Key = Vec<(String, String)>;

/// The samples of an exposition text (`/metrics` or OpenMetrics), by series; timestamps dropped.
fn parse_exposition(text: &str) -> BTreeMap<Key, f64> {
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, rest) = match line.find('{') {
            Some(_) => {
                let close = line.rfind('}').unwrap();
                (&line[..close + 1], line[close + 1..].trim())
            }
            None => line.split_once(' ').unwrap(),
        };
        let value = rest.split_whitespace().next().unwrap();
        let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
        let mut key: Key = vec![("__name__".into(), name.to_owned())];
        let labels = labels.trim_end_matches('}');
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once("=\"").unwrap();
            let v = v.trim_end_matches('"');
            // An empty value is no label at all (Prometheus data model).
            if !v.is_empty() {
                key.push((k.to_owned(), v.to_owned()));
            }
        }
        key.sort();
        out.insert(key, value.parse::<f64>().unwrap());
    }
    out
}

/// Prometheus's answer to an instant query, by series.
async fn prom_series(url: &str, promql: &str, at: Option<i64>) -> BTreeMap<Key, f64> {
    let body = query(url, promql, at).await;
    let mut out = BTreeMap::new();
    for r in body["data"]["result"].as_array().unwrap() {
        let mut key: Key = r["metric"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        key.sort();
        let v: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
        out.insert(key, v);
    }
    out
}

/// Polls `promql` until `done` accepts the answer, for at most 60 s.
async fn prom_until(
    url: &str,
    promql: &str,
    at: Option<i64>,
    done: impl Fn(&BTreeMap<Key, f64>) -> bool,
) -> BTreeMap<Key, f64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = prom_series(url, promql, at).await;
        if done(&got) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "not within 60 s: {promql} → {} series",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn metrics(app: &TestApp) -> String {
    reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Families that move on their own (sizes, timings, the queue's counters): not compared.
fn settled(key: &Key) -> bool {
    let name = &key.iter().find(|(k, _)| k == "__name__").unwrap().1;
    ![
        "barometer_store_bytes",
        "barometer_remote_write_",
        "barometer_sync_duration_seconds",
        "barometer_source_",
        "barometer_digest_",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

fn config(shard: &str, url: &str, extra: &str) -> String {
    format!(
        "[metrics]\nshard = \"{shard}\"\n\n[[remote_write]]\nurl = \"{url}/api/v1/write\"\nname = \"central\"\ninterval = \"1s\"\nmax_backoff = \"1s\"\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn two_shards_write_what_metrics_exports_into_one_receiver() {
    let Some(prom) = PromServer::receiver(None) else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (store_a, file_a) = seeded_demo_with(dir_a.path(), &config("a", &prom.url, ""));
    let (store_b, file_b) = seeded_demo_with(
        dir_b.path(),
        &config("b", &prom.url, "timestamps = \"week\"\n"),
    );
    // Shard b's history as `export openmetrics` writes it (with its shard label), read before
    // its daemon holds the store.
    let om = stdout_of(
        barometer(&store_b)
            .args(["--config", file_b.to_str().unwrap()])
            .args(["--now", "2026-11-25T12:00:00Z", "export", "openmetrics"]),
    );
    assert!(om.contains("shard=\"b\""), "the export carries the shard");
    let week_line = om
        .lines()
        .find(|l| l.starts_with("barometer_revenue_arr{"))
        .expect("a weekly ARR sample")
        .to_owned();
    let week_s: i64 = week_line.rsplit(' ').next().unwrap().parse().unwrap();
    // The export's samples of that week (each line ends with its week's start, in seconds).
    let stamp = format!(" {week_s}");
    let history = parse_exposition(
        &om.lines()
            .filter(|l| l.ends_with(&stamp))
            .collect::<Vec<_>>()
            .join("\n"),
    );

    let a = spawn_app(&store_a, Some(file_a), &[]).await;
    let b = spawn_app(&store_b, Some(file_b), &[]).await;
    a.wait_ready().await;
    b.wait_ready().await;

    // Shard a's figures arrive as /metrics exports them, label for label and value for value.
    let exported: BTreeMap<Key, f64> = parse_exposition(&metrics(&a).await)
        .into_iter()
        .filter(|(k, _)| settled(k))
        .collect();
    assert!(exported.len() > 50, "the demo exports many series");
    assert!(exported
        .keys()
        .all(|k| k.contains(&("shard".into(), "a".into()))));
    let received = prom_until(
        &prom.url,
        r#"{__name__=~"barometer_.+",shard="a"}"#,
        None,
        |got| {
            let missing: Vec<_> = exported.keys().filter(|k| !got.contains_key(*k)).collect();
            if !got.is_empty() && !missing.is_empty() {
                eprintln!("not yet in Prometheus: {missing:?}");
            }
            missing.is_empty()
        },
    )
    .await;
    for (k, v) in &exported {
        let got = received[k];
        assert!(
            got == *v || (got.is_nan() && v.is_nan()),
            "{k:?}: /metrics {v}, Prometheus {got}"
        );
    }

    // Shard b sent its weekly history at the weeks' Mondays: a past week reads back as the
    // export wrote it, and shard a has no such sample there (its ARR went out "now").
    let at = Some(week_s * 1000 + 60_000);
    let got_b = prom_until(&prom.url, r#"barometer_revenue_arr{shard="b"}"#, at, |g| {
        !g.is_empty()
    })
    .await;
    for (k, v) in &got_b {
        assert_eq!(history[k], *v, "{k:?}");
    }
    let got_a = prom_series(&prom.url, r#"barometer_revenue_arr{shard="a"}"#, at).await;
    assert!(got_a.is_empty(), "shards stay apart: {got_a:?}");
    // Both shards' own figures are there, apart.
    let info = prom_series(&prom.url, "barometer_build_info", None).await;
    let shards: Vec<&str> = info
        .keys()
        .filter_map(|k| {
            k.iter()
                .find(|(n, _)| n == "shard")
                .map(|(_, v)| v.as_str())
        })
        .collect();
    assert_eq!(shards, ["a", "b"]);
    // Nothing was refused: no sample went twice with another value, none out of bounds.
    for app in [&a, &b] {
        let m = parse_exposition(&metrics(app).await);
        let rejected: f64 = m
            .iter()
            .filter(|(k, _)| {
                k.contains(&(
                    "__name__".into(),
                    "barometer_remote_write_samples_total".into(),
                )) && k.contains(&("outcome".into(), "rejected".into()))
            })
            .map(|(_, v)| v)
            .sum();
        assert_eq!(rejected, 0.0);
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_down_for_a_while_gets_the_backlog_and_the_bound_holds() {
    if !crate::prom::have("prometheus") {
        eprintln!("prometheus not installed: skipped (.ci/run installs it)");
        return;
    }
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("barometer.toml");
    std::fs::write(
        &file,
        config("solo", &url, "queue_capacity = 2\ntimeout = \"1s\"\n"),
    )
    .unwrap();
    let app = spawn_app(&dir.path().join("store"), Some(file), &[]).await;
    // Nothing listens yet: sends fail, the queue stays at its bound and drops the oldest.
    let value = |text: &str, series: &str| {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let down = app
        .metrics_when(60, |m| {
            value(m, "barometer_remote_write_samples_total{outcome=\"dropped\",remote=\"central\",shard=\"solo\"}") > 0.0
                && value(m, "barometer_remote_write_failures_total{reason=\"network\",remote=\"central\",shard=\"solo\"}") >= 2.0
        })
        .await;
    assert!(
        value(
            &down,
            "barometer_remote_write_queue_requests{remote=\"central\",shard=\"solo\"}"
        ) <= 2.0,
        "{down}"
    );
    // The receiver comes up on that port: the kept backlog goes out and the queue empties.
    let Some(prom) = PromServer::receiver(Some(port)) else {
        return;
    };
    let up = app
        .metrics_when(60, |m| {
            value(m, "barometer_remote_write_samples_total{outcome=\"sent\",remote=\"central\",shard=\"solo\"}") > 0.0
                && value(m, "barometer_remote_write_queue_requests{remote=\"central\",shard=\"solo\"}") == 0.0
        })
        .await;
    assert_eq!(
        value(&up, "barometer_remote_write_samples_total{outcome=\"rejected\",remote=\"central\",shard=\"solo\"}"),
        0.0,
        "the backlog went in order: nothing refused"
    );
    let info = prom_series(&prom.url, r#"barometer_build_info{shard="solo"}"#, None).await;
    assert_eq!(info.len(), 1, "{info:?}");
    // The remote-write families the Grafana dashboard queries are the ones exported (the demo
    // without a receiver has none: tests/it/serve.rs checks the others).
    let exported = crate::deploy::exported_families(&up);
    let grafana = crate::deploy::grafana_metric_families();
    let remote: Vec<_> = grafana
        .iter()
        .filter(|(f, _)| f.starts_with("barometer_remote_write_"))
        .collect();
    assert_eq!(remote.len(), 4, "{remote:?}");
    for (family, place) in remote {
        assert!(
            exported.contains(family.as_str()),
            "{family} (in {place}) is not exported"
        );
    }
    app.stop().await;
}
