//! The embedded store: the only module that touches sled.
//!
//! Everything lives in sled's default tree, so that one `apply_batch` — sled's atomic unit, also
//! across a crash — covers points, events and the source cursors that describe them. Keys start with
//! a one-byte tag:
//!
//! | tag | key                                              | value                    |
//! |-----|--------------------------------------------------|--------------------------|
//! | 0   | `schema_version`                                 | u32, big-endian          |
//! | 1   | metric name, NUL, then `label NUL value NUL`…    | series id, u64 BE        |
//! | 2   | series id (u64 BE), block start (i64, sign-flipped BE) | the block's points   |
//! | 3   | event kind, NUL, natural key                     | the event as JSON        |
//! | 4   | source, NUL, cursor name                         | [`Cursor`] as JSON       |
//!
//! Flipping the sign bit of a two's-complement timestamp and writing it big-endian makes sled's
//! byte order equal to time order over the whole `i64` range, before 1970 included. Series are
//! addressed by a small id so that each block key is 17 bytes whatever the labels.
//!
//! Points are kept in blocks of one UTC day per series (like the chunks of a TSDB): a block's
//! value is its points sorted by time, 16 bytes each (timestamp and value, little-endian). sled
//! spends about 10 µs and ~150 bytes of memory per entry whatever its size, so an hour-resolution
//! series costs 24 times fewer entries this way; a commit merges new points into the blocks they
//! fall in (a point at an existing timestamp replaces it).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::model::{Event, Point, SeriesKey};

/// Entries per batch that sources should not exceed.
///
/// A batch is atomic, but sled 0.34 holds a whole batch in memory as one log reservation, and its
/// memory use balloons past a few hundred entries: 1 M points written in 10 000-entry batches
/// peaked at 3.2 GB RSS, in 500-entry batches at 150 MB, and ran faster (measured on this kind of
/// machine; see BENCHMARKS.md). Sources cut their work into chunks of this size, each with its
/// cursor, which keeps every chunk atomic and resumable.
pub const BATCH_ENTRIES: usize = 500;

/// The on-disk layout version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

mod encoding;

use encoding::{
    block_key, block_of, decode_block, decode_series, encode_series, merge_points, series_prefix,
    tagged, META_SCHEMA, TAG_CURSOR, TAG_EVENT, TAG_META, TAG_SERIES,
};
pub use encoding::{encode_block, BLOCK_MS};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the database lock.
    #[error(
        "the data directory {path} is in use by another running barometer (or another process); \
         stop it, or set storage.path to another directory"
    )]
    Locked {
        /// The data directory.
        path: PathBuf,
    },
    /// The directory cannot be created, read or written.
    #[error("cannot open the data directory {path}: {source}")]
    Unreadable {
        /// The data directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The store was written by a newer (or foreign) layout.
    #[error(
        "the data directory {path} has store schema version {found}, but this barometer reads \
         version {supported}; use the barometer release that wrote it, or start a new storage.path"
    )]
    UnknownSchema {
        /// The data directory.
        path: PathBuf,
        /// Version found on disk.
        found: u32,
        /// Version this build supports.
        supported: u32,
    },
    /// Stored bytes that do not decode.
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    /// A batch item that cannot be stored; the whole batch is refused.
    #[error("refused {what}: {reason}")]
    Invalid {
        /// What was refused (e.g. `deployment event "x"`).
        what: String,
        /// Why.
        reason: String,
    },
    /// An event that does not serialize or deserialize.
    #[error("{kind} event {key:?}: {source}")]
    Codec {
        /// Event kind.
        kind: String,
        /// Natural key.
        key: String,
        /// The serde error.
        source: serde_json::Error,
    },
    /// Any other sled failure.
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
}

/// Where a source stands in an upstream listing: written in the same batch as the data it covers,
/// so a crash can never leave a cursor ahead of (or behind) its data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Source-defined position (a timestamp, a page URL, an id).
    pub position: Option<String>,
    /// The `ETag` of the last full answer, for conditional requests.
    pub etag: Option<String>,
    /// The `Last-Modified` of the last full answer.
    pub last_modified: Option<String>,
    /// When the cursor was written.
    pub updated_at: Option<DateTime<Utc>>,
}

/// An event waiting in a batch: kind, natural key, and its JSON (or why it did not encode), or
/// `None` to delete it.
type PendingEvent = (&'static str, String, Option<Result<Vec<u8>, String>>);

/// Changes to apply together: all of them, or (on any error or crash) none.
#[derive(Debug, Default)]
pub struct WriteBatch {
    points: Vec<(SeriesKey, Vec<Point>)>,
    events: Vec<PendingEvent>,
    cursors: Vec<(String, String, Cursor)>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds points to a series; a point at an existing timestamp replaces it.
    pub fn put_points(&mut self, key: &SeriesKey, points: impl IntoIterator<Item = Point>) {
        match self.points.last_mut() {
            Some((k, v)) if k == key => v.extend(points),
            _ => self
                .points
                .push((key.clone(), points.into_iter().collect())),
        }
    }

    /// Adds one point.
    pub fn put_point(&mut self, key: &SeriesKey, ts: i64, value: f64) {
        self.put_points(key, [Point { ts, value }]);
    }

    /// Inserts or replaces an event under its natural key.
    pub fn upsert_event<E: Event>(&mut self, event: &E) {
        let bytes = serde_json::to_vec(event).map_err(|e| e.to_string());
        self.events
            .push((E::KIND, event.natural_key(), Some(bytes)));
    }

    /// Deletes an event (nothing happens if it does not exist).
    pub fn delete_event<E: Event>(&mut self, natural_key: &str) {
        self.events.push((E::KIND, natural_key.to_owned(), None));
    }

    /// Sets a source's cursor.
    pub fn set_cursor(&mut self, source: &str, name: &str, cursor: Cursor) {
        self.cursors
            .push((source.to_owned(), name.to_owned(), cursor));
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.events.is_empty() && self.cursors.is_empty()
    }

    /// Number of points in the batch.
    pub fn point_count(&self) -> usize {
        self.points.iter().map(|(_, p)| p.len()).sum()
    }
}

/// What a commit changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CommitStats {
    /// Points written (new or replaced).
    pub points: u64,
    /// Series created by this batch.
    pub new_series: u64,
    /// Events that were not stored before.
    pub events_inserted: u64,
    /// Events stored before with other content.
    pub events_updated: u64,
    /// Events stored before with the same content (nothing written).
    pub events_unchanged: u64,
    /// Events deleted.
    pub events_deleted: u64,
}

impl CommitStats {
    /// Whether the commit changed any event or series (points are written without comparing).
    pub fn changed_events(&self) -> bool {
        self.events_inserted + self.events_updated + self.events_deleted + self.new_series > 0
    }
}

struct SeriesIndex {
    ids: HashMap<SeriesKey, u64>,
    next_id: u64,
}

/// The store. Cheap to share behind an `Arc`; reads are lock-free, writes are serialised.
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    index: RwLock<SeriesIndex>,
    /// Events per kind; counted from disk on first use (a scan reads every value, which a
    /// one-shot command should not pay for), then kept up to date by commits.
    event_counts: Mutex<Option<BTreeMap<String, u64>>>,
    write_lock: Mutex<()>,
    generation: watch::Sender<u64>,
    /// Commits that inserted, changed or deleted an event.
    event_generation: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn is_lock_error(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock")
}

impl Store {
    /// Opens (or creates) the store in `path`.
    ///
    /// Fails with [`StoreError::Locked`] when another process has it open, and with
    /// [`StoreError::UnknownSchema`] when it was written by another layout version.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let unreadable = |source| StoreError::Unreadable {
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(path).map_err(unreadable)?;
        // sled releases its file lock when its background flusher ends, a moment after the last
        // handle is dropped; a restart in the same process (or a quick service restart) must not
        // read that moment as "in use by another process".
        let mut attempts = 0;
        let db = loop {
            match sled::Config::new()
                .path(path)
                .mode(sled::Mode::HighThroughput)
                .open()
            {
                Ok(db) => break db,
                Err(sled::Error::Io(io)) if is_lock_error(&io) && attempts < 40 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                Err(sled::Error::Io(io)) if is_lock_error(&io) => {
                    return Err(StoreError::Locked {
                        path: path.to_owned(),
                    })
                }
                Err(sled::Error::Io(io)) => return Err(unreadable(io)),
                Err(other) => return Err(StoreError::Sled(other)),
            }
        };
        check_schema(&db, path)?;

        let mut ids = HashMap::new();
        let mut next_id = 0;
        for kv in db.scan_prefix([TAG_SERIES]) {
            let (k, v) = kv?;
            let key = decode_series(&k)
                .ok_or_else(|| StoreError::Corrupt(format!("undecodable series key {k:?}")))?;
            let id = u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(format!("bad series id for {key}")))?,
            );
            next_id = next_id.max(id + 1);
            ids.insert(key, id);
        }
        Ok(Self {
            db,
            path: path.to_owned(),
            index: RwLock::new(SeriesIndex { ids, next_id }),
            event_counts: Mutex::new(None),
            write_lock: Mutex::new(()),
            generation: watch::channel(0).0,
            event_generation: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies a batch atomically and returns what changed.
    ///
    /// Everything is checked and encoded before anything is written; a refused item refuses the
    /// whole batch.
    pub fn commit(&self, batch: WriteBatch) -> Result<CommitStats, StoreError> {
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut stats = CommitStats::default();
        let mut sled_batch = sled::Batch::default();
        let mut new_series: Vec<(SeriesKey, u64)> = Vec::new();
        let mut kinds_added: Vec<&'static str> = Vec::new();
        let mut kinds_removed: Vec<&'static str> = Vec::new();
        // Blocks touched by this batch, merged in memory before one write each.
        let mut blocks: BTreeMap<[u8; 17], Vec<Point>> = BTreeMap::new();
        {
            let index = self.index.read().unwrap_or_else(|p| p.into_inner());
            let mut next_id = index.next_id;
            for (key, points) in &batch.points {
                let id = match index.ids.get(key) {
                    Some(id) => *id,
                    None => match new_series.iter().find(|(k, _)| k == key) {
                        Some((_, id)) => *id,
                        None => {
                            let id = next_id;
                            next_id += 1;
                            sled_batch.insert(encode_series(key), &id.to_be_bytes());
                            new_series.push((key.clone(), id));
                            id
                        }
                    },
                };
                let mut by_block: BTreeMap<i64, Vec<Point>> = BTreeMap::new();
                for p in points {
                    by_block.entry(block_of(p.ts)).or_default().push(*p);
                }
                for (start, new) in by_block {
                    let k = block_key(id, start);
                    let old = match blocks.remove(&k) {
                        Some(pending) => pending,
                        None => match self.db.get(k)? {
                            Some(bytes) => decode_block(&bytes)?,
                            None => Vec::new(),
                        },
                    };
                    blocks.insert(k, merge_points(old, &new));
                }
                stats.points += points.len() as u64;
            }
        }
        for (k, points) in blocks {
            sled_batch.insert(&k, encode_block(&points));
        }
        for (kind, key, bytes) in &batch.events {
            if key.is_empty() || key.contains('\0') {
                return Err(StoreError::Invalid {
                    what: format!("{kind} event {key:?}"),
                    reason: "a natural key must be non-empty and contain no NUL".into(),
                });
            }
            let k = tagged(TAG_EVENT, kind, key);
            let Some(bytes) = bytes else {
                if self.db.get(&k)?.is_some() {
                    stats.events_deleted += 1;
                    kinds_removed.push(kind);
                    sled_batch.remove(k);
                }
                continue;
            };
            let bytes = bytes.as_ref().map_err(|e| StoreError::Invalid {
                what: format!("{kind} event {key:?}"),
                reason: format!("does not encode: {e}"),
            })?;
            match self.db.get(&k)? {
                Some(old) if old.as_ref() == bytes.as_slice() => {
                    stats.events_unchanged += 1;
                    continue;
                }
                Some(_) => stats.events_updated += 1,
                None => {
                    stats.events_inserted += 1;
                    kinds_added.push(kind);
                }
            }
            sled_batch.insert(k, bytes.as_slice());
        }
        for (source, name, cursor) in &batch.cursors {
            if source.contains('\0') || source.is_empty() {
                return Err(StoreError::Invalid {
                    what: format!("cursor {source:?}/{name:?}"),
                    reason: "a source name must be non-empty and contain no NUL".into(),
                });
            }
            let bytes = serde_json::to_vec(cursor).map_err(|source_err| StoreError::Codec {
                kind: "cursor".into(),
                key: name.clone(),
                source: source_err,
            })?;
            sled_batch.insert(tagged(TAG_CURSOR, source, name), bytes);
        }
        stats.new_series = new_series.len() as u64;

        // Held across the write so that a first count from disk cannot see this batch and then
        // have it added again below.
        let mut counts = self.event_counts.lock().unwrap_or_else(|p| p.into_inner());
        self.db.apply_batch(sled_batch)?;

        if !new_series.is_empty() {
            let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
            for (key, id) in new_series {
                index.next_id = index.next_id.max(id + 1);
                index.ids.insert(key, id);
            }
        }
        if let Some(counts) = counts.as_mut() {
            for kind in kinds_added {
                *counts.entry(kind.to_owned()).or_insert(0) += 1;
            }
            for kind in kinds_removed {
                let n = counts.entry(kind.to_owned()).or_insert(0);
                *n = n.saturating_sub(1);
            }
        }
        drop(counts);
        if stats.events_inserted + stats.events_updated + stats.events_deleted > 0 {
            self.event_generation
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if !batch.is_empty() {
            self.generation.send_modify(|g| *g += 1);
        }
        Ok(stats)
    }

    /// Points of a series with `from <= ts < to`, in time order. Unknown series give nothing.
    pub fn range(&self, key: &SeriesKey, from: i64, to: i64) -> Result<Vec<Point>, StoreError> {
        let Some(id) = self.series_id(key).filter(|_| from < to) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let first = block_key(id, block_of(from));
        let last = block_key(id, block_of(to - 1));
        for kv in self.db.range(first..=last) {
            let (_, v) = kv?;
            out.extend(
                decode_block(&v)?
                    .into_iter()
                    .filter(|p| p.ts >= from && p.ts < to),
            );
        }
        Ok(out)
    }

    /// The oldest point of a series.
    pub fn first(&self, key: &SeriesKey) -> Result<Option<Point>, StoreError> {
        let Some(id) = self.series_id(key) else {
            return Ok(None);
        };
        match self.db.scan_prefix(series_prefix(id)).next() {
            Some(kv) => Ok(decode_block(&kv?.1)?.into_iter().next()),
            None => Ok(None),
        }
    }

    /// The newest point of a series.
    pub fn latest(&self, key: &SeriesKey) -> Result<Option<Point>, StoreError> {
        let Some(id) = self.series_id(key) else {
            return Ok(None);
        };
        match self.db.scan_prefix(series_prefix(id)).next_back() {
            Some(kv) => Ok(decode_block(&kv?.1)?.pop()),
            None => Ok(None),
        }
    }

    fn series_id(&self, key: &SeriesKey) -> Option<u64> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        index.ids.get(key).copied()
    }

    /// Series whose name is `name` (any name when `None`) and that carry every label in `labels`,
    /// sorted.
    pub fn series(&self, name: Option<&str>, labels: &[(&str, &str)]) -> Vec<SeriesKey> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<SeriesKey> = index
            .ids
            .keys()
            .filter(|k| name.is_none_or(|n| k.name() == n))
            .filter(|k| labels.iter().all(|(l, v)| k.label(l) == Some(*v)))
            .cloned()
            .collect();
        out.sort();
        out
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        index.ids.len()
    }

    /// One event by its natural key.
    pub fn event<E: Event>(&self, natural_key: &str) -> Result<Option<E>, StoreError> {
        let Some(bytes) = self.db.get(tagged(TAG_EVENT, E::KIND, natural_key))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Codec {
                kind: E::KIND.into(),
                key: natural_key.into(),
                source,
            })
    }

    /// Every event of a kind, in natural-key order.
    pub fn events<'a, E: Event + 'a>(&'a self) -> impl Iterator<Item = Result<E, StoreError>> + 'a {
        self.events_with_prefix("")
    }

    /// Events of a kind whose natural key starts with `key_prefix`, in key order.
    pub fn events_with_prefix<'a, E: Event + 'a>(
        &'a self,
        key_prefix: &str,
    ) -> impl Iterator<Item = Result<E, StoreError>> + 'a {
        let skip = E::KIND.len() + 2;
        self.db
            .scan_prefix(tagged(TAG_EVENT, E::KIND, key_prefix))
            .map(move |kv| {
                let (k, v) = kv?;
                serde_json::from_slice(&v).map_err(|source| StoreError::Codec {
                    kind: E::KIND.into(),
                    key: String::from_utf8_lossy(&k[skip..]).into_owned(),
                    source,
                })
            })
    }

    /// Number of stored events per kind.
    pub fn event_counts(&self) -> BTreeMap<String, u64> {
        let mut guard = self.event_counts.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let mut counts = BTreeMap::new();
            for k in self.db.scan_prefix([TAG_EVENT]).keys() {
                let Ok(k) = k else {
                    tracing::error!("cannot read the store while counting events");
                    return counts;
                };
                let kind = k[1..].split(|b| *b == 0).next().unwrap_or_default();
                *counts
                    .entry(String::from_utf8_lossy(kind).into_owned())
                    .or_insert(0) += 1;
            }
            *guard = Some(counts);
        }
        guard.clone().unwrap_or_default()
    }

    /// A source's cursor.
    pub fn cursor(&self, source: &str, name: &str) -> Result<Option<Cursor>, StoreError> {
        let Some(bytes) = self.db.get(tagged(TAG_CURSOR, source, name))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source_err| StoreError::Codec {
                kind: "cursor".into(),
                key: format!("{source}/{name}"),
                source: source_err,
            })
    }

    /// Every cursor of a source, by name.
    pub fn cursors(&self, source: &str) -> Result<BTreeMap<String, Cursor>, StoreError> {
        let prefix = tagged(TAG_CURSOR, source, "");
        let mut out = BTreeMap::new();
        for kv in self.db.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            let cursor = serde_json::from_slice(&v).map_err(|e| StoreError::Codec {
                kind: "cursor".into(),
                key: format!("{source}/{name}"),
                source: e,
            })?;
            out.insert(name, cursor);
        }
        Ok(out)
    }

    /// Whether the store holds no series and no events.
    pub fn is_empty(&self) -> bool {
        self.series_count() == 0 && self.event_counts().values().all(|n| *n == 0)
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    /// Writes everything to disk; called on shutdown.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// How many non-empty batches were committed since the store was opened: a cheap "has
    /// anything changed" check for caches.
    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// How many commits since the store was opened changed an event (deployment, pull request,
    /// incident, revenue month …): caches of what events say need not be rebuilt when only
    /// points or cursors were written.
    pub fn event_generation(&self) -> u64 {
        self.event_generation
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A receiver that changes whenever a batch is committed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}

fn check_schema(db: &sled::Db, path: &Path) -> Result<(), StoreError> {
    let mut key = vec![TAG_META];
    key.extend_from_slice(META_SCHEMA);
    match db.get(&key)? {
        Some(v) => {
            let found = v
                .as_ref()
                .try_into()
                .map(u32::from_be_bytes)
                .map_err(|_| StoreError::Corrupt("schema version is not a u32".into()))?;
            if found != SCHEMA_VERSION {
                return Err(StoreError::UnknownSchema {
                    path: path.to_owned(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        }
        None => {
            if db.iter().next().is_some() {
                return Err(StoreError::Corrupt(format!(
                    "{} holds data but no schema version; it was not written by barometer",
                    path.display()
                )));
            }
            db.insert(key, &SCHEMA_VERSION.to_be_bytes())?;
            db.flush()?;
        }
    }
    Ok(())
}
