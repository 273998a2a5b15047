//! Business-metric CSV files in a long layout: `date|week|month, metric, value[, labels]`, one
//! value per row, labels written `key=value;key=value`. Pure: bytes in, rows or every problem
//! out; read through the revenue files' machinery ([`super::revenue_csv::read_rows`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, Weekday};

use super::revenue_csv::{
    finish, parse_amount, parse_date, read_rows, FileErrors, Header, Reader, Row, RowError, Vocab,
};
use crate::config::RevenueConfig;
use crate::model::revenue::month_label;
use crate::model::{Grain, MetricRow};

/// The fields of a metrics file and the names spreadsheets give them.
pub(crate) static METRICS: Vocab = Vocab {
    fields: &["date", "week", "month", "metric", "value", "labels"],
    known: &[
        ("date", &["date", "day", "Date"]),
        ("week", &["week", "Week", "Week start", "ISO week"]),
        ("month", &["month", "Month", "Period"]),
        (
            "metric",
            &["metric", "Metric", "Metric name", "name", "kpi"],
        ),
        ("value", &["value", "Value", "Amount"]),
        ("labels", &["labels", "Labels", "Dimensions", "tags"]),
    ],
    columns_key: "revenue.columns",
};

/// Longest metric name, label key or label value.
const MAX_NAME: usize = 100;

fn check_header(header: &Header) -> Result<Grain, Vec<RowError>> {
    let grain = if header.has("date") {
        Some(Grain::Day)
    } else if header.has("week") {
        Some(Grain::Week)
    } else if header.has("month") {
        Some(Grain::Month)
    } else {
        None
    };
    let mut missing: Vec<(&'static str, Vec<&'static str>)> = ["metric", "value"]
        .into_iter()
        .filter(|f| !header.has(f))
        .map(|f| (f, vec![f]))
        .collect();
    if grain.is_none() {
        missing.push(("date, week or month", vec!["date", "week", "month"]));
    }
    match grain {
        Some(g) if missing.is_empty() => Ok(g),
        _ => Err(header.missing_errors("a metrics file", missing)),
    }
}

/// A week as `2026-W03` (ISO) or any day of it (its Monday).
fn parse_week(raw: &str) -> Result<NaiveDate, String> {
    let s = raw.trim();
    if let Some((y, w)) = s.split_once("-W") {
        let (y, w) = (y.parse::<i32>(), w.parse::<u32>());
        if let (Ok(y), Ok(w)) = (y, w) {
            if let Some(d) = NaiveDate::from_isoywd_opt(y, w, Weekday::Mon) {
                return Ok(d);
            }
        }
        return Err("is not an ISO week (YYYY-Www) or a date".into());
    }
    let d = parse_date(s)?;
    Ok(d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday())))
}

fn parse_labels(raw: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in raw.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(format!(
                "{pair:?} is not key=value (labels are key=value;key=value)"
            ));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.len() > MAX_NAME || v.len() > MAX_NAME {
            return Err(format!(
                "{pair:?}: a label key is 1–{MAX_NAME} bytes, a value at most {MAX_NAME}"
            ));
        }
        if out.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(format!("label {k:?} is given twice"));
        }
    }
    Ok(out)
}

/// A value: an amount (`1,234.50`, `-12`), or a percentage (`72%` = 0.72).
fn parse_value(raw: &str) -> Result<f64, String> {
    match raw.trim().strip_suffix('%') {
        Some(pct) => parse_amount(pct).map(|v| v / 100.0),
        None => parse_amount(raw),
    }
}

/// The range a known kind's value must fall in, and why.
fn check_kind(metric: &str, value: f64) -> Result<(), String> {
    match metric {
        "gross_margin_ratio" | "operating_margin_ratio" if !(-10.0..=1.0).contains(&value) => {
            Err("a margin ratio is at most 1 (100 %); write 0.72 or 72%".into())
        }
        "cloud_cost" | "engineering_headcount" | "support_headcount" if value < 0.0 => {
            Err(format!("{metric} cannot be negative"))
        }
        _ => Ok(()),
    }
}

type Seen = HashMap<(String, NaiveDate, BTreeMap<String, String>), u64>;

fn metric_row(row: &mut Row<'_>, grain: Grain, out: &mut Vec<MetricRow>, seen: &mut Seen) {
    let line = row.line;
    let start = match grain {
        Grain::Day => row.parsed("date", parse_date),
        Grain::Week => row.parsed("week", parse_week),
        Grain::Month => row.parsed("month", |v| {
            super::revenue_csv::parse_month_field(v).and_then(|m| {
                NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1)
                    .ok_or_else(|| "is not a month".to_owned())
            })
        }),
    };
    let metric = row.required("metric").and_then(|m| {
        let ok = m.len() <= MAX_NAME
            && m.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'));
        if ok {
            Some(m)
        } else {
            row.error(
                "metric",
                m,
                format!(
                    "is not a metric name (letters, digits, _ . : -, at most {MAX_NAME} bytes)"
                ),
            );
            None
        }
    });
    let value = row.parsed("value", parse_value);
    let labels = row.opt("labels").map_or(Some(BTreeMap::new()), |_| {
        row.parsed("labels", parse_labels)
    });
    let (Some(start), Some(metric), Some(value), Some(labels)) = (start, metric, value, labels)
    else {
        return;
    };
    if let Err(reason) = check_kind(metric, value) {
        let raw = row.raw("value").unwrap_or_default();
        row.error("value", raw, reason);
        return;
    }
    let key = (metric.to_owned(), start, labels);
    if let Some(first) = seen.get(&key) {
        let first = *first;
        let what = match grain {
            Grain::Month => month_label(start.year() * 12 + start.month0() as i32),
            _ => start.to_string(),
        };
        row.error(
            "metric",
            metric,
            format!("duplicate value of {metric} for {what} with the same labels (first on line {first})"),
        );
        return;
    }
    let (metric, start, labels) = key.clone();
    seen.insert(key, line);
    out.push(MetricRow {
        metric,
        grain,
        start,
        value,
        labels,
    });
}

/// Parses and validates a whole metrics file; returns every problem, or the rows.
pub fn parse(
    file: &str,
    bytes: &[u8],
    config: &RevenueConfig,
) -> Result<Vec<MetricRow>, FileErrors> {
    let mut rows = Vec::new();
    let mut seen = Seen::new();
    let reader = Reader {
        header_of: &|h| Header::with_vocab(h, &METRICS, |_| Vec::new()),
        layout_of: &check_header,
        identifiers: &|_| &["metric"],
    };
    let (_, _, errors) = read_rows(
        file,
        bytes,
        config,
        &reader,
        |row, grain| metric_row(row, grain, &mut rows, &mut seen),
        |_| {},
    )?;
    let n = rows.len();
    finish(file, config, errors, n, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_labels_and_values() {
        let monday = NaiveDate::from_ymd_opt(2026, 1, 12);
        assert_eq!(parse_week("2026-W03").ok(), monday);
        assert_eq!(
            parse_week("2026-01-15").ok(),
            monday,
            "a Thursday → its Monday"
        );
        assert!(parse_week("2026-W60").is_err());
        let l = parse_labels("provider=aws; team = core").unwrap_or_default();
        assert_eq!(l.get("team").map(String::as_str), Some("core"));
        assert!(parse_labels("provider").is_err());
        assert!(parse_labels("a=1;a=2").is_err());
        assert_eq!(parse_value("72%"), Ok(0.72));
        assert_eq!(parse_value("-12.5%"), Ok(-0.125));
        assert_eq!(parse_value("$1,200"), Ok(1200.0));
    }
}
