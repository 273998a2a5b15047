//! Cells of the CSV files Barometer writes, made safe to open in a spreadsheet.
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and, in some, a tab or a
//! carriage return) as a formula, which can fetch URLs or run commands: "CSV injection" (OWASP,
//! "CSV Injection"). Such a text cell gets a leading `'`, which spreadsheets hide and which keeps
//! it text. A number is data, not a formula, so `-0.25` stays as it is.

use std::borrow::Cow;

/// `cell`, prefixed with `'` when a spreadsheet would run it as a formula.
pub fn safe_cell(cell: &str) -> Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
        && cell.parse::<f64>().map_or(true, |v| !v.is_finite());
    if risky {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::safe_cell;

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        assert_eq!(
            safe_cell("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(safe_cell("+1+cmd|' /C calc'!A0"), "'+1+cmd|' /C calc'!A0");
        assert_eq!(safe_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(safe_cell("-2+3"), "'-2+3");
        assert_eq!(safe_cell("\t=1"), "'\t=1");
        assert_eq!(safe_cell("-inf"), "'-inf");
        for plain in ["-0.25", "+3", "1e5", "2026-11-16", "resilience", ""] {
            assert_eq!(safe_cell(plain), plain);
        }
    }
}
