//! Kept SLO rows (`query::slo_rows`): after every kind of change, the rows brought up to date
//! equal the rows computed from every sample (`slo_weeks_at`, the oracle), while only the weeks
//! that changed are recomputed, in the process and across a restart.

use barometer::analysis::reliability::SloSpec;
use barometer::analysis::WEEK_MS;
use barometer::config::SloKind;
use barometer::model::{series, Point, SeriesKey};
use barometer::query::slo_rows::{SloRows, SloRowsStats};
use barometer::query::{slo_weeks_at, SloDef};
use barometer::store::{Store, WriteBatch};

const H: i64 = 3_600_000;

fn def(name: &str, ratio: bool, target: f64) -> SloDef {
    SloDef {
        name: name.into(),
        service: format!("svc-{name}"),
        ratio,
        spec: SloSpec {
            target,
            window_ms: 28 * 24 * H,
            step_ms: H,
        },
        kind: SloKind::Availability,
    }
}

fn key(def: &SloDef, name: &str) -> SeriesKey {
    SeriesKey::new(
        name,
        [
            ("slo", def.name.as_str()),
            ("service", def.service.as_str()),
        ],
    )
    .expect("key")
}

/// A value in [0, 1) that looks random and is not a short binary fraction.
fn noise(seed: i64, ts: i64) -> f64 {
    let x = (ts / H)
        .wrapping_add(seed.wrapping_mul(1_000_003))
        .wrapping_mul(6_364_136_223_846_793_005) as u64;
    ((x >> 11) % 10_007) as f64 / 10_007.0
}

/// Hourly samples of `def` over `[from, to)`, with minute counts, and the week's and window's
/// own counts at each week start in it.
fn write(store: &Store, def: &SloDef, from: i64, to: i64, seed: i64) {
    let mut batch = WriteBatch::new();
    let hours: Vec<i64> = (from / H..to / H).map(|h| h * H).collect();
    let mondays: Vec<i64> = hours
        .iter()
        .copied()
        .filter(|ts| (*ts - monday(0)) % WEEK_MS == 0)
        .collect();
    let mut put = |name: &str, at: &[i64], value: &dyn Fn(i64) -> f64| {
        let points = at.iter().map(|&ts| Point {
            ts,
            value: value(ts),
        });
        batch.put_points(&key(def, name), points);
    };
    if def.ratio {
        put(series::SLO_ERROR_RATIO, &hours, &|ts| {
            noise(seed, ts) * 0.003
        });
    }
    // A bare SLO has only its per-step SLI: its budget and burn rates are summed over steps.
    if def.name != "bare" {
        if def.ratio {
            put(series::SLO_WINDOW_ERROR_RATIO, &mondays, &|ts| {
                noise(seed + 2, ts) * 0.002
            });
        } else {
            let total = |ts: i64| 1_000.0 + noise(seed, ts) * 513.7;
            put(series::SLO_TOTAL, &hours, &total);
            put(series::SLO_GOOD, &hours, &|ts| {
                total(ts) * (1.0 - noise(seed + 1, ts) * 0.004)
            });
            put(series::SLO_WEEK_TOTAL, &mondays, &|ts| {
                170_000.0 + noise(seed, ts)
            });
            put(series::SLO_WEEK_GOOD, &mondays, &|ts| {
                169_800.0 + noise(seed + 3, ts)
            });
            put(series::SLO_WINDOW_TOTAL, &mondays, &|ts| {
                680_000.0 + noise(seed, ts)
            });
            put(series::SLO_WINDOW_GOOD, &mondays, &|ts| {
                679_100.0 + noise(seed + 4, ts)
            });
        }
        put(series::SLO_BAD_MINUTES, &hours, &|ts| {
            (noise(seed + 7, ts) * 3.0).floor()
        });
        put(series::SLO_KNOWN_MINUTES, &hours, &|_| 60.0);
    }
    store.commit(batch).expect("commit");
}

/// The Monday `n` weeks after the one holding the tests' business time.
fn monday(n: i64) -> i64 {
    let now = crate::helpers::now().timestamp_millis();
    // 1970-01-01 was a Thursday: Mondays are 4 days after a multiple of a week.
    let monday = (now - 4 * 24 * H).div_euclid(WEEK_MS) * WEEK_MS + 4 * 24 * H;
    monday + n * WEEK_MS
}

fn weeks(from: i64, to: i64) -> Vec<i64> {
    (from..=to).map(monday).collect()
}

/// The kept rows equal the oracle for every SLO; returns the stats' change.
fn check(
    rows: &SloRows,
    store: &Store,
    defs: &[SloDef],
    weeks: &[i64],
    now: i64,
    what: &str,
) -> SloRowsStats {
    let before = rows.stats();
    let got = rows.rows(store, defs, weeks, now).expect("rows");
    for (def, got) in defs.iter().zip(&got) {
        let want = slo_weeks_at(store, def, weeks, now).expect("oracle");
        assert_eq!(got, &want, "{what}: {}", def.name);
    }
    let after = rows.stats();
    SloRowsStats {
        loaded: after.loaded - before.loaded,
        whole: after.whole - before.whole,
        weeks_computed: after.weeks_computed - before.weeks_computed,
        saved: after.saved - before.saved,
    }
}

#[test]
fn kept_slo_rows_equal_rows_from_every_sample_after_each_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let now = crate::helpers::now().timestamp_millis();
    let mut defs = vec![
        def("checkout", true, 0.999),
        def("api", false, 0.995),
        def("bare", true, 0.99),
    ];
    let n = defs.len() as u64;
    // 20 weeks of history up to business time, and a view of the last 16.
    for (i, d) in defs.iter().enumerate() {
        write(&store, d, monday(-19), now, i as i64);
    }
    let list = weeks(-15, 0);
    let rows = SloRows::default();
    let s = check(&rows, &store, &defs, &list, now, "first");
    assert_eq!((s.whole, s.weeks_computed), (n, 16 * n));
    assert_eq!(s.saved, n);

    // Nothing changed: only the current week is recomputed.
    let s = check(&rows, &store, &defs, &list, now, "unchanged");
    assert_eq!((s.whole, s.weeks_computed, s.saved), (0, n, 0));

    // A shorter list (a product's view starts later), and the current week alone (which
    // `slo_weeks_at` reads from its own start on): the kept weeks serve.
    let s = check(&rows, &store, &defs, &weeks(-5, 0), now, "shorter");
    assert_eq!(s.weeks_computed, n);
    let s = check(
        &rows,
        &store,
        &defs,
        &weeks(0, 0),
        now,
        "current week alone",
    );
    assert_eq!(s.weeks_computed, n);

    // A backfill of one SLO ten weeks back (the week's own counts too): that SLO recomputes
    // from there, the other only its current week.
    write(&store, &defs[1], monday(-10), monday(-10) + 9 * H, 99);
    let s = check(&rows, &store, &defs, &list, now, "backfill");
    assert_eq!((s.whole, s.weeks_computed, s.saved), (0, 11 + n - 1, 1));

    // New points in the current week.
    write(&store, &defs[0], now - 3 * H, now, 5);
    let s = check(&rows, &store, &defs, &list, now, "current week");
    assert_eq!((s.whole, s.weeks_computed), (0, n));

    // A point older than the view: every week of that SLO's view ends after it.
    write(&store, &defs[0], monday(-18), monday(-18) + H, 6);
    let s = check(&rows, &store, &defs, &list, now, "before the view");
    assert_eq!((s.whole, s.weeks_computed), (0, 16 + n - 1));

    // The list grows at its start: only the new weeks (and the current one).
    let longer = weeks(-18, 0);
    let s = check(&rows, &store, &defs, &longer, now, "longer at its start");
    assert_eq!((s.whole, s.weeks_computed), (0, 3 * n + n));

    // Business time moves into the next week, which gets samples; the list grows at its end.
    let later = now + WEEK_MS;
    for (i, d) in defs.iter().enumerate() {
        write(&store, d, now, later, 10 + i as i64);
    }
    let next = weeks(-18, 1);
    let s = check(&rows, &store, &defs, &next, later, "next week");
    assert_eq!(s.whole, 0);
    assert_eq!(
        s.weeks_computed,
        2 * n,
        "the week that was current, and the new one"
    );
    let s = check(&rows, &store, &defs, &next, later, "next week again");
    assert_eq!(s.weeks_computed, n);

    // A changed definition recomputes that SLO whole.
    defs[0].spec.target = 0.99;
    let s = check(&rows, &store, &defs, &next, later, "def changed");
    assert_eq!((s.whole, s.weeks_computed), (1, 20 + n - 1));

    // A restart: a new handle on the same directory and a fresh cache use the kept rows, after
    // a backfill the old process never saw.
    write(&store, &defs[0], monday(-3), monday(-3) + 2 * H, 42);
    rows.settle();
    drop(store);
    let store = Store::open(dir.path()).expect("reopen");
    let rows = SloRows::default();
    let s = check(&rows, &store, &defs, &next, later, "restart");
    assert_eq!((s.loaded, s.whole), (n, 0));
    assert_eq!(
        s.weeks_computed,
        5 + n - 1,
        "from the backfill on, and the current week"
    );

    // A store whose logs start after the kept rows (moved from an earlier schema): what
    // changed since is unknown, so each SLO is recomputed whole.
    write(&store, &defs[1], later - H, later, 43);
    rows.settle();
    drop(store);
    {
        let db = crate::helpers::raw_sled(dir.path());
        let generation = db
            .get(b"\0data_generation")
            .expect("read")
            .expect("a data generation");
        db.insert(b"\0logs_since", generation).expect("insert");
        db.flush().expect("flush");
    }
    let store = Store::open(dir.path()).expect("reopen");
    let rows = SloRows::default();
    let s = check(&rows, &store, &defs, &next, later, "logs start later");
    assert_eq!((s.loaded, s.whole), (n, n));
    assert_eq!(s.weeks_computed, 20 * n);
    // And the rows then kept serve the next start.
    rows.settle();
    drop(rows);
    let rows = SloRows::default();
    let s = check(
        &rows,
        &store,
        &defs,
        &next,
        later,
        "after the whole recompute",
    );
    assert_eq!((s.loaded, s.whole, s.weeks_computed), (n, 0, n));
}

/// The kept file only saves work: a damaged one, one copied beside another store, and rows
/// stamped past the store's data (a store put back from an older backup) are each recomputed
/// whole, equal to the rows from every sample.
#[test]
fn a_damaged_foreign_or_newer_kept_file_is_recomputed() {
    let now = crate::helpers::now().timestamp_millis();
    let defs = vec![def("checkout", true, 0.999), def("api", false, 0.995)];
    let n = defs.len() as u64;
    let list = weeks(-7, 0);
    let seeded = |path: &std::path::Path| {
        let store = Store::open(path).expect("open");
        for (i, d) in defs.iter().enumerate() {
            write(&store, d, monday(-9), now, i as i64);
        }
        let rows = SloRows::default();
        check(&rows, &store, &defs, &list, now, "first");
        rows.settle();
        store
    };
    // A restart's rows: a new cache, its writes waited for.
    let restarted = |store: &Store, what: &str| {
        let rows = SloRows::default();
        let s = check(&rows, store, &defs, &list, now, what);
        rows.settle();
        s
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = seeded(dir.path());
    let file = dir.path().join("kept").join("slo_rows");
    let good = std::fs::read(&file).expect("a kept file");
    // Taken as kept on a restart.
    let s = restarted(&store, "kept");
    assert_eq!((s.loaded, s.whole, s.weeks_computed), (n, 0, n));

    // Cut in the middle of its rows.
    std::fs::write(&file, &good[..good.len() / 2]).expect("cut");
    let s = restarted(&store, "cut");
    assert_eq!((s.loaded, s.whole), (0, n));

    // Copied beside another store holding the same samples.
    let other = tempfile::tempdir().expect("tempdir");
    let store2 = seeded(other.path());
    std::fs::write(other.path().join("kept").join("slo_rows"), &good).expect("copy");
    let s = restarted(&store2, "copied");
    assert_eq!((s.loaded, s.whole), (0, n));
    drop(store2);

    // Stamped past the store's data generation.
    std::fs::write(&file, &good).expect("put back");
    drop(store);
    {
        let db = crate::helpers::raw_sled(dir.path());
        db.insert(b"\0data_generation", &1u64.to_be_bytes())
            .expect("insert");
        db.flush().expect("flush");
    }
    let store = Store::open(dir.path()).expect("reopen");
    let s = restarted(&store, "ahead");
    assert_eq!((s.loaded, s.whole), (0, n));
}
