//! The byte layout of the store: tagged keys whose byte order is time order, and day blocks of
//! points.

use super::StoreError;
use crate::model::{Point, SeriesKey};

pub(super) const TAG_META: u8 = 0;
pub(super) const TAG_SERIES: u8 = 1;
pub(super) const TAG_POINT: u8 = 2;
pub(super) const TAG_EVENT: u8 = 3;
pub(super) const TAG_CURSOR: u8 = 4;
pub(super) const TAG_DELIVERY: u8 = 5;
pub(super) const META_SCHEMA: &[u8] = b"schema_version";

pub(super) fn ts_bytes(ts: i64) -> [u8; 8] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

/// Length of a block of points.
pub const BLOCK_MS: i64 = 86_400_000;

/// Start of the block holding `ts` (the first block starts at `i64::MIN`).
pub(super) fn block_of(ts: i64) -> i64 {
    let start = i128::from(ts).div_euclid(i128::from(BLOCK_MS)) * i128::from(BLOCK_MS);
    i64::try_from(start).unwrap_or(i64::MIN)
}

pub(super) fn block_key(id: u64, start: i64) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[0] = TAG_POINT;
    k[1..9].copy_from_slice(&id.to_be_bytes());
    k[9..].copy_from_slice(&ts_bytes(start));
    k
}

pub(super) fn series_prefix(id: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = TAG_POINT;
    k[1..].copy_from_slice(&id.to_be_bytes());
    k
}

/// Encodes sorted points: 16 bytes each, timestamp then value bits, little-endian.
pub fn encode_block(points: &[Point]) -> Vec<u8> {
    let mut out = Vec::with_capacity(points.len() * 16);
    for p in points {
        out.extend_from_slice(&p.ts.to_le_bytes());
        out.extend_from_slice(&p.value.to_bits().to_le_bytes());
    }
    out
}

pub(super) fn decode_block(bytes: &[u8]) -> Result<Vec<Point>, StoreError> {
    if bytes.len() % 16 != 0 {
        return Err(StoreError::Corrupt(format!(
            "a block of {} bytes is not a whole number of points",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(16)
        .map(|c| {
            let mut ts = [0u8; 8];
            let mut v = [0u8; 8];
            ts.copy_from_slice(&c[..8]);
            v.copy_from_slice(&c[8..]);
            Point {
                ts: i64::from_le_bytes(ts),
                value: f64::from_bits(u64::from_le_bytes(v)),
            }
        })
        .collect())
}

/// Merges `new` (any order; later wins on equal timestamps) into sorted `old`.
pub(super) fn merge_points(old: Vec<Point>, new: &[Point]) -> Vec<Point> {
    let mut new = new.to_vec();
    // Stable sort keeps the input order among equal timestamps; keep the last of each run.
    new.sort_by_key(|p| p.ts);
    let mut fresh: Vec<Point> = Vec::with_capacity(new.len());
    for p in new {
        match fresh.last_mut() {
            Some(last) if last.ts == p.ts => *last = p,
            _ => fresh.push(p),
        }
    }
    if old.is_empty() {
        return fresh;
    }
    let mut out = Vec::with_capacity(old.len() + fresh.len());
    let (mut a, mut b) = (old.into_iter().peekable(), fresh.into_iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.ts < y.ts => out.extend(a.next()),
            (Some(x), Some(y)) if x.ts == y.ts => {
                a.next();
                out.extend(b.next());
            }
            (_, Some(_)) => out.extend(b.next()),
            (Some(_), None) => out.extend(a.next()),
            (None, None) => break,
        }
    }
    out
}

pub(super) fn encode_series(key: &SeriesKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(TAG_SERIES);
    out.extend_from_slice(key.name().as_bytes());
    out.push(0);
    for (k, v) in key.labels() {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

pub(super) fn decode_series(bytes: &[u8]) -> Option<SeriesKey> {
    let body = bytes.strip_prefix(&[TAG_SERIES])?;
    let mut parts = body.split(|b| *b == 0);
    let name = std::str::from_utf8(parts.next()?).ok()?;
    let rest: Vec<&str> = parts
        .map(std::str::from_utf8)
        .collect::<Result<_, _>>()
        .ok()?;
    // The encoding ends in NUL, so the last split part is empty.
    let rest = rest.split_last()?.1;
    if rest.len() % 2 != 0 {
        return None;
    }
    SeriesKey::new(name, rest.chunks(2).map(|kv| (kv[0], kv[1]))).ok()
}

pub(super) fn tagged(tag: u8, a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + a.len() + b.len());
    k.push(tag);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts_from_bytes(b: &[u8]) -> Option<i64> {
        let arr: [u8; 8] = b.try_into().ok()?;
        Some((u64::from_be_bytes(arr) ^ (1 << 63)) as i64)
    }

    #[test]
    fn timestamp_encoding_is_order_preserving() {
        let samples = [i64::MIN, -1_000_000, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        for w in samples.windows(2) {
            assert!(ts_bytes(w[0]) < ts_bytes(w[1]), "{} vs {}", w[0], w[1]);
            assert_eq!(ts_from_bytes(&ts_bytes(w[0])), Some(w[0]));
        }
    }

    #[test]
    fn blocks_cover_the_whole_timestamp_range() {
        assert_eq!(block_of(0), 0);
        assert_eq!(block_of(-1), -BLOCK_MS);
        assert_eq!(block_of(BLOCK_MS + 5), BLOCK_MS);
        assert_eq!(block_of(i64::MIN), i64::MIN);
        assert!(block_of(i64::MAX) > i64::MAX - BLOCK_MS);
        let points = vec![
            Point {
                ts: -5,
                value: f64::NAN,
            },
            Point { ts: 7, value: 1.5 },
        ];
        let back = decode_block(&encode_block(&points)).expect("decodes");
        assert_eq!(back[0].ts, -5);
        assert!(back[0].value.is_nan());
        assert_eq!(back[1], points[1]);
        let merged = merge_points(
            points,
            &[Point { ts: 7, value: 2.0 }, Point { ts: 0, value: 0.0 }],
        );
        assert_eq!(
            merged.iter().map(|p| p.ts).collect::<Vec<_>>(),
            vec![-5, 0, 7]
        );
        assert_eq!(merged[2].value, 2.0);
    }

    #[test]
    fn series_key_round_trips_through_encoding() {
        let k = SeriesKey::new(
            "slo_good_events",
            [("slo", "api avail"), ("service", "api")],
        )
        .expect("valid key");
        assert_eq!(decode_series(&encode_series(&k)), Some(k));
        let bare = SeriesKey::new("up", Vec::<(String, String)>::new()).expect("valid key");
        assert_eq!(decode_series(&encode_series(&bare)), Some(bare));
    }
}
