//! Reading events: by natural key, by kind or key prefix, and their counts per kind.

use std::collections::BTreeMap;

use super::encoding::{tagged, TAG_EVENT};
use super::{Store, StoreError};
use crate::model::Event;

impl Store {
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
}
