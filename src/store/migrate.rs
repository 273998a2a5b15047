//! Converting a store written by an earlier layout, on open.
//!
//! Schema 1 kept one sled entry per event (tag 3: kind, NUL, natural key → the event as JSON).
//! Schema 2 keeps events in blocks (tag 6, see `event_blocks`) and encodes them in postcard.
//!
//! The conversion is resumable rather than one transaction (sled holds a batch in memory, and a
//! million events in one batch would take gigabytes): each step moves up to [`BATCH_ENTRIES`]
//! schema-1 entries into blocks and deletes them in the same atomic batch, so an interrupted
//! conversion leaves every event exactly once, either still in the old layout or in a block,
//! and the next open carries on. The schema version is written last, once nothing of the old
//! layout is left.

use super::encoding::{
    decode_event_block, encode_event, tagged, CODEC_JSON, CODEC_POSTCARD, CODEC_RAW, TAG_EVENT,
    TAG_EVENT_BLOCK,
};
use super::event_blocks::Blocks;
use super::{StoreError, BATCH_ENTRIES};
use crate::model::business::{ChunkRow, ImportChunk, ImportCurrent};
use crate::model::{
    Bug, Change, CodeOwnersFile, Commit, Deployment, Event, ImportRecord, Incident, MetricRow,
    RevenueAttributes, RevenueAttributesCurrent, RevenueMonth, RevenueMonthRows, RevenueTotal,
    Ticket,
};

/// Moves the events of a schema-1 store into blocks; returns how many were moved.
pub(super) fn from_v1(db: &sled::Db) -> Result<u64, StoreError> {
    let mut moved = 0;
    loop {
        let chunk = db
            .scan_prefix([TAG_EVENT])
            .take(BATCH_ENTRIES)
            .collect::<Result<Vec<_>, _>>()?;
        if chunk.is_empty() {
            break;
        }
        let mut blocks = Blocks::new(db);
        let mut batch = sled::Batch::default();
        for (k, json) in &chunk {
            let (kind, key) = split_v1_key(k)?;
            // The JSON is kept as it is, tagged as JSON; `recode` then rewrites what it can.
            // Ticket chunks in their columns (not JSON: they never start with `{`) keep their
            // bytes under the codec their reader expects.
            let codec = if kind == Ticket::CHUNK_KIND && json.first() != Some(&b'{') {
                CODEC_RAW
            } else {
                CODEC_JSON
            };
            let mut record = Vec::with_capacity(json.len() + 1);
            record.push(codec);
            record.extend_from_slice(json);
            blocks.put(kind, key, record)?;
            batch.remove(k.clone());
        }
        blocks.finish(&mut batch);
        db.apply_batch(batch)?;
        moved += chunk.len() as u64;
    }
    // Every kind schema 1 knew; a kind added since was never written as JSON by schema 1. A kind
    // missing here is not lost: its records stay JSON, which reads as before, only slower.
    recode::<Deployment>(db)?;
    recode::<Change>(db)?;
    recode::<Commit>(db)?;
    recode::<Incident>(db)?;
    recode::<Bug>(db)?;
    recode::<RevenueMonthRows>(db)?;
    recode::<RevenueTotal>(db)?;
    recode::<RevenueMonth>(db)?;
    recode::<ImportRecord>(db)?;
    recode::<RevenueAttributes>(db)?;
    recode::<RevenueAttributesCurrent>(db)?;
    recode::<CodeOwnersFile>(db)?;
    recode::<ImportChunk<Ticket>>(db)?;
    recode::<ImportCurrent<Ticket>>(db)?;
    recode::<ImportChunk<MetricRow>>(db)?;
    recode::<ImportCurrent<MetricRow>>(db)?;
    Ok(moved)
}

fn split_v1_key(k: &[u8]) -> Result<(&str, &str), StoreError> {
    let corrupt = || StoreError::Corrupt(format!("undecodable schema-1 event key {k:?}"));
    let body = k.get(1..).ok_or_else(corrupt)?;
    let nul = body.iter().position(|b| *b == 0).ok_or_else(corrupt)?;
    let kind = std::str::from_utf8(&body[..nul]).map_err(|_| corrupt())?;
    let key = std::str::from_utf8(&body[nul + 1..]).map_err(|_| corrupt())?;
    Ok((kind, key))
}

/// Rewrites a kind's JSON records in postcard, where postcard carries them faithfully, in
/// batches of at most [`BATCH_ENTRIES`]. A record that does not decode as `E` is left as it is
/// (reading it reports the error, as schema 1 would have).
fn recode<E: Event>(db: &sled::Db) -> Result<(), StoreError> {
    // Rewriting a record in place never moves a block's first key, so the keys listed up front
    // stay valid while batches are applied.
    let block_keys = db
        .scan_prefix(tagged(TAG_EVENT_BLOCK, E::KIND, ""))
        .keys()
        .collect::<Result<Vec<_>, _>>()?;
    let mut blocks = Blocks::new(db);
    let mut pending = 0;
    for block_key in block_keys {
        let Some(bytes) = db.get(&block_key)? else {
            continue;
        };
        for (key, record) in decode_event_block(&bytes)? {
            let Some((&CODEC_JSON, json)) = record.split_first() else {
                continue;
            };
            let Ok(event) = serde_json::from_slice::<E>(json) else {
                continue;
            };
            match encode_event(&event) {
                Ok(encoded) if encoded.record.first() == Some(&CODEC_POSTCARD) => {
                    blocks.put(E::KIND, key, encoded.record)?;
                    pending += 1;
                }
                _ => {}
            }
        }
        if pending >= BATCH_ENTRIES {
            let mut batch = sled::Batch::default();
            std::mem::replace(&mut blocks, Blocks::new(db)).finish(&mut batch);
            db.apply_batch(batch)?;
            pending = 0;
        }
    }
    let mut batch = sled::Batch::default();
    blocks.finish(&mut batch);
    db.apply_batch(batch)?;
    Ok(())
}
