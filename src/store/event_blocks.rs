//! The write side of event blocks: the blocks a batch touches, loaded once, changed in memory and
//! cut back into bounded blocks for the batch's single sled write.
//!
//! On disk a block is keyed by its kind and the natural key of its first event, and holds the
//! events from there up to the next block's first key; so the block that holds (or would hold) a
//! key is the one with the greatest first key not above it. In memory a block is keyed by the
//! start of its range, which may be below its first event (after that one is deleted) but never
//! above; the range starts only move down (a new key before every block of its group), and new
//! blocks start at a key no block covers, so ranges never overlap.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;

use super::encoding::{
    block_first_key, decode_event_block, encode_event_block, event_block_key, key_group, tagged,
    BLOCK_BYTES, BLOCK_EVENTS, TAG_EVENT_BLOCK,
};
use super::StoreError;

#[derive(Debug, Default)]
struct Block {
    /// The first key of the block on disk, when it came from there.
    on_disk: Option<String>,
    records: BTreeMap<String, Vec<u8>>,
    dirty: bool,
}

#[derive(Debug, Default)]
struct KindBlocks {
    /// Blocks by the start of their range.
    blocks: BTreeMap<String, Block>,
    /// First keys of the disk blocks loaded into `blocks` (which may have moved since).
    loaded: HashSet<String>,
}

/// The event blocks of one commit.
pub(super) struct Blocks<'a> {
    db: &'a sled::Db,
    kinds: BTreeMap<String, KindBlocks>,
}

impl<'a> Blocks<'a> {
    pub(super) fn new(db: &'a sled::Db) -> Self {
        Self {
            db,
            kinds: BTreeMap::new(),
        }
    }

    /// The stored record of an event, as this batch has left it so far.
    pub(super) fn get(&mut self, kind: &str, key: &str) -> Result<Option<&[u8]>, StoreError> {
        let Some(start) = self.pred(kind, key)? else {
            return Ok(None);
        };
        Ok(self
            .block(kind, &start)
            .and_then(|b| b.records.get(key))
            .map(Vec::as_slice))
    }

    /// Inserts or replaces a record.
    pub(super) fn put(&mut self, kind: &str, key: &str, record: Vec<u8>) -> Result<(), StoreError> {
        let group = key_group(key);
        let pred = self.pred(kind, key)?;
        let target = match pred {
            // The block that covers the key must take it if it holds later keys; otherwise a
            // block of another group is left alone.
            Some(start)
                if key_group(&start) == group
                    || self.block(kind, &start).is_some_and(|b| {
                        b.records
                            .last_key_value()
                            .is_some_and(|(k, _)| k.as_str() > key)
                    }) =>
            {
                start
            }
            _ => match self.succ(kind, key)? {
                // A key before every block of its group: the group's first block starts here now.
                Some(next) if key_group(&next) == group => {
                    let kb = self.kinds.entry(kind.to_owned()).or_default();
                    let block = kb.blocks.remove(&next).unwrap_or_default();
                    kb.blocks.insert(key.to_owned(), block);
                    key.to_owned()
                }
                _ => {
                    let kb = self.kinds.entry(kind.to_owned()).or_default();
                    kb.blocks.insert(key.to_owned(), Block::default());
                    key.to_owned()
                }
            },
        };
        let kb = self.kinds.entry(kind.to_owned()).or_default();
        if let Some(block) = kb.blocks.get_mut(&target) {
            block.records.insert(key.to_owned(), record);
            block.dirty = true;
        }
        Ok(())
    }

    /// Removes a record; whether it was there.
    pub(super) fn remove(&mut self, kind: &str, key: &str) -> Result<bool, StoreError> {
        let Some(start) = self.pred(kind, key)? else {
            return Ok(false);
        };
        let kb = self.kinds.entry(kind.to_owned()).or_default();
        let Some(block) = kb.blocks.get_mut(&start) else {
            return Ok(false);
        };
        let removed = block.records.remove(key).is_some();
        block.dirty |= removed;
        Ok(removed)
    }

    /// Writes the changed blocks into `batch`: each is cut into blocks within the bounds, keyed
    /// by their first event, and its old key is removed when no longer used.
    pub(super) fn finish(self, batch: &mut sled::Batch) {
        for (kind, kb) in self.kinds {
            for block in kb.blocks.into_values().filter(|b| b.dirty) {
                if let Some(first) = &block.on_disk {
                    // A later insert of the same key (the usual case) wins within a sled batch.
                    batch.remove(event_block_key(&kind, first));
                }
                for piece in cut(&block.records) {
                    let Some((first, _)) = piece.first() else {
                        continue;
                    };
                    let encoded = encode_event_block(piece.iter().map(|(k, r)| (*k, *r)));
                    batch.insert(event_block_key(&kind, first), encoded);
                }
            }
        }
    }

    fn block(&self, kind: &str, start: &str) -> Option<&Block> {
        self.kinds.get(kind)?.blocks.get(start)
    }

    /// The start of the block whose range holds `key` (loading it from disk if needed), if any.
    fn pred(&mut self, kind: &str, key: &str) -> Result<Option<String>, StoreError> {
        let kb = self.kinds.entry(kind.to_owned()).or_default();
        let in_memory = kb
            .blocks
            .range::<str, _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
            .map(|(k, _)| k.clone());
        let lower = tagged(TAG_EVENT_BLOCK, kind, "");
        let disk = self.db.range(lower..=event_block_key(kind, key)).rev();
        nearest(kb, kind, in_memory, disk, std::cmp::Ordering::Less)
    }

    /// The start of the first block after `key` (loading it from disk if needed), if any.
    fn succ(&mut self, kind: &str, key: &str) -> Result<Option<String>, StoreError> {
        let kb = self.kinds.entry(kind.to_owned()).or_default();
        let in_memory = kb
            .blocks
            .range::<str, _>((Bound::Excluded(key), Bound::Unbounded))
            .next()
            .map(|(k, _)| k.clone());
        let prefix = tagged(TAG_EVENT_BLOCK, kind, "");
        let disk = self
            .db
            .range((
                Bound::Excluded(event_block_key(kind, key)),
                Bound::Unbounded,
            ))
            .take_while(move |kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)));
        nearest(kb, kind, in_memory, disk, std::cmp::Ordering::Greater)
    }
}

/// Of the nearest block in memory and the nearest on disk not yet loaded (`disk` walks away from
/// the key), the one nearer the key: `further` is how a block start compares with a nearer one.
/// A disk block that wins is loaded.
fn nearest(
    kb: &mut KindBlocks,
    kind: &str,
    in_memory: Option<String>,
    disk: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    further: std::cmp::Ordering,
) -> Result<Option<String>, StoreError> {
    let mut on_disk = None;
    for kv in disk {
        let (k, v) = kv?;
        let first = block_first_key(kind, &k)?;
        if !kb.loaded.contains(&first) {
            on_disk = Some((first, v));
            break;
        }
    }
    match (in_memory, on_disk) {
        (m, Some((first, bytes))) if m.as_ref().is_none_or(|m| m.cmp(&first) == further) => {
            load(kb, first.clone(), &bytes)?;
            Ok(Some(first))
        }
        (m, _) => Ok(m),
    }
}

fn load(kb: &mut KindBlocks, first: String, bytes: &[u8]) -> Result<(), StoreError> {
    let records = decode_event_block(bytes)?
        .into_iter()
        .map(|(k, r)| (k.to_owned(), r.to_vec()))
        .collect();
    kb.loaded.insert(first.clone());
    kb.blocks.insert(
        first.clone(),
        Block {
            on_disk: Some(first),
            records,
            dirty: false,
        },
    );
    Ok(())
}

/// Cuts sorted records into blocks of one group each, within [`BLOCK_EVENTS`] and
/// [`BLOCK_BYTES`]. An oversized run is cut into equal parts rather than full blocks and a
/// remainder, so that a block that grows one event at a time (at either end) leaves blocks at
/// least about half full, as a B-tree's split does.
fn cut(records: &BTreeMap<String, Vec<u8>>) -> Vec<Vec<(&str, &[u8])>> {
    let mut runs: Vec<Vec<(&str, &[u8])>> = Vec::new();
    for (k, r) in records {
        match runs.last_mut() {
            Some(run)
                if run
                    .first()
                    .is_some_and(|(f, _)| key_group(f) == key_group(k)) =>
            {
                run.push((k.as_str(), r.as_slice()));
            }
            _ => runs.push(vec![(k.as_str(), r.as_slice())]),
        }
    }
    let mut out = Vec::new();
    for run in runs {
        let bytes: usize = run.iter().map(|(k, r)| k.len() + r.len()).sum();
        let parts = run
            .len()
            .div_ceil(BLOCK_EVENTS)
            .max(bytes.div_ceil(BLOCK_BYTES))
            .max(1);
        let (per_count, per_bytes) = (run.len().div_ceil(parts), bytes.div_ceil(parts));
        let mut piece: Vec<(&str, &[u8])> = Vec::new();
        let mut piece_bytes = 0;
        for (k, r) in run {
            let size = k.len() + r.len();
            if !piece.is_empty() && (piece.len() >= per_count || piece_bytes + size > per_bytes) {
                out.push(std::mem::take(&mut piece));
                piece_bytes = 0;
            }
            piece.push((k, r));
            piece_bytes += size;
        }
        if !piece.is_empty() {
            out.push(piece);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, sled::Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::Config::new()
            .temporary(true)
            .path(dir.path())
            .open()
            .expect("sled");
        (dir, db)
    }

    fn apply(db: &sled::Db, f: impl FnOnce(&mut Blocks<'_>)) {
        let mut blocks = Blocks::new(db);
        f(&mut blocks);
        let mut batch = sled::Batch::default();
        blocks.finish(&mut batch);
        db.apply_batch(batch).expect("apply");
    }

    /// Every block as (first key, keys it holds), in sled order.
    fn layout(db: &sled::Db, kind: &str) -> Vec<(String, Vec<String>)> {
        db.scan_prefix(tagged(TAG_EVENT_BLOCK, kind, ""))
            .map(|kv| {
                let (k, v) = kv.expect("read");
                let keys = decode_event_block(&v)
                    .expect("block")
                    .into_iter()
                    .map(|(k, _)| k.to_owned())
                    .collect();
                (block_first_key(kind, &k).expect("key"), keys)
            })
            .collect()
    }

    fn check_invariants(db: &sled::Db, kind: &str) -> Vec<String> {
        let blocks = layout(db, kind);
        let mut all = Vec::new();
        for (first, keys) in &blocks {
            assert_eq!(
                keys.first(),
                Some(first),
                "a block is keyed by its first event"
            );
            assert!(keys.len() <= BLOCK_EVENTS);
            let group = key_group(first);
            assert!(keys.iter().all(|k| key_group(k) == group), "{keys:?}");
            all.extend(keys.iter().cloned());
        }
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(all, sorted, "blocks do not overlap and are in key order");
        all
    }

    #[test]
    fn descending_and_ascending_inserts_keep_blocks_half_full_and_in_order() {
        let (_dir, db) = store();
        // 1 000 keys of repo a/x, newest first, in commits of 100: each key is before every
        // block of its group, so the group's first block grows at its front and splits.
        for chunk in (0..1000).rev().collect::<Vec<_>>().chunks(100) {
            apply(&db, |b| {
                for i in chunk {
                    b.put("change", &format!("a/x#{i:04}"), vec![0, 1])
                        .expect("put");
                }
            });
        }
        // Then 1 000 keys of repo a/y, oldest first, one commit each.
        for i in 0..1000 {
            apply(&db, |b| {
                b.put("change", &format!("a/y#{i:04}"), vec![0, 2])
                    .expect("put");
            });
        }
        let keys = check_invariants(&db, "change");
        assert_eq!(keys.len(), 2000);
        let blocks = layout(&db, "change");
        // 2 000 events in blocks of at most 256 and (after splitting 257 in two) at least 128,
        // except the last block written of each group: at most 2000/128 = 15.6 blocks.
        assert!(blocks.len() <= 16, "{} blocks", blocks.len());
        assert!(blocks.len() >= 8, "{} blocks", blocks.len());
    }

    #[test]
    fn replace_delete_and_lookups_see_the_batch_so_far() {
        let (_dir, db) = store();
        apply(&db, |b| {
            for i in 0..300 {
                b.put("commit", &format!("o/r@{i:03}"), vec![0, 1])
                    .expect("put");
            }
        });
        apply(&db, |b| {
            assert_eq!(
                b.get("commit", "o/r@007").expect("get"),
                Some(&[0u8, 1][..])
            );
            b.put("commit", "o/r@007", vec![0, 9]).expect("put");
            assert_eq!(
                b.get("commit", "o/r@007").expect("get"),
                Some(&[0u8, 9][..])
            );
            assert!(b.remove("commit", "o/r@000").expect("remove"));
            assert!(!b.remove("commit", "o/r@000").expect("remove"));
            assert!(!b.remove("commit", "o/r@999").expect("remove"));
            assert_eq!(b.get("deployment", "o/r@007").expect("get"), None);
        });
        let keys = check_invariants(&db, "commit");
        assert_eq!(keys.len(), 299);
        assert_eq!(
            keys[0], "o/r@001",
            "the first block is re-keyed by its new first event"
        );
        // Deleting every event removes the blocks.
        apply(&db, |b| {
            for i in 0..300 {
                b.remove("commit", &format!("o/r@{i:03}")).expect("remove");
            }
        });
        assert!(layout(&db, "commit").is_empty());
    }

    #[test]
    fn a_large_record_is_a_block_of_its_own() {
        let (_dir, db) = store();
        apply(&db, |b| {
            b.put("revenue", "imp/2026-01", vec![0; BLOCK_BYTES * 2])
                .expect("put");
            b.put("revenue", "imp/2026-02", vec![0; 10]).expect("put");
            b.put("revenue", "imp/2026-03", vec![0; BLOCK_BYTES * 2])
                .expect("put");
        });
        let blocks = layout(&db, "revenue");
        assert_eq!(blocks.len(), 3, "{blocks:?}");
    }
}
