//! Golden outputs of the demo organisation (seed 42, business time pinned to
//! [`crate::helpers::NOW`]): `report`, `dora`, `revenue` as JSON, the digest as Markdown and the
//! `/metrics` exposition. Restructuring must leave every byte as it is; a change of behaviour
//! re-blesses them on purpose with `BLESS=1 cargo test --test it golden`, and the diff of
//! `tests/golden/` shows what changed.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::helpers::{barometer, Daemon};

/// One demo store, seeded once by the CLI; every test works on its own copy (sled locks a store
/// for one process at a time).
pub(crate) fn seeded() -> &'static Path {
    static STORE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = STORE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let out = barometer(&path)
            .args(["demo", "--seed", "42", "--end", "2026-11-25"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, path)
    });
    path
}

pub(crate) fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with `tests/golden/<name>` (or writes it with `BLESS=1`), naming the first
/// line that differs.
fn check(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with BLESS=1 to create it)", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from its golden file at line {}:\n  golden: {:?}\n  actual: {:?}\n\
             (BLESS=1 cargo test --test it golden re-blesses it when the change is intended)",
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

fn command(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    copy_dir(seeded(), &store);
    command_in(&store, args)
}

/// The output of the CLI command `args` run on `store`.
pub(crate) fn command_in(store: &Path, args: &[&str]) -> String {
    let out = barometer(store).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn report_json_is_unchanged() {
    check("report.json", &command(&["report", "--format", "json"]));
}

#[test]
fn dora_json_is_unchanged() {
    check(
        "dora.json",
        &command(&["dora", "--weeks", "8", "--format", "json"]),
    );
}

/// `dora --service S` reads only the events of S's part (issue 21) and prints S's rows of the
/// whole `dora.json`, for every service of the demo.
#[test]
fn one_service_read_alone_prints_its_rows_of_the_whole() {
    let whole: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden_path("dora.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    copy_dir(seeded(), &store);
    let mut seen = 0;
    for rows in whole.as_array().unwrap() {
        let Some(service) = rows[0]["service"].as_str() else {
            continue; // the organisation or a team
        };
        let alone = command_in(
            &store,
            &[
                "dora",
                "--weeks",
                "8",
                "--format",
                "json",
                "--service",
                service,
            ],
        );
        let alone: serde_json::Value = serde_json::from_str(&alone).unwrap();
        assert_eq!(alone, serde_json::json!([rows]), "{service}");
        seen += 1;
    }
    assert!(seen >= 3, "only {seen} services in dora.json");
}

#[test]
fn revenue_json_is_unchanged() {
    check("revenue.json", &command(&["revenue", "--format", "json"]));
}

#[test]
fn digest_markdown_is_unchanged() {
    check("digest.md", &command(&["digest", "--print", "markdown"]));
}

/// Lines of the exposition that describe this process rather than the data: sizes on disk,
/// timings, build and health timestamps.
fn stable(line: &str) -> bool {
    const VOLATILE: [&str; 6] = [
        "barometer_store_bytes",
        "barometer_build_info",
        "_timestamp_seconds",
        "_duration_seconds",
        "barometer_source_",
        "process_",
    ];
    !VOLATILE.iter().any(|v| line.contains(v))
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_exposition_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    copy_dir(seeded(), &store);
    let daemon = Daemon::start(&store, &[]);
    daemon.wait_ready().await;
    let text = daemon
        .metrics_when(60, |t| {
            t.contains("barometer_pressure_index") && t.contains("barometer_revenue_nrr_ratio")
        })
        .await;
    assert_eq!(daemon.terminate().code(), Some(0));
    let kept: String = text
        .lines()
        .filter(|l| stable(l))
        .map(|l| format!("{l}\n"))
        .collect();
    check("metrics.txt", &kept);
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
