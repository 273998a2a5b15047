//! Reading points and series: time ranges, first and latest points, the series index.

use super::encoding::{block_key, block_of, decode_block, series_prefix};
use super::{Store, StoreError};
use crate::model::{Point, SeriesKey};

impl Store {
    /// Points of a series with `from <= ts < to`, in time order. Unknown series give nothing.
    pub fn range(&self, key: &SeriesKey, from: i64, to: i64) -> Result<Vec<Point>, StoreError> {
        let Some(id) = self.series_id(key).filter(|_| from < to) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let first = block_key(id, block_of(from));
        let last = block_key(id, block_of(to - 1));
        for kv in self.db.range(first..=last) {
            let (_, v) = kv?;
            out.extend(
                decode_block(&v)?
                    .into_iter()
                    .filter(|p| p.ts >= from && p.ts < to),
            );
        }
        Ok(out)
    }

    /// The oldest point of a series.
    pub fn first(&self, key: &SeriesKey) -> Result<Option<Point>, StoreError> {
        let Some(id) = self.series_id(key) else {
            return Ok(None);
        };
        match self.db.scan_prefix(series_prefix(id)).next() {
            Some(kv) => Ok(decode_block(&kv?.1)?.into_iter().next()),
            None => Ok(None),
        }
    }

    /// The newest point of a series.
    pub fn latest(&self, key: &SeriesKey) -> Result<Option<Point>, StoreError> {
        let Some(id) = self.series_id(key) else {
            return Ok(None);
        };
        match self.db.scan_prefix(series_prefix(id)).next_back() {
            Some(kv) => Ok(decode_block(&kv?.1)?.pop()),
            None => Ok(None),
        }
    }

    fn series_id(&self, key: &SeriesKey) -> Option<u64> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        index.ids.get(key).copied()
    }

    /// Series whose name is `name` (any name when `None`) and that carry every label in `labels`,
    /// sorted.
    pub fn series(&self, name: Option<&str>, labels: &[(&str, &str)]) -> Vec<SeriesKey> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<SeriesKey> = index
            .ids
            .keys()
            .filter(|k| name.is_none_or(|n| k.name() == n))
            .filter(|k| labels.iter().all(|(l, v)| k.label(l) == Some(*v)))
            .cloned()
            .collect();
        out.sort();
        out
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        index.ids.len()
    }
}
