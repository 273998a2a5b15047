//! Header detection: which column holds which field, and which layout the header describes.
//!
//! A column is recognised by its name compared in [`normalize`]d form — case, spaces, underscores,
//! hyphens and a trailing currency unit such as `(USD)` do not matter — against the names in
//! `[revenue.columns]` first, then the names billing tools and spreadsheets export
//! ([`super::known`]).

use super::known::{ATTRIBUTES, CHARTMOGUL_AMOUNTS, CHARTMOGUL_MARKERS, FIELDS, KNOWN};
use super::Layout;
use crate::config::{Columns, RevenueConfig};

fn field_no(field: &str) -> usize {
    FIELDS
        .iter()
        .position(|f| *f == field)
        .unwrap_or(FIELDS.len())
}

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

/// The names that mean `field`: the configured ones, then the built-in ones.
fn accepted<'c>(columns: &'c Columns, field: &str) -> impl Iterator<Item = &'c str> {
    let known = KNOWN
        .iter()
        .find(|(f, _)| *f == field)
        .map_or(&[][..], |(_, names)| *names);
    configured(columns, field)
        .iter()
        .map(String::as_str)
        .chain(known.iter().copied())
}

/// A header name in the form names are compared in, and the unit it carried: lower case without
/// spaces, underscores or hyphens (`Customer ID`, `customer_id` and `CUSTOMER-ID` are one name),
/// and without a trailing `(USD)`, `[EUR]` or `($)` (spreadsheets put the currency there; a
/// three-letter unit counts as a currency code when written in capitals, as ISO 4217 codes are).
pub(super) fn normalize(name: &str) -> (String, Option<String>) {
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
pub(super) struct Header {
    pub(super) names: Vec<String>,
    keys: Vec<String>,
    units: Vec<Option<String>>,
    idx: [Option<usize>; FIELDS.len() + 1],
}

/// A field no column was found for, with the known names closest to the header's names.
pub(super) struct Missing {
    /// The field (`month or date` when neither is there).
    pub(super) field: &'static str,
    /// Up to three accepted names, the closest first.
    pub(super) closest: Vec<String>,
    /// The unassigned header name most like them, if any is alike at all.
    pub(super) nearest_column: Option<String>,
}

impl Header {
    pub(super) fn new(record: &csv::StringRecord, config: &RevenueConfig) -> Self {
        let names: Vec<String> = record.iter().map(|h| h.trim().to_owned()).collect();
        let (keys, units): (Vec<String>, Vec<Option<String>>) =
            names.iter().map(|n| normalize(n)).unzip();
        let mut idx = [None; FIELDS.len() + 1];
        for (no, field) in FIELDS.iter().enumerate() {
            idx[no] = accepted(&config.columns, field).find_map(|a| {
                let a = normalize(a).0;
                keys.iter().position(|k| *k == a)
            });
        }
        Self {
            names,
            keys,
            units,
            idx,
        }
    }

    pub(super) fn get(&self, f: &str) -> Option<usize> {
        self.idx[field_no(f)]
    }

    /// The field column `i` is read as, if any.
    pub(super) fn field_at(&self, i: usize) -> Option<&'static str> {
        FIELDS
            .iter()
            .zip(&self.idx)
            .find(|(_, at)| **at == Some(i))
            .map(|(f, _)| *f)
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
    pub(super) fn closest_layout(&self, columns: &Columns) -> Layout {
        [
            Layout::Snapshots,
            Layout::Movements,
            Layout::Totals,
            Layout::Attributes,
        ]
        .into_iter()
        .min_by_key(|l| {
            let missing = self.suggestions(*l, columns);
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
    pub(super) fn suggestions(&self, layout: Layout, columns: &Columns) -> Vec<Missing> {
        let assigned: Vec<usize> = self.idx.iter().flatten().copied().collect();
        let free: Vec<usize> = (0..self.keys.len())
            .filter(|i| !assigned.contains(i))
            .collect();
        self.missing(layout)
            .into_iter()
            .map(|field| {
                let fields: &[&str] = match field {
                    "month or date" => &["month", "date"],
                    f if f.starts_with("one of ") => &ATTRIBUTES,
                    f => std::slice::from_ref(&FIELDS[field_no(f).min(FIELDS.len() - 1)]),
                };
                // (similarity, order, name, nearest column)
                let mut scored: Vec<(f64, usize, String, Option<usize>)> = Vec::new();
                for name in fields.iter().flat_map(|f| accepted(columns, f)) {
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
