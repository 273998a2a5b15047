//! The dashboard in a real browser: headless Chromium (Debian's `chromium`) loads it from the
//! daemon run in-process with the demo organisation, the charts are drawn, and the console stays
//! clean.

use std::process::Command;

use crate::helpers::spawn_demo_app;

/// Loads `url` in headless Chromium; returns (DOM, Chromium's log).
pub(crate) fn chromium(url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--window-size=1280,2000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("chromium is installed (.ci/run installs Debian's chromium)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_loads_in_chromium_with_its_charts_and_no_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = spawn_demo_app(&dir.path().join("store")).await;
    let client = reqwest::Client::new();
    daemon.wait_ready().await;
    let url = daemon.url("/");
    let (dom, log) = tokio::task::spawn_blocking(move || chromium(&url))
        .await
        .unwrap();

    // Six charts, each with lines drawn (polylines), not an empty frame.
    let charts: Vec<&str> = dom.split("<figure class=\"chart\">").skip(1).collect();
    assert_eq!(charts.len(), 6, "{dom}");
    for c in &charts {
        assert!(
            c.contains("<svg") && c.contains("<polyline"),
            "a chart without lines: {c}"
        );
    }
    assert!(!dom.contains("class=\"empty\""), "a chart had no data");
    // Every chart point has a hover title (SVG <title>, no script) with its week and value.
    for c in &charts {
        assert!(
            c.contains("<title>") && c.contains(", week of 20"),
            "a chart without hover titles: {c}"
        );
    }
    // The headline and the tables.
    assert!(dom.contains("Regime: <strong>resilience</strong>"), "{dom}");
    let services = dom.split("id=\"services\"").nth(1).unwrap();
    assert!(
        services.matches("<tr>").count() >= 5,
        "header and 4 services"
    );
    // Each delivery figure links to the chain behind it, and the link answers.
    let explain = services
        .split("href=\"")
        .map(|s| s.split('"').next().unwrap())
        .find(|h| h.starts_with("/api/v1/dora/explain?"))
        .expect("a figure linked to its explain chain")
        .replace("&amp;", "&");
    let chain = client.get(daemon.url(&explain)).send().await.unwrap();
    assert_eq!(chain.status(), 200, "{explain}");
    assert!(
        dom.contains("growth → resilience"),
        "the demo's shift is listed"
    );
    // The demo's bugs of the last complete week, escaped ones named with their deployment.
    let bugs = dom.split("id=\"bugs\"").nth(1).expect("a bugs table");
    assert!(
        bugs.contains("<td>organisation</td>") && bugs.contains("<td>team web</td>"),
        "{bugs}"
    );
    assert!(bugs.contains("← deployment"), "{bugs}");
    // The demo's three teams, each linked to its filter.
    let teams = dom.split("id=\"teams\"").nth(1).expect("a teams table");
    for t in ["web", "platform", "payments"] {
        assert!(
            teams.contains(&format!("href=\"/?team={t}\"")),
            "{t}: {teams}"
        );
    }
    // Nothing on the console: Chromium logs every console message, errors and uncaught
    // exceptions included, as `INFO:CONSOLE` lines, and this page has no reason to log at all.
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console output: {console:#?}");

    // A bad range is a 400 with the JSON error body.
    let r = client
        .get(daemon.url("/?from=yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("from"));
    // A narrower range draws fewer weeks.
    let r = client
        .get(daemon.url("/?from=2026-06-01&to=2026-08-31"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("2026-06-01 to 2026-08-31"));

    // One service: its delivery and reliability beside the organisation's pressure, in the
    // browser too; an unknown one is a 400 naming the known ones.
    let url = daemon.url("/?service=api");
    let (dom, log) = tokio::task::spawn_blocking(move || chromium(&url))
        .await
        .unwrap();
    assert!(dom.contains("<h1>Barometer: api</h1>"), "{dom}");
    let charts: Vec<&str> = dom.split("<figure class=\"chart\">").skip(1).collect();
    assert_eq!(charts.len(), 7);
    assert!(charts.iter().all(|c| c.contains("<polyline")));
    assert!(dom.contains("Lead time for changes") && !dom.contains("Revenue: MRR"));
    // Its latency: the demo's p95 of api, weekly, beside its objective (400 ms).
    let latency = charts
        .iter()
        .find(|c| c.contains("Latency: p95 (latency_p95, weekly mean, ms)"))
        .expect("a latency chart");
    assert!(
        latency.contains("p95, week of") && latency.contains("objective, week of"),
        "{latency}"
    );
    assert!(!log.lines().any(|l| l.contains(":CONSOLE")), "{log}");
    let r = client
        .get(daemon.url("/?service=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("known: api"));
    // One team: the services table lists its services only; an unknown team is a 400.
    let url = daemon.url("/?team=web");
    let (dom, log) = tokio::task::spawn_blocking(move || chromium(&url))
        .await
        .unwrap();
    assert!(dom.contains("<h1>Barometer: team web</h1>"), "{dom}");
    let services = dom.split("id=\"services\"").nth(1).unwrap();
    let services = services.split("</table>").next().unwrap();
    assert!(
        services.contains("?service=storefront") && services.contains("?service=mobile"),
        "{services}"
    );
    assert!(!services.contains("?service=api"), "{services}");
    assert!(
        dom.contains("<tr class=\"selected\"><td><a href=\"/?team=web\">"),
        "{dom}"
    );
    assert!(!log.lines().any(|l| l.contains(":CONSOLE")), "{log}");
    let r = client.get(daemon.url("/?team=nope")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("known: web, platform, payments"));
    // One product: its own view (revenue of its segments, its services, its pressure index),
    // drawn in the browser; the products are linked from every page.
    assert!(dom.contains("<nav id=\"products\">"), "{dom}");
    let url = daemon.url("/?product=shop");
    let (dom, log) = tokio::task::spawn_blocking(move || chromium(&url))
        .await
        .unwrap();
    assert!(dom.contains("<h1>Barometer: product shop</h1>"), "{dom}");
    let charts: Vec<&str> = dom.split("<figure class=\"chart\">").skip(1).collect();
    assert_eq!(charts.len(), 6);
    assert!(charts.iter().all(|c| c.contains("<polyline")), "{dom}");
    assert!(dom.contains("Regime: <strong>"), "{dom}");
    assert!(!log.lines().any(|l| l.contains(":CONSOLE")), "{log}");
    // The product filter: the services table holds the product's services only, and the
    // products bar marks it as the current one while linking the other.
    let services = dom.split("id=\"services\"").nth(1).unwrap();
    let services = services.split("</table>").next().unwrap();
    for s in ["storefront", "api", "mobile"] {
        assert!(services.contains(&format!("?service={s}")), "{services}");
    }
    assert!(!services.contains("?service=billing"), "{services}");
    assert!(
        dom.contains("<strong>shop</strong>") && dom.contains("<a href=\"/?product=invoicing\">"),
        "{dom}"
    );
    let url = daemon.url("/?product=invoicing");
    let (dom, log) = tokio::task::spawn_blocking(move || chromium(&url))
        .await
        .unwrap();
    assert!(
        dom.contains("<h1>Barometer: product invoicing</h1>"),
        "{dom}"
    );
    let services = dom.split("id=\"services\"").nth(1).unwrap();
    let services = services.split("</table>").next().unwrap();
    assert!(services.contains("?service=billing"), "{services}");
    assert!(!services.contains("?service=storefront"), "{services}");
    assert!(!log.lines().any(|l| l.contains(":CONSOLE")), "{log}");
    let r = client
        .get(daemon.url("/?product=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Stops cleanly, as on SIGTERM (the signal itself is tested on the process in serve.rs).
    daemon.stop().await;
}
