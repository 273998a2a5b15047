//! Applying customer attributes files: all or nothing per source (see [`super::chunked`]), as
//! monthly files are per month. A new file replaces the whole set of its source: billing tools
//! export every customer at once.

use super::chunked::{self, ChunkedSet, Outcome};
use crate::model::attributes::ATTRIBUTES_PER_CHUNK;
use crate::model::{CustomerAttributes, ImportRecord, RevenueAttributes, RevenueAttributesCurrent};
use crate::store::{Store, StoreError};

/// Attributes keep their own record types (stored before the other sets existed).
struct Attributes;

impl ChunkedSet for Attributes {
    type Row = CustomerAttributes;
    type Chunk = RevenueAttributes;
    type Current = RevenueAttributesCurrent;
    const PER_CHUNK: usize = ATTRIBUTES_PER_CHUNK;
    fn chunk(import_id: &str, source: &str, no: u32, rows: Vec<CustomerAttributes>) -> Self::Chunk {
        RevenueAttributes {
            import_id: import_id.to_owned(),
            source: source.to_owned(),
            chunk: no,
            customers: rows,
        }
    }
    fn current(import_id: &str, source: &str, chunks: u32, rows: u64) -> Self::Current {
        RevenueAttributesCurrent {
            source: source.to_owned(),
            import_id: import_id.to_owned(),
            chunks,
            customers: rows,
        }
    }
    fn pointer(current: &Self::Current) -> (&str, u32) {
        (&current.import_id, current.chunks)
    }
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
    chunked::apply::<Attributes>(
        store,
        customers.to_vec(),
        import_id,
        source,
        dry_run,
        history,
    )
}
