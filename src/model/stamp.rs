//! How event times are written: RFC 3339 text in human-readable formats (JSON: the API, the
//! exports, schema-1 stores), seconds and nanoseconds as integers in binary ones (postcard: the
//! store's event blocks). chrono writes text in both, and parsing it back was ~7 % of reading a
//! million delivery events out of the store.
//!
//! Used as `#[serde(with = "stamp")]` on `DateTime<Utc>` fields and `#[serde(default, with =
//! "stamp::opt")]` on optional ones, of event kinds declared `Event::POSTCARD` only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn to_parts(t: &DateTime<Utc>) -> (i64, u32) {
    (t.timestamp(), t.timestamp_subsec_nanos())
}

fn from_parts<E: serde::de::Error>((secs, nanos): (i64, u32)) -> Result<DateTime<Utc>, E> {
    DateTime::from_timestamp(secs, nanos)
        .ok_or_else(|| E::custom(format!("time out of range: {secs} s {nanos} ns")))
}

/// Serialises a time (see the module).
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        t.serialize(s)
    } else {
        to_parts(t).serialize(s)
    }
}

/// Deserialises a time (see the module).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    if d.is_human_readable() {
        DateTime::<Utc>::deserialize(d)
    } else {
        from_parts(<(i64, u32)>::deserialize(d)?)
    }
}

/// The same for an optional time.
pub mod opt {
    use super::*;

    /// Serialises an optional time.
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            t.serialize(s)
        } else {
            t.as_ref().map(to_parts).serialize(s)
        }
    }

    /// Deserialises an optional time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        if d.is_human_readable() {
            Option::<DateTime<Utc>>::deserialize(d)
        } else {
            Option::<(i64, u32)>::deserialize(d)?
                .map(from_parts::<D::Error>)
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Both {
        #[serde(with = "super")]
        at: DateTime<Utc>,
        #[serde(default, with = "super::opt")]
        until: Option<DateTime<Utc>>,
    }

    #[test]
    fn text_in_json_integers_in_postcard_and_both_come_back_exact() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        for v in [
            Both { at, until: None },
            Both {
                at: Utc.with_ymd_and_hms(1969, 7, 20, 20, 17, 40).unwrap(),
                until: Some(at),
            },
        ] {
            let json = serde_json::to_string(&v).expect("json");
            assert!(
                json.contains("\"at\":\"1") || json.contains("\"at\":\"2"),
                "{json}"
            );
            assert_eq!(serde_json::from_str::<Both>(&json).expect("from json"), v);
            let bin = postcard::to_allocvec(&v).expect("postcard");
            assert_eq!(
                postcard::from_bytes::<Both>(&bin).expect("from postcard"),
                v
            );
        }
        // JSON as chrono wrote it before reads the same; a field left out reads as None.
        let old: Both =
            serde_json::from_str(r#"{"at":"2026-11-25T12:00:00.123456789Z"}"#).expect("old json");
        assert_eq!(old, Both { at, until: None });
        // Out of range in binary is an error, not a panic.
        let bad = postcard::to_allocvec(&(i64::MAX, 0u32, None::<(i64, u32)>)).expect("bytes");
        assert!(postcard::from_bytes::<Both>(&bad).is_err());
    }
}
