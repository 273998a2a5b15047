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
//! | 3   | event kind, NUL, natural key                     | the event as JSON (ticket chunks: columns, `tickets`) |
//! | 4   | source, NUL, cursor name                         | [`Cursor`] as JSON       |
//! | 5   | source, NUL, webhook delivery id                 | [`Delivery`] as JSON     |
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
//! Layout: this file opens the store and holds its shared state; `batch` is the write side
//! (batches and the atomic commit), `points`, `events` and `cursors` the read side of each kind
//! of record, `encoding` the key and block formats, and `tickets` the byte form of support-ticket
//! chunks.

use std::collections::{BTreeMap, HashMap};
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
pub const SCHEMA_VERSION: u32 = 1;

mod encoding;

use encoding::{decode_series, META_SCHEMA, TAG_META, TAG_SERIES};

mod batch;
mod cursors;
mod deliveries;
mod events;
mod points;
mod tickets;

pub use batch::{CommitStats, WriteBatch};
pub use cursors::Cursor;
pub use deliveries::Delivery;
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
