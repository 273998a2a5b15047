//! The store: round trips, time order, idempotent upserts, atomic batches, reopening, and the
//! errors a user can meet when opening it.

use barometer::model::{Change, Event, Incident, Point, SeriesKey};
use barometer::store::{Cursor, Store, StoreError, WriteBatch, SCHEMA_VERSION};
use chrono::{TimeZone, Utc};

fn key(name: &str, service: &str) -> SeriesKey {
    SeriesKey::new(name, [("service", service), ("slo", "availability")]).expect("valid key")
}

fn incident(number: u64, title: &str) -> Incident {
    Incident {
        repo: "acme/api".into(),
        number,
        title: title.into(),
        body: "Errors after deploying abc1234".into(),
        labels: vec!["incident".into()],
        created_at: Utc.with_ymd_and_hms(2025, 3, 4, 10, 0, 0).unwrap(),
        closed_at: None,
    }
}

#[test]
fn round_trip_of_points_events_and_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let k = key("slo_good_events", "api");
    let mut batch = WriteBatch::new();
    batch.put_points(
        &k,
        [
            Point {
                ts: 1_000,
                value: 1.5,
            },
            Point {
                ts: 2_000,
                value: f64::NAN,
            },
            Point {
                ts: 3_000,
                value: f64::INFINITY,
            },
        ],
    );
    batch.upsert_event(&incident(7, "api down"));
    batch.set_cursor(
        "github",
        "acme/api/issues",
        Cursor {
            etag: Some("W/\"abc\"".into()),
            ..Cursor::default()
        },
    );
    let stats = store.commit(batch).unwrap();
    assert_eq!(
        (stats.points, stats.new_series, stats.events_inserted),
        (3, 1, 1)
    );

    let points = store.range(&k, i64::MIN, i64::MAX).unwrap();
    assert_eq!(points.len(), 3);
    assert_eq!(
        points[0],
        Point {
            ts: 1_000,
            value: 1.5
        }
    );
    assert!(points[1].value.is_nan());
    assert_eq!(points[2].value, f64::INFINITY);
    assert_eq!(
        store.event::<Incident>("acme/api#7").unwrap(),
        Some(incident(7, "api down"))
    );
    assert_eq!(
        store
            .cursor("github", "acme/api/issues")
            .unwrap()
            .unwrap()
            .etag
            .as_deref(),
        Some("W/\"abc\"")
    );
    assert_eq!(store.event::<Incident>("acme/api#8").unwrap(), None);
    assert_eq!(
        store.event::<Change>("acme/api#7").unwrap(),
        None,
        "kinds are apart"
    );
}

#[test]
fn range_scans_are_in_time_order_across_the_whole_timestamp_range() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let a = key("slo_total_events", "api");
    let b = key("slo_total_events", "web");
    // 1811, just before and after the epoch, now, and year ~128 000; written out of order and
    // interleaved with a second series.
    let times = [
        4_000_000_000_000_000_i64,
        -5_000_000_000_000,
        1,
        -1,
        0,
        1_764_000_000_000,
        i64::MIN + 1,
        i64::MAX - 1,
    ];
    let mut batch = WriteBatch::new();
    for (i, t) in times.iter().enumerate() {
        batch.put_point(&a, *t, i as f64);
        batch.put_point(&b, *t, -(i as f64));
    }
    store.commit(batch).unwrap();

    let mut sorted = times.to_vec();
    sorted.sort();
    let got: Vec<i64> = store
        .range(&a, i64::MIN, i64::MAX)
        .unwrap()
        .iter()
        .map(|p| p.ts)
        .collect();
    // i64::MAX itself is the exclusive end, so i64::MAX - 1 is the last one included.
    assert_eq!(got, sorted);

    // Half-open windows: [-1, 1) holds -1 and 0.
    let window: Vec<(i64, f64)> = store
        .range(&a, -1, 1)
        .unwrap()
        .iter()
        .map(|p| (p.ts, p.value))
        .collect();
    assert_eq!(window, vec![(-1, 3.0), (0, 4.0)]);
    let before_epoch = store.range(&b, i64::MIN, 0).unwrap();
    assert_eq!(before_epoch.len(), 3);
    assert!(
        before_epoch.iter().all(|p| p.value <= 0.0),
        "no leak from series a"
    );
    assert!(store.range(&a, 10, 5).unwrap().is_empty());

    assert_eq!(
        store.latest(&a).unwrap(),
        Some(Point {
            ts: i64::MAX - 1,
            value: 7.0
        })
    );
    let unknown = key("slo_total_events", "nope");
    assert_eq!(store.latest(&unknown).unwrap(), None);
    assert!(store
        .range(&unknown, i64::MIN, i64::MAX)
        .unwrap()
        .is_empty());
}

#[test]
fn series_are_listed_by_name_and_label() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut batch = WriteBatch::new();
    for (name, service) in [
        ("slo_good_events", "api"),
        ("slo_good_events", "web"),
        ("slo_total_events", "api"),
    ] {
        batch.put_point(&key(name, service), 0, 1.0);
    }
    store.commit(batch).unwrap();
    let good = store.series(Some("slo_good_events"), &[]);
    assert_eq!(
        good,
        vec![key("slo_good_events", "api"), key("slo_good_events", "web")]
    );
    let api = store.series(None, &[("service", "api")]);
    assert_eq!(
        api,
        vec![
            key("slo_good_events", "api"),
            key("slo_total_events", "api")
        ]
    );
    assert!(store
        .series(Some("slo_good_events"), &[("service", "db")])
        .is_empty());
    assert_eq!(store.series_count(), 3);
}

#[test]
fn re_ingesting_the_same_event_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut batch = WriteBatch::new();
    batch.upsert_event(&incident(1, "first"));
    batch.upsert_event(&incident(2, "second"));
    let first = store.commit(batch).unwrap();
    assert_eq!(first.events_inserted, 2);
    assert_eq!(store.event_generation(), 1);

    let mut again = WriteBatch::new();
    again.upsert_event(&incident(1, "first"));
    again.upsert_event(&incident(2, "second"));
    let second = store.commit(again).unwrap();
    assert_eq!(
        (
            second.events_inserted,
            second.events_updated,
            second.events_unchanged
        ),
        (0, 0, 2)
    );
    assert!(!second.changed_events());
    // Caches of what events say stay valid: neither an unchanged re-ingest nor points alone
    // move the event generation (the store generation moves for both).
    assert_eq!(store.event_generation(), 1);
    let generation = store.generation();
    let mut points = WriteBatch::new();
    points.put_point(&SeriesKey::new("x", [("a", "b")]).unwrap(), 1_000, 1.0);
    store.commit(points).unwrap();
    assert_eq!(store.event_generation(), 1);
    assert!(store.generation() > generation);

    let mut edit = WriteBatch::new();
    edit.upsert_event(&incident(2, "second, retitled"));
    let third = store.commit(edit).unwrap();
    assert_eq!((third.events_inserted, third.events_updated), (0, 1));
    assert_eq!(store.event_generation(), 2);
    assert_eq!(store.event_counts().get(Incident::KIND), Some(&2));
    let all: Vec<Incident> = store.events().collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].title, "second, retitled");
}

#[test]
fn the_store_tells_which_groups_of_events_each_commit_changed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let groups = |list: &[(&str, &str)]| {
        Some(
            list.iter()
                .map(|(k, g)| ((*k).to_owned(), (*g).to_owned()))
                .collect::<std::collections::BTreeSet<_>>(),
        )
    };
    let mut batch = WriteBatch::new();
    batch.upsert_event(&incident(1, "first"));
    let mut other = incident(7, "elsewhere");
    other.repo = "acme/web".into();
    batch.upsert_event(&other);
    store.commit(batch).unwrap();
    assert_eq!(
        store.changed_groups_since(0),
        (
            1,
            groups(&[("incident", "acme/api"), ("incident", "acme/web")])
        )
    );

    // Unchanged events, points and cursors record nothing; an edit and a deletion do.
    let mut same = WriteBatch::new();
    same.upsert_event(&incident(1, "first"));
    same.put_point(&key("x", "api"), 1_000, 1.0);
    same.set_cursor("github", "acme/api/issues", Cursor::default());
    store.commit(same).unwrap();
    assert_eq!(store.changed_groups_since(1), (1, groups(&[])));
    let mut edit = WriteBatch::new();
    edit.upsert_event(&incident(1, "first, retitled"));
    store.commit(edit).unwrap();
    let mut delete = WriteBatch::new();
    delete.delete_event::<Incident>("acme/web#7");
    delete.delete_event::<Incident>("acme/web#8");
    store.commit(delete).unwrap();
    assert_eq!(
        store.changed_groups_since(2),
        (3, groups(&[("incident", "acme/web")]))
    );
    assert_eq!(
        store.changed_groups_since(1).1,
        groups(&[("incident", "acme/api"), ("incident", "acme/web")])
    );
    assert_eq!(store.changed_groups_since(3).1, groups(&[]));
    assert_eq!(
        store.changed_groups_since(9).1,
        None,
        "not a generation of this store"
    );

    // Kept across a restart: the same answers.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.event_generation(), 3);
    assert_eq!(
        store.changed_groups_since(2),
        (3, groups(&[("incident", "acme/web")]))
    );
    assert_eq!(
        store.changed_groups_since(0).1,
        groups(&[("incident", "acme/api"), ("incident", "acme/web")])
    );
    let mut more = WriteBatch::new();
    more.upsert_event(&incident(9, "after the restart"));
    store.commit(more).unwrap();
    assert_eq!(
        store.changed_groups_since(3),
        (4, groups(&[("incident", "acme/api")]))
    );

    // A damaged entry makes the earlier past unknown (the caller reads everything), not the
    // store unopenable; what comes after is known again.
    drop(store);
    {
        let db = crate::helpers::raw_sled(dir.path());
        let mut k = vec![0u8];
        k.extend_from_slice(b"changed\0incident\0acme/web");
        db.insert(k, &b"xx"[..]).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.changed_groups_since(2).1, None);
    assert_eq!(store.changed_groups_since(4), (4, groups(&[])));
    let mut after = WriteBatch::new();
    after.upsert_event(&incident(10, "after the damage"));
    store.commit(after).unwrap();
    assert_eq!(
        store.changed_groups_since(4),
        (5, groups(&[("incident", "acme/api")]))
    );
}

#[test]
fn a_refused_item_leaves_nothing_of_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let k = key("slo_good_events", "api");
    let mut batch = WriteBatch::new();
    batch.put_point(&k, 1_000, 1.0);
    batch.upsert_event(&incident(1, "fine"));
    batch.set_cursor("github", "acme/api/issues", Cursor::default());
    // An event whose natural key is empty cannot be stored: the whole batch must be refused.
    batch.upsert_event(&EmptyKey);
    let err = store.commit(batch).unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "refused broken event \"\": a natural key must be non-empty and contain no NUL"
    );

    assert!(store.range(&k, i64::MIN, i64::MAX).unwrap().is_empty());
    assert!(store.series(None, &[]).is_empty());
    assert_eq!(store.event::<Incident>("acme/api#1").unwrap(), None);
    assert_eq!(store.cursor("github", "acme/api/issues").unwrap(), None);
    assert!(store.is_empty());

    // The store still works, and the series gets a fresh id once really written.
    let mut ok = WriteBatch::new();
    ok.put_point(&k, 2_000, 2.0);
    store.commit(ok).unwrap();
    assert_eq!(store.range(&k, i64::MIN, i64::MAX).unwrap().len(), 1);
}

#[derive(serde::Serialize, serde::Deserialize)]
struct EmptyKey;

impl Event for EmptyKey {
    const KIND: &'static str = "broken";
    fn natural_key(&self) -> String {
        String::new()
    }
}

#[test]
fn data_survives_reopening_and_new_series_get_new_ids() {
    let dir = tempfile::tempdir().unwrap();
    let a = key("slo_good_events", "api");
    let b = key("slo_good_events", "web");
    {
        let store = Store::open(dir.path()).unwrap();
        let mut batch = WriteBatch::new();
        batch.put_point(&a, 10, 1.0);
        batch.upsert_event(&incident(3, "kept"));
        store.commit(batch).unwrap();
        store.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.range(&a, 0, 100).unwrap(),
        vec![Point { ts: 10, value: 1.0 }]
    );
    assert_eq!(store.event_counts().get("incident"), Some(&1));
    let mut batch = WriteBatch::new();
    batch.put_point(&b, 10, 2.0);
    assert_eq!(store.commit(batch).unwrap().new_series, 1);
    assert_eq!(
        store.range(&a, 0, 100).unwrap(),
        vec![Point { ts: 10, value: 1.0 }]
    );
    assert_eq!(
        store.range(&b, 0, 100).unwrap(),
        vec![Point { ts: 10, value: 2.0 }]
    );
}

#[test]
fn a_second_instance_is_told_the_directory_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the data directory {} is in use by another running barometer (or another process); \
             stop it, or set storage.path to another directory",
            dir.path().display()
        )
    );
}

#[test]
fn a_path_that_is_a_file_is_reported_as_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = Store::open(&file).unwrap_err();
    assert!(matches!(err, StoreError::Unreadable { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "cannot open the data directory {}: ",
            file.display()
        )),
        "{err}"
    );
}

/// A store created by this version logs what every commit wrote from its first commit on; a
/// damaged start of the logs leaves them answering nothing, not the store unopenable.
#[test]
fn a_new_store_logs_changes_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.logs_since(), 0);
    drop(store);
    assert_eq!(Store::open(dir.path()).unwrap().logs_since(), 0);
    {
        let db = crate::helpers::raw_sled(dir.path());
        let mut k = vec![0u8];
        k.extend_from_slice(b"logs_since");
        db.insert(k, &b"bad"[..]).unwrap();
        db.flush().unwrap();
    }
    assert_eq!(Store::open(dir.path()).unwrap().logs_since(), u64::MAX);
}

#[test]
fn an_unknown_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    {
        // Simulate a store written by a future release: the layout is part of the contract.
        let db = crate::helpers::raw_sled(dir.path());
        let mut k = vec![0u8];
        k.extend_from_slice(b"schema_version");
        db.insert(k, &(SCHEMA_VERSION + 1).to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the data directory {} has store schema version {}, but this barometer reads version \
             {}; use the barometer release that wrote it, or start a new storage.path",
            dir.path().display(),
            SCHEMA_VERSION + 1,
            SCHEMA_VERSION
        )
    );
}
