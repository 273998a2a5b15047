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
use crate::store::{Store, StoreError, WriteBatch};

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
    /// The number of the next chunk of the file (or of its first part), and its tickets so far.
    first: (u32, u64),
    /// A file read in two parts: the number of the second part's first chunk, how many it
    /// staged and their tickets (`None` again once the second part is dropped).
    second: Option<(u32, u32, u64)>,
    failed: Option<StoreError>,
}

impl<'a> TicketStager<'a> {
    /// A stager writing under `import_id`, or one that writes nothing.
    pub(crate) fn new(store: &'a Store, import_id: Option<String>) -> Self {
        Self {
            store,
            import_id,
            first: (0, 0),
            second: None,
            failed: None,
        }
    }

    /// Takes what the parser hands on, in the order it hands it on. The second part's chunks
    /// are numbered from the number the parser gave, which the first part cannot reach; the
    /// numbers it did not reach are staged empty once it is read, so that the import's chunks
    /// are every number below its count.
    pub(crate) fn take(&mut self, staged: Staged) {
        match staged {
            Staged::Next(tickets) => {
                if self.second.is_some_and(|(from, _, _)| self.first.0 >= from) {
                    self.fail("the first part of the file filled more chunks than its lines can");
                    return;
                }
                if self.stage(self.first.0, &tickets) {
                    self.first.0 += 1;
                    self.first.1 += tickets.len() as u64;
                }
            }
            Staged::TwoParts { second_from } => self.second = Some((second_from, 0, 0)),
            Staged::Second(tickets) => {
                let Some((from, staged, rows)) = self.second else {
                    return;
                };
                if self.stage(from + staged, &tickets) {
                    self.second = Some((from, staged + 1, rows + tickets.len() as u64));
                }
            }
            Staged::FirstDone => {
                let Some((from, _, _)) = self.second.filter(|(from, _, _)| self.first.0 < *from)
                else {
                    return;
                };
                let mut batch = WriteBatch::new();
                if let Some(id) = self.import_id.as_deref() {
                    for no in self.first.0..from {
                        batch.put_ticket_chunk(id, no, &TicketColumns::default());
                    }
                }
                self.first.0 = self.first.0.max(from);
                self.commit(batch);
            }
            Staged::SecondDropped => {
                let Some((from, staged, _)) = self.second.take() else {
                    return;
                };
                self.delete(from..from + staged);
            }
        }
    }

    /// The import's chunks (every number below it) and tickets.
    fn count(&self) -> (u32, u64) {
        match self.second {
            Some((from, staged, rows)) => (self.first.0.max(from + staged), self.first.1 + rows),
            _ => self.first,
        }
    }

    fn fail(&mut self, reason: &str) {
        self.failed.get_or_insert(StoreError::Invalid {
            what: "a tickets file's chunks".into(),
            reason: reason.into(),
        });
    }

    /// Writes chunk `no`: whether it was written (after a store error, nothing more is:
    /// [`TicketStager::flip`] reports it).
    fn stage(&mut self, no: u32, tickets: &TicketColumns) -> bool {
        let Some(id) = self.import_id.as_deref() else {
            return false;
        };
        let mut batch = WriteBatch::new();
        batch.put_ticket_chunk(id, no, tickets);
        self.commit(batch)
    }

    fn commit(&mut self, batch: WriteBatch) -> bool {
        if self.failed.is_some() || self.import_id.is_none() {
            return false;
        }
        match self.store.commit(batch) {
            Ok(_) => true,
            Err(e) => {
                self.failed = Some(e);
                false
            }
        }
    }

    fn delete(&mut self, chunks: std::ops::Range<u32>) {
        let Some(id) = self.import_id.as_deref() else {
            return;
        };
        let mut purge = WriteBatch::new();
        for chunk in chunks {
            purge.delete_event::<ImportChunk<Ticket>>(&chunk_key(id, chunk));
        }
        self.commit(purge);
    }

    /// Deletes what was staged.
    pub(crate) fn discard(self) -> Result<(), StoreError> {
        let (chunks, _) = self.count();
        let Some(id) = self.import_id else {
            return Ok(());
        };
        let mut purge = WriteBatch::new();
        for chunk in 0..chunks {
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
        let (chunks, rows) = self.count();
        let mut flip = WriteBatch::new();
        flip.upsert_event(&ImportCurrent::<Ticket>::new(source, id, chunks, rows));
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
