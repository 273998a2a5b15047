//! Opening a store written by the previous layout (schema 1: one sled entry per event, as JSON):
//! it is converted on open, every event reads back identical, and a conversion cut short
//! carries on at the next open. Every kind of event is in the fixture, so that each one is seen
//! to come back identical through the blocks and their postcard-or-JSON records.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use barometer::model::business::{ImportChunk, ImportCurrent};
use barometer::model::{
    Bug, Change, CodeOwnersFile, Commit, CustomerAttributes, DeploySource, DeployState, Deployment,
    Event, Grain, ImportRecord, Incident, MetricRow, Point, RevenueAttributes,
    RevenueAttributesCurrent, RevenueMonth, RevenueMonthRows, RevenueTotal, SeriesKey, Ticket,
};
use barometer::store::{Cursor, Delivery, Store, WriteBatch, SCHEMA_VERSION};
use chrono::{DateTime, TimeZone, Utc};

fn at(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 10, 0, 0).unwrap() + chrono::Duration::hours(hours)
}

use crate::helpers::raw_sled as raw;

fn schema_key() -> Vec<u8> {
    let mut k = vec![0u8];
    k.extend_from_slice(b"schema_version");
    k
}

/// An event as schema 1 kept it: key tag 3, kind, NUL, natural key; value its JSON.
fn v1_entry<E: Event>(e: &E) -> (Vec<u8>, Vec<u8>) {
    let mut k = vec![3u8];
    k.extend_from_slice(E::KIND.as_bytes());
    k.push(0);
    k.extend_from_slice(e.natural_key().as_bytes());
    (k, serde_json::to_vec(e).unwrap())
}

fn put_v1<E: Event>(db: &sled::Db, e: &E) {
    let (k, v) = v1_entry(e);
    db.insert(k, v).unwrap();
}

/// Every entry of the raw database, to compare a store before and after.
fn dump(db: &sled::Db) -> Vec<(sled::IVec, sled::IVec)> {
    db.iter().map(|kv| kv.unwrap()).collect()
}

/// Marks the store as schema 1 and writes the fixture in that layout, from the `from_change`th
/// pull request on, with or without the commits.
fn write_v1(db: &sled::Db, f: &Fixture, from_change: usize, commits: bool) {
    db.insert(schema_key(), &1u32.to_be_bytes()).unwrap();
    f.changes[from_change..].iter().for_each(|e| put_v1(db, e));
    if commits {
        f.commits.iter().for_each(|e| put_v1(db, e));
    }
    f.deployments.iter().for_each(|e| put_v1(db, e));
    f.incidents.iter().for_each(|e| put_v1(db, e));
    f.bugs.iter().for_each(|e| put_v1(db, e));
    f.revenue.iter().for_each(|e| put_v1(db, e));
    f.attributes.iter().for_each(|e| put_v1(db, e));
    f.imports.iter().for_each(|e| put_v1(db, e));
    f.codeowners.iter().for_each(|e| put_v1(db, e));
    f.tickets.iter().for_each(|e| put_v1(db, e));
    f.ticket_current.iter().for_each(|e| put_v1(db, e));
    f.metrics.iter().for_each(|e| put_v1(db, e));
    f.metric_current.iter().for_each(|e| put_v1(db, e));
    db.flush().unwrap();
}

struct Fixture {
    changes: Vec<Change>,
    commits: Vec<Commit>,
    deployments: Vec<Deployment>,
    incidents: Vec<Incident>,
    bugs: Vec<Bug>,
    revenue: Vec<RevenueMonthRows>,
    attributes: Vec<RevenueAttributes>,
    imports: Vec<ImportRecord>,
    codeowners: Vec<CodeOwnersFile>,
    tickets: Vec<ImportChunk<Ticket>>,
    ticket_current: Vec<ImportCurrent<Ticket>>,
    metrics: Vec<ImportChunk<MetricRow>>,
    metric_current: Vec<ImportCurrent<MetricRow>>,
}

/// Three repositories, 300 pull requests each (more than one block holds), and one or a few of
/// every other kind, with the optional fields both set and unset.
fn fixture() -> Fixture {
    let repos = ["acme/api", "acme/api-gw", "acme/web"];
    let mut f = Fixture {
        changes: Vec::new(),
        commits: Vec::new(),
        deployments: Vec::new(),
        incidents: Vec::new(),
        bugs: Vec::new(),
        revenue: Vec::new(),
        attributes: Vec::new(),
        imports: Vec::new(),
        codeowners: Vec::new(),
        tickets: Vec::new(),
        ticket_current: Vec::new(),
        metrics: Vec::new(),
        metric_current: Vec::new(),
    };
    for (r, repo) in repos.iter().enumerate() {
        for n in 1..=300u64 {
            let h = n as i64;
            f.changes.push(Change {
                repo: (*repo).into(),
                number: n,
                title: format!("Change {n} «ünïcode»"),
                head_ref: format!("feature-{n}"),
                base_ref: "main".into(),
                labels: if n % 7 == 0 {
                    vec!["hotfix".into()]
                } else {
                    vec![]
                },
                files: vec![format!("src/{n}.rs")],
                created_at: at(h),
                merged_at: at(h + 3),
                merge_commit_sha: format!("m{r}{n:04}"),
                commits: vec![format!("c{r}{n:04}")],
                first_commit_at: at(h - 2),
                body: if n % 2 == 0 {
                    format!("Fixes #{n}")
                } else {
                    String::new()
                },
            });
            f.commits.push(Commit {
                repo: (*repo).into(),
                sha: format!("m{r}{n:04}"),
                parents: vec![format!("m{r}{:04}", n - 1)],
                authored_at: at(h),
                committed_at: at(h + 3),
                pulls: (n % 3 == 0).then(|| vec![n]),
                // `skip_serializing_if` when None: the codec must still carry both.
                files: (n % 5 == 0).then(|| vec!["a.rs".to_owned()]),
            });
        }
        f.deployments.push(Deployment {
            repo: (*repo).into(),
            service: repo.split('/').nth(1).unwrap().into(),
            environment: "production".into(),
            id: 40 + r as u64,
            source: DeploySource::DeploymentsApi,
            sha: format!("m{r}0300"),
            git_ref: "main".into(),
            created_at: at(400),
            state: DeployState::Success,
            finished_at: (r != 1).then(|| at(401)),
        });
        f.incidents.push(Incident {
            repo: (*repo).into(),
            number: 900,
            title: "down".into(),
            body: "after m00300".into(),
            labels: vec!["incident".into()],
            created_at: at(402),
            closed_at: None,
        });
        f.codeowners.push(CodeOwnersFile {
            repo: (*repo).into(),
            path: ".github/CODEOWNERS".into(),
            text: format!("* @acme/team-{r}\n"),
        });
        f.bugs.push(Bug {
            repo: (*repo).into(),
            number: 901,
            title: "bug".into(),
            labels: vec!["bug".into()],
            created_at: at(3),
            closed_at: Some(at(30)),
            reopened_at: vec![at(10)],
        });
    }
    let mut month = RevenueMonthRows::new("imp1", "billing", "2025-03".parse().unwrap(), "EUR");
    month.push("c1", 100.0, Some("pro"), None);
    month.push("c2", 0.1 + 0.2, None, Some("smb"));
    f.revenue.push(month);
    f.attributes.push(RevenueAttributes {
        import_id: "attr1".into(),
        source: "billing".into(),
        chunk: 0,
        customers: vec![
            CustomerAttributes {
                customer_id: "c1".into(),
                name: Some("Ada".into()),
                ..CustomerAttributes::default()
            },
            CustomerAttributes {
                customer_id: "c2".into(),
                country: Some("FR".into()),
                first_month: Some("2024-01".parse().unwrap()),
                ..CustomerAttributes::default()
            },
        ],
    });
    f.imports.push(ImportRecord {
        id: "20250304T100000Z-abc".into(),
        at: at(0),
        file: "mrr.csv".into(),
        sha256: "abc".into(),
        source: "billing".into(),
        layout: "snapshots".into(),
        rows: 2,
        months: vec!["2025-03".parse().unwrap()],
        outcome: "applied".into(),
        errors: 0,
    });
    // Tickets and metric rows have optional fields left out of their JSON when unset, which
    // postcard cannot carry: they must come back identical all the same.
    f.tickets.push(ImportChunk {
        import_id: "tick1".into(),
        source: "zendesk".into(),
        chunk: 0,
        rows: vec![
            Ticket {
                id: "4711".into(),
                created_ms: 1_000,
                solved_ms: Some(2_000),
                first_reply_minutes: Some(12.5),
                customer: Some("c1".into()),
                priority: Some("high".into()),
                tags: vec!["billing".into()],
                kind: Some("question".into()),
                components: vec!["api".into()],
            },
            Ticket {
                id: "4712".into(),
                created_ms: 3_000,
                solved_ms: None,
                first_reply_minutes: None,
                customer: None,
                priority: None,
                tags: vec![],
                kind: None,
                components: vec![],
            },
        ],
    });
    f.ticket_current
        .push(ImportCurrent::new("zendesk", "tick1", 1, 2));
    f.metrics.push(ImportChunk {
        import_id: "met1".into(),
        source: "finance".into(),
        chunk: 0,
        rows: vec![
            MetricRow {
                metric: "cloud_cost".into(),
                grain: Grain::Month,
                start: "2025-03-01".parse().unwrap(),
                value: 1234.5,
                labels: BTreeMap::from([("provider".to_owned(), "aws".to_owned())]),
            },
            MetricRow {
                metric: "gross_margin_ratio".into(),
                grain: Grain::Week,
                start: "2025-03-03".parse().unwrap(),
                value: 0.72,
                labels: BTreeMap::new(),
            },
        ],
    });
    f.metric_current
        .push(ImportCurrent::new("finance", "met1", 1, 2));
    f
}

fn sorted<E: Event + Clone>(events: &[E]) -> Vec<E> {
    let mut v = events.to_vec();
    v.sort_by_key(|e| e.natural_key());
    v
}

fn all<E: Event>(store: &Store) -> Vec<E> {
    store.events::<E>().map(|e| e.expect("decodes")).collect()
}

/// Checks that the store holds exactly the fixture, by kind, by key and by prefix.
fn check(store: &Store, f: &Fixture) {
    assert_eq!(all::<Change>(store), sorted(&f.changes));
    assert_eq!(all::<Commit>(store), sorted(&f.commits));
    assert_eq!(all::<Deployment>(store), sorted(&f.deployments));
    assert_eq!(all::<Incident>(store), sorted(&f.incidents));
    assert_eq!(all::<Bug>(store), sorted(&f.bugs));
    assert_eq!(all::<RevenueMonthRows>(store), f.revenue);
    assert_eq!(all::<RevenueAttributes>(store), f.attributes);
    assert_eq!(all::<ImportRecord>(store), f.imports);
    assert_eq!(all::<CodeOwnersFile>(store), sorted(&f.codeowners));
    assert_eq!(all::<ImportChunk<Ticket>>(store), f.tickets);
    assert_eq!(all::<ImportCurrent<Ticket>>(store), f.ticket_current);
    assert_eq!(all::<ImportChunk<MetricRow>>(store), f.metrics);
    assert_eq!(all::<ImportCurrent<MetricRow>>(store), f.metric_current);
    for c in &f.changes {
        assert_eq!(
            store.event::<Change>(&c.natural_key()).unwrap().as_ref(),
            Some(c)
        );
    }
    for c in &f.commits {
        assert_eq!(
            store.event::<Commit>(&c.natural_key()).unwrap().as_ref(),
            Some(c)
        );
    }
    assert_eq!(store.event::<Change>("acme/api#301").unwrap(), None);
    // "acme/api#" must not reach into acme/api-gw, which sorts between acme/api's keys.
    let api: Vec<Change> = store
        .events_with_prefix::<Change>("acme/api#")
        .map(|e| e.unwrap())
        .collect();
    let expected: Vec<Change> = sorted(&f.changes)
        .into_iter()
        .filter(|c| c.repo == "acme/api")
        .collect();
    assert_eq!(api, expected);
    let counts = store.event_counts();
    assert_eq!(counts.get("change"), Some(&900));
    assert_eq!(counts.get("commit"), Some(&900));
    assert_eq!(counts.get("deployment"), Some(&3));
    assert_eq!(counts.get("revenue_attributes"), Some(&1));
    assert_eq!(counts.get("codeowners"), Some(&3));
    for kind in [
        "ticket_chunk",
        "ticket_current",
        "metric_chunk",
        "metric_current",
    ] {
        assert_eq!(counts.get(kind), Some(&1), "{kind}");
    }
}

fn delivery() -> Delivery {
    Delivery {
        event: "deployment_status".into(),
        received_at: at(500),
    }
}

fn series() -> SeriesKey {
    SeriesKey::new("slo_good_events", [("service", "api")]).unwrap()
}

#[test]
fn a_schema_1_store_is_converted_on_open_and_every_event_reads_back_identical() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture();
    {
        // Points, cursors and webhook deliveries have the same layout in both schemas.
        let store = Store::open(dir.path()).unwrap();
        let mut batch = WriteBatch::new();
        batch.put_point(&series(), 1_000, 0.5);
        batch.set_cursor(
            "github",
            "acme/api/pulls",
            Cursor {
                etag: Some("W/\"1\"".into()),
                ..Cursor::default()
            },
        );
        batch.remember_delivery("github", "d-1", delivery());
        store.commit(batch).unwrap();
    }
    {
        let db = raw(dir.path());
        write_v1(&db, &f, 0, true);
    }

    {
        let store = Store::open(dir.path()).unwrap();
        check(&store, &f);
        assert_eq!(
            store.range(&series(), 0, 2_000).unwrap(),
            vec![Point {
                ts: 1_000,
                value: 0.5
            }]
        );
        assert_eq!(
            store
                .cursor("github", "acme/api/pulls")
                .unwrap()
                .unwrap()
                .etag
                .as_deref(),
            Some("W/\"1\"")
        );
        assert_eq!(store.delivery("github", "d-1").unwrap(), Some(delivery()));
        // A re-sync of the same events finds nothing changed.
        let mut batch = WriteBatch::new();
        f.changes.iter().for_each(|e| batch.upsert_event(e));
        f.attributes.iter().for_each(|e| batch.upsert_event(e));
        let stats = store.commit(batch).unwrap();
        assert_eq!(
            (
                stats.events_unchanged,
                stats.events_updated,
                stats.events_inserted
            ),
            (901, 0, 0)
        );
        assert_eq!(store.event_generation(), 0);
    }

    // Nothing of the old layout is left, and the new version is recorded.
    let db = raw(dir.path());
    assert_eq!(db.scan_prefix([3u8]).count(), 0);
    assert_eq!(
        db.get(schema_key()).unwrap().as_deref(),
        Some(&SCHEMA_VERSION.to_be_bytes()[..])
    );
    drop(db);
    check(&Store::open(dir.path()).unwrap(), &f);
}

/// A store of schema 2 (events in blocks, revenue months by name), 3 or 4 is read as it is: on
/// open only its version moves, so that a reader of version 2 is then refused with a clear
/// message rather than failing on a coded revenue month (and one of 3 or 4 rather than writing
/// without the kept counts or the change logs); the change logs start at its data generation.
#[test]
fn a_schema_2_3_or_4_store_opens_with_nothing_converted_but_its_version() {
    for version in [2u32, 3, 4] {
        let dir = tempfile::tempdir().unwrap();
        let f = fixture();
        {
            let db = raw(dir.path());
            write_v1(&db, &f, 0, true);
        }
        drop(Store::open(dir.path()).unwrap());
        let before = {
            let db = raw(dir.path());
            db.insert(schema_key(), &version.to_be_bytes()).unwrap();
            // As an earlier version left it: no change logs, some commits made.
            db.remove(logs_since_key()).unwrap();
            let mut generation = vec![0u8];
            generation.extend_from_slice(b"data_generation");
            db.insert(generation, &7u64.to_be_bytes()).unwrap();
            db.flush().unwrap();
            dump(&db)
        };
        let store = Store::open(dir.path()).unwrap();
        check(&store, &f);
        // What was written before the move is unknown to the logs: they start now.
        assert_eq!((store.logs_since(), store.data_generation()), (7, 7));
        drop(store);
        let db = raw(dir.path());
        assert_eq!(
            db.get(schema_key()).unwrap().as_deref(),
            Some(&SCHEMA_VERSION.to_be_bytes()[..]),
            "from schema {version}"
        );
        // Reading may add the kept event counts (a store of version 2 or 3 has none); nothing
        // else moves.
        let unversioned = |d: Vec<(sled::IVec, sled::IVec)>| -> Vec<(sled::IVec, sled::IVec)> {
            d.into_iter()
                .filter(|(k, _)| {
                    ![schema_key(), counts_key(), logs_since_key()]
                        .iter()
                        .any(|m| k.as_ref() == m.as_slice())
                })
                .collect()
        };
        assert_eq!(
            unversioned(dump(&db)),
            unversioned(before),
            "from schema {version}"
        );
    }
}

/// The key of the data generation the change logs start at (tag 0, as the schema version).
fn logs_since_key() -> Vec<u8> {
    let mut key = vec![0u8];
    key.extend_from_slice(b"logs_since");
    key
}

/// The key of the event counts the store keeps (tag 0, as the schema version).
fn counts_key() -> Vec<u8> {
    let mut key = vec![0u8];
    key.extend_from_slice(b"event_counts");
    key
}

/// The event counts kept in the database, as stored.
fn kept_counts(dir: &Path) -> Option<BTreeMap<String, u64>> {
    raw(dir)
        .get(counts_key())
        .unwrap()
        .map(|v| postcard::from_bytes(&v).unwrap())
}

#[test]
fn the_event_counts_are_kept_with_each_commit_and_counted_once_for_an_older_store() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture();
    let (changes, commits) = (&f.changes[..3], &f.commits[..2]);
    let counts = |c: u64, k: u64| -> BTreeMap<String, u64> {
        [("change".to_owned(), c), ("commit".to_owned(), k)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect()
    };
    {
        let store = Store::open(dir.path()).unwrap();
        // Counted before anything is written: an empty store keeps empty counts.
        assert!(store.is_empty());
        let mut batch = WriteBatch::new();
        changes.iter().for_each(|e| batch.upsert_event(e));
        commits.iter().for_each(|e| batch.upsert_event(e));
        store.commit(batch).unwrap();
        // 3 pull requests, 2 commits.
        assert_eq!(store.event_counts(), counts(3, 2));
        // The same events again, a commit changed (its time), and one pull request deleted: 3 - 1 = 2 pull
        // requests, still 2 commits.
        let mut batch = WriteBatch::new();
        changes.iter().for_each(|e| batch.upsert_event(e));
        let mut edited = commits[0].clone();
        edited.committed_at += chrono::Duration::seconds(1);
        batch.upsert_event(&edited);
        batch.delete_event::<Change>(&changes[2].natural_key());
        store.commit(batch).unwrap();
        assert_eq!(store.event_counts(), counts(2, 2));
    }
    // Kept in the store with the commit that moved them.
    assert_eq!(kept_counts(dir.path()), Some(counts(2, 2)));
    {
        // Reopened: the kept counts are read, and a commit in a process that never asked for
        // them still moves them (+1 pull request).
        let store = Store::open(dir.path()).unwrap();
        let mut batch = WriteBatch::new();
        batch.upsert_event(&changes[2]);
        store.commit(batch).unwrap();
    }
    assert_eq!(kept_counts(dir.path()), Some(counts(3, 2)));
    // A store written before they were kept (no entry) is counted from its blocks once, and the
    // count kept.
    {
        let db = raw(dir.path());
        db.remove(counts_key()).unwrap();
        db.flush().unwrap();
    }
    {
        let store = Store::open(dir.path()).unwrap();
        let mut batch = WriteBatch::new();
        batch.upsert_event(&commits[1]);
        store.commit(batch).unwrap();
        // Not counted by the commit (nothing to move), counted when asked.
        assert_eq!(store.event_counts(), counts(3, 2));
    }
    assert_eq!(kept_counts(dir.path()), Some(counts(3, 2)));
    // Counts that cannot be read (a damaged entry: cut short, or an empty map with bytes left
    // over) neither refuse a commit nor count: the blocks are counted again and the count kept
    // anew.
    for damaged in [&[0xff, 0xff, 0xff][..], &[0x00, 0x07][..]] {
        {
            let db = raw(dir.path());
            db.insert(counts_key(), damaged).unwrap();
            db.flush().unwrap();
        }
        {
            let store = Store::open(dir.path()).unwrap();
            let mut batch = WriteBatch::new();
            batch.upsert_event(&commits[0]);
            store.commit(batch).unwrap();
            assert_eq!(store.event_counts(), counts(3, 2), "{damaged:?}");
        }
        assert_eq!(kept_counts(dir.path()), Some(counts(3, 2)), "{damaged:?}");
    }
}

#[test]
fn a_conversion_cut_short_carries_on_at_the_next_open() {
    // A conversion moves events in atomic steps and records the new version last: cut short,
    // the store says schema 1 and holds some events in blocks, the rest in the old layout.
    let dir = tempfile::tempdir().unwrap();
    let f = fixture();
    {
        let store = Store::open(dir.path()).unwrap();
        let mut batch = WriteBatch::new();
        f.changes[..450].iter().for_each(|e| batch.upsert_event(e));
        f.commits.iter().for_each(|e| batch.upsert_event(e));
        store.commit(batch).unwrap();
    }
    {
        let db = raw(dir.path());
        write_v1(&db, &f, 450, false);
    }
    check(&Store::open(dir.path()).unwrap(), &f);
}

/// Adds the schema-1 entries of every stored event of type `E` to `out`; returns its kind.
fn v1_of<E: Event>(store: &Store, out: &mut Vec<(Vec<u8>, Vec<u8>)>) -> &'static str {
    out.extend(store.events::<E>().map(|e| v1_entry(&e.unwrap())));
    E::KIND
}

/// The ticket chunks of a schema-2 database as schema 1 kept them: under tag 3, each value the
/// chunk's own bytes (a version byte, then its columns), read straight out of the event blocks
/// (a record's first byte is its codec, 2 for a chunk's own bytes).
fn v1_ticket_chunks(db: &sled::Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    let out: Vec<_> = block_records(db, "ticket_chunk")
        .into_iter()
        .map(|(key, record)| {
            assert_eq!(record[0], 2, "a chunk in its own bytes");
            let mut k = b"\x03ticket_chunk\0".to_vec();
            k.extend_from_slice(&key);
            (k, record[1..].to_vec())
        })
        .collect();
    assert!(!out.is_empty(), "the demo has ticket chunks");
    out
}

/// Every (natural key, record) of `kind` in a database's event blocks: a block is a `u32`
/// count, then per record its key and the record, each after its `u32` length (little-endian).
fn block_records(db: &sled::Db, kind: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut prefix = vec![6u8];
    prefix.extend_from_slice(kind.as_bytes());
    prefix.push(0);
    let mut out = Vec::new();
    for kv in db.scan_prefix(prefix) {
        let (_, block) = kv.unwrap();
        let mut rest = &block[4..];
        let mut take = || {
            let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
            let part = rest[4..4 + len].to_vec();
            rest = &rest[4 + len..];
            part
        };
        for _ in 0..u32::from_le_bytes(block[..4].try_into().unwrap()) {
            let key = take();
            out.push((key, take()));
        }
    }
    out
}

/// Rewrites a store in the layout of schema 1, as the previous version would have left it: every
/// event one JSON entry, no blocks, schema version 1; points, cursors and deliveries as they are.
/// Returns the event counts by kind beforehand.
fn downgrade(path: &Path) -> BTreeMap<String, u64> {
    let mut v1 = Vec::new();
    let (counts, kinds) = {
        let store = Store::open(path).unwrap();
        let kinds = BTreeSet::from([
            v1_of::<Deployment>(&store, &mut v1),
            v1_of::<Change>(&store, &mut v1),
            v1_of::<Commit>(&store, &mut v1),
            v1_of::<Incident>(&store, &mut v1),
            v1_of::<Bug>(&store, &mut v1),
            v1_of::<RevenueMonthRows>(&store, &mut v1),
            v1_of::<RevenueTotal>(&store, &mut v1),
            v1_of::<RevenueMonth>(&store, &mut v1),
            v1_of::<ImportRecord>(&store, &mut v1),
            v1_of::<RevenueAttributes>(&store, &mut v1),
            v1_of::<RevenueAttributesCurrent>(&store, &mut v1),
            v1_of::<CodeOwnersFile>(&store, &mut v1),
            // Ticket chunks are not serde events (see `v1_ticket_chunks`).
            "ticket_chunk",
            v1_of::<ImportCurrent<Ticket>>(&store, &mut v1),
            v1_of::<ImportChunk<MetricRow>>(&store, &mut v1),
            v1_of::<ImportCurrent<MetricRow>>(&store, &mut v1),
        ]);
        (store.event_counts(), kinds)
    };
    for kind in counts.keys() {
        assert!(
            kinds.contains(kind.as_str()),
            "the store holds {kind} events this test does not rewrite"
        );
    }
    let db = raw(path);
    v1.extend(v1_ticket_chunks(&db));
    assert_eq!(v1.len() as u64, counts.values().sum::<u64>());
    // Tag 6: the event blocks of schema 2.
    let blocks: Vec<_> = db.scan_prefix([6u8]).keys().map(|k| k.unwrap()).collect();
    assert!(!blocks.is_empty());
    for k in blocks {
        db.remove(k).unwrap();
    }
    for (k, v) in v1 {
        db.insert(k, v).unwrap();
    }
    db.insert(schema_key(), &1u32.to_be_bytes()).unwrap();
    db.flush().unwrap();
    counts
}

#[test]
fn the_demo_written_by_schema_1_gives_the_golden_figures_once_converted() {
    // Arrange: the golden tests' demo store (every kind of event the demo writes), rewritten as
    // the previous version would have stored it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    crate::golden::copy_dir(crate::golden::seeded(), &path);
    let counts = downgrade(&path);

    // Act: the first command converts the store; the others read the converted store.
    let outputs = [
        ("report.json", vec!["report", "--format", "json"]),
        (
            "dora.json",
            vec!["dora", "--weeks", "8", "--format", "json"],
        ),
        ("revenue.json", vec!["revenue", "--format", "json"]),
        ("digest.md", vec!["digest", "--print", "markdown"]),
    ]
    .map(|(golden, args)| (golden, crate::golden::command_in(&path, &args)));

    // Assert: every figure is the golden one, and so is every event count (`/metrics` serves
    // them as `barometer_store_events`).
    for (golden, actual) in outputs {
        let expected = std::fs::read_to_string(crate::golden::golden_path(golden)).unwrap();
        assert!(expected == actual, "{golden} differs after the conversion");
    }
    let db = raw(&path);
    assert_eq!(
        db.scan_prefix([3u8]).count(),
        0,
        "nothing of schema 1 is left"
    );
    let converted = dump(&db);
    drop(db);
    assert_eq!(Store::open(&path).unwrap().event_counts(), counts);
    // Opening the converted store again changes nothing.
    assert_eq!(dump(&raw(&path)), converted);
}

/// How many records of `kind` each codec byte starts.
fn codecs(db: &sled::Db, kind: &str) -> BTreeMap<u8, usize> {
    let mut out = BTreeMap::new();
    for (_, record) in block_records(db, kind) {
        *out.entry(record[0]).or_insert(0) += 1;
    }
    out
}

#[test]
fn the_demo_s_delivery_and_revenue_events_are_stored_in_postcard() {
    // The bulk of a store (commits with and without their files, pull requests, deployments,
    // incidents, revenue months) must be in postcard (codec 0), not left in JSON (codec 1)
    // because a serde attribute keeps postcard from carrying it back.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    crate::golden::copy_dir(crate::golden::seeded(), &path);
    let db = raw(&path);
    for kind in [
        "deployment",
        "change",
        "commit",
        "incident",
        "bug",
        "revenue",
    ] {
        let found = codecs(&db, kind);
        assert!(found.get(&0).is_some_and(|n| *n > 0), "{kind}: {found:?}");
        assert_eq!(
            found.keys().collect::<Vec<_>>(),
            vec![&0u8],
            "{kind}: {found:?}"
        );
    }
}
