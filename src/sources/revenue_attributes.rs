//! Applying customer attributes files: all or nothing per source, as monthly files are per month.
//!
//! The customers are staged in chunks under the import id, invisible until one batch points the
//! source at the new import and records it; the chunks of the import it replaced are deleted
//! afterwards (a crash in between leaves unreachable chunks, never wrong segments). A new file
//! replaces the whole set of its source: billing tools export every customer at once. The same
//! file again finds its source already pointing at it and writes nothing.

use crate::model::attributes::{chunk_key, ATTRIBUTES_PER_CHUNK};
use crate::model::{CustomerAttributes, ImportRecord, RevenueAttributes, RevenueAttributesCurrent};
use crate::store::{Store, StoreError, WriteBatch};

/// How an attributes import ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Written and current.
    Applied,
    /// Already current: nothing written.
    Unchanged,
    /// A dry run: nothing written.
    DryRun,
}

/// Makes `customers` the attributes of `source` under `import_id`, recording `history` in the
/// same batch that makes them visible.
pub(super) fn apply(
    store: &Store,
    customers: &[CustomerAttributes],
    import_id: &str,
    source: &str,
    dry_run: bool,
    history: ImportRecord,
) -> Result<Outcome, StoreError> {
    if dry_run {
        return Ok(Outcome::DryRun);
    }
    let current = store.event::<RevenueAttributesCurrent>(source)?;
    if current.as_ref().is_some_and(|c| c.import_id == import_id) {
        return Ok(Outcome::Unchanged);
    }

    // 1. Stage: one chunk per commit, since a chunk can be megabytes.
    let mut chunks = 0u32;
    for (i, chunk) in customers.chunks(ATTRIBUTES_PER_CHUNK).enumerate() {
        let chunk_no = u32::try_from(i).unwrap_or(u32::MAX);
        let mut batch = WriteBatch::new();
        batch.upsert_event(&RevenueAttributes {
            import_id: import_id.to_owned(),
            source: source.to_owned(),
            chunk: chunk_no,
            customers: chunk.to_vec(),
        });
        store.commit(batch)?;
        chunks = chunk_no + 1;
    }

    // 2. Flip the source to the new import and record it.
    let mut flip = WriteBatch::new();
    flip.upsert_event(&RevenueAttributesCurrent {
        source: source.to_owned(),
        import_id: import_id.to_owned(),
        chunks,
        customers: customers.len() as u64,
    });
    flip.upsert_event(&history);
    store.commit(flip)?;

    // 3. Drop the replaced import's chunks.
    if let Some(old) = current {
        let mut purge = WriteBatch::new();
        for chunk in 0..old.chunks {
            purge.delete_event::<RevenueAttributes>(&chunk_key(&old.import_id, chunk));
        }
        store.commit(purge)?;
    }
    Ok(Outcome::Applied)
}
