//! Support-ticket CSV files as Zendesk, Intercom and Jira Service Management export them:
//! header matching ([`TICKETS`]), field parsing, whole-file validation. Pure: bytes in, tickets
//! or every problem out; [`super::set_import`] applies the result.
//!
//! Reading goes through the revenue files' machinery ([`super::revenue_csv::read_rows`]): the
//! same header matching with suggestions, the same limits (`revenue.max_field_bytes`,
//! `revenue.max_reported_errors`) and the same error format.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::revenue_csv::{
    finish, read_rows, FileErrors, Header, Reader, Row, RowError, Vocab, YEARS,
};
use crate::config::RevenueConfig;
use crate::model::{Month, Ticket};

/// The fields of a tickets file and the names the exports give them, as written by Zendesk's
/// CSV export ("Id", "Created at", "Solved at", "Organization", "Priority", "Tags", "Ticket
/// type", "First reply time in minutes"), Intercom's conversation export ("Conversation ID",
/// "Conversation started at", "Conversation last closed at", "Conversation first replied at",
/// "Company ID", "Conversation tags") and Jira's issue-navigator CSV export, which Jira Service
/// Management uses ("Issue key", "Created", "Resolved", "Organizations", "Labels", "Request
/// Type", "Component/s"). `docs/support.md` lists the same names; a test keeps them in step.
pub(crate) static TICKETS: Vocab = Vocab {
    fields: &[
        "ticket_id",
        "created",
        "solved",
        "first_reply_at",
        "first_reply_minutes",
        "customer_id",
        "priority",
        "tags",
        "type",
        "component",
    ],
    known: &[
        (
            "ticket_id",
            &[
                "ticket_id",
                "Id",
                "Ticket ID",
                "Conversation ID",
                "Issue key",
                "Issue id",
            ],
        ),
        (
            "created",
            &[
                "created",
                "created_at",
                "Created at",
                "Conversation started at",
                "Conversation created at",
                "Date created",
            ],
        ),
        (
            "solved",
            &[
                "solved",
                "solved_at",
                "Solved at",
                "Conversation last closed at",
                "Conversation closed at",
                "Closed at",
                "Resolved",
                "Resolution date",
            ],
        ),
        (
            "first_reply_at",
            &[
                "first_reply_at",
                "Conversation first replied at",
                "First response at",
                "First replied at",
            ],
        ),
        (
            "first_reply_minutes",
            &[
                "first_reply_minutes",
                "First reply time in minutes",
                "First response time (minutes)",
                "Time to first response (minutes)",
            ],
        ),
        (
            "customer_id",
            &[
                "customer_id",
                "Organization",
                "Organization ID",
                "Organizations",
                "Company ID",
                "Company",
                "Customer",
                "Account ID",
            ],
        ),
        (
            "priority",
            &["priority", "Priority", "Conversation priority"],
        ),
        (
            "tags",
            &["tags", "Tags", "Conversation tags", "Labels", "Label"],
        ),
        (
            "type",
            &["type", "Ticket type", "Request Type", "Issue Type", "Topic"],
        ),
        (
            "component",
            &[
                "component",
                "Component/s",
                "Components",
                "Service",
                "Product area",
            ],
        ),
    ],
    columns_key: "revenue.columns",
};

/// Which tool a header looks like it came from (shown in summaries and `import list`).
fn flavour(header: &Header) -> &'static str {
    let id = header
        .get("ticket_id")
        .map(|i| super::revenue_csv::normalize(&header.names[i]).0);
    match id.as_deref() {
        Some("issuekey" | "issueid") => "jsm",
        Some("conversationid") => "intercom",
        Some("id") => "zendesk",
        _ => "tickets",
    }
}

/// A parsed tickets file.
#[derive(Debug, Clone)]
pub struct ParsedTickets {
    /// `zendesk`, `intercom`, `jsm` or `tickets` (another tool).
    pub layout: &'static str,
    /// The tickets, in file order.
    pub tickets: Vec<Ticket>,
}

impl ParsedTickets {
    /// The months tickets were opened in.
    pub fn months(&self) -> Vec<Month> {
        let mut m: Vec<Month> = self
            .tickets
            .iter()
            .filter_map(|t| DateTime::from_timestamp_millis(t.created_ms))
            .map(|d| {
                use chrono::Datelike;
                Month::from_index(d.year() * 12 + d.month0() as i32)
            })
            .collect();
        m.sort_unstable();
        m.dedup();
        m
    }
}

/// Parses a time as the exports write it: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` (UTC, as Zendesk
/// and Intercom write it), Jira's `dd/Mon/yy h:mm AM`, or a bare date (its midnight, UTC).
pub fn parse_time(raw: &str) -> Result<i64, String> {
    let s = raw.trim().trim_end_matches(" UTC");
    if let Some(t) = plain_time(s).filter(|t| {
        use chrono::Datelike;
        YEARS.contains(&t.year())
    }) {
        return Ok(t.and_utc().timestamp_millis());
    }
    let t = DateTime::parse_from_rfc3339(s)
        .map(|d| d.naive_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%d/%b/%y %I:%M %p"))
        .or_else(|_| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        })
        .map_err(|_| {
            "is not a time (RFC 3339, YYYY-MM-DD HH:MM:SS, dd/Mon/yy h:mm AM or YYYY-MM-DD)"
                .to_owned()
        })?;
    use chrono::Datelike;
    if !YEARS.contains(&t.year()) {
        return Err(format!(
            "is outside the years {}–{} a file may name",
            YEARS.start(),
            YEARS.end()
        ));
    }
    Ok(t.and_utc().timestamp_millis())
}

/// `YYYY-MM-DD HH:MM:SS` (or with a `T`), the form Zendesk and Intercom write, read without
/// chrono's format interpreter, which costs a second per million tickets; `None` sends anything
/// else (and any invalid date) through [`parse_time`]'s general path, so results are the same.
fn plain_time(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)?.and_hms_opt(
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
    )
}

/// Tags as the tools write them: comma-separated (Intercom, whose tags may hold spaces) or
/// space-separated (Zendesk and Jira, whose tags cannot).
fn split_tags(raw: &str, spaces_split: bool) -> impl Iterator<Item = &str> {
    let by_comma = raw.contains(',') || raw.contains(';') || !spaces_split;
    raw.split(move |c: char| {
        if by_comma {
            c == ',' || c == ';'
        } else {
            c.is_whitespace()
        }
    })
    .map(str::trim)
    .filter(|t| !t.is_empty())
}

/// The header's layout, or every problem of the header.
fn check_header(header: &Header) -> Result<&'static str, Vec<RowError>> {
    let mut missing: Vec<(&'static str, Vec<&'static str>)> =
        ["ticket_id", "created", "customer_id"]
            .into_iter()
            .filter(|f| !header.has(f))
            .map(|f| (f, vec![f]))
            .collect();
    if !["tags", "type", "component"].iter().any(|f| header.has(f)) {
        missing.push(("tags, type or component", vec!["tags", "type", "component"]));
    }
    if missing.is_empty() {
        return Ok(flavour(header));
    }
    Err(header.missing_errors("a tickets file", missing))
}

fn ticket(row: &mut Row<'_>, out: &mut Vec<Ticket>, seen: &mut HashMap<String, u64>) {
    let line = row.line;
    let id = row.required("ticket_id");
    let created = row.parsed("created", parse_time);
    let solved = row
        .opt("solved")
        .and_then(|_| row.parsed("solved", parse_time));
    let replied = row
        .opt("first_reply_at")
        .and_then(|_| row.parsed("first_reply_at", parse_time));
    let reply_minutes = row.opt("first_reply_minutes").and_then(|_| {
        row.parsed("first_reply_minutes", |v| match v.trim().parse::<f64>() {
            Ok(m) if m.is_finite() && m >= 0.0 => Ok(m),
            _ => Err("is not a number of minutes (0 or more)".to_owned()),
        })
    });
    let customer = row.opt("customer_id").map(str::to_owned);
    let priority = row.opt("priority").map(str::to_owned);
    let kind = row.opt("type").map(str::to_owned);
    let spaces_split = flavour(row.header) != "intercom";
    let many = |row: &Row<'_>, field: &str| -> Vec<String> {
        row.header
            .all(field)
            .into_iter()
            .filter_map(|i| row.record.get(i))
            .flat_map(|v| split_tags(v, spaces_split))
            .map(str::to_owned)
            .collect()
    };
    let tags = many(row, "tags");
    let components = many(row, "component");
    let (Some(id), Some(created)) = (id, created) else {
        return;
    };
    if let Some(s) = solved.filter(|s| *s < created) {
        let raw = row.raw("solved").unwrap_or_default();
        row.error(
            "solved",
            raw,
            format!(
                "is before the ticket was created ({} minutes earlier)",
                (created - s) / 60_000
            ),
        );
        return;
    }
    let first_reply_minutes = reply_minutes.or(match replied {
        Some(r) if r < created => {
            let raw = row.raw("first_reply_at").unwrap_or_default();
            row.error(
                "first_reply_at",
                raw,
                "is before the ticket was created".into(),
            );
            return;
        }
        Some(r) => Some((r - created) as f64 / 60_000.0),
        None => None,
    });
    if let Some(first) = seen.get(id) {
        let first = *first;
        row.error(
            "ticket_id",
            id,
            format!("duplicate ticket {id} (first on line {first})"),
        );
        return;
    }
    seen.insert(id.to_owned(), line);
    out.push(Ticket {
        id: id.to_owned(),
        created_ms: created,
        solved_ms: solved,
        first_reply_minutes,
        customer,
        priority,
        tags,
        kind,
        components,
    });
}

/// Parses and validates a whole tickets file; returns every problem, or the tickets.
pub fn parse(
    file: &str,
    bytes: &[u8],
    config: &RevenueConfig,
    progress: impl FnMut(u64),
) -> Result<ParsedTickets, FileErrors> {
    // Sized from the line count (an upper bound on the rows): growing a million-ticket Vec and
    // id map by doubling costs a tenth of the import. Capped at one row per 64 bytes (exports
    // write more per ticket), so a file of blank lines cannot reserve many times its size.
    let lines = bytes
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        .min(bytes.len() / 64);
    let mut tickets = Vec::with_capacity(lines);
    let mut seen = HashMap::with_capacity(lines);
    let reader = Reader {
        header_of: &|h| Header::with_vocab(h, &TICKETS, |_| Vec::new()),
        layout_of: &check_header,
        identifiers: &|_| &["ticket_id", "customer_id", "priority", "type"],
    };
    let (_, layout, errors) = read_rows(
        file,
        bytes,
        config,
        &reader,
        |row, _| ticket(row, &mut tickets, &mut seen),
        progress,
    )?;
    let rows = tickets.len();
    finish(
        file,
        config,
        errors,
        rows,
        ParsedTickets { layout, tickets },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_the_exports_write_them() {
        // 2026-03-02T09:30:00Z = 1 772 443 800 000 ms.
        let t = 1_772_443_800_000;
        assert_eq!(parse_time("2026-03-02T09:30:00Z"), Ok(t));
        assert_eq!(parse_time("2026-03-02 09:30:00"), Ok(t));
        assert_eq!(parse_time("2026-03-02 09:30:00 UTC"), Ok(t));
        assert_eq!(parse_time("02/Mar/26 9:30 AM"), Ok(t));
        assert_eq!(
            parse_time("2026-03-02"),
            Ok(t - 9 * 3_600_000 - 30 * 60_000)
        );
        assert_eq!(parse_time("2026-03-02T09:30:00"), Ok(t));
        assert!(parse_time("2026-02-30 09:30:00").is_err());
        assert!(parse_time("2026-03-02 24:00:00").is_err());
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("0001-01-01").is_err());
    }

    #[test]
    fn tags_split_on_commas_or_spaces() {
        assert_eq!(
            split_tags("a b  c", true).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(
            split_tags("checkout latency, billing", true).collect::<Vec<_>>(),
            ["checkout latency", "billing"]
        );
        assert_eq!(split_tags("how to", false).collect::<Vec<_>>(), ["how to"]);
    }

    #[test]
    fn the_documentation_lists_exactly_these_names() {
        let doc = include_str!("../../docs/support.md");
        for (field, names) in TICKETS.known {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| `{field}`")))
                .unwrap_or_else(|| panic!("docs/support.md has no row for {field}"));
            let listed: Vec<&str> = row
                .split('|')
                .nth(2)
                .map(|cell| cell.trim().split(", ").collect())
                .unwrap_or_default();
            assert_eq!(listed, names.to_vec(), "docs/support.md, {field}");
        }
    }
}
