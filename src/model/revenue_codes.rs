//! A revenue import's months in their coded form: the import's customer ids listed once, and
//! each month's rows naming customers by their place in that list.
//!
//! A million customer-months are then a list of the file's customers (20 000 in the benchmark)
//! and a million small numbers, not a million strings to encode, store, decode and intern again.

use super::Month;

/// The customer ids of one revenue import, each once, in code order (the order in which the
/// file first names them). [`CodedMonthRows::customers`] are codes into this list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportCustomers {
    /// Every id, one after the other.
    ids: String,
    /// Where each id ends in `ids`.
    ends: Vec<u32>,
}

impl ImportCustomers {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an id; its code is the number of ids before it.
    pub fn push(&mut self, id: &str) {
        self.ids.push_str(id);
        self.ends
            .push(u32::try_from(self.ids.len()).unwrap_or(u32::MAX));
    }

    /// The id of a code.
    pub fn get(&self, code: u32) -> Option<&str> {
        let i = code as usize;
        let end = *self.ends.get(i)? as usize;
        let start = match i {
            0 => 0,
            _ => *self.ends.get(i - 1)? as usize,
        };
        self.ids.get(start..end)
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The ids in code order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.ends.len() as u32).filter_map(|c| self.get(c))
    }

    /// The ids one after the other, and the length of each (the stored form).
    pub(crate) fn to_parts(&self) -> (&str, Vec<u32>) {
        let mut prev = 0;
        let lengths = self
            .ends
            .iter()
            .map(|e| {
                let n = e - prev;
                prev = *e;
                n
            })
            .collect();
        (&self.ids, lengths)
    }

    /// The list from its stored form, refused when the lengths do not cut `ids` into whole
    /// characters that use it up.
    pub(crate) fn from_parts(ids: String, lengths: &[u32]) -> Result<Self, String> {
        let mut ends = Vec::with_capacity(lengths.len());
        let mut end = 0usize;
        for n in lengths {
            end += *n as usize;
            if !ids.is_char_boundary(end) || end > ids.len() {
                return Err("a customer id past the list's text".into());
            }
            ends.push(u32::try_from(end).map_err(|_| "customer ids too long")?);
        }
        if end != ids.len() {
            return Err("text after the last customer id".into());
        }
        Ok(Self { ids, ends })
    }
}

/// One month of a revenue import's customer rows, with customers as codes into the import's
/// [`ImportCustomers`] (what imports write; the demo and earlier versions wrote
/// [`super::RevenueMonthRows`], with the ids in each month).
#[derive(Debug, Clone, PartialEq)]
pub struct CodedMonthRows {
    /// The import that wrote it; only the import active for its (source, month) counts.
    pub import_id: String,
    /// The revenue source.
    pub source: String,
    /// The month.
    pub month: Month,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// Each row's customer, as its code in the import's list.
    pub customers: Vec<u32>,
    /// MRR of each row, as of the end of the month.
    pub mrr: Vec<f64>,
    /// Plan names.
    pub plans: Vec<String>,
    /// Each row's plan, as 1 + an index into `plans` (0 = unknown).
    pub plan: Vec<u32>,
    /// Segment names.
    pub segments: Vec<String>,
    /// Each row's segment, as 1 + an index into `segments` (0 = unknown).
    pub segment: Vec<u32>,
}

impl CodedMonthRows {
    /// An empty month, with room for `rows` rows.
    pub fn new(import_id: &str, source: &str, month: Month, currency: &str, rows: usize) -> Self {
        Self {
            import_id: import_id.into(),
            source: source.into(),
            month,
            currency: currency.into(),
            customers: Vec::with_capacity(rows),
            mrr: Vec::with_capacity(rows),
            plans: Vec::new(),
            plan: Vec::with_capacity(rows),
            segments: Vec::new(),
            segment: Vec::with_capacity(rows),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.customers.len()
    }

    /// Whether the month has no row.
    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }
}
