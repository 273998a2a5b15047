//! Header detection: which column holds which field, and which layout the header describes.
//!
//! A column is recognised by its name compared in [`normalize`]d form — case, spaces, underscores,
//! hyphens and a trailing currency unit such as `(USD)` do not matter — against the names in
//! `[revenue.columns]` first, then the names billing tools and spreadsheets export
//! ([`super::known`]).
//!
//! The matching is written once for every CSV import: a [`Vocab`] names the fields of a kind of
//! file and the names exports give them (revenue here, support tickets and business metrics in
//! [`crate::sources::tickets_csv`] and [`crate::sources::metrics_csv`]).

use super::known::{ATTRIBUTES, CHARTMOGUL_AMOUNTS, CHARTMOGUL_MARKERS, FIELDS, KNOWN};
use super::Layout;
use crate::config::{Columns, RevenueConfig};

/// The fields of one kind of CSV file and the header names exports give each.
#[derive(Debug)]
pub(crate) struct Vocab {
    /// The fields, in a fixed order.
    pub(crate) fields: &'static [&'static str],
    /// Per field, in the order of `fields`, the names common exports use.
    pub(crate) known: &'static [(&'static str, &'static [&'static str])],
    /// The configuration table that adds names (`revenue.columns`), for messages.
    pub(crate) columns_key: &'static str,
}

/// The revenue files' vocabulary.
pub(super) static REVENUE: Vocab = Vocab {
    fields: &FIELDS,
    known: &KNOWN,
    columns_key: "revenue.columns",
};

fn configured<'c>(columns: &'c Columns, field: &str) -> &'c [String] {
    match field {
        "customer_id" => &columns.customer_id,
        "month" => &columns.month,
        "date" => &columns.date,
        "mrr" => &columns.mrr,
        "currency" => &columns.currency,
        "plan" => &columns.plan,
        "segment" => &columns.segment,
        "type" => &columns.r#type,
        "amount" => &columns.amount,
        "arr" => &columns.arr,
        "nrr" => &columns.nrr,
        "grr" => &columns.grr,
        "customers" => &columns.customers,
        "name" => &columns.name,
        "country" => &columns.country,
        "first_month" => &columns.first_month,
        _ => &[],
    }
}

/// A header name in the form names are compared in, and the unit it carried: lower case without
/// spaces, underscores or hyphens (`Customer ID`, `customer_id` and `CUSTOMER-ID` are one name),
/// and without a trailing `(USD)`, `[EUR]` or `($)` (spreadsheets put the currency there; a
/// three-letter unit counts as a currency code when written in capitals, as ISO 4217 codes are).
pub(crate) fn normalize(name: &str) -> (String, Option<String>) {
    let trimmed = name.trim();
    let mut unit = None;
    let mut base = trimmed;
    for (open, close) in [('(', ')'), ('[', ']')] {
        if let Some(inner_start) = trimmed
            .strip_suffix(close)
            .and_then(|rest| rest.rfind(open).map(|i| (rest, i)))
        {
            let (rest, i) = inner_start;
            let inner = rest[i + open.len_utf8()..].trim();
            // Codes are written in capitals: `MRR (net)` is a name, not a currency.
            let is_code = inner.len() == 3 && inner.bytes().all(|b| b.is_ascii_uppercase());
            let is_symbol = matches!(inner, "$" | "€" | "£" | "¥");
            if (is_code || is_symbol) && !rest[..i].trim().is_empty() {
                unit = Some(inner.to_owned());
                base = &rest[..i];
            }
        }
    }
    let key = base
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    (key, unit)
}

/// Header positions of the fields a layout uses.
pub(crate) struct Header {
    pub(crate) names: Vec<String>,
    keys: Vec<String>,
    units: Vec<Option<String>>,
    vocab: &'static Vocab,
    /// Per field of the vocabulary, the configured names.
    configured: Vec<Vec<String>>,
    idx: Vec<Option<usize>>,
}

/// A field no column was found for, with the known names closest to the header's names.
pub(crate) struct Missing {
    /// The field (`month or date` when neither is there).
    pub(crate) field: &'static str,
    /// Up to three accepted names, the closest first.
    pub(crate) closest: Vec<String>,
    /// The unassigned header name most like them, if any is alike at all.
    pub(crate) nearest_column: Option<String>,
}

impl Header {
    pub(super) fn new(record: &csv::StringRecord, config: &RevenueConfig) -> Self {
        Self::with_vocab(record, &REVENUE, |f| {
            configured(&config.columns, f).to_vec()
        })
    }

    /// Reads a header row against `vocab`; `configured` gives the names a configuration adds
    /// for a field, tried before the built-in ones.
    pub(crate) fn with_vocab(
        record: &csv::StringRecord,
        vocab: &'static Vocab,
        configured: impl Fn(&str) -> Vec<String>,
    ) -> Self {
        let names: Vec<String> = record.iter().map(|h| h.trim().to_owned()).collect();
        let (keys, units): (Vec<String>, Vec<Option<String>>) =
            names.iter().map(|n| normalize(n)).unzip();
        let mut header = Self {
            names,
            keys,
            units,
            vocab,
            configured: vocab.fields.iter().map(|f| configured(f)).collect(),
            idx: Vec::new(),
        };
        header.idx = vocab
            .fields
            .iter()
            .map(|field| {
                header.accepted(field).find_map(|a| {
                    let a = normalize(a).0;
                    header.keys.iter().position(|k| *k == a)
                })
            })
            .collect();
        header
    }

    fn field_no(&self, field: &str) -> Option<usize> {
        self.vocab.fields.iter().position(|f| *f == field)
    }

    /// The names that mean `field`: the configured ones, then the built-in ones.
    fn accepted<'h>(&'h self, field: &str) -> impl Iterator<Item = &'h str> {
        let no = self.field_no(field);
        let known = self
            .vocab
            .known
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(&[][..], |(_, names)| *names);
        no.and_then(|no| self.configured.get(no))
            .into_iter()
            .flatten()
            .map(String::as_str)
            .chain(known.iter().copied())
    }

    pub(crate) fn get(&self, f: &str) -> Option<usize> {
        self.idx.get(self.field_no(f)?).copied().flatten()
    }

    /// Every column whose name is the one found for `f`: exports such as Jira's repeat a column
    /// (`Labels`, `Component/s`) once per value.
    pub(crate) fn all(&self, f: &str) -> Vec<usize> {
        let Some(first) = self.get(f) else {
            return Vec::new();
        };
        let key = &self.keys[first];
        (0..self.keys.len())
            .filter(|i| self.keys[*i] == *key)
            .collect()
    }

    /// The field column `i` is read as, if any.
    pub(crate) fn field_at(&self, i: usize) -> Option<&'static str> {
        self.vocab
            .fields
            .iter()
            .zip(&self.idx)
            .find(|(_, at)| **at == Some(i))
            .map(|(f, _)| *f)
    }

    /// The header's names for an error message, each and all bounded by [`super::excerpt`].
    pub(crate) fn shown(&self) -> String {
        super::excerpt(
            &self
                .names
                .iter()
                .map(|n| super::excerpt(n))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }

    pub(crate) fn has(&self, f: &str) -> bool {
        self.get(f).is_some()
    }

    /// Amount columns whose name states a currency other than `currency` (`MRR (EUR)`), as
    /// (column name, its currency).
    pub(super) fn foreign_units(&self, currency: &str) -> Vec<(&str, &str)> {
        ["mrr", "amount", "arr"]
            .iter()
            .filter_map(|f| self.get(f))
            .filter_map(|i| {
                let unit = self.units[i].as_deref()?;
                // A symbol (`$` is several currencies) is taken at its word.
                let is_code = unit.len() == 3 && unit.bytes().all(|b| b.is_ascii_uppercase());
                (is_code && !unit.eq_ignore_ascii_case(currency))
                    .then(|| (self.names[i].as_str(), unit))
            })
            .collect()
    }

    /// Whether the columns are those of a ChartMogul movements export (amounts in cents).
    pub(super) fn is_chartmogul(&self) -> bool {
        let amount_is_theirs = self
            .get("amount")
            .is_some_and(|i| CHARTMOGUL_AMOUNTS.contains(&self.keys[i].as_str()));
        amount_is_theirs
            && self
                .keys
                .iter()
                .any(|k| CHARTMOGUL_MARKERS.contains(&k.as_str()))
    }

    pub(super) fn detect(&self) -> Option<Layout> {
        let when = self.has("month") || self.has("date");
        if self.has("customer_id") && self.has("type") && self.has("amount") && when {
            Some(Layout::Movements)
        } else if self.has("customer_id") && self.has("mrr") && when {
            Some(Layout::Snapshots)
        } else if self.has("arr") && when && !self.has("customer_id") {
            Some(Layout::Totals)
        } else if self.has("customer_id") && !when && ATTRIBUTES.iter().any(|f| self.has(f)) {
            Some(Layout::Attributes)
        } else {
            None
        }
    }

    /// The fields `layout` needs that no column holds.
    pub(super) fn missing(&self, layout: Layout) -> Vec<&'static str> {
        let needed: &[&'static str] = match layout {
            Layout::Snapshots => &["customer_id", "mrr"],
            Layout::Movements => &["customer_id", "type", "amount"],
            Layout::Totals => &["arr"],
            Layout::Attributes => &["customer_id"],
        };
        let mut m: Vec<&'static str> = needed.iter().copied().filter(|f| !self.has(f)).collect();
        match layout {
            Layout::Attributes => {
                if !ATTRIBUTES.iter().any(|f| self.has(f)) {
                    m.push("one of name, segment, plan, currency, country, first_month");
                }
            }
            _ => {
                if !self.has("month") && !self.has("date") {
                    m.push("month or date");
                }
            }
        }
        m
    }

    /// The layout an unrecognised header comes closest to: the fewest missing fields that no
    /// header name even resembles, then the fewest missing fields (ties go to the order
    /// snapshots, movements, totals, attributes). `Cust ID, Month, Monthly Rev` is then a
    /// snapshots file with two misnamed columns, not a totals file without ARR.
    pub(super) fn closest_layout(&self) -> Layout {
        [
            Layout::Snapshots,
            Layout::Movements,
            Layout::Totals,
            Layout::Attributes,
        ]
        .into_iter()
        .min_by_key(|l| {
            let missing = self.suggestions(*l);
            let unlike = missing
                .iter()
                .filter(|m| m.nearest_column.is_none())
                .count();
            (unlike, missing.len())
        })
        .unwrap_or(Layout::Snapshots)
    }

    /// For each field `layout` misses, the accepted names closest to the header's unassigned
    /// names (Jaro–Winkler similarity of the normalised forms, which favours a shared prefix:
    /// `Cust ID` is near `customer_id`, `Amt` near `amount`).
    pub(super) fn suggestions(&self, layout: Layout) -> Vec<Missing> {
        let missing = self.missing(layout).into_iter().map(|field| {
            let fields: Vec<&'static str> = match field {
                "month or date" => vec!["month", "date"],
                f if f.starts_with("one of ") => ATTRIBUTES.to_vec(),
                f => vec![f],
            };
            (field, fields)
        });
        self.suggest(missing.collect())
    }

    /// The header errors of a file of `what` ("a tickets file") that misses these entries, each
    /// with the closest known names (see [`Self::suggest`]).
    pub(crate) fn missing_errors(
        &self,
        what: &str,
        missing: Vec<(&'static str, Vec<&'static str>)>,
    ) -> Vec<super::RowError> {
        let shown = self.shown();
        self.suggest(missing)
            .iter()
            .map(|m| {
                super::header_error(
                    None,
                    super::missing_reason(what, m, Some(&shown), self.vocab.columns_key),
                )
            })
            .collect()
    }

    /// For each missing entry — a label and the fields any of which would do — the accepted
    /// names closest to the header's unassigned names.
    pub(crate) fn suggest(&self, missing: Vec<(&'static str, Vec<&'static str>)>) -> Vec<Missing> {
        let assigned: Vec<usize> = self.idx.iter().flatten().copied().collect();
        let free: Vec<usize> = (0..self.keys.len())
            .filter(|i| !assigned.contains(i))
            .collect();
        missing
            .into_iter()
            .map(|(field, fields)| {
                // (similarity, order, name, nearest column)
                let mut scored: Vec<(f64, usize, String, Option<usize>)> = Vec::new();
                for name in fields.iter().flat_map(|f| self.accepted(f)) {
                    if scored.iter().any(|s| s.2 == name) {
                        continue;
                    }
                    let key = normalize(name).0;
                    let best = free
                        .iter()
                        .map(|i| (strsim::jaro_winkler(&key, &self.keys[*i]), *i))
                        .max_by(|a, b| a.0.total_cmp(&b.0));
                    let order = scored.len();
                    scored.push((
                        best.map_or(0.0, |b| b.0),
                        order,
                        name.to_owned(),
                        best.map(|b| b.1),
                    ));
                }
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                // Below this, the "nearest" column shares little more than a letter or two.
                const ALIKE: f64 = 0.7;
                Missing {
                    field,
                    nearest_column: scored
                        .first()
                        .filter(|s| s.0 >= ALIKE)
                        .and_then(|s| s.3)
                        .map(|i| super::excerpt(&self.names[i])),
                    closest: scored.into_iter().take(3).map(|s| s.2).collect(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_case_spaces_underscores_or_a_currency_unit() {
        assert_eq!(normalize("Customer ID").0, "customerid");
        assert_eq!(normalize(" CUSTOMER_ID ").0, "customerid");
        assert_eq!(normalize("customer-id").0, "customerid");
        assert_eq!(normalize("MRR (USD)"), ("mrr".into(), Some("USD".into())));
        assert_eq!(normalize("ARR [EUR]"), ("arr".into(), Some("EUR".into())));
        assert_eq!(normalize("MRR (net)").0, "mrr(net)", "not a currency code");
        assert_eq!(normalize("MRR ($)"), ("mrr".into(), Some("$".into())));
        assert_eq!(normalize("Plan (annual)").0, "plan(annual)", "not a unit");
        assert_eq!(normalize("(USD)").0, "(usd)", "nothing before the unit");
    }
}
