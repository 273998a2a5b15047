//! Source cursors: where each source stands, written with the data it covers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::encoding::{tagged, TAG_CURSOR};
use super::{Store, StoreError};

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

impl Store {
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
}
