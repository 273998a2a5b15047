//! Reading events: by natural key, by kind or key prefix, and their counts per kind.
//!
//! Events are kept in blocks (see `event_blocks`), so reading a kind or a repository is a few
//! large sequential sled reads, not one per event.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::encoding::{
    decode_event, decode_event_block, event_block_key, event_block_len, tagged, TAG_EVENT_BLOCK,
};
use super::{Store, StoreError};
use crate::model::Event;

/// The key of the kept event counts (tag 0, with the schema version and the data generation).
pub(super) fn event_counts_key() -> Vec<u8> {
    let mut key = vec![super::encoding::TAG_META];
    key.extend_from_slice(b"event_counts");
    key
}

/// The kept event counts' bytes.
pub(super) fn encode_counts(counts: &BTreeMap<String, u64>) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(counts)
        .map_err(|e| StoreError::Corrupt(format!("the event counts cannot be encoded: {e}")))
}

impl Store {
    /// One event by its natural key.
    pub fn event<E: Event>(&self, natural_key: &str) -> Result<Option<E>, StoreError> {
        let Some(record) = self.event_record(E::KIND, natural_key)? else {
            return Ok(None);
        };
        decode_event(&record)
            .map(Some)
            .map_err(|reason| StoreError::Undecodable {
                kind: E::KIND.into(),
                key: natural_key.into(),
                reason,
            })
    }

    /// The stored record (codec byte, then the encoding) of one event, as it is in its block.
    pub(super) fn event_record(
        &self,
        kind: &str,
        natural_key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((_, block)) = self.block_holding(kind, natural_key)? else {
            return Ok(None);
        };
        let records = decode_event_block(&block)?;
        Ok(records
            .binary_search_by(|(k, _)| (*k).cmp(natural_key))
            .ok()
            .map(|i| records[i].1.to_vec()))
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
        // The block holding the first key at or after the prefix may start before it.
        let start = match self.block_holding(E::KIND, key_prefix) {
            Ok(Some((key, _))) => Ok(key.to_vec()),
            Ok(None) => Ok(event_block_key(E::KIND, key_prefix)),
            Err(e) => Err(e),
        };
        let (blocks, first_error) = match start {
            Ok(start) => (Some(self.db.range(start..)), None),
            Err(e) => (None, Some(e)),
        };
        EventIter {
            blocks,
            first_error,
            kind_prefix: tagged(TAG_EVENT_BLOCK, E::KIND, ""),
            key_prefix: key_prefix.to_owned(),
            current: Vec::new().into_iter(),
            _kind: PhantomData,
        }
    }

    /// Number of stored events per kind.
    ///
    /// Kept in the store (`event_counts_key`), moved by every commit in its own batch: counting
    /// from the blocks reads every event block once, which on a large store doubled the first
    /// analysis' reads (it reads every block again to decode them). A store without the entry
    /// (written before schema 4, or converted from schema 1) is counted from its blocks once,
    /// and the count kept: the first ask writes it, also from a command that only reads.
    pub fn event_counts(&self) -> BTreeMap<String, u64> {
        let mut guard = self.event_counts.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let counted = self.kept_event_counts().and_then(|kept| match kept {
                Some(kept) => Ok(kept),
                None => {
                    let counts = self.count_event_blocks()?;
                    self.db
                        .insert(event_counts_key(), encode_counts(&counts)?)?;
                    Ok(counts)
                }
            });
            match counted {
                Ok(counts) => *guard = Some(counts),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the store while counting events");
                    return BTreeMap::new();
                }
            }
        }
        guard.clone().unwrap_or_default()
    }

    /// The counts the store keeps, if it keeps them. Counts that cannot be read (only a
    /// damaged store holds them) are taken as absent: they are derived from the blocks, which
    /// are counted again and the count kept anew, rather than refusing every commit.
    pub(super) fn kept_event_counts(&self) -> Result<Option<BTreeMap<String, u64>>, StoreError> {
        let Some(v) = self.db.get(event_counts_key())? else {
            return Ok(None);
        };
        // Whole: bytes left over mean a damaged entry, not counts.
        let reason = match postcard::take_from_bytes(&v) {
            Ok((counts, [])) => return Ok(Some(counts)),
            Ok((_, rest)) => format!("{} bytes left over", rest.len()),
            Err(e) => e.to_string(),
        };
        tracing::warn!(%reason, "the kept event counts cannot be read: counted again");
        // Removed, so that the commits before the count do not each report it again.
        self.db.remove(event_counts_key())?;
        Ok(None)
    }

    /// Counts every event block's events (every block is read).
    fn count_event_blocks(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut counts = BTreeMap::new();
        for kv in self.db.scan_prefix([TAG_EVENT_BLOCK]) {
            let (k, v) = kv?;
            let n = event_block_len(&v)?;
            let kind = k[1..].split(|b| *b == 0).next().unwrap_or_default();
            *counts
                .entry(String::from_utf8_lossy(kind).into_owned())
                .or_insert(0) += u64::from(n);
        }
        Ok(counts)
    }

    /// The block whose range holds `key`: the one with the greatest first key not above it.
    fn block_holding(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<(sled::IVec, sled::IVec)>, StoreError> {
        let lower = tagged(TAG_EVENT_BLOCK, kind, "");
        Ok(self
            .db
            .range(lower..=event_block_key(kind, key))
            .next_back()
            .transpose()?)
    }
}

/// Events of one kind with a key prefix, a block at a time.
struct EventIter<E> {
    blocks: Option<sled::Iter>,
    first_error: Option<StoreError>,
    kind_prefix: Vec<u8>,
    key_prefix: String,
    current: std::vec::IntoIter<Result<E, StoreError>>,
    _kind: PhantomData<fn() -> E>,
}

impl<E: DeserializeOwned> EventIter<E> {
    /// Decodes the next block that may hold keys with the prefix; `None` past the last one.
    fn next_block(&mut self) -> Option<Vec<Result<E, StoreError>>> {
        let (k, v) = match self.blocks.as_mut()?.next()? {
            Ok(kv) => kv,
            Err(e) => {
                self.blocks = None;
                return Some(vec![Err(e.into())]);
            }
        };
        // Blocks are in key order: one of another kind, or one that starts past every key with
        // the prefix, ends the read.
        let past = match k.strip_prefix(self.kind_prefix.as_slice()) {
            Some(first) => {
                first > self.key_prefix.as_bytes() && !first.starts_with(self.key_prefix.as_bytes())
            }
            None => true,
        };
        if past {
            self.blocks = None;
            return None;
        }
        let kind = String::from_utf8_lossy(&self.kind_prefix[1..self.kind_prefix.len() - 1]);
        let records = match decode_event_block(&v) {
            Ok(records) => records,
            Err(e) => {
                self.blocks = None;
                return Some(vec![Err(e)]);
            }
        };
        Some(
            records
                .into_iter()
                .filter(|(key, _)| key.starts_with(self.key_prefix.as_str()))
                .map(|(key, record)| {
                    decode_event(record).map_err(|reason| StoreError::Undecodable {
                        kind: kind.clone().into_owned(),
                        key: key.to_owned(),
                        reason,
                    })
                })
                .collect(),
        )
    }
}

impl<E: DeserializeOwned> Iterator for EventIter<E> {
    type Item = Result<E, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.first_error.take() {
            return Some(Err(e));
        }
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            self.current = self.next_block()?.into_iter();
        }
    }
}
