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
        if name.is_empty() || name.contains('\0') {
            return Err(StoreError::Invalid {
                what: format!("rollup {name:?}"),
                reason: "a rollup name must be non-empty and contain no NUL".into(),
            });
        }
        // Under the write lock: no commit can land between the check and the write.
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        if generation != self.data_generation() {
            return Ok(false);
        }
        let fingerprint_len =
            u32::try_from(fingerprint.len()).map_err(|_| StoreError::Invalid {
                what: format!("rollup {name:?}"),
                reason: "fingerprint longer than 4 GiB".into(),
            })?;
        let mut value = Vec::with_capacity(12 + fingerprint.len() + payload.len());
        value.extend_from_slice(&generation.to_be_bytes());
        value.extend_from_slice(&fingerprint_len.to_be_bytes());
        value.extend_from_slice(fingerprint);
        value.extend_from_slice(payload);
        self.db.insert(rollup_key(name), value)?;
        Ok(true)
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
        let corrupt = || StoreError::Corrupt(format!("rollup {name:?} is truncated"));
        let (generation, rest) = value.split_at_checked(8).ok_or_else(corrupt)?;
        let (len, rest) = rest.split_at_checked(4).ok_or_else(corrupt)?;
        let generation = u64::from_be_bytes(generation.try_into().map_err(|_| corrupt())?);
        let len = u32::from_be_bytes(len.try_into().map_err(|_| corrupt())?) as usize;
        let (stamped, payload) = rest.split_at_checked(len).ok_or_else(corrupt)?;
        if !accept(stamped) {
            return Ok(None);
        }
        Ok(Some(KeptRollup {
            generation,
            fingerprint: stamped.to_vec(),
            payload: payload.to_vec(),
        }))
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
}
