//! Whole-file checks around the rows: the header (layout, missing columns with the closest known
//! names, currencies named in column names), each row's currency, and the cents check of
//! ChartMogul exports.

use super::fields::Row;
use super::header::{Header, Missing};
use super::{excerpt, Layout, ParseOptions, Parsed, RowError};
use crate::config::RevenueConfig;
use crate::model::Month;

pub(crate) fn header_error(column: Option<String>, reason: String) -> RowError {
    RowError {
        line: 1,
        column,
        field: None,
        value: None,
        reason,
    }
}

/// The layout of the file, or every problem of its header.
pub(super) fn header(
    header: &Header,
    forced: Option<Layout>,
    config: &RevenueConfig,
) -> Result<Layout, Vec<RowError>> {
    if let Some((i, name)) = header
        .names
        .iter()
        .enumerate()
        .find(|(_, n)| n.len() > config.max_field_bytes)
    {
        return Err(vec![RowError {
            line: 1,
            column: Some(format!("#{}", i + 1)),
            field: None,
            value: Some(excerpt(name)),
            reason: format!(
                "is a {}-byte header name; one field is at most revenue.max_field_bytes ({})",
                name.len(),
                config.max_field_bytes
            ),
        }]);
    }
    let layout = match (forced, header.detect()) {
        (Some(f), _) => f,
        (None, Some(l)) => l,
        (None, None) => {
            let closest = header.closest_layout();
            let mut errors = vec![header_error(
                None,
                format!(
                    "unrecognised header [{}]: expected snapshots (customer_id, month, mrr), \
                     movements (date, customer_id, type, amount), totals (month, arr) or \
                     attributes (customer_id, segment, ...); column names are set in \
                     [revenue.columns]",
                    header.shown()
                ),
            )];
            errors.extend(header.suggestions(closest).iter().map(|m| {
                header_error(
                    None,
                    missing_reason(&format!("the {closest} layout"), m, None, "revenue.columns"),
                )
            }));
            return Err(errors);
        }
    };
    let missing = header.suggestions(layout);
    if !missing.is_empty() {
        let shown = header.shown();
        return Err(missing
            .iter()
            .map(|m| {
                header_error(
                    None,
                    missing_reason(
                        &format!("the {layout} layout"),
                        m,
                        Some(&shown),
                        "revenue.columns",
                    ),
                )
            })
            .collect());
    }
    let foreign = header.foreign_units(&config.currency);
    if !foreign.is_empty() {
        return Err(foreign
            .into_iter()
            .map(|(column, unit)| {
                header_error(
                    Some(excerpt(column)),
                    format!(
                        "states amounts in {unit}, revenue.currency is {}; convert the file \
                         first (no exchange rates are guessed)",
                        config.currency
                    ),
                )
            })
            .collect());
    }
    Ok(layout)
}

/// `the snapshots layout needs a column for mrr (header: [...]); closest known names: "mrr",
/// "MRR Amount", "Monthly Recurring Revenue"; the header's "Monthly Rev" is nearest: rename it or
/// add it to revenue.columns.mrr`.
pub(crate) fn missing_reason(
    what: &str,
    m: &Missing,
    shown: Option<&str>,
    columns_key: &str,
) -> String {
    let mut reason = format!("{what} needs a column for {}", m.field);
    if let Some(shown) = shown {
        reason.push_str(&format!(" (header: [{shown}])"));
    }
    if !m.closest.is_empty() {
        let names: Vec<String> = m.closest.iter().map(|n| format!("{n:?}")).collect();
        reason.push_str(&format!("; closest known names: {}", names.join(", ")));
    }
    if let Some(col) = &m.nearest_column {
        let key = match m.field {
            "month or date" => "month",
            f if f.starts_with("one of ") => "segment",
            f => f,
        };
        reason.push_str(&format!(
            "; the header's {col:?} is nearest: rename it or add it to {columns_key}.{key}"
        ));
    }
    reason
}

/// A row in another currency than `revenue.currency` is refused: no exchange rate is guessed.
pub(super) fn row_currency(row: &mut Row<'_>, at: Option<usize>, config: &RevenueConfig) {
    if let Some(c) = row.opt_at(at) {
        if !c.eq_ignore_ascii_case(&config.currency) {
            row.error(
                "currency",
                c,
                format!(
                    "differs from revenue.currency {}; convert the file first (no exchange \
                     rates are guessed)",
                    config.currency
                ),
            );
        }
    }
}

/// ChartMogul's movements datasets state amounts in cents. Read with `amount_scale` 1 they would
/// be stored 100 times too large, and nothing downstream could tell: the file is refused, naming
/// the MRR it would give either way, unless the scale is 0.01 already or was stated for this
/// import (which is the confirmation that the amounts are what they seem).
pub(super) fn cents(
    header: &Header,
    options: &ParseOptions,
    config: &RevenueConfig,
    parsed: &Parsed,
    rows_ok: bool,
) -> Option<RowError> {
    if options.amount_scale.is_some() || config.amount_scale != 1.0 || !header.is_chartmogul() {
        return None;
    }
    let column = header.get("amount").map(|i| excerpt(&header.names[i]));
    let latest = rows_ok
        .then(|| parsed.snapshots())
        .flatten()
        .and_then(|table| {
            let month = table.months().last()?;
            let mrr: f64 = table.month_rows(month).map(|r| r.mrr).sum();
            Some((Month::from_index(month), mrr))
        });
    let figures = latest.map_or_else(String::new, |(month, mrr)| {
        format!(
            " (MRR in {month}: {mrr:.2} {c} as is, {:.2} {c} in cents)",
            mrr / 100.0,
            c = config.currency
        )
    });
    Some(header_error(
        column,
        format!(
            "is a ChartMogul export, whose amounts are in cents, and revenue.amount_scale is 1: \
             it would be stored 100 times too large{figures}; set revenue.amount_scale = 0.01, \
             or give this import amount scale 0.01 (--amount-scale 0.01, ?amount_scale=0.01; a \
             dry run shows the resulting MRR), or amount scale 1 if its amounts are already in \
             {}",
            config.currency
        ),
    ))
}
