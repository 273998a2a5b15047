//! The write side: a batch of points, events and cursors, and the commit that applies it
//! atomically.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::encoding::{
    block_key, block_of, decode_block, encode_block, encode_event, encode_series, key_group,
    merge_points, tagged, EncodedEvent, CODEC_JSON, TAG_CURSOR, TAG_DELIVERY,
};
use super::event_blocks::Blocks;
use super::events::encode_counts;
use super::{Cursor, Delivery, Store, StoreError};
use crate::model::{Event, Point, SeriesKey};

/// An event waiting in a batch: kind, natural key, and its encoding (or why it did not encode),
/// or `None` to delete it.
type PendingEvent = (&'static str, String, Option<Result<EncodedEvent, String>>);

/// Changes to apply together: all of them, or (on any error or crash) none.
#[derive(Debug, Default)]
pub struct WriteBatch {
    points: Vec<(SeriesKey, Vec<Point>)>,
    pub(super) events: Vec<PendingEvent>,
    cursors: Vec<(String, String, Cursor)>,
    deliveries: Vec<(String, String, Delivery)>,
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
        self.events
            .push((E::KIND, event.natural_key(), Some(encode_event(event))));
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

    /// Remembers a webhook delivery id of `source`, written with the data the delivery brought,
    /// so that a redelivery is recognised ([`Store::delivery`]) and the data is never half
    /// applied.
    pub fn remember_delivery(&mut self, source: &str, id: &str, delivery: Delivery) {
        self.deliveries
            .push((source.to_owned(), id.to_owned(), delivery));
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
            && self.events.is_empty()
            && self.cursors.is_empty()
            && self.deliveries.is_empty()
    }

    /// Whether the batch writes points or events (not only cursors or delivery records).
    pub fn holds_data(&self) -> bool {
        !self.points.is_empty() || !self.events.is_empty()
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

impl Store {
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
        let mut groups: BTreeSet<(&'static str, &str)> = BTreeSet::new();
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
        // Which series this commit writes, and the earliest point of each, logged in the same
        // batch (`written`) with the data generation it will have (as below): what was
        // computed from a series can then be brought up to date from that point on.
        {
            let index = self.index.read().unwrap_or_else(|p| p.into_inner());
            let mut written: BTreeMap<u64, i64> = BTreeMap::new();
            for (key, points) in &batch.points {
                let id = index
                    .ids
                    .get(key)
                    .copied()
                    .or_else(|| new_series.iter().find(|(k, _)| k == key).map(|(_, id)| *id));
                if let (Some(id), Some(ts)) = (id, points.iter().map(|p| p.ts).min()) {
                    let earliest = written.entry(id).or_insert(ts);
                    *earliest = (*earliest).min(ts);
                }
            }
            drop(index);
            let generation = self.data_generation() + 1;
            super::written::log(&self.db, &mut sled_batch, generation, &written)?;
        }
        for (k, points) in blocks {
            sled_batch.insert(&k, encode_block(&points));
        }
        let mut event_blocks = Blocks::new(&self.db);
        for (kind, key, encoded) in &batch.events {
            if key.is_empty() || key.contains('\0') {
                return Err(StoreError::Invalid {
                    what: format!("{kind} event {key:?}"),
                    reason: "a natural key must be non-empty and contain no NUL".into(),
                });
            }
            let Some(encoded) = encoded else {
                if event_blocks.remove(kind, key)? {
                    stats.events_deleted += 1;
                    kinds_removed.push(kind);
                    groups.insert((kind, key_group(key)));
                }
                continue;
            };
            let encoded = encoded.as_ref().map_err(|e| StoreError::Invalid {
                what: format!("{kind} event {key:?}"),
                reason: format!("does not encode: {e}"),
            })?;
            match event_blocks.get(kind, key)? {
                Some(old) if old == encoded.record.as_slice() => {
                    stats.events_unchanged += 1;
                    continue;
                }
                // Migrated from schema 1 as JSON with the same content: rewritten in the binary
                // encoding, but nothing changed for readers.
                Some([CODEC_JSON, json @ ..]) if encoded.same_as_json(json) => {
                    stats.events_unchanged += 1;
                }
                Some(_) => {
                    stats.events_updated += 1;
                    groups.insert((kind, key_group(key)));
                }
                None => {
                    stats.events_inserted += 1;
                    kinds_added.push(kind);
                    groups.insert((kind, key_group(key)));
                }
            }
            event_blocks.put(kind, key, encoded.record.clone())?;
        }
        event_blocks.finish(&mut sled_batch);
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
        for (source, id, delivery) in &batch.deliveries {
            if source.contains('\0') || source.is_empty() || id.is_empty() {
                return Err(StoreError::Invalid {
                    what: format!("delivery {source:?}/{id:?}"),
                    reason: "a source and a delivery id must be non-empty (no NUL in the source)"
                        .into(),
                });
            }
            let bytes = serde_json::to_vec(delivery).map_err(|e| StoreError::Codec {
                kind: "delivery".into(),
                key: id.clone(),
                source: e,
            })?;
            sled_batch.insert(tagged(TAG_DELIVERY, source, id), bytes);
        }
        stats.new_series = new_series.len() as u64;

        // Held across the write so that a first count from disk cannot see this batch and then
        // have it added again below.
        let mut counts = self.event_counts.lock().unwrap_or_else(|p| p.into_inner());
        // The kept counts move in the same batch as the events they count. Not loaded in this
        // process yet: taken from the store if it keeps them (one small read); a store that
        // does not is counted from its blocks when first asked, after this batch.
        if counts.is_none() {
            *counts = self.kept_event_counts()?;
        }
        let counted = counts.as_ref().map(|before| {
            let mut after = before.clone();
            for kind in &kinds_added {
                *after.entry((*kind).to_owned()).or_insert(0) += 1;
            }
            for kind in &kinds_removed {
                let n = after.entry((*kind).to_owned()).or_insert(0);
                *n = n.saturating_sub(1);
            }
            after
        });
        if let Some(after) = counted
            .as_ref()
            .filter(|after| Some(*after) != counts.as_ref())
        {
            sled_batch.insert(super::events::event_counts_key(), encode_counts(after)?);
        }
        // The data generation moves with the data (points and events; not cursors or delivery
        // records, which say where a sync resumes, not what it found), in the same atomic
        // batch: a rollup stamped with the old one is stale from this commit on, also after a
        // crash. In memory it moves last (below), once the caches' keys have moved: a view
        // computed meanwhile is stamped with the old one and cannot be kept as current.
        let data_generation = batch.holds_data().then(|| {
            let next = self.data_generation() + 1;
            sled_batch.insert(super::rollups::data_generation_key(), &next.to_be_bytes());
            next
        });
        // Which groups of events changed, on disk with the change (held until recorded in
        // memory below, under the write lock as every commit).
        let mut changed = self.changed.lock().unwrap_or_else(|p| p.into_inner());
        if !groups.is_empty() {
            changed.write(groups.iter().copied(), &mut sled_batch);
        }
        self.db.apply_batch(sled_batch)?;

        if !new_series.is_empty() {
            let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
            for (key, id) in new_series {
                index.next_id = index.next_id.max(id + 1);
                index.ids.insert(key, id);
            }
        }
        if counted.is_some() {
            *counts = counted;
        }
        drop(counts);
        changed.record(
            groups
                .into_iter()
                .map(|(k, g)| (k.to_owned(), g.to_owned()))
                .collect(),
        );
        drop(changed);
        if !batch.is_empty() {
            self.generation.send_modify(|g| *g += 1);
        }
        // Still under the write lock, which `put_rollup` takes to compare generations.
        if let Some(next) = data_generation {
            *self
                .data_generation
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = next;
        }
        Ok(stats)
    }
}
