//! Revenue CSV files: layout detection ([`header`]), field parsing ([`fields`]), one function per
//! layout ([`layouts`]), whole-file checks ([`checks`]), and whole-file validation here.
//!
//! Parsing is pure (bytes in, rows or every problem out); [`super::revenue_import`] applies the
//! result to the store.

mod checks;
mod fields;
mod header;
mod known;
mod layouts;
pub(crate) mod parts;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use crate::config::RevenueConfig;
use crate::model::revenue::{Duplicate, MonthIdx, Near, Snapshots};
use crate::model::CustomerAttributes;
pub(crate) use checks::{header_error, missing_reason};
use fields::month_of;
pub(crate) use fields::Row;
pub(crate) use header::{normalize, Header, Vocab};

pub use fields::{
    excerpt, parse_amount, parse_date, parse_month_field, MAX_AMOUNT, QUOTED_BYTES, YEARS,
};

/// The accepted layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `customer_id, month|date, mrr` (+ `currency, plan, segment`).
    Snapshots,
    /// `date, customer_id, type, amount` (+ `currency`).
    Movements,
    /// `date|month, arr` (+ `mrr, nrr, grr, customers`).
    Totals,
    /// `customer_id` + any of `name, segment, plan, currency, country, first_month`, without a
    /// month or date: what a billing tool exports about its customers.
    Attributes,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Snapshots => "snapshots",
            Layout::Movements => "movements",
            Layout::Totals => "totals",
            Layout::Attributes => "attributes",
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
    /// The field that column was read as (`mrr` for a column `MRR (USD)`), if known.
    pub field: Option<String>,
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
            // Named when the export's name for it differs: "column Period (month)".
            if let Some(field) = self
                .field
                .as_deref()
                .filter(|field| header::normalize(c).0 != header::normalize(field).0)
            {
                write!(f, " ({field})")?;
            }
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
    /// Customer attributes, one per customer.
    Attributes(Vec<CustomerAttributes>),
}

/// How one file is read.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ParseOptions {
    /// Force a layout instead of detecting it.
    pub layout: Option<Layout>,
    /// The amount factor for this file, instead of `revenue.amount_scale`. Stating it also
    /// confirms it: the cents check of ChartMogul exports then trusts it.
    pub amount_scale: Option<f64>,
}

impl Parsed {
    /// The layout.
    pub fn layout(&self) -> Layout {
        match self {
            Parsed::Snapshots(_) => Layout::Snapshots,
            Parsed::Movements(_) => Layout::Movements,
            Parsed::Totals(_) => Layout::Totals,
            Parsed::Attributes(_) => Layout::Attributes,
        }
    }

    /// Data rows.
    pub fn rows(&self) -> usize {
        match self {
            Parsed::Snapshots(t) => t.rows(),
            Parsed::Movements(r) => r.len(),
            Parsed::Totals(r) => r.len(),
            Parsed::Attributes(r) => r.len(),
        }
    }

    /// MRR per customer per month: snapshots as given; movements accumulated per customer from
    /// the file's first month (the file is authoritative for its months, so a customer's MRR
    /// before the file starts is taken as 0); `None` for totals and attributes.
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
            Parsed::Totals(_) | Parsed::Attributes(_) => None,
        }
    }

    /// The months the file covers (it is authoritative for exactly these; none for attributes).
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

/// Builds the error of a file from its problems, shown up to `revenue.max_reported_errors`.
pub(crate) fn file_errors(file: &str, config: &RevenueConfig, errors: Vec<RowError>) -> FileErrors {
    FileErrors {
        file: file.to_owned(),
        errors,
        shown: config.max_reported_errors,
    }
}

fn whole_file_error(line: u64, reason: String) -> RowError {
    RowError {
        line,
        column: None,
        field: None,
        value: None,
        reason,
    }
}

/// How [`read_rows`] reads one kind of file.
pub(crate) struct Reader<'a, L> {
    /// The header row read against the kind's vocabulary.
    pub(crate) header_of: &'a dyn Fn(&csv::StringRecord) -> Header,
    /// The layout the header describes, or every problem of the header.
    pub(crate) layout_of: &'a dyn Fn(&Header) -> Result<L, Vec<RowError>>,
    /// The fields that are identifiers (no control characters) in a layout.
    pub(crate) identifiers: &'a dyn Fn(L) -> &'static [&'static str],
}

/// A CSV file whose header was read: what reading its rows, whole or in parts, needs.
pub(crate) struct Opened<'b, L> {
    /// The file, without its BOM.
    pub(crate) bytes: &'b [u8],
    /// The header row read against the kind's vocabulary.
    pub(crate) header: Header,
    /// The layout it describes.
    pub(crate) layout: L,
    /// Where the header's record ends: the rows start here.
    pub(crate) body: usize,
    /// The identifier fields of the layout and their columns, looked up once per file.
    identifiers: Vec<(&'static str, Option<usize>)>,
}

/// What every CSV import checks before its rows: UTF-8 (a BOM allowed), not empty, a header
/// that describes a layout.
pub(crate) fn open<'b, L: Copy>(
    file: &str,
    bytes: &'b [u8],
    config: &RevenueConfig,
    reader: &Reader<'_, L>,
) -> Result<Opened<'b, L>, FileErrors> {
    let one =
        |line: u64, reason: String| file_errors(file, config, vec![whole_file_error(line, reason)]);
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
    let mut csv_reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let header = match csv_reader.headers() {
        Ok(h) => (reader.header_of)(h),
        Err(e) => return Err(one(1, format!("unreadable header: {e}"))),
    };
    let body = usize::try_from(csv_reader.position().byte()).unwrap_or(bytes.len());
    let layout = (reader.layout_of)(&header).map_err(|e| file_errors(file, config, e))?;
    let identifiers = (reader.identifiers)(layout)
        .iter()
        .map(|f| (*f, header.get(f)))
        .collect();
    Ok(Opened {
        bytes,
        header,
        layout,
        body,
        identifiers,
    })
}

/// The `\n`s of `bytes` (memchr counts ~10 times faster than a filtered iterator here).
pub(crate) fn newlines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

/// Whether [`read_part`] reads on at the start of a row (at this byte of the file).
pub(crate) type AtRow<'f> = &'f mut dyn FnMut(usize) -> std::ops::ControlFlow<()>;

/// Reads the rows of `opened` from byte `from` (`opened.body` for the whole file, or the start
/// of a row), each checked for shape and bounds and handed to `each`, every problem collected
/// into `errors` with its line in the whole file. `at_row` is asked before each row and may
/// stop the reading there.
pub(crate) fn read_part<L: Copy>(
    opened: &Opened<'_, L>,
    from: usize,
    config: &RevenueConfig,
    errors: &mut Vec<RowError>,
    mut each: impl FnMut(&mut Row<'_>, L),
    mut progress: impl FnMut(u64),
    at_row: AtRow<'_>,
) {
    let (head, rest) = (
        opened.bytes.get(..opened.body).unwrap_or_default(),
        opened.bytes.get(from..).unwrap_or_default(),
    );
    // The header is read again before the part, so the part's rows are checked against its
    // field count and are read from the state a row starts in; a row's line is the reader's
    // plus the lines between the header and the part.
    let skipped = opened.bytes.get(opened.body..from).map_or(0, newlines) as u64;
    let mut csv_reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(std::io::Read::chain(head, rest));
    if csv_reader.headers().is_err() {
        // `open` read the same bytes without error.
        return;
    }
    let identifiers = &opened.identifiers;
    // csv places a row where its reading began: before the `\n` of the `\r\n` that ended the
    // row before, and before any blank lines; the row's own line is past them.
    let line_of = |p: &csv::Position| {
        let at = (p.byte() as usize).saturating_sub(opened.body) + from;
        let passed = opened
            .bytes
            .get(at..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .filter(|b| **b == b'\n')
            .count() as u64;
        p.line() + skipped + passed
    };
    let mut record = csv::StringRecord::new();
    loop {
        let at = (csv_reader.position().byte() as usize).saturating_sub(opened.body) + from;
        if at_row(at).is_break() {
            break;
        }
        match csv_reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, line_of);
                errors.push(whole_file_error(
                    line,
                    match e.kind() {
                        csv::ErrorKind::UnequalLengths {
                            expected_len, len, ..
                        } => {
                            format!("has {len} fields, the header has {expected_len}")
                        }
                        _ => e.to_string(),
                    },
                ));
                continue;
            }
        }
        let line = record.position().map_or(0, line_of);
        progress(line);
        // Every field blank is the fields' text, one after the other, all blank.
        if record.as_slice().trim().is_empty() {
            continue;
        }
        let mut row = Row {
            header: &opened.header,
            record: &record,
            line,
            errors,
        };
        if !row.check_bounds(config.max_field_bytes, identifiers) {
            continue;
        }
        each(&mut row, opened.layout);
    }
}

/// The reading every CSV import shares: [`open`], then every row [`read_part`] reads.
/// Returns the header, the layout and the rows' problems (the caller may add whole-file checks,
/// then calls [`finish`]).
pub(crate) fn read_rows<L: Copy>(
    file: &str,
    bytes: &[u8],
    config: &RevenueConfig,
    reader: &Reader<'_, L>,
    each: impl FnMut(&mut Row<'_>, L),
    progress: impl FnMut(u64),
) -> Result<(Header, L, Vec<RowError>), FileErrors> {
    let opened = open(file, bytes, config, reader)?;
    let mut errors = Vec::new();
    read_part(
        &opened,
        opened.body,
        config,
        &mut errors,
        each,
        progress,
        &mut |_| std::ops::ControlFlow::Continue(()),
    );
    Ok((opened.header, opened.layout, errors))
}

/// The end of every CSV import's validation: any problem refuses the whole file, listed in
/// line order; a file without data rows is refused too.
pub(crate) fn finish<T>(
    file: &str,
    config: &RevenueConfig,
    mut errors: Vec<RowError>,
    rows: usize,
    parsed: T,
) -> Result<T, FileErrors> {
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(file_errors(file, config, errors));
    }
    if rows == 0 {
        return Err(file_errors(
            file,
            config,
            vec![whole_file_error(
                2,
                "the file has a header but no data rows".into(),
            )],
        ));
    }
    Ok(parsed)
}

/// What every part of a revenue file is read with.
struct Reading<'a> {
    opened: &'a Opened<'a, Layout>,
    config: &'a RevenueConfig,
    scale: f64,
    snapshot: layouts::SnapshotColumns,
    currency: Option<usize>,
}

/// The rows of a revenue file, or of one part of it, as they are read.
struct Rows<'a> {
    reading: &'a Reading<'a>,
    snapshots: Snapshots,
    near: Near,
    /// Rows of a second part refused as a (customer, month) it had already read: the line of
    /// the row kept is known once the parts are joined.
    repeated: Option<Vec<Duplicate>>,
    movements: Vec<Movement>,
    totals: Vec<Total>,
    attributes: Vec<CustomerAttributes>,
    seen_months: HashMap<MonthIdx, u64>,
    seen_customers: HashMap<String, u64>,
    errors: Vec<RowError>,
}

impl<'a> Rows<'a> {
    fn new(reading: &'a Reading<'a>, first: bool) -> Self {
        Self {
            reading,
            snapshots: Snapshots::new(),
            near: Near::default(),
            repeated: (!first).then(Vec::new),
            movements: Vec::new(),
            totals: Vec::new(),
            attributes: Vec::new(),
            seen_months: HashMap::new(),
            seen_customers: HashMap::new(),
            errors: Vec::new(),
        }
    }

    fn row(&mut self, row: &mut Row<'_>, layout: Layout) {
        let r = self.reading;
        match layout {
            Layout::Snapshots => {
                checks::row_currency(row, r.currency, r.config);
                layouts::snapshot(
                    row,
                    &r.snapshot,
                    r.scale,
                    (&mut self.snapshots, &mut self.near),
                    self.repeated.as_mut(),
                )
            }
            Layout::Movements => {
                checks::row_currency(row, r.currency, r.config);
                layouts::movement(row, r.scale, &mut self.movements)
            }
            Layout::Totals => {
                checks::row_currency(row, r.currency, r.config);
                layouts::total(row, r.scale, &mut self.totals, &mut self.seen_months)
            }
            Layout::Attributes => {
                layouts::attributes(row, &mut self.attributes, &mut self.seen_customers)
            }
        }
    }

    /// Adds the rows of the part of the file after this one (snapshots and movements only:
    /// only those are read in parts).
    fn append(&mut self, later: Rows<'_>) {
        self.errors.extend(later.errors);
        self.movements.extend(later.movements);
        let repeated = later.repeated.unwrap_or_default();
        let record = csv::StringRecord::new();
        for d in self.snapshots.append(later.snapshots, &repeated) {
            let customer = self
                .snapshots
                .customer_names()
                .get(d.customer as usize)
                .cloned()
                .unwrap_or_default();
            let mut row = Row {
                header: &self.reading.opened.header,
                record: &record,
                line: d.line,
                errors: &mut self.errors,
            };
            layouts::duplicate(&mut row, &customer, d.month, d.first);
        }
    }
}

impl parts::Part for Rows<'_> {
    fn read(&mut self, from: usize, progress: &mut dyn FnMut(u64), at_row: AtRow<'_>) {
        let mut errors = std::mem::take(&mut self.errors);
        let r = self.reading;
        read_part(
            r.opened,
            from,
            r.config,
            &mut errors,
            |row, layout| self.row(row, layout),
            progress,
            at_row,
        );
        self.errors = errors;
    }
}

/// Parses and validates a whole file; returns every problem, or the rows.
///
/// A snapshots or movements file of a megabyte or more is read in two parts at once
/// ([`parts::read_in_parts`]); the outcome is the same as one reading's.
pub fn parse(
    file: &str,
    bytes: &[u8],
    options: &ParseOptions,
    config: &RevenueConfig,
    progress: impl FnMut(u64),
) -> Result<Parsed, FileErrors> {
    parse_in_parts(
        file,
        bytes,
        options,
        config,
        progress,
        parts::TWO_PARTS_FROM,
    )
}

/// [`parse`], reading files of `two_parts_from` bytes or more in two parts.
fn parse_in_parts(
    file: &str,
    bytes: &[u8],
    options: &ParseOptions,
    config: &RevenueConfig,
    progress: impl FnMut(u64),
    two_parts_from: usize,
) -> Result<Parsed, FileErrors> {
    let reader = Reader {
        header_of: &|h| Header::new(h, config),
        layout_of: &|h| checks::header(h, options.layout, config),
        // Names and countries are identifiers only where an attributes file stores them.
        identifiers: &|layout| match layout {
            Layout::Attributes => &[
                "customer_id",
                "currency",
                "plan",
                "segment",
                "name",
                "country",
            ],
            _ => &["customer_id", "currency", "plan", "segment"],
        },
    };
    let opened = open(file, bytes, config, &reader)?;
    let layout = opened.layout;
    let second = (matches!(layout, Layout::Snapshots | Layout::Movements)
        && opened.bytes.len() >= two_parts_from)
        .then(|| parts::second_part(opened.bytes, opened.body, 1))
        .flatten();
    let reading = Reading {
        opened: &opened,
        config,
        scale: options.amount_scale.unwrap_or(config.amount_scale),
        snapshot: layouts::SnapshotColumns::of(&opened.header),
        currency: opened.header.get("currency"),
    };
    let (mut rows, second) = parts::read_in_parts(
        file,
        &opened,
        second,
        |_, first| Rows::new(&reading, first),
        progress,
        || {},
    );
    if let Some(second) = second {
        rows.append(second);
    }
    let mut errors = std::mem::take(&mut rows.errors);
    let parsed = match layout {
        Layout::Snapshots => Parsed::Snapshots(Box::new(rows.snapshots)),
        Layout::Movements => Parsed::Movements(rows.movements),
        Layout::Totals => Parsed::Totals(rows.totals),
        Layout::Attributes => Parsed::Attributes(rows.attributes),
    };
    if let Some(cents) = checks::cents(&opened.header, options, config, &parsed, errors.is_empty())
    {
        errors.push(cents);
    }
    let rows = parsed.rows();
    finish(file, config, errors, rows, parsed)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{Config, Sources};

    /// The default `[revenue]` settings.
    pub(crate) fn config() -> RevenueConfig {
        Config::load(&Sources {
            env: Some(Default::default()),
            ..Sources::default()
        })
        .map(|c| c.revenue)
        .expect("the default configuration")
    }

    /// What a reading gave: every row as (month, customer, MRR, plan, line) in the table's
    /// order, or the problems as the user sees them.
    type Reading = Result<Vec<(MonthIdx, String, String, Option<String>, u64)>, String>;

    /// `csv` read in two parts and in one; whether a second part starts somewhere.
    fn read_both(csv: &str) -> ([Reading; 2], bool) {
        let readings = [0, usize::MAX].map(|two_parts_from| {
            let parsed = parse_in_parts(
                "r.csv",
                csv.as_bytes(),
                &ParseOptions::default(),
                // Long enough for the tests' multi-line notes.
                &RevenueConfig {
                    max_field_bytes: 1 << 20,
                    ..config()
                },
                |_| {},
                two_parts_from,
            );
            parsed.map_err(|e| e.to_string()).map(|p| {
                let Parsed::Snapshots(t) = p else {
                    panic!("a snapshots file");
                };
                t.months()
                    .flat_map(|m| {
                        t.month_rows(m).map(move |r| {
                            let mrr = format!("{:.2}", r.mrr);
                            (
                                m,
                                r.customer_id.to_owned(),
                                mrr,
                                r.plan.map(str::to_owned),
                                r.line,
                            )
                        })
                    })
                    .collect()
            })
        });
        let body = csv.find('\n').map_or(0, |n| n + 1);
        (
            readings,
            parts::second_part(csv.as_bytes(), body, 1).is_some(),
        )
    }

    /// `customers` × 24 months of snapshots, customer after customer, with `row(i)` in place
    /// of row `i` where it gives one, and `ending` after each row.
    fn file(customers: usize, ending: &str, row: impl Fn(usize) -> Option<String>) -> String {
        let mut csv = format!("customer_id,month,mrr,plan,segment,note{ending}");
        for i in 0..customers * 24 {
            let line = row(i).unwrap_or_else(|| {
                let (c, m) = (i / 24, i % 24);
                format!(
                    "cus_{c},{}-{:02},{}.5,pro,smb,",
                    2024 + m / 12,
                    m % 12 + 1,
                    c % 9
                )
            });
            csv += &line;
            csv += ending;
        }
        csv
    }

    #[test]
    fn two_parts_read_as_one_with_lf_and_crlf() {
        for ending in ["\n", "\r\n"] {
            let ([two, one], split) = read_both(&file(500, ending, |_| None));
            assert!(split, "{ending:?}");
            assert_eq!(two.as_ref().map(Vec::len), Ok(12_000));
            assert_eq!(two, one, "{ending:?}");
        }
    }

    #[test]
    fn a_split_at_a_quoted_line_break_starts_after_the_row() {
        // A note of many lines around the middle: the second part starts after the row that
        // holds them, and the lines after it are counted with theirs.
        let long = "a note, of text\r\n".repeat(3_000);
        let rows = 500 * 24;
        let csv = file(500, "\r\n", |i| {
            (i == rows / 2 - 1).then(|| format!("cus_x,2024-01,1,pro,smb,\"{long}\""))
        });
        let ([two, one], split) = read_both(&csv);
        assert!(split);
        assert_eq!(two, one);
        let last = two.as_ref().ok().and_then(|r| r.iter().map(|r| r.4).max());
        assert_eq!(last, Some(rows as u64 + 1 + 3_000));
        // A quote inside an unquoted field before it fools the count: the first part reads on
        // through the whole file.
        let csv = file(500, "\n", |i| match i {
            10 => Some("cus_q,2024-01,1,pro,smb,5\" screen".into()),
            _ if i == rows / 2 => Some(format!("cus_x,2024-01,1,pro,smb,\"{long}\"")),
            _ => None,
        });
        let ([two, one], _) = read_both(&csv);
        assert_eq!(two.as_ref().map(Vec::len), Ok(rows));
        assert_eq!(two, one);
    }

    #[test]
    fn bad_rows_and_duplicates_are_named_across_the_parts() {
        let rows = 500 * 24;
        let csv = file(500, "\n", |i| match i {
            // Line 3: cus_0 in 2024-02; again on lines 11 002 (second part, twice).
            11_000 | 11_001 => Some("cus_0,2024-02,3,pro,smb,".into()),
            // Line 10 003: a bad amount in the second part.
            10_001 => Some("cus_416,2025-06,3 USD,pro,smb,".into()),
            // Lines 101 and 102: a duplicate within the first part.
            100 => Some("cus_4,2024-04,1,pro,smb,".into()),
            _ => None,
        });
        let ([two, one], split) = read_both(&csv);
        assert!(split && rows > 11_001);
        assert_eq!(two, one);
        let dup = |line, first, month: &str| {
            format!(
                "\n  r.csv: line {line}, column customer_id, value \"cus_{}\": duplicate row \
                 for customer cus_{} in {month} (first on line {first})",
                if first == 3 { 0 } else { 4 },
                if first == 3 { 0 } else { 4 },
            )
        };
        assert_eq!(
            two,
            Err(format!(
                "r.csv: 4 problems, nothing imported:{}\n  r.csv: line 10003, column mrr, value \
                 \"3 USD\": is not an amount (e.g. 1234.50, 1,234.50, $1,234.50 or (120.00)){}{}",
                dup(102, 101, "2024-04"),
                dup(11002, 3, "2024-02"),
                dup(11003, 3, "2024-02"),
            ))
        );
    }
}
