//! Support-ticket chunks in their compact byte form.
//!
//! A chunk is an event of kind `ticket_chunk` under `import_id/chunk` like before, but its value
//! is a version byte (1) and a protobuf message holding the [`TicketColumns`] (see `Chunk`):
//! ids as numbers when they are plain numbers, times as varint differences in whole seconds
//! when they are whole seconds, names once per chunk and every string field as varint indexes
//! into them. A million Zendesk tickets (the benchmark's) take ~20 MB this way; as JSON objects
//! they took 421 MB, and decoding them was most of deriving the support figures.
//!
//! Stores written before hold JSON chunks (`{"import_id":…,"rows":[…]}`); they are read as they
//! are (a JSON value starts with `{`, never with the version byte), so existing data needs no
//! conversion and the next import of a tickets file writes the new form.

use super::encoding::{tagged, TAG_EVENT};
use super::{Store, StoreError, WriteBatch};
use crate::model::attributes::chunk_key;
use crate::model::business::{ChunkRow, ImportChunk};
use crate::model::ticket_columns::plain_number;
use crate::model::{Ticket, TicketColumns};

/// The first byte of a chunk in this form.
const VERSION: u8 = 1;

/// The chunk's message. Packed repeated fields throughout (prost's default for scalars).
#[derive(Clone, PartialEq, prost::Message)]
struct Chunk {
    /// The ids one after the other, with their lengths; empty when `id_numbers` holds them.
    #[prost(string, tag = "1")]
    ids: String,
    #[prost(uint32, repeated, tag = "2")]
    id_lengths: Vec<u32>,
    /// When every id of the chunk is a number written plainly (Zendesk's and Intercom's are),
    /// each id minus the previous one: exports number tickets in order, so mostly 1 byte.
    #[prost(sint64, repeated, tag = "14")]
    id_numbers: Vec<i64>,
    /// Milliseconds per unit of the times below: 1000 when every time of the chunk is a
    /// whole second (as the exports write them), else 1 (0 reads as 1).
    #[prost(uint64, tag = "15")]
    time_unit: u64,
    /// Creation time minus the previous ticket's (the first: minus 0).
    #[prost(sint64, repeated, tag = "3")]
    created_deltas: Vec<i64>,
    /// 0: not solved; else 1 + time from creation to solved (never before creation).
    #[prost(uint64, repeated, tag = "4")]
    solved_after: Vec<u64>,
    /// Minutes to the first reply: 0 unknown, 1 + 2m for a whole number m of minutes, 2 + 2k
    /// for the k-th of `reply_other`.
    #[prost(uint64, repeated, tag = "5")]
    first_reply: Vec<u64>,
    #[prost(double, repeated, tag = "16")]
    reply_other: Vec<f64>,
    #[prost(string, repeated, tag = "6")]
    names: Vec<String>,
    /// 1 + index into `names`, 0 = none.
    #[prost(uint32, repeated, tag = "7")]
    customer: Vec<u32>,
    #[prost(uint32, repeated, tag = "8")]
    priority: Vec<u32>,
    #[prost(uint32, repeated, tag = "9")]
    kind: Vec<u32>,
    /// Tags per ticket (empty when no ticket has any), then every ticket's tags as indexes
    /// into `names`.
    #[prost(uint32, repeated, tag = "10")]
    tag_counts: Vec<u32>,
    #[prost(uint32, repeated, tag = "11")]
    tags: Vec<u32>,
    #[prost(uint32, repeated, tag = "12")]
    component_counts: Vec<u32>,
    #[prost(uint32, repeated, tag = "13")]
    components: Vec<u32>,
}

/// Counts per ticket from where each ticket's list ends; empty when every list is.
fn counts(ends: &[u32]) -> Vec<u32> {
    if ends.last().is_none_or(|e| *e == 0) {
        return Vec::new();
    }
    let mut prev = 0;
    ends.iter()
        .map(|e| {
            let n = e.saturating_sub(prev);
            prev = *e;
            n
        })
        .collect()
}

/// Where each of `n` tickets' lists ends, from the counts (none: every list empty).
fn ends(counts: &[u32], n: usize) -> Vec<u32> {
    if counts.is_empty() {
        return vec![0; n];
    }
    counts
        .iter()
        .scan(0u32, |total, c| {
            *total = total.saturating_add(*c);
            Some(*total)
        })
        .collect()
}

/// Differences from the previous value (the first: from 0).
fn deltas(values: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut prev = 0i64;
    values
        .map(|v| {
            let d = v.wrapping_sub(prev);
            prev = v;
            d
        })
        .collect()
}

/// Running sums of differences.
fn sums(deltas: &[i64]) -> Vec<i64> {
    deltas
        .iter()
        .scan(0i64, |sum, d| {
            *sum = sum.wrapping_add(*d);
            Some(*sum)
        })
        .collect()
}

fn encode(cols: &TicketColumns) -> Vec<u8> {
    use prost::Message as _;
    let ids = cols.iter().map(|t| plain_number(t.id));
    let id_numbers: Option<Vec<i64>> = ids.collect();
    let (ids, id_lengths, id_numbers) = match id_numbers {
        Some(numbers) if !numbers.is_empty() => {
            (String::new(), Vec::new(), deltas(numbers.into_iter()))
        }
        _ => (cols.ids.clone(), counts(&cols.id_ends), Vec::new()),
    };
    let seconds = cols
        .created_ms
        .iter()
        .chain(cols.solved_ms.iter().flatten())
        .all(|t| t % 1000 == 0);
    let unit: i64 = if seconds { 1000 } else { 1 };
    let mut reply_other = Vec::new();
    let first_reply = cols
        .first_reply_minutes
        .iter()
        .map(|m| match m {
            None => 0,
            Some(m) if m.fract() == 0.0 && (0.0..4.0e15).contains(m) => 1 + 2 * (*m as u64),
            Some(m) => {
                reply_other.push(*m);
                2 * reply_other.len() as u64
            }
        })
        .collect();
    let chunk = Chunk {
        ids,
        id_lengths,
        id_numbers,
        time_unit: unit as u64,
        created_deltas: deltas(cols.created_ms.iter().map(|c| c / unit)),
        solved_after: cols
            .solved_ms
            .iter()
            .zip(&cols.created_ms)
            .map(|(s, c)| s.map_or(0, |s| (s.wrapping_sub(*c) / unit) as u64 + 1))
            .collect(),
        first_reply,
        reply_other,
        names: cols.names.clone(),
        customer: cols.customer.clone(),
        priority: cols.priority.clone(),
        kind: cols.kind.clone(),
        tag_counts: counts(&cols.tag_ends),
        tags: cols.tags.clone(),
        component_counts: counts(&cols.component_ends),
        components: cols.components.clone(),
    };
    let mut out = Vec::with_capacity(1 + chunk.encoded_len());
    out.push(VERSION);
    chunk.encode_raw(&mut out);
    out
}

fn decode(bytes: &[u8]) -> Result<TicketColumns, String> {
    use prost::Message as _;
    let chunk = Chunk::decode(bytes).map_err(|e| e.to_string())?;
    let unit = i64::try_from(chunk.time_unit.max(1)).map_err(|_| "bad time unit")?;
    let created_ms: Vec<i64> = sums(&chunk.created_deltas)
        .into_iter()
        .map(|c| c.wrapping_mul(unit))
        .collect();
    let n = created_ms.len();
    if chunk.solved_after.len() != n || chunk.first_reply.len() != n {
        return Err("columns of unequal lengths".into());
    }
    let solved_ms = chunk
        .solved_after
        .iter()
        .zip(&created_ms)
        .map(|(s, c)| {
            s.checked_sub(1)
                .map(|d| c.wrapping_add((d as i64).wrapping_mul(unit)))
        })
        .collect();
    let first_reply_minutes = chunk
        .first_reply
        .iter()
        .map(|r| match r {
            0 => Ok(None),
            r if r % 2 == 1 => Ok(Some((r / 2) as f64)),
            r => chunk
                .reply_other
                .get((r / 2 - 1) as usize)
                .map(|m| Some(*m))
                .ok_or("a first reply past the chunk's values"),
        })
        .collect::<Result<_, _>>()?;
    let (ids, id_ends) = if chunk.id_numbers.is_empty() {
        (chunk.ids, ends(&chunk.id_lengths, n))
    } else {
        let mut ids = String::with_capacity(n * 8);
        let mut id_ends = Vec::with_capacity(n);
        for id in sums(&chunk.id_numbers) {
            use std::fmt::Write as _;
            // Writing to a String cannot fail.
            let _ = write!(ids, "{id}");
            id_ends.push(u32::try_from(ids.len()).map_err(|_| "ids too long")?);
        }
        (ids, id_ends)
    };
    let cols = TicketColumns {
        ids,
        id_ends,
        created_ms,
        solved_ms,
        first_reply_minutes,
        names: chunk.names,
        customer: chunk.customer,
        priority: chunk.priority,
        kind: chunk.kind,
        tag_ends: ends(&chunk.tag_counts, n),
        tags: chunk.tags,
        component_ends: ends(&chunk.component_counts, n),
        components: chunk.components,
        ..TicketColumns::default()
    };
    cols.check()?;
    Ok(cols)
}

impl WriteBatch {
    /// Stores chunk `no` of the tickets of `import_id` (replacing one stored before).
    pub fn put_ticket_chunk(&mut self, import_id: &str, no: u32, tickets: &TicketColumns) {
        self.events.push((
            Ticket::CHUNK_KIND,
            chunk_key(import_id, no),
            Some(Ok(encode(tickets))),
        ));
    }
}

impl Store {
    /// Chunk `no` of the tickets of `import_id`, in either stored form.
    pub fn ticket_chunk(
        &self,
        import_id: &str,
        no: u32,
    ) -> Result<Option<TicketColumns>, StoreError> {
        let key = chunk_key(import_id, no);
        let Some(bytes) = self.db.get(tagged(TAG_EVENT, Ticket::CHUNK_KIND, &key))? else {
            return Ok(None);
        };
        match bytes.split_first() {
            Some((&VERSION, body)) => decode(body)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("{} {key:?}: {e}", Ticket::CHUNK_KIND))),
            _ => {
                let chunk: ImportChunk<Ticket> =
                    serde_json::from_slice(&bytes).map_err(|source| StoreError::Codec {
                        kind: Ticket::CHUNK_KIND.into(),
                        key,
                        source,
                    })?;
                Ok(Some(TicketColumns::from_tickets(&chunk.rows)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_and_stay_small() {
        let tickets: Vec<Ticket> = (0..1000)
            .map(|i| Ticket {
                id: format!("{}", 100_000 + i),
                created_ms: 1_790_000_000_000 + i * 61_000,
                solved_ms: (i % 10 != 0).then_some(1_790_000_000_000 + i * 61_000 + 99_000_000),
                first_reply_minutes: (i % 7 != 0).then_some((i % 300) as f64),
                customer: (i % 50 != 0).then(|| format!("cus_{:05}", i % 300)),
                priority: Some("normal".into()),
                tags: vec!["billing".into(), "sso".into()],
                kind: Some("question".into()),
                components: vec![],
            })
            .collect();
        let cols = TicketColumns::from_tickets(&tickets);
        let bytes = encode(&cols);
        assert_eq!(bytes[0], VERSION);
        assert!(bytes.len() < 20 * tickets.len(), "{} bytes", bytes.len());
        let back = decode(&bytes[1..]).expect("decodes");
        let back: Vec<Ticket> = back.iter().map(|t| t.to_ticket()).collect();
        assert_eq!(back, tickets);
        assert!(decode(&bytes[1..bytes.len() / 2]).is_err());

        // Ids that are not plain numbers, times in ms, fractional minutes: kept exactly.
        let mut odd = tickets[..3].to_vec();
        odd[0].id = "007".into();
        odd[1].created_ms += 1;
        odd[1].first_reply_minutes = Some(0.1);
        odd[2].id = "PROJ-12".into();
        odd[2].tags.clear();
        let bytes = encode(&TicketColumns::from_tickets(&odd));
        let back = decode(&bytes[1..]).expect("decodes");
        let back: Vec<Ticket> = back.iter().map(|t| t.to_ticket()).collect();
        assert_eq!(back, odd);
    }

    #[test]
    fn chunks_stored_as_json_before_are_read() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = Store::open(dir.path()).expect("the store opens");
        let ticket = Ticket {
            id: "7".into(),
            created_ms: 1_790_000_000_000,
            solved_ms: None,
            first_reply_minutes: Some(3.0),
            customer: Some("cus_1".into()),
            priority: None,
            tags: vec!["sso".into()],
            kind: None,
            components: vec![],
        };
        let mut batch = WriteBatch::new();
        batch.upsert_event(&ImportChunk {
            import_id: "old".into(),
            source: "help".into(),
            chunk: 0,
            rows: vec![ticket.clone()],
        });
        batch.put_ticket_chunk("new", 0, &TicketColumns::from_tickets([&ticket]));
        store.commit(batch).expect("commits");
        for import in ["old", "new"] {
            let chunk = store
                .ticket_chunk(import, 0)
                .expect("reads")
                .expect("stored");
            let back: Vec<Ticket> = chunk.iter().map(|t| t.to_ticket()).collect();
            assert_eq!(back, std::slice::from_ref(&ticket), "{import}");
        }
        assert!(store.ticket_chunk("new", 1).expect("reads").is_none());
    }
}
