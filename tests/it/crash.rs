//! Crash safety: SIGKILL the binary while it writes, reopen, and check that every batch landed
//! whole or not at all.

use std::process::Stdio;
use std::time::Duration;

use barometer::model::{series, Deployment, RevenueMonthRows, SeriesKey};
use barometer::sources::demo::{self, ChunkManifest};
use barometer::store::Store;
use chrono::{Duration as Days, NaiveDate, TimeZone, Utc};
use rand::{Rng, SeedableRng};

const END: &str = "2026-11-25";

fn manifest(store: &Store, name: &str) -> Option<ChunkManifest> {
    store
        .cursor(demo::SOURCE, name)
        .unwrap()
        .map(|c| serde_json::from_str(c.position.as_deref().unwrap()).unwrap())
}

/// Checks each demo chunk: its manifest cursor is there and matches the data, or neither is.
pub fn check_chunks(store: &Store) -> (usize, usize) {
    check_chunks_until(store, NaiveDate::parse_from_str(END, "%Y-%m-%d").unwrap())
}

/// [`check_chunks`] for a demo seeded with another end date.
pub fn check_chunks_until(store: &Store, end: NaiveDate) -> (usize, usize) {
    let end = demo::week_start(end);
    let start = end - Days::weeks(demo::WEEKS);
    let (mut whole, mut absent) = (0, 0);
    let deployments: Vec<Deployment> = store.events().collect::<Result<_, _>>().unwrap();
    for repo in ["acme/storefront", "acme/api", "acme/billing", "acme/mobile"] {
        for w in 0..demo::WEEKS {
            let from =
                Utc.from_utc_datetime(&(start + Days::weeks(w)).and_hms_opt(0, 0, 0).unwrap());
            let to = from + Days::weeks(1);
            let n = deployments
                .iter()
                .filter(|d| d.repo == repo && d.created_at >= from && d.created_at < to)
                .count() as u64;
            match manifest(store, &format!("github/{repo}/{w}")) {
                Some(m) => {
                    assert_eq!(m.deployments, n, "{repo} week {w}: partial batch");
                    whole += 1;
                }
                None => {
                    assert_eq!(n, 0, "{repo} week {w}: data without its cursor");
                    absent += 1;
                }
            }
        }
    }
    for service in ["storefront", "api"] {
        let slo = format!("{service}-availability");
        let keys = [
            SeriesKey::new(
                series::SLO_TOTAL,
                [("slo", slo.as_str()), ("service", service)],
            )
            .unwrap(),
            SeriesKey::new(
                series::SLO_GOOD,
                [("slo", slo.as_str()), ("service", service)],
            )
            .unwrap(),
            SeriesKey::new(
                series::QUERY,
                [
                    ("query", "latency_p95"),
                    ("service", service),
                    ("unit", "seconds"),
                ],
            )
            .unwrap(),
        ];
        for w in 0..demo::WEEKS {
            let from = Utc
                .from_utc_datetime(&(start + Days::weeks(w)).and_hms_opt(0, 0, 0).unwrap())
                .timestamp_millis();
            let to = from + 7 * 86_400_000;
            let n: usize = keys
                .iter()
                .map(|k| store.range(k, from, to).unwrap().len())
                .sum();
            match manifest(store, &format!("reliability/{service}/{w}")) {
                Some(m) => {
                    assert_eq!(m.points, n as u64, "{service} week {w}: partial batch");
                    whole += 1;
                }
                None => {
                    assert_eq!(n, 0, "{service} week {w}: points without their cursor");
                    absent += 1;
                }
            }
        }
    }
    let cursors = store.cursors(demo::SOURCE).unwrap();
    for month in cursors.keys().filter_map(|k| k.strip_prefix("revenue/")) {
        let rows = store
            .event::<RevenueMonthRows>(&format!("demo/{month}"))
            .unwrap()
            .map_or(0, |m| m.len() as u64);
        assert_eq!(
            manifest(store, &format!("revenue/{month}"))
                .unwrap()
                .revenue_rows,
            rows
        );
        whole += 1;
    }
    let months_with_rows: std::collections::BTreeSet<String> = store
        .events::<RevenueMonthRows>()
        .map(|r| r.unwrap().month.to_string())
        .collect();
    for month in months_with_rows {
        assert!(
            cursors.contains_key(&format!("revenue/{month}")),
            "revenue rows of {month} without their cursor"
        );
    }
    (whole, absent)
}

#[test]
fn sigkill_during_writes_leaves_whole_batches_only() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
        std::env::var("CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos() as u64
            }),
    );
    let mut interrupted = 0;
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let delay = Duration::from_millis(rng.random_range(300..4_000));
        let mut child = crate::helpers::barometer(dir.path())
            .args(["demo", "--end", END])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let store = Store::open(dir.path()).expect("the store reopens after SIGKILL");
        let (whole, absent) = check_chunks(&store);
        if !finished && absent > 0 {
            interrupted += 1;
        }
        eprintln!("round {round}: killed after {delay:?}: {whole} chunks whole, {absent} absent");
    }
    assert!(
        interrupted > 0,
        "no round was killed mid-write; the check proved nothing"
    );
}

#[test]
fn an_uninterrupted_demo_is_complete_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let end = NaiveDate::parse_from_str(END, "%Y-%m-%d").unwrap();
    let store = Store::open(dir.path()).unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    let first = demo::seed(&store, 7, end, &token).unwrap();
    assert!(first.complete);
    let (whole, absent) = check_chunks(&store);
    assert_eq!(absent, 0);
    assert!(whole >= 4 * 104 + 2 * 104 + 24, "{whole}");
    let counts = store.event_counts();
    // Seeding again with the same seed writes the same records: nothing new.
    let second = demo::seed(&store, 7, end, &token).unwrap();
    assert_eq!(first.deployments, second.deployments);
    assert_eq!(store.event_counts(), counts);
    assert!(!demo::needs_seeding(&store).unwrap());
}
