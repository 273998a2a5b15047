//! The byte layout of the store: tagged keys whose byte order is time order, day blocks of
//! points, and blocks of events with their record codec.

use serde::de::DeserializeOwned;

use super::StoreError;
use crate::model::{Event, Point, SeriesKey};

pub(super) const TAG_META: u8 = 0;
pub(super) const TAG_SERIES: u8 = 1;
pub(super) const TAG_POINT: u8 = 2;
pub(super) const TAG_EVENT: u8 = 3;
pub(super) const TAG_CURSOR: u8 = 4;
pub(super) const TAG_DELIVERY: u8 = 5;
pub(super) const TAG_EVENT_BLOCK: u8 = 6;
pub(super) const TAG_ROLLUP: u8 = 7;
pub(super) const META_SCHEMA: &[u8] = b"schema_version";
pub(super) const META_LOGS_SINCE: &[u8] = b"logs_since";

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

/// Most events in one block: enough that reading a kind is a few thousand sled entries for a
/// million events, few enough that an upsert rewrites little.
pub(super) const BLOCK_EVENTS: usize = 256;
/// Most bytes of records in one block (a larger record is a block of its own): sled writes a
/// node over 128 KiB (a quarter of its 512 KiB segment) as a separate blob file.
pub(super) const BLOCK_BYTES: usize = 32 * 1024;

/// A record's first byte: how the event after it is encoded.
pub(super) const CODEC_POSTCARD: u8 = 0;
/// See [`CODEC_POSTCARD`]: JSON, for events whose type postcard cannot carry faithfully.
pub(super) const CODEC_JSON: u8 = 1;
/// See [`CODEC_POSTCARD`]: bytes that the kind's own module encodes and decodes (ticket chunks,
/// held column by column, see `tickets`); never read as a serde event.
pub(super) const CODEC_RAW: u8 = 2;

/// The key of an event block: its kind and the natural key of its first event, so that sled's
/// order of blocks is the natural-key order of their events.
pub(super) fn event_block_key(kind: &str, first: &str) -> Vec<u8> {
    tagged(TAG_EVENT_BLOCK, kind, first)
}

/// The natural key of the first event of a block, from the block's key.
pub(super) fn block_first_key(kind: &str, block_key: &[u8]) -> Result<String, StoreError> {
    let rest = block_key.get(kind.len() + 2..).unwrap_or_default();
    std::str::from_utf8(rest)
        .map(str::to_owned)
        .map_err(|_| StoreError::Corrupt(format!("{kind} block key {block_key:?} is not UTF-8")))
}

/// The group of a natural key: what comes before its last separator (`/`, `#`, `@`), e.g. the
/// repository `owner/name` of `owner/name#12` or `owner/name@sha`, or `owner/name/workflow_run`
/// of a deployment key. Blocks hold one group, so reading a repository reads its own blocks.
pub(super) fn key_group(key: &str) -> &str {
    key.rfind(['/', '#', '@']).map_or("", |i| &key[..i])
}

/// An event ready to store: its record (codec byte, then the encoding) and how to tell whether a
/// record still in JSON (converted from schema 1, not yet rewritten) holds the same event.
#[derive(Debug)]
pub(super) struct EncodedEvent {
    pub record: Vec<u8>,
    pub same: SameAsJson,
}

/// See [`EncodedEvent`].
#[derive(Debug)]
pub(super) enum SameAsJson {
    /// The event's JSON, compared byte for byte.
    Bytes(Vec<u8>),
    /// For a [`Event::POSTCARD`] type, whose JSON is not written: decodes the stored JSON and
    /// encodes it in postcard, to compare with the record.
    Reencode(fn(&[u8]) -> Option<Vec<u8>>),
    /// Never: a record in its kind's own bytes ([`CODEC_RAW`]).
    Never,
}

impl EncodedEvent {
    /// Whether `json` (a stored record's JSON) is this event.
    pub fn same_as_json(&self, json: &[u8]) -> bool {
        match &self.same {
            SameAsJson::Bytes(mine) => mine.as_slice() == json,
            SameAsJson::Reencode(reencode) => {
                reencode(json).is_some_and(|bin| self.record.get(1..) == Some(bin.as_slice()))
            }
            SameAsJson::Never => false,
        }
    }
}

fn reencode<E: Event>(json: &[u8]) -> Option<Vec<u8>> {
    let event: E = serde_json::from_slice(json).ok()?;
    postcard::to_allocvec(&event).ok()
}

/// Encodes an event in postcard when postcard carries it faithfully, else in JSON.
///
/// postcard is not self-describing: it cannot carry `#[serde(flatten)]`, untagged enums,
/// `serde_json::Value`, and a field skipped by `skip_serializing_if` shifts every later one.
/// Rather than trusting every event type (new ones are added often) to avoid these, each event
/// is decoded back and compared, through its JSON, with what was given; one that does not come
/// back identical is kept as JSON, which the previous layout used for every event. Types that
/// declare [`Event::POSTCARD`] skip the check.
pub(super) fn encode_event<E: Event>(event: &E) -> Result<EncodedEvent, String> {
    if E::POSTCARD {
        let record = postcard::to_extend(event, vec![CODEC_POSTCARD]).map_err(|e| e.to_string())?;
        return Ok(EncodedEvent {
            record,
            same: SameAsJson::Reencode(reencode::<E>),
        });
    }
    let json = serde_json::to_vec(event).map_err(|e| e.to_string())?;
    let faithful = |bin: &[u8]| match postcard::take_from_bytes::<E>(bin) {
        Ok((back, rest)) => rest.is_empty() && serde_json::to_vec(&back).is_ok_and(|j| j == json),
        Err(_) => false,
    };
    let mut record = Vec::with_capacity(json.len() / 2 + 1);
    match postcard::to_allocvec(event) {
        Ok(bin) if faithful(&bin) => {
            record.push(CODEC_POSTCARD);
            record.extend_from_slice(&bin);
        }
        _ => {
            record.push(CODEC_JSON);
            record.extend_from_slice(&json);
        }
    }
    Ok(EncodedEvent {
        record,
        same: SameAsJson::Bytes(json),
    })
}

/// Decodes a record written by [`encode_event`] (or migrated from the JSON of schema 1).
pub(super) fn decode_event<E: DeserializeOwned>(record: &[u8]) -> Result<E, String> {
    match record.split_first() {
        Some((&CODEC_POSTCARD, bin)) => postcard::from_bytes(bin).map_err(|e| e.to_string()),
        Some((&CODEC_JSON, json)) => serde_json::from_slice(json).map_err(|e| e.to_string()),
        Some((&CODEC_RAW, _)) => Err("a record in its kind's own encoding, not an event".into()),
        Some((codec, _)) => Err(format!("unknown record codec {codec}")),
        None => Err("empty record".into()),
    }
}

/// Encodes a block of records sorted by natural key: a `u32` count, then per record the key and
/// the record, each after its `u32` length (little-endian).
pub(super) fn encode_event_block<'a>(
    records: impl ExactSizeIterator<Item = (&'a str, &'a [u8])> + Clone,
) -> Vec<u8> {
    let size: usize = records.clone().map(|(k, r)| 8 + k.len() + r.len()).sum();
    let mut out = Vec::with_capacity(4 + size);
    let count = u32::try_from(records.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    for (key, record) in records {
        for part in [key.as_bytes(), record] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

/// The number of events in a block, from its header alone.
pub(super) fn event_block_len(bytes: &[u8]) -> Result<u32, StoreError> {
    bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| StoreError::Corrupt("an event block has no header".into()))
}

/// Splits a block into its (natural key, record) pairs, borrowing from it.
pub(super) fn decode_event_block(bytes: &[u8]) -> Result<Vec<(&str, &[u8])>, StoreError> {
    let corrupt = || {
        StoreError::Corrupt(format!(
            "an event block of {} bytes is cut short",
            bytes.len()
        ))
    };
    let count = event_block_len(bytes)? as usize;
    let mut rest = &bytes[4..];
    let mut take = || -> Result<&[u8], StoreError> {
        let len = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(corrupt)? as usize;
        let part = rest.get(4..4 + len).ok_or_else(corrupt)?;
        rest = &rest[4 + len..];
        Ok(part)
    };
    let mut out = Vec::with_capacity(count.min(bytes.len() / 8));
    for _ in 0..count {
        let key = std::str::from_utf8(take()?)
            .map_err(|_| StoreError::Corrupt("an event key in a block is not UTF-8".into()))?;
        out.push((key, take()?));
    }
    Ok(out)
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

    /// An event whose middle field is skipped when empty: postcard would shift the next field.
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Skipping {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        n: u32,
    }

    impl Event for Skipping {
        const KIND: &'static str = "skipping";
        fn natural_key(&self) -> String {
            self.id.clone()
        }
    }

    /// An event carrying free JSON, which postcard cannot decode (it is not self-describing).
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Free {
        id: String,
        extra: serde_json::Value,
    }

    impl Event for Free {
        const KIND: &'static str = "free";
        fn natural_key(&self) -> String {
            self.id.clone()
        }
    }

    /// A plain event declared postcard-safe.
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Plain {
        id: String,
        note: Option<String>,
        n: u32,
    }

    impl Event for Plain {
        const KIND: &'static str = "plain";
        const POSTCARD: bool = true;
        fn natural_key(&self) -> String {
            self.id.clone()
        }
    }

    #[test]
    fn a_postcard_kind_is_encoded_directly_and_still_matches_its_schema_1_json() {
        let e = Plain {
            id: "a".into(),
            note: None,
            n: 7,
        };
        let encoded = encode_event(&e).expect("encodes");
        assert_eq!(encoded.record[0], CODEC_POSTCARD);
        assert_eq!(decode_event::<Plain>(&encoded.record).expect("decodes"), e);
        // The same event as schema 1 stored it is "unchanged"; another, or bad JSON, is not.
        assert!(encoded.same_as_json(&serde_json::to_vec(&e).expect("json")));
        assert!(encoded.same_as_json(br#"{"n":7,"note":null,"id":"a"}"#));
        assert!(!encoded.same_as_json(br#"{"id":"a","note":null,"n":8}"#));
        assert!(!encoded.same_as_json(b"{"));
    }

    fn round_trip<E: Event + PartialEq + std::fmt::Debug>(e: &E) -> u8 {
        let encoded = encode_event(e).expect("encodes");
        assert_eq!(&decode_event::<E>(&encoded.record).expect("decodes"), e);
        encoded.record[0]
    }

    #[test]
    fn events_postcard_cannot_carry_back_identical_are_kept_as_json() {
        let with_note = Skipping {
            id: "a".into(),
            note: Some("x".into()),
            n: 7,
        };
        assert_eq!(round_trip(&with_note), CODEC_POSTCARD);
        let without = Skipping {
            id: "a".into(),
            note: None,
            n: 7,
        };
        assert_eq!(round_trip(&without), CODEC_JSON);
        let free = Free {
            id: "b".into(),
            extra: serde_json::json!({"k": [1, 2]}),
        };
        assert_eq!(round_trip(&free), CODEC_JSON);
    }

    #[test]
    fn event_blocks_round_trip_and_refuse_truncation() {
        let records: Vec<(&str, &[u8])> = vec![("o/r#1", &[0, 1, 2]), ("o/r#2", &[])];
        let block = encode_event_block(records.iter().copied());
        assert_eq!(event_block_len(&block).expect("header"), 2);
        assert_eq!(decode_event_block(&block).expect("decodes"), records);
        assert!(decode_event_block(&block[..block.len() - 1]).is_err());
        assert!(decode_event_block(&[1]).is_err());
        assert_eq!(key_group("o/r#1"), "o/r");
        assert_eq!(key_group("o/r/workflow_run/9"), "o/r/workflow_run");
        assert_eq!(key_group("plain"), "");
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
