//! Field parsing: amounts, months, dates, ratios and movement types as the files write them,
//! and a row's typed accessors that record every problem with its line and column.

use chrono::{DateTime, Datelike, NaiveDate};

use super::header::Header;
use super::{MovementType, RowError};
use crate::model::revenue::{parse_month, MonthIdx};

pub(super) fn month_of(d: NaiveDate) -> MonthIdx {
    d.year() * 12 + d.month0() as i32
}

/// Years a revenue file may name. Outside them a value is a typo or a placeholder (`0000-01`,
/// `9999-12`), never data: it would be stored and then fall outside every view.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=2100;

/// Largest amount one row may carry, in the file's currency: far above any real MRR, and small
/// enough that no sum of a file's rows leaves the exactly representable range of `f64`.
pub const MAX_AMOUNT: f64 = 1e12;

pub use crate::quote::{excerpt, QUOTED_BYTES};

fn year_ok(y: i32) -> Result<(), String> {
    if YEARS.contains(&y) {
        Ok(())
    } else {
        Err(format!(
            "is outside the years {}–{} a revenue file may name",
            YEARS.start(),
            YEARS.end()
        ))
    }
}

fn bounded(v: f64) -> Result<f64, String> {
    if v.is_finite() && v.abs() <= MAX_AMOUNT {
        Ok(v)
    } else {
        Err(format!(
            "is outside ±{MAX_AMOUNT:e}, the largest amount one row may carry"
        ))
    }
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
            return bounded(v);
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
    bounded(if negative { -v } else { sign * v })
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
    let m = parse_any_month(raw)?;
    year_ok(m.div_euclid(12))?;
    Ok(m)
}

fn parse_any_month(raw: &str) -> Result<MonthIdx, String> {
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
    let d = parse_any_date(raw)?;
    year_ok(d.year())?;
    Ok(d)
}

fn parse_any_date(raw: &str) -> Result<NaiveDate, String> {
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
pub(super) fn parse_ratio(raw: &str) -> Result<f64, String> {
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

pub(super) fn parse_movement_type(raw: &str) -> Result<MovementType, String> {
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

/// The first control character of `v`, if any: printable ASCII, what identifiers nearly
/// always are, is checked a byte at a time without decoding.
fn control_char(v: &str) -> Option<char> {
    if v.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    v.chars().find(|c| c.is_control())
}

pub(crate) struct Row<'a> {
    pub(crate) header: &'a Header,
    pub(crate) record: &'a csv::StringRecord,
    pub(crate) line: u64,
    pub(crate) errors: &'a mut Vec<RowError>,
}

impl<'a> Row<'a> {
    pub(crate) fn col_name(&self, field: &str) -> String {
        self.header
            .get(field)
            .and_then(|i| self.header.names.get(i))
            .cloned()
            .unwrap_or_else(|| field.to_owned())
    }

    pub(crate) fn error(&mut self, field: &str, value: &str, reason: String) {
        let column = excerpt(&self.col_name(field));
        self.errors.push(RowError {
            line: self.line,
            column: Some(column),
            field: Some(field.to_owned()),
            value: Some(excerpt(value)),
            reason,
        });
    }

    /// Fields over `max` bytes, and identifiers (each field with its column, looked up once
    /// per file) with control characters (NUL above all, which ends a string in many a tool
    /// downstream): refused before anything reads them.
    pub(crate) fn check_bounds(
        &mut self,
        max: usize,
        identifiers: &[(&'static str, Option<usize>)],
    ) -> bool {
        let mut ok = true;
        // No field is longer than the whole row: most rows need no look at each.
        let long = self.record.as_slice().len() > max;
        for (i, v) in self.record.iter().enumerate().filter(|_| long) {
            if v.len() > max {
                let column = self
                    .header
                    .names
                    .get(i)
                    .map_or_else(|| format!("#{}", i + 1), |n| excerpt(n));
                self.errors.push(RowError {
                    line: self.line,
                    column: Some(column),
                    field: self.header.field_at(i).map(str::to_owned),
                    value: Some(excerpt(v)),
                    reason: format!(
                        "is {} bytes long; one field is at most revenue.max_field_bytes ({max})",
                        v.len()
                    ),
                });
                ok = false;
            }
        }
        // A row of printable ASCII (most rows) has no control character in any field.
        let printable = self
            .record
            .as_slice()
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b));
        for &(field, at) in identifiers.iter().filter(|_| !printable) {
            if let Some(v) = self.at(at) {
                if let Some(c) = control_char(v) {
                    self.error(
                        field,
                        v,
                        format!(
                            "contains the control character U+{:04X}; identifiers are text",
                            u32::from(c)
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok
    }

    /// The raw value of a field present in the header (`None` when the column is absent).
    pub(crate) fn raw(&self, field: &str) -> Option<&'a str> {
        self.at(self.header.get(field))
    }

    /// The raw value in column `at`, a field's column looked up once per file with
    /// [`Header::get`] (`None` when the header has no such column).
    pub(crate) fn at(&self, at: Option<usize>) -> Option<&'a str> {
        Some(self.record.get(at?).unwrap_or(""))
    }

    pub(crate) fn opt(&self, field: &str) -> Option<&'a str> {
        self.opt_at(self.header.get(field))
    }

    /// [`Row::opt`] of column `at` (see [`Row::at`]).
    pub(crate) fn opt_at(&self, at: Option<usize>) -> Option<&'a str> {
        self.at(at).map(str::trim).filter(|v| !v.is_empty())
    }

    pub(crate) fn required(&mut self, field: &str) -> Option<&'a str> {
        self.required_at(field, self.header.get(field))
    }

    /// [`Row::required`] of `field`, found in column `at` (see [`Row::at`]).
    pub(crate) fn required_at(&mut self, field: &str, at: Option<usize>) -> Option<&'a str> {
        let v = self.at(at)?.trim();
        if v.is_empty() {
            self.error(field, "", "is empty".into());
            None
        } else {
            Some(v)
        }
    }

    pub(crate) fn parsed<T>(
        &mut self,
        field: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        self.parsed_at(field, self.header.get(field), f)
    }

    /// [`Row::parsed`] of `field`, found in column `at` (see [`Row::at`]).
    pub(crate) fn parsed_at<T>(
        &mut self,
        field: &str,
        at: Option<usize>,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let v = self.at(at)?;
        f(v).map_err(|reason| self.error(field, v, reason)).ok()
    }

    pub(crate) fn amount(&mut self, field: &str, scale: f64) -> Option<f64> {
        self.parsed(field, parse_amount).map(|a| a * scale)
    }

    pub(crate) fn ratio(&mut self, field: &str) -> Option<f64> {
        if self.raw(field)?.trim().is_empty() {
            return None;
        }
        self.parsed(field, parse_ratio)
    }

    pub(super) fn month(&mut self) -> Option<MonthIdx> {
        let field = if self.header.has("month") {
            "month"
        } else {
            "date"
        };
        self.parsed(field, parse_month_field)
    }

    pub(super) fn date(&mut self) -> Option<NaiveDate> {
        if self.header.has("date") {
            return self.parsed("date", parse_date);
        }
        self.parsed("month", |v| {
            let d = parse_month(v.trim())
                .and_then(|m| {
                    NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1)
                })
                .ok_or_else(|| "is not a month (YYYY-MM)".to_owned())?;
            year_ok(d.year())?;
            Ok(d)
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
