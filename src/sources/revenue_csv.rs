//! Revenue CSV files: layout detection, parsing and whole-file validation.
//!
//! Parsing is pure (bytes in, rows or every problem out); [`super::revenue_import`] applies the
//! result to the store.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate};
use serde::Serialize;

use crate::config::{Columns, RevenueConfig};
use crate::model::revenue::{month_label, parse_month, MonthIdx, Snapshots};

/// The three accepted layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `customer_id, month|date, mrr` (+ `currency, plan, segment`).
    Snapshots,
    /// `date, customer_id, type, amount` (+ `currency`).
    Movements,
    /// `date|month, arr` (+ `mrr, nrr, grr, customers`).
    Totals,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Snapshots => "snapshots",
            Layout::Movements => "movements",
            Layout::Totals => "totals",
        })
    }
}

/// A movement's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MovementType {
    /// A new customer.
    New,
    /// More MRR from a paying customer.
    Expansion,
    /// Less MRR from a customer that still pays.
    Contraction,
    /// A customer stops paying.
    Churn,
    /// A former customer pays again.
    Reactivation,
}

/// One problem in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based line number (the header is line 1).
    pub line: u64,
    /// Column name, if the problem is in one field.
    pub column: Option<String>,
    /// The offending value, if any.
    pub value: Option<String>,
    /// Why.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        if let Some(v) = &self.value {
            write!(f, ", value {v:?}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Every problem of a file, capped for display.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FileErrors {
    /// The file's name.
    pub file: String,
    /// All problems, in line order.
    pub errors: Vec<RowError>,
    /// How many are shown.
    pub shown: usize,
}

impl fmt::Display for FileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "{}: {n} problem{}, nothing imported:",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        for e in self.errors.iter().take(self.shown) {
            write!(f, "\n  {}: {e}", self.file)?;
        }
        if n > self.shown {
            write!(f, "\n  … and {} more", n - self.shown)?;
        }
        Ok(())
    }
}

/// A movement row, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Movement {
    /// Line in the file.
    pub line: u64,
    /// Customer.
    pub customer_id: String,
    /// The day it happened.
    pub date: NaiveDate,
    /// Kind.
    pub kind: MovementType,
    /// Signed change of MRR (negative for contraction and churn).
    pub amount: f64,
}

/// A totals row, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Total {
    /// Month.
    pub month: MonthIdx,
    /// ARR.
    pub arr: f64,
    /// MRR.
    pub mrr: Option<f64>,
    /// NRR ratio.
    pub nrr: Option<f64>,
    /// GRR ratio.
    pub grr: Option<f64>,
    /// Customers.
    pub customers: Option<u64>,
}

/// A parsed file.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// Customer MRR per month.
    Snapshots(Box<Snapshots>),
    /// MRR movements.
    Movements(Vec<Movement>),
    /// Organisation totals.
    Totals(Vec<Total>),
}

impl Parsed {
    /// The layout.
    pub fn layout(&self) -> Layout {
        match self {
            Parsed::Snapshots(_) => Layout::Snapshots,
            Parsed::Movements(_) => Layout::Movements,
            Parsed::Totals(_) => Layout::Totals,
        }
    }

    /// Data rows.
    pub fn rows(&self) -> usize {
        match self {
            Parsed::Snapshots(t) => t.rows(),
            Parsed::Movements(r) => r.len(),
            Parsed::Totals(r) => r.len(),
        }
    }

    /// MRR per customer per month: snapshots as given; movements accumulated per customer from
    /// the file's first month (the file is authoritative for its months, so a customer's MRR
    /// before the file starts is taken as 0); `None` for totals.
    pub fn snapshots(&self) -> Option<Cow<'_, Snapshots>> {
        match self {
            Parsed::Snapshots(t) => Some(Cow::Borrowed(&**t)),
            Parsed::Movements(rows) => {
                let mut sorted: Vec<&Movement> = rows.iter().collect();
                sorted.sort_by_key(|m| (m.date, m.line));
                let first = month_of(sorted.first()?.date);
                let last = month_of(sorted.last()?.date);
                let mut running: BTreeMap<&str, f64> = BTreeMap::new();
                let mut out = Snapshots::new();
                let mut i = 0;
                for month in first..=last {
                    while i < sorted.len() && month_of(sorted[i].date) == month {
                        let m = sorted[i];
                        let v = running.entry(m.customer_id.as_str()).or_insert(0.0);
                        *v = if m.kind == MovementType::Churn {
                            0.0
                        } else {
                            (*v + m.amount).max(0.0)
                        };
                        i += 1;
                    }
                    out.touch(month);
                    for (c, v) in running.iter().filter(|(_, v)| **v > 0.0) {
                        // Running totals are unique per customer, so this cannot collide.
                        let _ = out.insert(month, c, *v, None, None, 0);
                    }
                }
                Some(Cow::Owned(out))
            }
            Parsed::Totals(_) => None,
        }
    }

    /// The months the file covers (it is authoritative for exactly these).
    pub fn months(&self) -> Vec<MonthIdx> {
        match self {
            Parsed::Totals(rows) => {
                let mut m: Vec<MonthIdx> = rows.iter().map(|r| r.month).collect();
                m.sort_unstable();
                m.dedup();
                m
            }
            _ => self
                .snapshots()
                .map(|t| t.months().collect())
                .unwrap_or_default(),
        }
    }
}

fn month_of(d: NaiveDate) -> MonthIdx {
    d.year() * 12 + d.month0() as i32
}

/// Parses an amount: `1234.5`, `1,234.50`, `$1,234.50`, `-12`, `(120.00)` (negative).
pub fn parse_amount(raw: &str) -> Result<f64, String> {
    let s = raw.trim();
    // The common case, per row: plain digits with an optional fraction.
    if !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|b| *b == b'.').count() <= 1
        && s != "."
    {
        if let Ok(v) = s.parse::<f64>() {
            return Ok(v);
        }
    }
    let (negative, s) = match s.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(inner) => (true, inner.trim()),
        None => (false, s),
    };
    let (sign, s) = match s.strip_prefix('-') {
        Some(r) => (-1.0, r.trim_start()),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    let s = s.trim_start_matches(['$', '€', '£', '¥']).trim();
    if s.is_empty() {
        return Err("is empty".into());
    }
    // Thousands separators: groups of exactly three digits after the first.
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let groups: Vec<&str> = int.split(',').collect();
    let grouped_ok = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3));
    let digits_ok = groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()))
        && frac.chars().all(|c| c.is_ascii_digit());
    if !grouped_ok || !digits_ok || (int.is_empty() && frac.is_empty()) {
        return Err("is not an amount (e.g. 1234.50, 1,234.50, $1,234.50 or (120.00))".into());
    }
    let plain = format!(
        "{}.{}",
        groups.concat(),
        if frac.is_empty() { "0" } else { frac }
    );
    let v: f64 = plain.parse().map_err(|_| "is not an amount".to_owned())?;
    Ok(if negative { -v } else { sign * v })
}

/// `YYYY-MM` or `YYYY-MM-DD` without going through a format parser (the common case, per row).
fn quick_ymd(s: &str) -> Option<(i32, u32, Option<u32>)> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() < 7 || b[4] != b'-' {
        return None;
    }
    let (y, m) = (digits(0..4)? as i32, digits(5..7)?);
    match b.len() {
        7 => Some((y, m, None)),
        10 if b[7] == b'-' => Some((y, m, Some(digits(8..10)?))),
        _ => None,
    }
}

/// Parses a month: `YYYY-MM`, `YYYY-MM-DD` or an RFC 3339 time (its UTC date).
pub fn parse_month_field(raw: &str) -> Result<MonthIdx, String> {
    let s = raw.trim();
    match quick_ymd(s) {
        Some((y, m, None)) if (1..=12).contains(&m) => return Ok(y * 12 + m as i32 - 1),
        Some((y, m, Some(d))) => {
            if let Some(date) = NaiveDate::from_ymd_opt(y, m, d) {
                return Ok(month_of(date));
            }
        }
        _ => {}
    }
    parse_date(raw).map(month_of).or_else(|_| {
        parse_month(raw.trim()).ok_or_else(|| {
            "is not a month (YYYY-MM), a date (YYYY-MM-DD) or an RFC 3339 time".to_owned()
        })
    })
}

/// Parses a day: `YYYY-MM-DD` or an RFC 3339 time (its UTC date).
pub fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    let s = raw.trim();
    if let Some((y, m, Some(d))) = quick_ymd(s) {
        if let Some(date) = NaiveDate::from_ymd_opt(y, m, d) {
            return Ok(date);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| DateTime::parse_from_rfc3339(s).map(|d| d.naive_utc().date()))
        .or_else(|_| {
            // Warehouse exports (e.g. ChartMogul's TIMESTAMP columns) write UTC without a zone.
            chrono::NaiveDateTime::parse_from_str(
                s.trim_end_matches(" UTC"),
                "%Y-%m-%d %H:%M:%S%.f",
            )
            .map(|d| d.date())
        })
        .map_err(|_| "is not a date (YYYY-MM-DD) or an RFC 3339 time".to_owned())
}

/// Parses a ratio: `1.12`, `112%`, or `112` (read as percent when above 3).
fn parse_ratio(raw: &str) -> Result<f64, String> {
    let s = raw.trim();
    let (pct, s) = match s.strip_suffix('%') {
        Some(r) => (true, r.trim()),
        None => (false, s),
    };
    let v: f64 = s
        .parse()
        .map_err(|_| "is not a ratio (1.12 or 112%)".to_owned())?;
    if !v.is_finite() || v < 0.0 {
        return Err("is not a ratio (1.12 or 112%)".into());
    }
    Ok(if pct || v > 3.0 { v / 100.0 } else { v })
}

fn parse_movement_type(raw: &str) -> Result<MovementType, String> {
    Ok(match raw.trim().to_lowercase().as_str() {
        // Aliases: ChartMogul (`new_biz`) and ProfitWell/Paddle activity labels.
        "new" | "new_biz" | "new_business" => MovementType::New,
        "expansion" | "upgrade" | "increase" => MovementType::Expansion,
        "contraction" | "downgrade" | "decrease" => MovementType::Contraction,
        "churn" | "cancellation" | "cancelled" | "churn_delinquent" => MovementType::Churn,
        "reactivation" | "reactivated" => MovementType::Reactivation,
        _ => {
            return Err(
                "is not a movement type (new, expansion, contraction, churn, reactivation)".into(),
            )
        }
    })
}

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
struct Header {
    names: Vec<String>,
    idx: [Option<usize>; FIELDS.len() + 1],
}

impl Header {
    fn new(record: &csv::StringRecord, columns: &Columns) -> Self {
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

    fn get(&self, f: &str) -> Option<usize> {
        self.idx[field_no(f)]
    }

    fn has(&self, f: &str) -> bool {
        self.get(f).is_some()
    }

    fn detect(&self) -> Option<Layout> {
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

    fn missing(&self, layout: Layout) -> Vec<&'static str> {
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

/// Parses and validates a whole file; returns every problem, or the rows.
pub fn parse(
    file: &str,
    bytes: &[u8],
    forced: Option<Layout>,
    config: &RevenueConfig,
    mut progress: impl FnMut(u64),
) -> Result<Parsed, FileErrors> {
    let fail = |errors: Vec<RowError>| FileErrors {
        file: file.to_owned(),
        errors,
        shown: config.max_reported_errors,
    };
    let one = |line: u64, reason: String| {
        fail(vec![RowError {
            line,
            column: None,
            value: None,
            reason,
        }])
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        return Err(one(
            line,
            format!(
                "invalid UTF-8 at byte {} (save the file as UTF-8)",
                e.valid_up_to()
            ),
        ));
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(one(1, "the file is empty: expected a header row".into()));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let header = match reader.headers() {
        Ok(h) => Header::new(h, &config.columns),
        Err(e) => return Err(one(1, format!("unreadable header: {e}"))),
    };
    let layout = match (forced, header.detect()) {
        (Some(f), _) => f,
        (None, Some(l)) => l,
        (None, None) => {
            return Err(one(
                1,
                format!(
                    "unrecognised header [{}]: expected snapshots (customer_id, month, mrr), \
                     movements (date, customer_id, type, amount) or totals (month, arr); column \
                     names are set in [revenue.columns]",
                    header.names.join(", ")
                ),
            ))
        }
    };
    let missing = header.missing(layout);
    if !missing.is_empty() {
        return Err(one(
            1,
            format!(
                "the {layout} layout needs column{} {} (header: [{}])",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                header.names.join(", ")
            ),
        ));
    }

    let mut errors = Vec::new();
    let mut snapshots = Snapshots::new();
    let mut movements = Vec::new();
    let mut totals = Vec::new();
    let mut seen_months: HashMap<MonthIdx, u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(RowError {
                    line,
                    column: None,
                    value: None,
                    reason: match e.kind() {
                        csv::ErrorKind::UnequalLengths {
                            expected_len, len, ..
                        } => {
                            format!("has {len} fields, the header has {expected_len}")
                        }
                        _ => e.to_string(),
                    },
                });
                continue;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        progress(line);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let mut row = Row {
            header: &header,
            record: &record,
            line,
            errors: &mut errors,
        };
        let currency = row.opt("currency");
        if let Some(c) = currency {
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
        match layout {
            Layout::Snapshots => {
                let customer = row.required("customer_id");
                let month = row.month();
                let mrr = row.amount("mrr", config.amount_scale);
                if let Some(m) = mrr.filter(|m| *m < 0.0) {
                    row.error("mrr", &m.to_string(), "MRR cannot be negative".into());
                }
                if let (Some(customer), Some(month)) = (customer, month) {
                    let (plan, segment) = (row.opt("plan"), row.opt("segment"));
                    let mrr = mrr.unwrap_or(0.0).max(0.0);
                    if let Err(first) = snapshots.insert(month, customer, mrr, plan, segment, line)
                    {
                        row.error(
                            "customer_id",
                            customer,
                            format!(
                                "duplicate row for customer {customer} in {} (first on line {first})",
                                month_label(month)
                            ),
                        );
                    }
                }
            }
            Layout::Movements => {
                let customer = row.required("customer_id");
                let date = row.date();
                let kind = row.parsed("type", parse_movement_type);
                let amount = row.amount("amount", config.amount_scale);
                if let (Some(customer), Some(date), Some(kind), Some(amount)) =
                    (customer, date, kind, amount)
                {
                    let amount = match kind {
                        MovementType::Contraction | MovementType::Churn => -amount.abs(),
                        _ => amount.abs(),
                    };
                    movements.push(Movement {
                        line,
                        customer_id: customer.to_owned(),
                        date,
                        kind,
                        amount,
                    });
                }
            }
            Layout::Totals => {
                let month = row.month();
                let arr = row.amount("arr", config.amount_scale);
                let mrr = row
                    .opt("mrr")
                    .and_then(|_| row.amount("mrr", config.amount_scale));
                let nrr = row.ratio("nrr");
                let grr = row.ratio("grr");
                let customers = row.parsed("customers", |v| {
                    v.trim()
                        .replace(',', "")
                        .parse::<u64>()
                        .map_err(|_| "is not a whole number".to_owned())
                });
                if let (Some(month), Some(arr)) = (month, arr) {
                    if let Some(first) = seen_months.insert(month, line) {
                        row.error(
                            "month",
                            &month_label(month),
                            format!("duplicate month (first on line {first})"),
                        );
                    } else {
                        totals.push(Total {
                            month,
                            arr,
                            mrr,
                            nrr,
                            grr,
                            customers,
                        });
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(fail(errors));
    }
    let parsed = match layout {
        Layout::Snapshots => Parsed::Snapshots(Box::new(snapshots)),
        Layout::Movements => Parsed::Movements(movements),
        Layout::Totals => Parsed::Totals(totals),
    };
    if parsed.rows() == 0 {
        return Err(one(2, "the file has a header but no data rows".into()));
    }
    Ok(parsed)
}

struct Row<'a> {
    header: &'a Header,
    record: &'a csv::StringRecord,
    line: u64,
    errors: &'a mut Vec<RowError>,
}

impl<'a> Row<'a> {
    fn col_name(&self, field: &str) -> String {
        self.header
            .get(field)
            .and_then(|i| self.header.names.get(i))
            .cloned()
            .unwrap_or_else(|| field.to_owned())
    }

    fn error(&mut self, field: &str, value: &str, reason: String) {
        let column = self.col_name(field);
        self.errors.push(RowError {
            line: self.line,
            column: Some(column),
            value: Some(value.to_owned()),
            reason,
        });
    }

    /// The raw value of a field present in the header (`None` when the column is absent).
    fn raw(&self, field: &str) -> Option<&'a str> {
        let i = self.header.get(field)?;
        Some(self.record.get(i).unwrap_or(""))
    }

    fn opt(&self, field: &str) -> Option<&'a str> {
        self.raw(field).map(str::trim).filter(|v| !v.is_empty())
    }

    fn required(&mut self, field: &str) -> Option<&'a str> {
        let v = self.raw(field)?.trim();
        if v.is_empty() {
            self.error(field, "", "is empty".into());
            None
        } else {
            Some(v)
        }
    }

    fn parsed<T>(&mut self, field: &str, f: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let v = self.raw(field)?;
        f(v).map_err(|reason| self.error(field, v, reason)).ok()
    }

    fn amount(&mut self, field: &str, scale: f64) -> Option<f64> {
        self.parsed(field, parse_amount).map(|a| a * scale)
    }

    fn ratio(&mut self, field: &str) -> Option<f64> {
        if self.raw(field)?.trim().is_empty() {
            return None;
        }
        self.parsed(field, parse_ratio)
    }

    fn month(&mut self) -> Option<MonthIdx> {
        let field = if self.header.has("month") {
            "month"
        } else {
            "date"
        };
        self.parsed(field, parse_month_field)
    }

    fn date(&mut self) -> Option<NaiveDate> {
        if self.header.has("date") {
            return self.parsed("date", parse_date);
        }
        self.parsed("month", |v| {
            parse_month(v.trim())
                .and_then(|m| {
                    NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1)
                })
                .ok_or_else(|| "is not a month (YYYY-MM)".to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_every_accepted_notation() {
        for (s, v) in [
            ("1234.5", 1234.5),
            ("1,234.50", 1234.5),
            ("$1,234.50", 1234.5),
            ("(120.00)", -120.0),
            ("-12", -12.0),
            (" 7 ", 7.0),
            ("0.5", 0.5),
        ] {
            assert_eq!(parse_amount(s), Ok(v), "{s}");
        }
        for s in ["", "abc", "1,23.0", "12,34", "1.2.3", "$", "1e5", "--1"] {
            assert!(parse_amount(s).is_err(), "{s:?} must be refused");
        }
    }

    #[test]
    fn months_from_every_accepted_notation() {
        let m = 2025 * 12 + 2;
        assert_eq!(parse_month_field("2025-03"), Ok(m));
        assert_eq!(parse_month_field("2025-03-31"), Ok(m));
        assert_eq!(
            parse_month_field("2025-03-31T23:30:00-02:00"),
            Ok(m + 1),
            "UTC date"
        );
        assert!(parse_month_field("03/2025").is_err());
    }

    #[test]
    fn ratios_as_fraction_or_percent() {
        assert_eq!(parse_ratio("1.12"), Ok(1.12));
        assert_eq!(parse_ratio("112%"), Ok(1.12));
        assert_eq!(parse_ratio("95"), Ok(0.95));
        assert!(parse_ratio("-1").is_err());
    }
}
