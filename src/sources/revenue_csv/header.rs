//! Header detection: which column holds which field (names set in `[revenue.columns]`), and
//! which layout the header describes.

use super::Layout;
use crate::config::Columns;

/// The fields a file can have, in the order of [`Header::idx`].
const FIELDS: [&str; 13] = [
    "customer_id",
    "month",
    "date",
    "mrr",
    "currency",
    "plan",
    "segment",
    "type",
    "amount",
    "arr",
    "nrr",
    "grr",
    "customers",
];

fn field_no(field: &str) -> usize {
    FIELDS
        .iter()
        .position(|f| *f == field)
        .unwrap_or(FIELDS.len())
}

/// Header positions of the fields a layout uses.
pub(super) struct Header {
    pub(super) names: Vec<String>,
    idx: [Option<usize>; FIELDS.len() + 1],
}

impl Header {
    pub(super) fn new(record: &csv::StringRecord, columns: &Columns) -> Self {
        let names: Vec<String> = record.iter().map(|h| h.trim().to_owned()).collect();
        let lower: Vec<String> = names.iter().map(|h| h.to_lowercase()).collect();
        let mut idx = [None; FIELDS.len() + 1];
        for (field, accepted) in [
            ("customer_id", &columns.customer_id),
            ("month", &columns.month),
            ("date", &columns.date),
            ("mrr", &columns.mrr),
            ("currency", &columns.currency),
            ("plan", &columns.plan),
            ("segment", &columns.segment),
            ("type", &columns.r#type),
            ("amount", &columns.amount),
            ("arr", &columns.arr),
            ("nrr", &columns.nrr),
            ("grr", &columns.grr),
            ("customers", &columns.customers),
        ] {
            if let Some(i) = accepted
                .iter()
                .find_map(|a| lower.iter().position(|h| h == a))
            {
                idx[field_no(field)] = Some(i);
            }
        }
        Self { names, idx }
    }

    pub(super) fn get(&self, f: &str) -> Option<usize> {
        self.idx[field_no(f)]
    }

    /// The header's names for an error message, each and all bounded by [`super::excerpt`].
    pub(super) fn shown(&self) -> String {
        super::excerpt(
            &self
                .names
                .iter()
                .map(|n| super::excerpt(n))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }

    pub(super) fn has(&self, f: &str) -> bool {
        self.get(f).is_some()
    }

    pub(super) fn detect(&self) -> Option<Layout> {
        let when = self.has("month") || self.has("date");
        if self.has("customer_id") && self.has("type") && self.has("amount") && when {
            Some(Layout::Movements)
        } else if self.has("customer_id") && self.has("mrr") && when {
            Some(Layout::Snapshots)
        } else if self.has("arr") && when && !self.has("customer_id") {
            Some(Layout::Totals)
        } else {
            None
        }
    }

    pub(super) fn missing(&self, layout: Layout) -> Vec<&'static str> {
        let needed: &[&'static str] = match layout {
            Layout::Snapshots => &["customer_id", "mrr"],
            Layout::Movements => &["customer_id", "type", "amount"],
            Layout::Totals => &["arr"],
        };
        let mut m: Vec<&'static str> = needed.iter().copied().filter(|f| !self.has(f)).collect();
        if !self.has("month") && !self.has("date") {
            m.push("month or date");
        }
        m
    }
}
