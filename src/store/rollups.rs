//! Rollups: what the read side computed from the store, kept in the store so that a restarted
//! daemon can answer its first request without recomputing it (issue 21).
//!
//! A rollup is stamped with the store's data generation (every commit that writes points or
//! events, over the store's whole life, bumps it in the same atomic batch: see
//! [`Store::data_generation`]) and a fingerprint the caller chooses (its settings, its format
//! version). [`Store::rollup`] hands it back only while both still match: after a commit of data
//! since it was computed, or with other settings, the caller recomputes.
//! [`Store::kept_rollup`] hands it back for the same fingerprint whatever the data, with its
//! generation, for a caller that labels it as older. Writing one is not a commit: it changes
//! no generation.

use super::encoding::{tagged, TAG_META, TAG_ROLLUP};
use super::{Store, StoreError};

/// The meta key of the data generation.
pub(super) const META_DATA_GENERATION: &[u8] = b"data_generation";

pub(super) fn data_generation_key() -> Vec<u8> {
    let mut key = vec![TAG_META];
    key.extend_from_slice(META_DATA_GENERATION);
    key
}

/// Reads the persisted data generation (0 for a store that never had one).
pub(super) fn read_data_generation(db: &sled::Db) -> Result<u64, StoreError> {
    match db.get(data_generation_key())? {
        None => Ok(0),
        Some(v) => v
            .as_ref()
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError::Corrupt("the data generation is not a u64".into())),
    }
}

fn check_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.contains('\0') {
        return Err(StoreError::Invalid {
            what: format!("rollup {name:?}"),
            reason: "a rollup name must be non-empty and contain no NUL".into(),
        });
    }
    Ok(())
}

fn rollup_key(name: &str) -> Vec<u8> {
    tagged(TAG_ROLLUP, name, "")
}

impl Store {
    /// How many commits of points or events this store has made over its whole life (kept on
    /// disk, written in each commit's own atomic batch): two equal values mean the same stored
    /// data, across restarts (cursors and delivery records, a sync's bookkeeping, aside).
    pub fn data_generation(&self) -> u64 {
        *self
            .data_generation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `payload` as the rollup `name`, computed from the store as of `generation` (a
    /// [`Store::data_generation`] read before reading what it was computed from) with the
    /// settings `fingerprint` stands for. Not kept (`Ok(false)`) when a commit came in
    /// meanwhile: it would be stamped as current while it is not.
    pub fn put_rollup(
        &self,
        name: &str,
        generation: u64,
        fingerprint: &[u8],
        payload: &[u8],
    ) -> Result<bool, StoreError> {
        check_name(name)?;
        // Under the write lock: no commit can land between the check and the write.
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        if generation != self.data_generation() {
            return Ok(false);
        }
        self.insert_rollup(name, generation, fingerprint, payload)?;
        Ok(true)
    }

    fn insert_rollup(
        &self,
        name: &str,
        generation: u64,
        fingerprint: &[u8],
        payload: &[u8],
    ) -> Result<(), StoreError> {
        check_name(name)?;
        let mut value = frame(generation, fingerprint)?;
        value.extend_from_slice(payload);
        self.db.insert(rollup_key(name), value)?;
        Ok(())
    }

    /// The rollup `name`, when it was computed from the data stored now with the settings
    /// `fingerprint` stands for; `None` otherwise (never kept, stale, other settings).
    pub fn rollup(&self, name: &str, fingerprint: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .kept_rollup(name, fingerprint)?
            .filter(|k| k.generation == self.data_generation())
            .map(|k| k.payload))
    }

    /// The rollup `name` as last kept with the settings `fingerprint` stands for, whether or
    /// not a commit came since (its `generation` says from which data): what a daemon that has
    /// not computed anything yet can show, labelled as older, while it computes the current one.
    pub fn kept_rollup(
        &self,
        name: &str,
        fingerprint: &[u8],
    ) -> Result<Option<KeptRollup>, StoreError> {
        self.kept_rollup_where(name, |stamped| stamped == fingerprint)
    }

    /// The rollup `name` as last kept, when `accept` takes the fingerprint it was kept with
    /// (handed back in [`KeptRollup::fingerprint`]): e.g. the same settings from another build.
    pub fn kept_rollup_where(
        &self,
        name: &str,
        accept: impl Fn(&[u8]) -> bool,
    ) -> Result<Option<KeptRollup>, StoreError> {
        let Some(value) = self.db.get(rollup_key(name))? else {
            return Ok(None);
        };
        unframe(name, value.to_vec(), accept)
    }
}

/// The head of a kept value: its stamp (a generation), then its fingerprint after its length.
fn frame(stamp: u64, fingerprint: &[u8]) -> Result<Vec<u8>, StoreError> {
    let fingerprint_len = u32::try_from(fingerprint.len()).map_err(|_| StoreError::Invalid {
        what: "a rollup".into(),
        reason: "fingerprint longer than 4 GiB".into(),
    })?;
    let mut head = Vec::with_capacity(12 + fingerprint.len());
    head.extend_from_slice(&stamp.to_be_bytes());
    head.extend_from_slice(&fingerprint_len.to_be_bytes());
    head.extend_from_slice(fingerprint);
    Ok(head)
}

/// A kept value of [`frame`] and its payload, when `accept` takes its fingerprint.
fn unframe(
    name: &str,
    mut value: Vec<u8>,
    accept: impl Fn(&[u8]) -> bool,
) -> Result<Option<KeptRollup>, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("rollup {name:?} is truncated"));
    let (generation, rest) = value.split_at_checked(8).ok_or_else(corrupt)?;
    let (len, rest) = rest.split_at_checked(4).ok_or_else(corrupt)?;
    let generation = u64::from_be_bytes(generation.try_into().map_err(|_| corrupt())?);
    let len = u32::from_be_bytes(len.try_into().map_err(|_| corrupt())?) as usize;
    let stamped = rest.get(..len).ok_or_else(corrupt)?;
    if !accept(stamped) {
        return Ok(None);
    }
    let fingerprint = stamped.to_vec();
    value.drain(..12 + len);
    Ok(Some(KeptRollup {
        generation,
        fingerprint,
        payload: value,
    }))
}

/// The folder of the data directory that holds kept files.
const KEPT_DIR: &str = "kept";

/// The kept files of a store's data directory: a handle a background thread can own (writing
/// one takes a while), got from [`Store::kept_files`].
#[derive(Debug, Clone)]
pub struct KeptFiles {
    dir: std::path::PathBuf,
    /// Flushed before a file is written: a file stamped with a generation the store could
    /// still lose in a crash would be taken, after it, against another history.
    db: sled::Db,
    /// One file written at a time: each is written to the same temporary name.
    writing: std::sync::Arc<std::sync::Mutex<()>>,
}

impl Store {
    /// The kept files of this store.
    pub fn kept_files(&self) -> KeptFiles {
        self.kept_files.clone()
    }
}

impl KeptFiles {
    pub(super) fn new(data_dir: &std::path::Path, db: &sled::Db) -> Self {
        Self {
            dir: data_dir.join(KEPT_DIR),
            db: db.clone(),
            writing: Default::default(),
        }
    }

    /// Keeps a large `payload` (tens of megabytes: a whole model) as the file `kept/<name>` of
    /// the data directory, with a stamp the caller gives meaning to (e.g. the
    /// [`Store::event_generation`] it reflects, for a view brought up to date from what changed
    /// since) and a fingerprint of what else it depends on; written whole to a temporary file,
    /// synced, then renamed over the previous one, so that a crash leaves the previous one or
    /// this one. A file rather than a sled value: sled keeps a large value as a blob it removes
    /// only when it reclaims the segment that pointed to it, so each new version would leave
    /// the last one on disk for a long while. `name` is lowercase ASCII letters, digits and `_`.
    pub fn put(
        &self,
        name: &str,
        stamp: u64,
        fingerprint: &[u8],
        payload: &[u8],
    ) -> Result<(), StoreError> {
        use std::io::Write;
        let path = self.path(name)?;
        let unwritable = |source| StoreError::Unreadable {
            path: path.clone(),
            source,
        };
        let _one = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        // What the stamp stands for is on disk before the file that names it.
        self.db.flush()?;
        std::fs::create_dir_all(&self.dir).map_err(unwritable)?;
        let tmp = path.with_extension("tmp");
        {
            let mut f = std::fs::File::create(&tmp).map_err(unwritable)?;
            f.write_all(&frame(stamp, fingerprint)?)
                .and_then(|()| f.write_all(payload))
                .and_then(|()| f.sync_all())
                .map_err(unwritable)?;
        }
        std::fs::rename(&tmp, &path).map_err(unwritable)?;
        Ok(())
    }

    /// [`KeptFiles::put`] on a thread of its own, of the bytes `encode` makes there (encoding a
    /// large value takes a while too): a failure is warned about as keeping `what`, as it only
    /// costs the next process the computation the file would have saved.
    pub fn put_in_background(
        &self,
        name: &'static str,
        stamp: u64,
        fingerprint: Vec<u8>,
        what: &'static str,
        encode: impl FnOnce() -> Result<Vec<u8>, String> + Send + 'static,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let files = self.clone();
        std::thread::Builder::new()
            .name(format!("keep-{name}"))
            .spawn(move || {
                let kept = encode().and_then(|bytes| {
                    files
                        .put(name, stamp, &fingerprint, &bytes)
                        .map_err(|e| e.to_string())
                });
                if let Err(e) = kept {
                    tracing::warn!(error = %e, "could not keep {what} in the store");
                }
            })
    }

    /// The file `kept/<name>` when it was kept with a fingerprint `accept` takes; `None` when
    /// there is none, or another's.
    pub fn get(
        &self,
        name: &str,
        accept: impl Fn(&[u8]) -> bool,
    ) -> Result<Option<KeptRollup>, StoreError> {
        let path = self.path(name)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::Unreadable { path, source }),
        };
        unframe(name, bytes, accept)
    }

    /// Bytes the kept files take (0 before the first one).
    pub(super) fn size(&self) -> Result<u64, StoreError> {
        let unreadable = |source| StoreError::Unreadable {
            path: self.dir.clone(),
            source,
        };
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(unreadable(e)),
        };
        let mut total = 0;
        for entry in entries {
            let meta = entry.and_then(|e| e.metadata()).map_err(unreadable)?;
            if meta.is_file() {
                total += meta.len();
            }
        }
        Ok(total)
    }

    fn path(&self, name: &str) -> Result<std::path::PathBuf, StoreError> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Invalid {
                what: format!("kept file {name:?}"),
                reason: "a kept file's name is lowercase ASCII letters, digits and _".into(),
            });
        }
        Ok(self.dir.join(name))
    }
}

/// A rollup as kept, with the data generation it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptRollup {
    /// The [`Store::data_generation`] of the data it was computed from.
    pub generation: u64,
    /// The fingerprint it was kept with.
    pub fingerprint: Vec<u8>,
    /// What was kept.
    pub payload: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use crate::model::SeriesKey;
    use crate::store::{Cursor, Store, WriteBatch};

    #[test]
    fn a_rollup_is_handed_back_only_while_data_and_fingerprint_match() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store");
        let store = Store::open(&path).expect("open");
        assert_eq!(store.data_generation(), 0);
        let mut batch = WriteBatch::new();
        let key = SeriesKey::new("x", [("a", "b")]).expect("key");
        batch.put_point(&key, 1_000, 1.0);
        store.commit(batch).expect("commit");
        let g = store.data_generation();
        assert_eq!(g, 1);
        assert!(store.put_rollup("view", g, b"v1", b"payload").expect("put"));
        assert_eq!(
            store.rollup("view", b"v1").expect("get").as_deref(),
            Some(&b"payload"[..])
        );
        assert_eq!(store.rollup("view", b"v2").expect("get"), None, "settings");
        assert_eq!(store.rollup("other", b"v1").expect("get"), None);
        // Kept across a restart, with the generation.
        drop(store);
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.data_generation(), 1);
        assert_eq!(
            store.rollup("view", b"v1").expect("get").as_deref(),
            Some(&b"payload"[..])
        );
        // A stale stamp is refused. A cursor alone (a sync that found nothing new) is no
        // data: the rollup stays current.
        assert!(!store.put_rollup("view", 0, b"v1", b"old").expect("put"));
        let mut batch = WriteBatch::new();
        batch.set_cursor("src", "c", Cursor::default());
        store.commit(batch).expect("commit");
        assert_eq!(store.data_generation(), 1);
        assert!(store.rollup("view", b"v1").expect("get").is_some());
        // A commit of data makes it stale.
        let mut batch = WriteBatch::new();
        batch.put_point(&key, 2_000, 2.0);
        store.commit(batch).expect("commit");
        assert_eq!(store.data_generation(), 2);
        assert_eq!(store.rollup("view", b"v1").expect("get"), None);
        // ... yet still there as kept, with the generation it was computed from, for the same
        // settings only.
        let kept = store
            .kept_rollup("view", b"v1")
            .expect("get")
            .expect("kept");
        assert_eq!(
            (kept.generation, kept.payload.as_slice()),
            (1, &b"payload"[..])
        );
        assert_eq!(store.kept_rollup("view", b"v2").expect("get"), None);
        // An empty batch is no commit.
        store.commit(WriteBatch::new()).expect("commit");
        assert_eq!(store.data_generation(), 2);
    }

    #[test]
    fn a_kept_file_comes_back_for_its_fingerprint_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let same = |f: &[u8]| f == b"fp";
        assert_eq!(store.kept_files().get("model", same).expect("read"), None);
        assert_eq!(
            store.kept_files().size().expect("size"),
            0,
            "no kept folder yet"
        );
        store
            .kept_files()
            .put("model", 7, b"fp", b"first")
            .expect("put");
        store
            .kept_files()
            .put("model", 9, b"fp", b"second, longer")
            .expect("put");
        let kept = store
            .kept_files()
            .get("model", same)
            .expect("read")
            .expect("kept");
        assert_eq!(
            (kept.generation, kept.payload.as_slice()),
            (9, &b"second, longer"[..])
        );
        assert_eq!(
            store
                .kept_files()
                .get("model", |f| f == b"other")
                .expect("read"),
            None
        );
        // No temporary file is left behind; other names are refused.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("kept"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["model"]);
        // The store's size counts its kept files: the frame (8 + 4 + 2) and the payload.
        let kept = store.kept_files().size().expect("size");
        assert_eq!(kept, 14 + b"second, longer".len() as u64);
        assert!(store.size_on_disk().expect("size") >= kept);
        for bad in ["", "../x", "A", "a.b"] {
            assert!(
                store.kept_files().put(bad, 1, b"fp", b"x").is_err(),
                "{bad:?}"
            );
            assert!(store.kept_files().get(bad, same).is_err(), "{bad:?}");
        }
        // Cut inside its head: an error, not a panic.
        std::fs::write(dir.path().join("kept").join("model"), [0u8; 10]).expect("write");
        assert!(store.kept_files().get("model", same).is_err());
    }
}
