//! Support-ticket chunks in their compact byte form.
//!
//! A chunk is an event of kind `ticket_chunk` under `import_id/chunk` like before, but its value
//! is a version byte (1) and a protobuf message holding the [`TicketColumns`]: ids as one string
//! and their lengths, creation times as varint deltas from the previous ticket (exports are in
//! time order, so most take 3 bytes), solved times as varints after creation, names once per
//! chunk and every string field as varint indexes into them. A million Zendesk tickets take
//! ~30 MB this way; as JSON objects they took 421 MB, and decoding them was most of deriving
//! the support figures.
//!
//! Stores written before hold JSON chunks (`{"import_id":…,"rows":[…]}`); they are read as they
//! are (a JSON value starts with `{`, never with the version byte), so existing data needs no
//! conversion and the next import of a tickets file writes the new form.

use super::encoding::{tagged, TAG_EVENT};
use super::{Store, StoreError, WriteBatch};
use crate::model::attributes::chunk_key;
use crate::model::business::{ChunkRow, ImportChunk};
use crate::model::{Ticket, TicketColumns};

/// The first byte of a chunk in this form.
const VERSION: u8 = 1;

/// The chunk's message. Packed repeated fields throughout (prost's default for scalars).
#[derive(Clone, PartialEq, prost::Message)]
struct Chunk {
    #[prost(string, tag = "1")]
    ids: String,
    #[prost(uint32, repeated, tag = "2")]
    id_lengths: Vec<u32>,
    /// Creation time minus the previous ticket's (the first: minus 0).
    #[prost(sint64, repeated, tag = "3")]
    created_deltas: Vec<i64>,
    /// 0: not solved; else 1 + ms from creation to solved (solved is never before created).
    #[prost(uint64, repeated, tag = "4")]
    solved_after: Vec<u64>,
    /// Minutes to the first reply; NaN when unknown (a parsed value is finite).
    #[prost(double, repeated, tag = "5")]
    first_reply_minutes: Vec<f64>,
    #[prost(string, repeated, tag = "6")]
    names: Vec<String>,
    /// 1 + index into `names`, 0 = none.
    #[prost(uint32, repeated, tag = "7")]
    customer: Vec<u32>,
    #[prost(uint32, repeated, tag = "8")]
    priority: Vec<u32>,
    #[prost(uint32, repeated, tag = "9")]
    kind: Vec<u32>,
    /// Tags per ticket, then every ticket's tags as indexes into `names`.
    #[prost(uint32, repeated, tag = "10")]
    tag_counts: Vec<u32>,
    #[prost(uint32, repeated, tag = "11")]
    tags: Vec<u32>,
    #[prost(uint32, repeated, tag = "12")]
    component_counts: Vec<u32>,
    #[prost(uint32, repeated, tag = "13")]
    components: Vec<u32>,
}

fn counts(ends: &[u32]) -> Vec<u32> {
    let mut prev = 0;
    ends.iter()
        .map(|e| {
            let n = e.saturating_sub(prev);
            prev = *e;
            n
        })
        .collect()
}

fn ends(counts: &[u32]) -> Vec<u32> {
    let mut total = 0u32;
    counts
        .iter()
        .map(|n| {
            total = total.saturating_add(*n);
            total
        })
        .collect()
}

fn encode(cols: &TicketColumns) -> Vec<u8> {
    use prost::Message as _;
    let mut prev = 0i64;
    let created_deltas = cols
        .created_ms
        .iter()
        .map(|c| {
            let d = c.wrapping_sub(prev);
            prev = *c;
            d
        })
        .collect();
    let solved_after = cols
        .solved_ms
        .iter()
        .zip(&cols.created_ms)
        .map(|(s, c)| s.map_or(0, |s| (s.wrapping_sub(*c) as u64).wrapping_add(1)))
        .collect();
    let chunk = Chunk {
        ids: cols.ids.clone(),
        id_lengths: counts(&cols.id_ends),
        created_deltas,
        solved_after,
        first_reply_minutes: cols
            .first_reply_minutes
            .iter()
            .map(|m| m.unwrap_or(f64::NAN))
            .collect(),
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
    let mut prev = 0i64;
    let created_ms: Vec<i64> = chunk
        .created_deltas
        .iter()
        .map(|d| {
            prev = prev.wrapping_add(*d);
            prev
        })
        .collect();
    if chunk.solved_after.len() != created_ms.len() {
        return Err("columns of unequal lengths".into());
    }
    let solved_ms = chunk
        .solved_after
        .iter()
        .zip(&created_ms)
        .map(|(s, c)| s.checked_sub(1).map(|d| c.wrapping_add(d as i64)))
        .collect();
    let cols = TicketColumns {
        ids: chunk.ids,
        id_ends: ends(&chunk.id_lengths),
        created_ms,
        solved_ms,
        first_reply_minutes: chunk
            .first_reply_minutes
            .into_iter()
            .map(|m| (!m.is_nan()).then_some(m))
            .collect(),
        names: chunk.names,
        customer: chunk.customer,
        priority: chunk.priority,
        kind: chunk.kind,
        tag_ends: ends(&chunk.tag_counts),
        tags: chunk.tags,
        component_ends: ends(&chunk.component_counts),
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
                first_reply_minutes: (i % 7 != 0).then_some(i as f64 / 3.0),
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
        assert!(bytes.len() < 40 * tickets.len(), "{} bytes", bytes.len());
        let back = decode(&bytes[1..]).expect("decodes");
        let back: Vec<Ticket> = back.iter().map(|t| t.to_ticket()).collect();
        assert_eq!(back, tickets);
        assert!(decode(&bytes[1..bytes.len() / 2]).is_err());
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
