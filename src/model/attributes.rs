//! Customer attributes: what billing tools export about customers apart from their MRR (name,
//! segment, plan, ...), imported per revenue source and joined to its MRR rows when reading.

use serde::{Deserialize, Serialize};

use super::{Event, Month};

/// What an attributes file states about one customer; absent values are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerAttributes {
    /// The customer id, as the MRR files of the same source write it.
    pub customer_id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Segment: given to the customer's MRR rows that carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Plan: given to the customer's MRR rows that carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// ISO 4217 code the customer is billed in (upper case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Country, as the file writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The first month the customer paid, as the billing tool knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_month: Option<Month>,
}

/// Customers per stored chunk of an attributes import: a chunk is one store entry, and a few
/// megabytes at most even with long names.
pub const ATTRIBUTES_PER_CHUNK: usize = 10_000;

/// One chunk of the customers of an attributes import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueAttributes {
    /// The import that wrote it; only the import current for its source counts.
    pub import_id: String,
    /// The revenue source whose customers these are.
    pub source: String,
    /// Chunk number, from 0.
    pub chunk: u32,
    /// The customers of this chunk.
    pub customers: Vec<CustomerAttributes>,
}

impl Event for RevenueAttributes {
    const KIND: &'static str = "revenue_attributes";
    fn natural_key(&self) -> String {
        chunk_key(&self.import_id, self.chunk)
    }
}

/// The store key of a chunk.
pub fn chunk_key(import_id: &str, chunk: u32) -> String {
    format!("{import_id}/{chunk:06}")
}

/// Which attributes import counts for a source: a new attributes file replaces the whole set,
/// as billing tools export every customer at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueAttributesCurrent {
    /// The revenue source.
    pub source: String,
    /// The import whose chunks count.
    pub import_id: String,
    /// How many chunks it has.
    pub chunks: u32,
    /// How many customers.
    pub customers: u64,
}

impl Event for RevenueAttributesCurrent {
    const KIND: &'static str = "revenue_attributes_current";
    fn natural_key(&self) -> String {
        self.source.clone()
    }
}
