//! The embedded store: the only module that touches sled.
//!
//! Everything lives in sled's default tree, so that one `apply_batch` — sled's atomic unit, also
//! across a crash — covers points, events and the source cursors that describe them. Keys start with
//! a one-byte tag:
//!
//! | tag | key                                              | value                    |
//! |-----|--------------------------------------------------|--------------------------|
//! | 0   | `schema_version`, `data_generation`, `event_counts`, `logs_since`, `event_generation` | u32 / u64 BE, postcard map, u64 BE |
//! | 0   | `changed`, NUL, event kind, NUL, key group       | generation of its last change, u64 BE |
//! | 0   | `written`, NUL, series id (u64 BE)               | the series' write log (`written`) |
//! | 1   | metric name, NUL, then `label NUL value NUL`…    | series id, u64 BE        |
//! | 2   | series id (u64 BE), block start (i64, sign-flipped BE) | the block's points   |
//! | 3   | (schema 1 only) event kind, NUL, natural key     | the event as JSON        |
//! | 4   | source, NUL, cursor name                         | [`Cursor`] as JSON       |
//! | 5   | source, NUL, webhook delivery id                 | [`Delivery`] as JSON     |
//! | 6   | event kind, NUL, natural key of the block's first event | a block of events |
//! | 7   | rollup name, NUL                                 | stamp, fingerprint, payload |
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
//!
//! Events are kept in blocks too: sorted by natural key, one group of keys per block (what comes
//! before the key's last `/`, `#` or `@`: the repository of a pull request or commit, the
//! repository and source of a deployment, the import of a revenue month), at most
//! 256 events and 32 KiB each. A block holds the events from its first key up to the next
//! block's, so one range read finds the block of a key, and reading a kind or a repository is a
//! few hundred sequential reads for a million events. Each event is a record: a codec byte, then
//! the event in postcard (compact, not self-describing), or in JSON for an event postcard does
//! not carry back identical (`encoding::encode_event` checks each one). A commit rewrites only
//! the blocks its events fall in, in the same atomic batch as the rest. A block's value is a
//! `u32` count, then each event's key and record after their `u32` lengths (little-endian).

//!
//! Layout: this file opens the store and holds its shared state; `batch` is the write side
//! (batches and the atomic commit), `points`, `events` and `cursors` the read side of each kind
//! of record, `rollups` what the read side computed and keeps across restarts, `encoding` the
//! key and block formats, `tickets` the byte form of support-ticket
//! chunks, `revenue_rows` the coded form of revenue months, `changed` which groups of events (kind and key group) each commit changed, for
//! caches that re-read only those, and `written` which series each commit wrote points to, from
//! which timestamp.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use tokio::sync::watch;

use crate::model::SeriesKey;

/// Entries per batch that sources should not exceed.
///
/// A batch is atomic, but sled 0.34 holds a whole batch in memory as one log reservation, and its
/// memory use balloons past a few hundred entries: 1 M points written in 10 000-entry batches
/// peaked at 3.2 GB RSS, in 500-entry batches at 150 MB, and ran faster (measured on this kind of
/// machine; see BENCHMARKS.md). Sources cut their work into chunks of this size, each with its
/// cursor, which keeps every chunk atomic and resumable.
pub const BATCH_ENTRIES: usize = 500;

/// The on-disk layout version this build reads and writes.
///
/// 1: one entry per event, as JSON. 2: events in blocks, in postcard (a store of version 1 is
/// converted on open, see `migrate`). 3: revenue imports may hold coded months and a customer
/// list (`revenue_rows`), which a reader of version 2 cannot decode; months stored by name are
/// read as they are, so a store of version 2 only has its version moved on open. 4: the event
/// counts per kind are kept (`events::event_counts_key`) and moved by every commit, which a
/// writer of version 3 would leave behind; a store of version 2 or 3 only has its version
/// moved on open (it is counted from its blocks when first asked). 5: each commit also logs
/// which groups of events and which series it wrote, with its data generation, so that what
/// was computed before a restart can be brought up to date from what changed since
/// (`changed`, `written`); a writer of version 4 would leave them behind. A store of an
/// earlier version records, on open, the data generation its logs start at
/// ([`Store::logs_since`]): what it wrote before is unknown to them.
pub const SCHEMA_VERSION: u32 = 5;

mod encoding;

use encoding::{decode_series, META_LOGS_SINCE, META_SCHEMA, TAG_META, TAG_SERIES};

mod batch;
mod changed;
mod cursors;
mod deliveries;
mod event_blocks;
mod events;
mod migrate;
mod points;
mod pool_watch;
mod revenue_rows;
mod rollups;
mod tickets;
mod written;

pub use batch::{CommitStats, WriteBatch};
pub use changed::EventGroup;
pub use cursors::Cursor;
pub use deliveries::Delivery;
pub use encoding::{encode_block, BLOCK_MS};
pub use revenue_rows::{StoredMonth, CUSTOMERS_KIND};
pub use rollups::{KeptFiles, KeptRollup};
pub use written::Written;

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
    /// A stored event that does not decode as its kind.
    #[error("{kind} event {key:?} does not decode: {reason}")]
    Undecodable {
        /// Event kind.
        kind: String,
        /// Natural key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The store's background thread could not be started.
    #[error("could not start the store's background thread: {0}")]
    Thread(#[source] io::Error),
    /// Any other sled failure.
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
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
    /// Commits of points or events over the store's life, as kept on disk (`rollups`).
    data_generation: Mutex<u64>,
    /// Commits that inserted, changed or deleted an event, and which groups of events each
    /// changed.
    changed: Mutex<changed::ChangedGroups>,
    /// The data generation from which the change logs are complete (see [`Store::logs_since`]).
    logs_since: u64,
    /// Large payloads kept as files of the data directory (`rollups`).
    kept_files: rollups::KeptFiles,
    /// Random bytes given to the store when it was made (or first opened by schema 5).
    id: [u8; 16],
    /// Keeps sled's I/O pool out of a known deadlock (see `pool_watch`); stopped on drop.
    _pool_watch: pool_watch::PoolWatch,
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
        // Started before a schema-1 store is converted: the conversion rewrites every event.
        let pool_watch = pool_watch::PoolWatch::start(&db).map_err(StoreError::Thread)?;
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
        let data_generation = rollups::read_data_generation(&db)?;
        let logs_since = read_logs_since(&db)?;
        let changed = changed::ChangedGroups::load(&db)?;
        let kept_files = rollups::KeptFiles::new(path, &db);
        let id = store_id(&db)?;
        Ok(Self {
            id,
            db,
            path: path.to_owned(),
            index: RwLock::new(SeriesIndex { ids, next_id }),
            event_counts: Mutex::new(None),
            write_lock: Mutex::new(()),
            generation: watch::channel(0).0,
            data_generation: Mutex::new(data_generation),
            changed: Mutex::new(changed),
            logs_since,
            kept_files,
            _pool_watch: pool_watch,
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store holds no series and no events.
    pub fn is_empty(&self) -> bool {
        self.series_count() == 0 && self.event_counts().values().all(|n| *n == 0)
    }

    /// Bytes the store takes on disk: the database and its kept files (a large store's kept
    /// delivery model alone is over 100 MB).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()? + self.kept_files.size()?)
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

    /// How many commits changed an event (deployment, pull request, incident, revenue month …),
    /// over the store's life since its change logs began (kept on disk, see `changed`): caches
    /// of what events say need not be rebuilt when only points or cursors were written.
    pub fn event_generation(&self) -> u64 {
        self.changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .generation()
    }

    /// The event generation now, and the (kind, key group) pairs whose events the commits after
    /// `generation` inserted, changed or deleted, also across restarts: the group of a natural key is what comes
    /// before its last `/`, `#` or `@` (the repository of a pull request, commit or incident;
    /// the repository and source of a deployment). `None` when that is not known any more (or
    /// the generation is not one of this store's): the caller must read everything.
    pub fn changed_groups_since(&self, generation: u64) -> (u64, Option<BTreeSet<EventGroup>>) {
        self.changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .since(generation)
    }

    /// The data generation from which this store's change logs (the groups of events and the
    /// series each commit wrote) are complete: 0 for a store created with them, the data
    /// generation it had when it was moved from an earlier schema otherwise. A question about
    /// what changed after an earlier generation cannot be answered.
    pub fn logs_since(&self) -> u64 {
        self.logs_since
    }

    /// Random bytes given to this store when it was made: what was computed from one store
    /// and kept beside it (a kept file copied along with another copy's data) is told apart.
    pub fn id(&self) -> [u8; 16] {
        self.id
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
            if (2..SCHEMA_VERSION).contains(&found) {
                // Nothing to convert (see `SCHEMA_VERSION`): from now on a reader of version 2
                // is refused with a clear message instead of failing on a coded month, one of
                // version 3 instead of writing events without moving their kept counts, and one
                // of version 4 instead of writing without logging what it wrote. The logs start
                // here, in the same batch as the version.
                move_version(db, &key)?;
                tracing::info!(
                    path = %path.display(),
                    "the store moved from schema {found} to schema {SCHEMA_VERSION} (nothing to convert)"
                );
            } else if found == 1 {
                let started = std::time::Instant::now();
                let moved = migrate::from_v1(db)?;
                move_version(db, &key)?;
                tracing::info!(
                    events = moved,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    path = %path.display(),
                    "converted the store from schema 1 to schema {SCHEMA_VERSION} (events in blocks)"
                );
            } else if found != SCHEMA_VERSION {
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
            let mut created = sled::Batch::default();
            created.insert(logs_since_key(), &0u64.to_be_bytes());
            created.insert(key, &SCHEMA_VERSION.to_be_bytes());
            db.apply_batch(created)?;
            db.flush()?;
        }
    }
    Ok(())
}

/// [`Store::id`]: read, or made and kept on first open. A damaged one is made again (what was
/// kept against it is then computed again).
fn store_id(db: &sled::Db) -> Result<[u8; 16], StoreError> {
    let mut key = vec![TAG_META];
    key.extend_from_slice(b"store_id");
    if let Some(v) = db.get(&key)? {
        if let Ok(id) = <[u8; 16]>::try_from(v.as_ref()) {
            return Ok(id);
        }
        tracing::warn!("the store's id is damaged: a new one is made");
    }
    let id: [u8; 16] = rand::random();
    db.insert(key, &id)?;
    db.flush()?;
    Ok(id)
}

/// Records this schema version under `key`, with the change logs starting at the store's data
/// generation now, in one batch (a store moved from an earlier schema).
fn move_version(db: &sled::Db, key: &[u8]) -> Result<(), StoreError> {
    let mut version = sled::Batch::default();
    version.insert(
        logs_since_key(),
        &rollups::read_data_generation(db)?.to_be_bytes(),
    );
    version.insert(key, &SCHEMA_VERSION.to_be_bytes());
    db.apply_batch(version)?;
    db.flush()?;
    Ok(())
}

/// The meta key of [`Store::logs_since`].
fn logs_since_key() -> Vec<u8> {
    let mut key = vec![TAG_META];
    key.extend_from_slice(META_LOGS_SINCE);
    key
}

/// Reads [`Store::logs_since`]; a store without one (which `check_schema` never leaves), or
/// with one that does not read, has logs that answer nothing (what was computed before is
/// computed again) rather than being unopenable.
fn read_logs_since(db: &sled::Db) -> Result<u64, StoreError> {
    Ok(match db.get(logs_since_key())? {
        None => u64::MAX,
        Some(v) => match <[u8; 8]>::try_from(v.as_ref()) {
            Ok(b) => u64::from_be_bytes(b),
            Err(_) => {
                tracing::warn!(
                    "the start of the store's change logs is damaged: what was kept is computed again"
                );
                u64::MAX
            }
        },
    })
}
