//! Applying a whole set of rows to one import source, all or nothing: customer attributes,
//! support tickets and business metrics. A new file replaces the whole set of its source.
//!
//! The rows are staged in chunks under the import id, invisible until one batch points the
//! source at the new import and records it; the chunks of the import it replaced are deleted
//! afterwards (a crash in between leaves unreachable chunks, never wrong figures). The same
//! file again finds its source already pointing at it and writes nothing.

use std::marker::PhantomData;

use super::tickets_csv::Staged;
use crate::model::attributes::chunk_key;
use crate::model::business::{ChunkRow, ImportChunk, ImportCurrent};
use crate::model::{Event, ImportRecord, Ticket, TicketColumns};
use crate::store::{EncodedTicketChunk, Store, StoreError, WriteBatch};

/// How a set import ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Written and current.
    Applied,
    /// Already current: nothing written.
    Unchanged,
    /// A dry run: nothing written.
    DryRun,
}

impl Outcome {
    /// The word the summaries and the history use.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Unchanged => "unchanged",
            Outcome::DryRun => "dry-run",
        }
    }
}

/// The store records of one kind of set.
pub(crate) trait ChunkedSet {
    /// A row.
    type Row: Clone;
    /// A stored chunk of rows.
    type Chunk: Event;
    /// The pointer of a source to its current import.
    type Current: Event;
    /// Rows per chunk.
    const PER_CHUNK: usize;
    /// A chunk.
    fn chunk(import_id: &str, source: &str, no: u32, rows: Vec<Self::Row>) -> Self::Chunk;
    /// The pointer.
    fn current(import_id: &str, source: &str, chunks: u32, rows: u64) -> Self::Current;
    /// The import and chunk count a pointer names.
    fn pointer(current: &Self::Current) -> (&str, u32);
}

/// The sets stored as [`ImportChunk`]s (tickets, metric rows).
pub(crate) struct Rows<T>(PhantomData<T>);

impl<T: ChunkRow> ChunkedSet for Rows<T> {
    type Row = T;
    type Chunk = ImportChunk<T>;
    type Current = ImportCurrent<T>;
    const PER_CHUNK: usize = T::PER_CHUNK;
    fn chunk(import_id: &str, source: &str, no: u32, rows: Vec<T>) -> ImportChunk<T> {
        ImportChunk {
            import_id: import_id.to_owned(),
            source: source.to_owned(),
            chunk: no,
            rows,
        }
    }
    fn current(import_id: &str, source: &str, chunks: u32, rows: u64) -> ImportCurrent<T> {
        ImportCurrent::new(source, import_id, chunks, rows)
    }
    fn pointer(current: &ImportCurrent<T>) -> (&str, u32) {
        (&current.import_id, current.chunks)
    }
}

/// Makes `rows` the set of `source` under `import_id`, recording `history` in the same batch
/// that makes them visible.
pub(crate) fn apply<S: ChunkedSet>(
    store: &Store,
    rows: Vec<S::Row>,
    import_id: &str,
    source: &str,
    dry_run: bool,
    history: ImportRecord,
) -> Result<Outcome, StoreError> {
    if dry_run {
        return Ok(Outcome::DryRun);
    }
    let current = store.event::<S::Current>(source)?;
    if current
        .as_ref()
        .is_some_and(|c| S::pointer(c).0 == import_id)
    {
        return Ok(Outcome::Unchanged);
    }

    // 1. Stage: one chunk per commit, since a chunk can be megabytes. The rows are moved into
    // their chunks, not cloned: at a million tickets the copies cost more than the writes.
    let total = rows.len() as u64;
    let mut rest = rows.into_iter();
    let mut chunks = 0u32;
    loop {
        let chunk: Vec<S::Row> = rest.by_ref().take(S::PER_CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        let mut batch = WriteBatch::new();
        batch.upsert_event(&S::chunk(import_id, source, chunks, chunk));
        store.commit(batch)?;
        chunks += 1;
    }

    // 2. Flip the source to the new import and record it.
    let mut flip = WriteBatch::new();
    flip.upsert_event(&S::current(import_id, source, chunks, total));
    flip.upsert_event(&history);
    store.commit(flip)?;

    // 3. Drop the replaced import's chunks.
    if let Some(old) = current {
        let (old_id, old_chunks) = S::pointer(&old);
        let mut purge = WriteBatch::new();
        for chunk in 0..old_chunks {
            purge.delete_event::<S::Chunk>(&chunk_key(old_id, chunk));
        }
        store.commit(purge)?;
    }
    Ok(Outcome::Applied)
}

/// Stages the tickets of one import as the parser hands them on, a chunk per commit, so that
/// neither the file's tickets nor their encoded chunks are ever all in memory. The chunks are
/// invisible until [`TicketStager::flip`]; a file refused after some were staged leaves them
/// to [`TicketStager::discard`] (and a crash in between leaves unreachable chunks, which the
/// next import of the same file overwrites).
pub(crate) struct TicketStager<'a> {
    store: &'a Store,
    /// `None`: nothing is written (a dry run, or a file its source already points at).
    import_id: Option<String>,
    chunks: u32,
    rows: u64,
    failed: Option<StoreError>,
    /// The chunks of the file's second part, encoded, until the first part's are all staged
    /// (their numbers follow them).
    held: Vec<EncodedTicketChunk>,
    /// Where the second part's chunks go now.
    second: Second,
}

/// What the stager does with a chunk of the file's second part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Second {
    Hold,
    Stage,
    Drop,
}

impl<'a> TicketStager<'a> {
    /// A stager writing under `import_id`, or one that writes nothing.
    pub(crate) fn new(store: &'a Store, import_id: Option<String>) -> Self {
        Self {
            store,
            import_id,
            chunks: 0,
            rows: 0,
            failed: None,
            held: Vec::new(),
            second: Second::Hold,
        }
    }

    /// Takes what the parser hands on, in the order it hands it on: the chunks of the file's
    /// second part are numbered after the first part's, whichever is parsed first.
    pub(crate) fn take(&mut self, staged: Staged) {
        match staged {
            Staged::Next(tickets) => self.stage(tickets),
            Staged::Second(tickets) => match self.second {
                Second::Stage => self.stage(tickets),
                Second::Hold if self.import_id.is_some() => {
                    self.held.push(EncodedTicketChunk::new(&tickets));
                }
                Second::Hold | Second::Drop => {}
            },
            Staged::FirstDone => {
                self.second = Second::Stage;
                for chunk in std::mem::take(&mut self.held) {
                    self.stage_encoded(chunk);
                }
            }
            Staged::SecondDropped => {
                self.second = Second::Drop;
                self.held = Vec::new();
            }
        }
    }

    /// Writes the next chunk (after a store error, nothing more: [`TicketStager::flip`]
    /// reports it).
    fn stage(&mut self, tickets: TicketColumns) {
        if self.import_id.is_some() {
            self.stage_encoded(EncodedTicketChunk::new(&tickets));
        }
    }

    fn stage_encoded(&mut self, chunk: EncodedTicketChunk) {
        let Some(id) = self.import_id.as_deref() else {
            return;
        };
        if self.failed.is_some() {
            return;
        }
        let rows = chunk.len() as u64;
        let mut batch = WriteBatch::new();
        batch.put_encoded_ticket_chunk(id, self.chunks, chunk);
        match self.store.commit(batch) {
            Ok(_) => {
                self.chunks += 1;
                self.rows += rows;
            }
            Err(e) => self.failed = Some(e),
        }
    }

    /// Deletes what was staged.
    pub(crate) fn discard(self) -> Result<(), StoreError> {
        let Some(id) = self.import_id else {
            return Ok(());
        };
        let mut purge = WriteBatch::new();
        for chunk in 0..self.chunks {
            purge.delete_event::<ImportChunk<Ticket>>(&chunk_key(&id, chunk));
        }
        self.store.commit(purge)?;
        Ok(())
    }

    /// Makes the staged tickets the set of `source`, recording `history` in the same batch,
    /// then drops the chunks of the import they replace (`current`).
    pub(crate) fn flip(
        mut self,
        source: &str,
        current: Option<&ImportCurrent<Ticket>>,
        history: ImportRecord,
    ) -> Result<(), StoreError> {
        if let Some(e) = self.failed.take() {
            if let Err(cleanup) = self.discard() {
                tracing::warn!(error = %cleanup, "cannot delete the chunks of a failed tickets import");
            }
            return Err(e);
        }
        let Some(id) = self.import_id.as_deref() else {
            return Ok(());
        };
        let mut flip = WriteBatch::new();
        flip.upsert_event(&ImportCurrent::<Ticket>::new(
            source,
            id,
            self.chunks,
            self.rows,
        ));
        flip.upsert_event(&history);
        self.store.commit(flip)?;
        if let Some(old) = current {
            let mut purge = WriteBatch::new();
            for chunk in 0..old.chunks {
                purge.delete_event::<ImportChunk<Ticket>>(&chunk_key(&old.import_id, chunk));
            }
            self.store.commit(purge)?;
        }
        Ok(())
    }
}
