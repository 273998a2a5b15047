//! Support tickets and business metrics (cost, margin, headcount): what the ticket and metrics
//! imports store, one set per import source, in chunks like the customer attributes.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::attributes::chunk_key;
use super::Event;

/// One support ticket (a Zendesk ticket, an Intercom conversation, a Jira Service Management
/// request), as its export states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// The ticket's id in its tool (`4711`, `PROJ-12`).
    pub id: String,
    /// When it was opened, ms since the epoch (UTC).
    pub created_ms: i64,
    /// When it was solved or closed, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solved_ms: Option<i64>,
    /// Minutes from creation to the first agent reply, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_reply_minutes: Option<f64>,
    /// The customer (organisation) that raised it, as the revenue data's customer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Priority, as the tool writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Tags (labels).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Ticket or request type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Service or component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
}

impl Ticket {
    /// What the ticket is about, for the pain table: its components when it names any, else its
    /// tags, else its type; `untagged` otherwise.
    pub fn topics(&self) -> Vec<&str> {
        if !self.components.is_empty() {
            self.components.iter().map(String::as_str).collect()
        } else if !self.tags.is_empty() {
            self.tags.iter().map(String::as_str).collect()
        } else {
            vec![self.kind.as_deref().unwrap_or("untagged")]
        }
    }
}

/// The period a metrics row is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    /// One day.
    Day,
    /// One ISO week (from its Monday).
    Week,
    /// One calendar month (from its first day).
    Month,
}

/// The metrics the analysis reads; any other name is stored, listed and charted as it is.
pub const KNOWN_METRICS: [&str; 5] = [
    "cloud_cost",
    "gross_margin_ratio",
    "operating_margin_ratio",
    "engineering_headcount",
    "support_headcount",
];

/// Which margin the Rule of 40 adds to growth (`business.rule_of_40_margin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MarginKind {
    /// `operating_margin_ratio`: the closest of the imported kinds to the EBITDA margin the
    /// Rule of 40 is usually stated with.
    #[default]
    Operating,
    /// `gross_margin_ratio`.
    Gross,
}

impl MarginKind {
    /// The metric that holds it.
    pub fn metric(self) -> &'static str {
        match self {
            MarginKind::Operating => "operating_margin_ratio",
            MarginKind::Gross => "gross_margin_ratio",
        }
    }
}

/// One row of a metrics file: a value of a named business metric for a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    /// The metric's name (`cloud_cost`, `gross_margin_ratio`, or any other).
    pub metric: String,
    /// Day, week or month.
    pub grain: Grain,
    /// The period's first day.
    pub start: NaiveDate,
    /// The value (a ratio for `*_ratio` metrics: 0.72 = 72 %).
    pub value: f64,
    /// Labels (`provider=aws;team=core`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A kind of row stored in chunks per import (tickets, metric rows).
pub trait ChunkRow: Clone + Serialize + serde::de::DeserializeOwned {
    /// The store kind of a chunk.
    const CHUNK_KIND: &'static str;
    /// The store kind of the "current import" pointer.
    const CURRENT_KIND: &'static str;
    /// Rows per chunk: one store entry, a few megabytes at most.
    const PER_CHUNK: usize;
}

impl ChunkRow for Ticket {
    const CHUNK_KIND: &'static str = "ticket_chunk";
    const CURRENT_KIND: &'static str = "ticket_current";
    const PER_CHUNK: usize = 20_000;
}

impl ChunkRow for MetricRow {
    const CHUNK_KIND: &'static str = "metric_chunk";
    const CURRENT_KIND: &'static str = "metric_current";
    const PER_CHUNK: usize = 20_000;
}

/// One chunk of the rows of an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "T: ChunkRow")]
pub struct ImportChunk<T> {
    /// The import that wrote it; only the import current for its source counts.
    pub import_id: String,
    /// The import source.
    pub source: String,
    /// Chunk number, from 0.
    pub chunk: u32,
    /// The rows.
    pub rows: Vec<T>,
}

impl<T: ChunkRow> Event for ImportChunk<T> {
    const KIND: &'static str = T::CHUNK_KIND;
    fn natural_key(&self) -> String {
        chunk_key(&self.import_id, self.chunk)
    }
}

/// Which import counts for a source: a new file replaces the source's whole set, as the tools
/// export every ticket (or every month) at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCurrent<T> {
    /// The import source.
    pub source: String,
    /// The import whose chunks count.
    pub import_id: String,
    /// How many chunks it has.
    pub chunks: u32,
    /// How many rows.
    pub rows: u64,
    #[serde(skip)]
    kind: PhantomData<fn() -> T>,
}

impl<T> ImportCurrent<T> {
    /// The pointer of `source` to `import_id`.
    pub fn new(source: &str, import_id: &str, chunks: u32, rows: u64) -> Self {
        Self {
            source: source.to_owned(),
            import_id: import_id.to_owned(),
            chunks,
            rows,
            kind: PhantomData,
        }
    }
}

impl<T: ChunkRow> Event for ImportCurrent<T> {
    const KIND: &'static str = T::CURRENT_KIND;
    fn natural_key(&self) -> String {
        self.source.clone()
    }
}
