//! Hardening, tried as an attacker and a careless user would: cross-site writes, secrets inside
//! URLs, bounded CSV input, spreadsheet formulas in CSV output, closed pipes, and arbitrary bytes
//! into the importer.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use crate::helpers::{barometer, spawn_app, Daemon, TestApp};

const CSV: &str = "customer_id,month,mrr,currency\nA,2024-01,100,USD\nB,2024-01,50,USD\n";

fn import_url(daemon: &TestApp) -> String {
    daemon.url("/api/v1/imports/revenue?name=hardening.csv")
}

#[tokio::test(flavor = "multi_thread")]
async fn state_changing_routes_refuse_cross_site_requests_and_imports_take_only_csv() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = spawn_app(&dir.path().join("store"), None, &[]).await;
    daemon.wait_ready().await;
    let client = reqwest::Client::new();

    // What a page on another site can make a browser send without a preflight: text/plain.
    let forged = client
        .post(import_url(&daemon))
        .header("content-type", "text/plain")
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(CSV)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let body: serde_json::Value = forged.json().await.unwrap();
    assert_eq!(body["error"]["code"], "cross_site");

    // An older browser sends Origin alone; "null" (sandboxed frames) is never this server.
    for origin in ["https://evil.example", "null"] {
        let r = client
            .post(import_url(&daemon))
            .header("content-type", "text/csv")
            .header("origin", origin)
            .body(CSV)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{origin}");
    }
    // Sync triggers are state-changing too.
    let sync = client
        .post(daemon.url("/api/v1/sync/github"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(sync.status(), 403);

    // Not a browser, but not CSV either: 415, and nothing imported.
    let plain = client
        .post(import_url(&daemon))
        .header("content-type", "text/plain")
        .body(CSV)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 415);
    let body: serde_json::Value = plain.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    let revenue: serde_json::Value = client
        .get(daemon.url("/api/v1/revenue"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !revenue.to_string().contains("2024-01"),
        "nothing was imported: {revenue}"
    );

    // The daemon's own page (same origin) and plain API clients go through.
    let own = client
        .post(import_url(&daemon))
        .header("content-type", "text/csv")
        .header("origin", format!("http://{}", daemon.addr))
        .header("sec-fetch-site", "same-origin")
        .body(CSV)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200, "{}", own.text().await.unwrap());
    // A browser form's file upload (multipart/form-data), written out by hand.
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"feb.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{}\r\n--XyZ--\r\n",
        CSV.replace("2024-01", "2024-02")
    );
    let upload = client
        .post(import_url(&daemon))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 200, "{}", upload.text().await.unwrap());
    let revenue = client
        .get(daemon.url("/api/v1/revenue"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        revenue.contains("2024-01") && revenue.contains("2024-02"),
        "{revenue}"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_token_api_clients_post_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let token = "hardening-token-0123456789";
    let daemon = spawn_app(
        &dir.path().join("store"),
        None,
        &[("BAROMETER__SERVER__API_TOKEN", token)],
    )
    .await;
    daemon.wait_ready().await;
    let client = reqwest::Client::new();
    let r = client
        .post(import_url(&daemon))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(CSV)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A token of another length, or none, is refused.
    for given in [
        "",
        "hardening-token-012345678",
        "hardening-token-0123456789x",
    ] {
        let r = client
            .post(import_url(&daemon))
            .bearer_auth(given)
            .header("content-type", "text/csv")
            .body(CSV)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{given:?}");
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_inside_a_url_shows_nowhere() {
    const PASSWORD: &str = "hunter2-in-the-url";
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // A closed port: every sync fails, and its error is logged and shown.
    let url = format!("http://ops:{PASSWORD}@127.0.0.1:9/");
    let check = barometer(&store)
        .env("BAROMETER__PROMETHEUS__URL", &url)
        .args(["config", "check"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&check.stdout);
    assert!(
        shown.contains("url = \"http://[redacted]@127.0.0.1:9\""),
        "{shown}"
    );
    assert!(!shown.contains(PASSWORD));

    let cfg = dir.path().join("barometer.toml");
    std::fs::write(
        &cfg,
        "[[prometheus.slo]]\nname = \"api\"\nservice = \"api\"\nerror_ratio_query = \"up\"\n\
         target = 0.999\nwindow = \"28d\"\n",
    )
    .unwrap();
    let cfg = cfg.to_string_lossy().into_owned();
    let daemon = Daemon::start_with_env(
        &store,
        &[],
        &mut vec![
            ("BAROMETER__PROMETHEUS__URL", url.as_str()),
            ("BAROMETER_CONFIG", cfg.as_str()),
        ],
    );
    daemon.wait_ready().await;
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let sources = loop {
        let text = client
            .get(daemon.url("/api/v1/sources"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("last_error\":{") || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(sources.contains("\"up\":false"), "{sources}");
    assert!(!sources.contains(PASSWORD), "{sources}");
    let logs: Vec<String> = daemon_logs(&daemon);
    assert_eq!(daemon.terminate().code(), Some(0));
    assert!(logs.iter().all(|l| !l.contains(PASSWORD)), "{logs:#?}");
}

fn daemon_logs(daemon: &Daemon) -> Vec<String> {
    daemon.logs.try_iter().collect()
}

/// Imports `csv` with the CLI into the store in `dir`; returns (success, stdout and stderr).
fn import_cli(dir: &Path, csv: &[u8]) -> (bool, String) {
    let file = dir.join("upload.csv");
    std::fs::write(&file, csv).unwrap();
    let out = barometer(&dir.join("store"))
        .args(["import", "revenue"])
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn csv_values_out_of_bounds_are_refused_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let header = "customer_id,month,mrr,currency,segment\n";
    let huge = "9".repeat(308);
    let long_segment = "s".repeat(2048);
    let cases: [(String, &str); 6] = [
        // Months outside 1970–2100: 0000-01 used to be "applied" and then vanish.
        (
            format!("{header}A,0000-01,10,USD,smb\n"),
            "line 2, column month",
        ),
        (
            format!("{header}A,9999-12,10,USD,smb\n"),
            "line 2, column month",
        ),
        // Two 308-digit amounts used to sum to inf.
        (
            format!("{header}A,2024-01,{huge},USD,smb\nB,2024-01,{huge},USD,smb\n"),
            "line 2, column mrr",
        ),
        (
            format!("{header}A,2024-01,NaN,USD,smb\n"),
            "line 2, column mrr",
        ),
        // One field is at most revenue.max_field_bytes (1 KiB by default).
        (
            format!("{header}A,2024-01,10,USD,{long_segment}\n"),
            "line 2, column segment",
        ),
        // Control characters in identifiers.
        (
            format!("{header}A\u{0}B,2024-01,10,USD,smb\n"),
            "line 2, column customer_id",
        ),
    ];
    for (csv, place) in cases {
        let (ok, err) = import_cli(dir.path(), csv.as_bytes());
        assert!(!ok, "accepted: {}", &csv[..csv.len().min(120)]);
        assert!(err.contains(place), "{place}: {err}");
        assert!(err.contains("nothing imported"), "{err}");
        // The bad value is quoted, but never more than ~200 bytes of it.
        assert!(err.len() < 1500, "{} bytes of error", err.len());
    }
    // A 40 MB header is refused with a short message.
    let mut big = "x".repeat(40 << 20);
    big.push_str(",month,mrr\n");
    let (ok, err) = import_cli(dir.path(), big.as_bytes());
    assert!(!ok);
    assert!(err.len() < 2000, "{} bytes of error", err.len());
}

#[test]
fn report_csv_cells_cannot_become_spreadsheet_formulas() {
    // The demo seeded with a service whose name a spreadsheet would run.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let seeded = barometer(&store)
        .args(["demo", "--end", "2026-11-25"])
        .output()
        .unwrap();
    assert!(seeded.status.success());
    let out = barometer(&store)
        .args(["report", "--format", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    for row in rows.records() {
        for cell in row.unwrap().iter() {
            let risky = cell.starts_with(['=', '+', '@', '\t', '\r'])
                || (cell.starts_with('-') && cell.parse::<f64>().is_err());
            assert!(!risky, "cell {cell:?} would be run as a formula");
        }
    }
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    assert!(barometer(&store)
        .args(["demo", "--end", "2026-11-25"])
        .output()
        .unwrap()
        .status
        .success());
    // `barometer revenue --format json | head -1`
    let mut child = barometer(&store)
        .args(["revenue", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

mod properties {
    use proptest::prelude::*;

    use super::import_cli;

    fn valid() -> String {
        let mut s = String::from("customer_id,month,mrr,currency,segment\n");
        for (i, c) in ["A", "B", "C"].iter().enumerate() {
            for m in 1..=3 {
                s.push_str(&format!("{c},2024-{m:02},{},USD,smb\n", 100 * (i + 1)));
            }
        }
        s
    }

    /// An error names where: a line and a column, or the file's header.
    fn names_a_place(err: &str) -> bool {
        err.contains("line ") || err.contains("header") || err.contains("empty")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Mutated valid files: every mutation either imports, and a second import of the same
        /// file changes nothing, or is refused naming a line and column; never a panic.
        #[test]
        fn mutated_files_import_or_are_refused_with_a_place(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)
        ) {
            let mut bytes = valid().into_bytes();
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            let dir = tempfile::tempdir().unwrap();
            let (ok, err) = import_cli(dir.path(), &bytes);
            prop_assert!(!err.contains("panicked"), "{}", err);
            if ok {
                let (again, out) = import_cli(dir.path(), &bytes);
                prop_assert!(again && out.contains(": unchanged ("), "{}", out);
            } else {
                prop_assert!(names_a_place(&err), "{}", err);
            }
        }
    }
}
