//! Which points each commit wrote, per series: a short log of (data generation, smallest
//! timestamp written), moved in the commit's own atomic batch, so that what was computed from a
//! series before a restart can be brought up to date by recomputing only what lies after the
//! earliest point written since (issue 21: kept SLO rows, `query::slo_rows`).
//!
//! A series keeps at most [`MAX_ENTRIES`]; past it its two oldest entries are merged into one
//! (the newer generation, the smaller timestamp). A merged entry can only answer an earlier
//! timestamp than the truth, never a later one: a caller recomputes more than it needed, never
//! less, and a question about an old generation still has an answer instead of "unknown".
//!
//! Value: the entries, oldest first, each the generation (u64) and the timestamp (i64), both
//! big-endian.

use std::collections::BTreeMap;

use super::encoding::TAG_META;
use super::{Store, StoreError};
use crate::model::SeriesKey;

/// Entries kept per series.
const MAX_ENTRIES: usize = 32;

/// The meta key's prefix; the series id (u64 BE) follows.
const META_WRITTEN: &[u8] = b"written\0";

/// Bytes of one entry.
const ENTRY: usize = 16;

/// What the commits after a data generation wrote to a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// No point.
    Nothing,
    /// Points, none earlier than this timestamp (ms).
    From(i64),
    /// Not known: the generation is older than the store's logs (or not one of its own), or
    /// the log does not decode. The caller must assume anything was written.
    Unknown,
}

pub(super) fn written_key(id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + META_WRITTEN.len() + 8);
    key.push(TAG_META);
    key.extend_from_slice(META_WRITTEN);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

fn decode(bytes: &[u8]) -> Option<Vec<(u64, i64)>> {
    if bytes.len() % ENTRY != 0 {
        return None;
    }
    bytes
        .chunks_exact(ENTRY)
        .map(|e| {
            let (g, ts) = e.split_at(8);
            Some((
                u64::from_be_bytes(g.try_into().ok()?),
                i64::from_be_bytes(ts.try_into().ok()?),
            ))
        })
        .collect()
}

fn encode(entries: &[(u64, i64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * ENTRY);
    for (g, ts) in entries {
        out.extend_from_slice(&g.to_be_bytes());
        out.extend_from_slice(&ts.to_be_bytes());
    }
    out
}

/// Adds to `batch` the log entries of `written` (series id → smallest timestamp the commit of
/// `generation` writes to it), each after what is stored. A log that does not decode is
/// started afresh with an entry whose timestamp is `i64::MIN` ("anything"): the commits it no
/// longer tells apart read as having written everything.
pub(super) fn log(
    db: &sled::Db,
    batch: &mut sled::Batch,
    generation: u64,
    written: &BTreeMap<u64, i64>,
) -> Result<(), StoreError> {
    for (&id, &ts) in written {
        let key = written_key(id);
        let mut entries = match db.get(&key)? {
            None => Vec::new(),
            Some(bytes) => decode(&bytes).unwrap_or_else(|| {
                tracing::warn!(
                    series = id,
                    "a series' write log does not decode: restarted"
                );
                vec![(generation.saturating_sub(1), i64::MIN)]
            }),
        };
        entries.push((generation, ts));
        while entries.len() > MAX_ENTRIES {
            let (_, oldest) = entries.remove(0);
            entries[0].1 = entries[0].1.min(oldest);
        }
        batch.insert(key, encode(&entries));
    }
    Ok(())
}

impl Store {
    /// What the commits after data generation `generation` ([`Store::data_generation`]) wrote
    /// to the series `key`: nothing, points from some timestamp on, or unknown (a generation
    /// before [`Store::logs_since`] or after the current one).
    pub fn points_written_since(
        &self,
        key: &SeriesKey,
        generation: u64,
    ) -> Result<Written, StoreError> {
        if generation < self.logs_since() || generation > self.data_generation() {
            return Ok(Written::Unknown);
        }
        let id = {
            let index = self.index.read().unwrap_or_else(|p| p.into_inner());
            index.ids.get(key).copied()
        };
        let Some(id) = id else {
            return Ok(Written::Nothing);
        };
        let Some(bytes) = self.db.get(written_key(id))? else {
            return Ok(Written::Nothing);
        };
        let Some(entries) = decode(&bytes) else {
            tracing::warn!(series = %key, "a series' write log does not decode: read as unknown");
            return Ok(Written::Unknown);
        };
        // Entries are in generation order, each covering the commits after the previous one's
        // generation up to its own: the first entry after `generation` may cover earlier
        // commits too (merged), which only makes the answer earlier.
        Ok(entries
            .iter()
            .filter(|(g, _)| *g > generation)
            .map(|(_, ts)| *ts)
            .min()
            .map_or(Written::Nothing, Written::From))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_bad_bytes_do_not_decode() {
        let entries = vec![(1, -5), (7, i64::MAX)];
        assert_eq!(decode(&encode(&entries)), Some(entries));
        assert_eq!(decode(&[0; 15]), None);
        assert_eq!(decode(&[]), Some(Vec::new()));
    }
}
