//! The store's per-series write log (`Store::points_written_since`): what the commits after a
//! data generation wrote to a series, kept across restarts, moved only by commits that land.

use barometer::model::{Deployment, SeriesKey};
use barometer::store::{Cursor, Store, WriteBatch, Written};

use crate::helpers::raw_sled;

fn key(name: &str) -> SeriesKey {
    SeriesKey::new(name, [("slo", "s"), ("service", "x")]).expect("key")
}

fn write(store: &Store, points: &[(&SeriesKey, i64)]) {
    let mut batch = WriteBatch::new();
    for (k, ts) in points {
        batch.put_point(k, *ts, 1.0);
    }
    store.commit(batch).expect("commit");
}

#[test]
fn the_write_log_tells_what_each_series_got_since_a_generation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let (a, b) = (key("a"), key("b"));
    assert_eq!(store.points_written_since(&a, 0).unwrap(), Written::Nothing);

    // Generation 1: two points of a.
    write(&store, &[(&a, 500), (&a, 100)]);
    assert_eq!(store.data_generation(), 1);
    assert_eq!(
        store.points_written_since(&a, 0).unwrap(),
        Written::From(100)
    );
    assert_eq!(store.points_written_since(&a, 1).unwrap(), Written::Nothing);
    assert_eq!(store.points_written_since(&b, 0).unwrap(), Written::Nothing);
    assert_eq!(
        store.points_written_since(&a, 2).unwrap(),
        Written::Unknown,
        "a generation from the future"
    );

    // Generation 2: both series in one commit.
    write(&store, &[(&a, 50), (&b, 900), (&a, 70)]);
    assert_eq!(
        store.points_written_since(&a, 0).unwrap(),
        Written::From(50)
    );
    assert_eq!(
        store.points_written_since(&a, 1).unwrap(),
        Written::From(50)
    );
    assert_eq!(
        store.points_written_since(&b, 1).unwrap(),
        Written::From(900)
    );
    assert_eq!(store.points_written_since(&b, 2).unwrap(), Written::Nothing);

    // A cursor alone is no data; a refused batch logs nothing.
    let mut batch = WriteBatch::new();
    batch.set_cursor("src", "c", Cursor::default());
    store.commit(batch).expect("commit");
    let mut batch = WriteBatch::new();
    batch.put_point(&a, -1_000, 1.0);
    batch.delete_event::<Deployment>("");
    assert!(store.commit(batch).is_err());
    assert_eq!(store.data_generation(), 2);
    assert_eq!(
        store.points_written_since(&a, 1).unwrap(),
        Written::From(50)
    );
    assert_eq!(store.points_written_since(&a, 2).unwrap(), Written::Nothing);

    // More commits than a log keeps: a recent generation is answered exactly, an old one no
    // later than the truth (older entries are merged, never lost).
    for i in 0..40 {
        write(&store, &[(&a, 10_000 + i)]);
    }
    assert_eq!(store.data_generation(), 42);
    assert_eq!(
        store.points_written_since(&a, 40).unwrap(),
        Written::From(10_038)
    );
    match store.points_written_since(&a, 2).unwrap() {
        Written::From(ts) => assert!(ts <= 10_000, "{ts}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.points_written_since(&a, 0).unwrap(),
        Written::From(50)
    );
    assert_eq!(store.points_written_since(&b, 2).unwrap(), Written::Nothing);

    // Kept across a restart.
    drop(store);
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(
        store.points_written_since(&a, 40).unwrap(),
        Written::From(10_038)
    );
    assert_eq!(
        store.points_written_since(&b, 1).unwrap(),
        Written::From(900)
    );

    // A store whose logs start later (moved from an earlier schema at generation 41): what
    // came before is unknown.
    drop(store);
    {
        let db = raw_sled(dir.path());
        let mut k = vec![0u8];
        k.extend_from_slice(b"logs_since");
        db.insert(k, &41u64.to_be_bytes()).expect("insert");
        db.flush().expect("flush");
    }
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(store.logs_since(), 41);
    assert_eq!(
        store.points_written_since(&a, 40).unwrap(),
        Written::Unknown
    );
    assert_eq!(
        store.points_written_since(&a, 41).unwrap(),
        Written::From(10_039)
    );
    assert_eq!(
        store.points_written_since(&b, 41).unwrap(),
        Written::Nothing
    );
}
