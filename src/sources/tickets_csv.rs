//! Support-ticket CSV files as Zendesk, Intercom and Jira Service Management export them:
//! header matching ([`TICKETS`]), field parsing, whole-file validation. Pure: bytes in, tickets
//! or every problem out; [`super::set_import`] applies the result.
//!
//! Reading goes through the revenue files' machinery ([`super::revenue_csv::read_part`]): the
//! same header matching with suggestions, the same limits (`revenue.max_field_bytes`,
//! `revenue.max_reported_errors`) and the same error format.

use std::collections::BTreeSet;
use std::hash::BuildHasher;

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::revenue_csv::parts::{read_in_parts, second_part, Part, TWO_PARTS_FROM};
use super::revenue_csv::{
    finish, newlines, open, read_part, AtRow, FileErrors, Header, Opened, Reader, Row, RowError,
    Vocab, YEARS,
};
use crate::config::RevenueConfig;
use crate::model::business::ChunkRow;
use crate::model::calendar::DAY_MS;
use crate::model::ticket_columns::{plain_number, NewTicket};
use crate::model::{Month, Ticket, TicketColumns};

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

/// The layout a file's header names, if it names a valid one: what the import id needs before
/// the rows are read (parsing the file decides the same from the same header).
pub fn layout(bytes: &[u8]) -> Option<&'static str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let header = Header::with_vocab(reader.headers().ok()?, &TICKETS, |_| Vec::new());
    check_header(&header).ok()
}

/// What parsing a tickets file found (the tickets themselves went to the stager chunk by chunk).
#[derive(Debug, Clone)]
pub struct ParsedTickets {
    /// `zendesk`, `intercom`, `jsm` or `tickets` (another tool).
    pub layout: &'static str,
    /// Tickets.
    pub rows: u64,
    /// The months tickets were opened in (UTC), ascending.
    pub months: Vec<Month>,
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

/// The top bit of a duplicate-check key: set for hashed ids, clear for ids that are numbers
/// (a plain number above 2^63 does not fit an i64, so it is never one).
const HASHED: u64 = 1 << 63;

/// What the tickets parser hands on, in the order it hands it on. A big file is read in two
/// parts at once (see [`parse`]); the chunks of the second part come as [`Staged::Second`]
/// and are numbered after the first part's.
#[derive(Debug)]
pub enum Staged {
    /// The next chunk of the file (or of its first part).
    Next(TicketColumns),
    /// The file is read in two parts: the second part's chunks are numbered from this number
    /// on, more than the first part's lines can fill (sent before any chunk of the second).
    TwoParts {
        /// The number of the second part's first chunk.
        second_from: u32,
    },
    /// The next chunk of the file's second part, read while the first is.
    Second(TicketColumns),
    /// The first part is read and handed on whole: the second part's chunks follow it.
    FirstDone,
    /// The second part is given up (no row started where it did: the first part's reading
    /// goes on through the rest of the file): its chunks are not the file's.
    SecondDropped,
}

/// The columns of the fields a ticket is read from, looked up once per file.
struct Columns {
    id: Option<usize>,
    created: Option<usize>,
    solved: Option<usize>,
    first_reply_at: Option<usize>,
    first_reply_minutes: Option<usize>,
    customer: Option<usize>,
    priority: Option<usize>,
    kind: Option<usize>,
    tags: Vec<usize>,
    components: Vec<usize>,
    /// Whether a space separates tags (every tool but Intercom).
    spaces_split: bool,
}

impl Columns {
    fn of(header: &Header, layout: &str) -> Self {
        Self {
            id: header.get("ticket_id"),
            created: header.get("created"),
            solved: header.get("solved"),
            first_reply_at: header.get("first_reply_at"),
            first_reply_minutes: header.get("first_reply_minutes"),
            customer: header.get("customer_id"),
            priority: header.get("priority"),
            kind: header.get("type"),
            tags: header.all("tags"),
            components: header.all("component"),
            spaces_split: layout != "intercom",
        }
    }
}

/// The ids of the tickets read, as the duplicate-id check needs them.
#[derive(Default)]
struct Ids {
    /// The ids that are numbers below 2^32, as Zendesk's and Intercom's are, each with its
    /// line as `id << 32 | line`: 8 MB for a million tickets, sorted at the end to find
    /// repeated ids.
    small: Vec<u64>,
    /// (key, line, place in `ids`) of every other ticket, sorted at the end. The key of an id
    /// that is a plain number is the number (exact: equal keys are equal ids); of any other
    /// id, a 64-bit hash with the top bit set, and equal hashes are compared by the ids kept
    /// in `ids`. A million of them take 16 MB, where a map of owned ids took ~80 MB.
    keys: Vec<(u64, u32, u32)>,
    /// The ids that are not plain numbers, one after the other, and where each ends.
    ids: String,
    id_ends: Vec<u32>,
}

impl Ids {
    /// Room for `rows` tickets (only the room used is ever resident).
    fn with_capacity(rows: usize) -> Self {
        Self {
            small: Vec::with_capacity(rows),
            keys: Vec::with_capacity(rows),
            ..Self::default()
        }
    }

    fn sort(&mut self) {
        self.small.sort_unstable();
        self.keys.sort_unstable();
    }

    /// (key, line, place) of every ticket, in the order of (key, line) once sorted: the small
    /// ids' keys are all below the others'.
    fn sorted(&self) -> impl Iterator<Item = (u64, u32, u32)> + '_ {
        fn expand(k: &u64) -> (u64, u32, u32) {
            (k >> 32, (k & u64::from(u32::MAX)) as u32, u32::MAX)
        }
        self.small
            .iter()
            .map(expand as fn(&u64) -> (u64, u32, u32))
            .chain(self.keys.iter().copied())
    }

    fn id(&self, ticket: u32) -> &str {
        let i = ticket as usize;
        let start = i
            .checked_sub(1)
            .and_then(|p| self.id_ends.get(p))
            .map_or(0, |e| *e as usize);
        let end = self.id_ends.get(i).map_or(start, |e| *e as usize);
        self.ids.get(start..end).unwrap_or_default()
    }
}

/// Every later occurrence of an id in the parts of a file, as (line, id, line of the first
/// occurrence). Each part's keys are sorted (the second part's on its own thread, at the end
/// of its reading) and the sorted lists are walked together, not copied into one.
fn duplicates(parts: &mut [Ids]) -> Vec<(u64, String, u64)> {
    for part in parts.iter_mut() {
        part.sort();
    }
    let parts = &*parts;
    let mut heads: Vec<_> = parts.iter().map(|p| p.sorted().peekable()).collect();
    // (key, line, place, part) of every ticket, in the order of (key, line).
    let mut merged = std::iter::from_fn(|| {
        let (part, _) = heads
            .iter_mut()
            .enumerate()
            .filter_map(|(i, h)| h.peek().map(|k| (i, (k.0, k.1))))
            .min_by_key(|(_, k)| *k)?;
        heads[part]
            .next()
            .map(|(key, line, place)| (key, line, place, part))
    });
    let id = |(_, _, place, part): (u64, u32, u32, usize)| parts[part].id(place);
    let mut out = Vec::new();
    let mut run: Vec<(u64, u32, u32, usize)> = Vec::new();
    loop {
        let next = merged.next();
        if next.map(|n| n.0) != run.first().map(|r| r.0) {
            for (j, &later) in run.iter().enumerate().skip(1) {
                if later.0 & HASHED == 0 {
                    out.push((u64::from(later.1), later.0.to_string(), u64::from(run[0].1)));
                    continue;
                }
                if let Some(first) = run[..j].iter().find(|k| id(**k) == id(later)) {
                    out.push((u64::from(later.1), id(later).to_owned(), u64::from(first.1)));
                }
            }
            run.clear();
        }
        match next {
            Some(n) => run.push(n),
            None => break out,
        }
    }
}

/// What every part of a tickets file is read with.
struct Reading<'s> {
    opened: &'s Opened<'s, &'static str>,
    config: &'s RevenueConfig,
    columns: &'s Columns,
}

/// The tickets of a file, or of one part of it, as they are read: the chunk being filled, and
/// what the duplicate-id check and the summary need of the tickets already handed on.
struct Tickets<'s> {
    reading: &'s Reading<'s>,
    chunk: TicketColumns,
    /// Receives each full chunk, wrapped by `wrap`, while no row of the part was refused.
    stage: &'s (dyn Fn(Staged) + Sync),
    wrap: fn(TicketColumns) -> Staged,
    rows: u64,
    months: BTreeSet<Month>,
    last_day: i64,
    ids: Ids,
    /// The ids of the parts after this one, once appended.
    later_ids: Vec<Ids>,
    /// The problems of the part's rows.
    errors: Vec<RowError>,
}

impl<'s> Tickets<'s> {
    /// A part of at most `rows` rows: sized from the line count (an upper bound on the rows),
    /// capped at one row per 64 bytes (exports write more per ticket), so a file of blank lines
    /// cannot reserve many times its size.
    fn new(
        reading: &'s Reading<'s>,
        stage: &'s (dyn Fn(Staged) + Sync),
        wrap: fn(TicketColumns) -> Staged,
        rows: usize,
    ) -> Self {
        Self {
            reading,
            chunk: TicketColumns::with_capacity(Ticket::PER_CHUNK.min(rows)),
            stage,
            wrap,
            rows: 0,
            months: BTreeSet::new(),
            last_day: i64::MIN,
            ids: Ids::with_capacity(rows),
            later_ids: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Hands on the chunk being filled, if it holds any ticket and no row was refused.
    fn hand_on(&mut self) {
        if self.errors.is_empty() && !self.chunk.is_empty() {
            (self.stage)((self.wrap)(std::mem::take(&mut self.chunk).filled()));
        }
    }

    /// Adds what the part of the file after this one held.
    fn append(&mut self, later: Tickets<'_>) {
        self.rows += later.rows;
        self.months.extend(later.months);
        self.errors.extend(later.errors);
        self.later_ids.push(later.ids);
        self.later_ids.extend(later.later_ids);
        self.chunk = later.chunk;
        self.wrap = later.wrap;
    }
}

impl Part for Tickets<'_> {
    fn read(&mut self, from: usize, progress: &mut dyn FnMut(u64), at_row: AtRow<'_>) {
        let mut errors = std::mem::take(&mut self.errors);
        let reading = self.reading;
        read_part(
            reading.opened,
            from,
            reading.config,
            &mut errors,
            |row, _| ticket(row, reading.columns, self),
            progress,
            at_row,
        );
        self.errors = errors;
    }

    fn first_done(&mut self) {
        self.hand_on();
        (self.stage)(Staged::FirstDone);
    }

    fn second_done(&mut self) {
        self.ids.sort();
    }
}

fn ticket(row: &mut Row<'_>, columns: &Columns, out: &mut Tickets<'_>) {
    let line = row.line;
    let id = row.required_at("ticket_id", columns.id);
    let created = row.parsed_at("created", columns.created, parse_time);
    let solved = row
        .opt_at(columns.solved)
        .and_then(|_| row.parsed_at("solved", columns.solved, parse_time));
    let replied = row
        .opt_at(columns.first_reply_at)
        .and_then(|_| row.parsed_at("first_reply_at", columns.first_reply_at, parse_time));
    let reply_minutes = row.opt_at(columns.first_reply_minutes).and_then(|_| {
        row.parsed_at(
            "first_reply_minutes",
            columns.first_reply_minutes,
            |v| match v.trim().parse::<f64>() {
                Ok(m) if m.is_finite() && m >= 0.0 => Ok(m),
                _ => Err("is not a number of minutes (0 or more)".to_owned()),
            },
        )
    });
    let (Some(id), Some(created)) = (id, created) else {
        return;
    };
    if let Some(s) = solved.filter(|s| *s < created) {
        let raw = row.at(columns.solved).unwrap_or_default();
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
            let raw = row.at(columns.first_reply_at).unwrap_or_default();
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
    let ids = &mut out.ids;
    let number = plain_number(id).and_then(|n| u64::try_from(n).ok());
    if number.is_none() {
        ids.ids.push_str(id);
    }
    let (Ok(no), Ok(line32), Ok(end)) = (
        u32::try_from(ids.id_ends.len()),
        u32::try_from(line),
        u32::try_from(ids.ids.len()),
    ) else {
        row.error(
            "ticket_id",
            id,
            "is past the 4 294 967 295th line (or byte of ticket ids) a file may hold".into(),
        );
        return;
    };
    match number {
        Some(n) if n <= u64::from(u32::MAX) => ids.small.push(n << 32 | u64::from(line32)),
        Some(n) => ids.keys.push((n, line32, u32::MAX)),
        None => {
            ids.id_ends.push(end);
            let hash = rustc_hash::FxBuildHasher.hash_one(id) | HASHED;
            ids.keys.push((hash, line32, no));
        }
    }
    let day = created.div_euclid(DAY_MS);
    if day != out.last_day {
        out.last_day = day;
        if let Some(d) = DateTime::from_timestamp_millis(created) {
            out.months.insert(Month::of(d.date_naive()));
        }
    }
    out.rows += 1;
    let record = row.record;
    fn many<'r>(
        record: &'r csv::StringRecord,
        columns: &'r [usize],
        spaces_split: bool,
    ) -> impl Iterator<Item = &'r str> {
        columns
            .iter()
            .filter_map(move |i| record.get(*i))
            .flat_map(move |v| split_tags(v, spaces_split))
    }
    // A full chunk is handed on when the next ticket comes, not when it fills: see
    // `chunks_at_most`.
    if out.chunk.len() >= Ticket::PER_CHUNK {
        let full = std::mem::replace(
            &mut out.chunk,
            TicketColumns::with_capacity(Ticket::PER_CHUNK),
        );
        if row.errors.is_empty() {
            (out.stage)((out.wrap)(full.filled()));
        }
    }
    out.chunk.push(NewTicket {
        id,
        created_ms: created,
        solved_ms: solved,
        first_reply_minutes,
        customer: row.opt_at(columns.customer),
        priority: row.opt_at(columns.priority),
        kind: row.opt_at(columns.kind),
        tags: many(record, &columns.tags, columns.spaces_split),
        components: many(record, &columns.components, columns.spaces_split),
    });
}

/// The most chunks the rows of `part`, a first part ending where a row ends, can fill before
/// the second part is kept or dropped: each row ends in a `\n`, a `\r` or a `\r\n` of its own
/// (rows that span lines and blank lines only have more); a row that crosses the end of the
/// part drops the second part before its chunk is handed on (a full chunk is handed on when
/// the next ticket comes).
fn chunks_at_most(part: &[u8]) -> Option<u32> {
    let mut ends = newlines(part);
    if memchr::memchr(b'\r', part).is_some() {
        ends += part
            .windows(2)
            .filter(|w| w[0] == b'\r' && w[1] != b'\n')
            .count()
            + usize::from(part.last() == Some(&b'\r'));
    }
    u32::try_from(ends.div_ceil(Ticket::PER_CHUNK)).ok()
}

/// Parses and validates a whole tickets file, handing its tickets to `stage` a chunk of
/// [`Ticket::PER_CHUNK`] at a time (the last one once the whole file is valid; none after a
/// refused row); returns every problem, or what the file held.
///
/// A file of a megabyte or more is read in two parts at once: the rows from the middle on
/// on a second thread, while this one reads the first half and checks that a row starts
/// where the second part does (else it reads on through the whole file and the second part
/// is dropped). Lines are counted in the whole file, and repeated ids are found across the
/// parts, so the outcome is the same as one reading's.
pub fn parse(
    file: &str,
    bytes: &[u8],
    config: &RevenueConfig,
    progress: impl FnMut(u64),
    stage: &(dyn Fn(Staged) + Sync),
) -> Result<ParsedTickets, FileErrors> {
    parse_in_parts(file, bytes, config, progress, stage, TWO_PARTS_FROM)
}

/// [`parse`], reading files of `two_parts_from` bytes or more in two parts.
fn parse_in_parts(
    file: &str,
    bytes: &[u8],
    config: &RevenueConfig,
    progress: impl FnMut(u64),
    stage: &(dyn Fn(Staged) + Sync),
    two_parts_from: usize,
) -> Result<ParsedTickets, FileErrors> {
    let reader = Reader {
        header_of: &|h| Header::with_vocab(h, &TICKETS, |_| Vec::new()),
        layout_of: &check_header,
        identifiers: &|_| &["ticket_id", "customer_id", "priority", "type"],
    };
    let opened = open(file, bytes, config, &reader)?;
    let columns = Columns::of(&opened.header, opened.layout);
    let bytes = opened.bytes;
    let second = (bytes.len() >= two_parts_from)
        .then(|| second_part(bytes, opened.body, Ticket::PER_CHUNK))
        .flatten()
        .and_then(|from| {
            let second_from = chunks_at_most(bytes.get(opened.body..from)?)?;
            stage(Staged::TwoParts { second_from });
            Some(from)
        });
    let reading = Reading {
        opened: &opened,
        config,
        columns: &columns,
    };
    let (mut tickets, second) = read_in_parts(
        file,
        &opened,
        second,
        |range, first| {
            let rows = newlines(&bytes[range.clone()]).min(range.len() / 64);
            let wrap = if first { Staged::Next } else { Staged::Second };
            Tickets::new(&reading, stage, wrap, rows)
        },
        progress,
        || stage(Staged::SecondDropped),
    );
    if let Some(second) = second {
        tickets.append(second);
    }
    let record = csv::StringRecord::new();
    let mut errors = std::mem::take(&mut tickets.errors);
    let mut ids = vec![std::mem::take(&mut tickets.ids)];
    ids.append(&mut tickets.later_ids);
    for (line, id, first) in duplicates(&mut ids) {
        Row {
            header: &opened.header,
            record: &record,
            line,
            errors: &mut errors,
        }
        .error(
            "ticket_id",
            &id,
            format!("duplicate ticket {id} (first on line {first})"),
        );
    }
    // A duplicate row was counted above; the count only decides "no data rows", which a
    // file with duplicates never reaches.
    tickets.errors = errors;
    tickets.hand_on();
    let parsed = ParsedTickets {
        layout: opened.layout,
        rows: tickets.rows,
        months: tickets.months.into_iter().collect(),
    };
    finish(file, config, tickets.errors, parsed.rows as usize, parsed)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::super::revenue_csv::tests::config;
    use super::*;

    /// What a reading gave: the outcome (problems as the user sees them), the ticket ids in
    /// the order the stager numbers them, and whether the second part was kept.
    type Reading = (Result<(u64, Vec<Month>), String>, Vec<String>, bool);

    /// `csv` read in two parts and in one.
    fn read_both(csv: &str) -> [Reading; 2] {
        [0, usize::MAX].map(|two_parts_from| {
            let staged = Mutex::new(Vec::new());
            // Long enough for the test's multi-line subjects.
            let config = RevenueConfig {
                max_field_bytes: 1 << 20,
                ..config()
            };
            let outcome = parse_in_parts(
                "t.csv",
                csv.as_bytes(),
                &config,
                |_| {},
                &|s| staged.lock().expect("not poisoned").push(s),
                two_parts_from,
            );
            // The stager's numbering (`chunked::TicketStager::take`).
            let mut chunks = std::collections::BTreeMap::new();
            let (mut first, mut second, mut kept) = (0u32, None, false);
            for s in staged.into_inner().expect("not poisoned") {
                match s {
                    Staged::Next(c) => {
                        assert!(second.is_none_or(|(from, _)| first < from));
                        chunks.insert(first, c);
                        first += 1;
                    }
                    Staged::TwoParts { second_from } => second = Some((second_from, 0)),
                    Staged::Second(c) => {
                        if let Some((from, n)) = second.as_mut() {
                            chunks.insert(*from + *n, c);
                            *n += 1;
                        }
                    }
                    Staged::FirstDone => kept = true,
                    Staged::SecondDropped => {
                        if let Some((from, n)) = second.take() {
                            chunks.retain(|no, _| !(from..from + n).contains(no));
                        }
                    }
                }
            }
            let ids = chunks
                .values()
                .flat_map(|c| c.iter().map(|t| t.id.to_owned()))
                .collect();
            let outcome = outcome
                .map(|p| (p.rows, p.months))
                .map_err(|e| e.to_string());
            (outcome, ids, kept)
        })
    }

    /// The two readings agree: the same outcome and, for a file taken, the same tickets in
    /// the same order.
    fn same(two: &Reading, one: &Reading) {
        assert_eq!(two.0, one.0);
        if two.0.is_ok() {
            assert!(
                two.1 == one.1,
                "{} tickets staged from two parts, {} from one",
                two.1.len(),
                one.1.len()
            );
        }
    }

    /// `rows` tickets `T-0`.. (ids that are not numbers go through the hashed check) a
    /// minute apart, with `row(i)` in place of ticket `i` where it gives one, and `ending`
    /// after each row.
    fn file(rows: usize, ending: &str, row: impl Fn(usize) -> Option<String>) -> String {
        let mut csv = format!("Id,Subject,Created at,Organization,Tags{ending}");
        for i in 0..rows {
            let line = row(i).unwrap_or_else(|| {
                format!(
                    "T-{i},\"Hello, \"\"world\"\"\",2026-11-{:02} {:02}:{:02}:00,cus_{},billing sso",
                    1 + i / 1440 % 28,
                    i / 60 % 24,
                    i % 60,
                    i % 7
                )
            });
            csv += &line;
            csv += ending;
        }
        csv
    }

    #[test]
    fn two_parts_read_as_one() {
        for ending in ["\n", "\r\n"] {
            let csv = file(45_000, ending, |_| None);
            let [two, one] = read_both(&csv);
            assert!(two.2, "the second part is kept ({ending:?})");
            assert_eq!(two.1.len(), 45_000);
            same(&two, &one);
        }
    }

    #[test]
    fn lines_are_named_after_crlf_endings_and_blank_lines() {
        let csv = "Id,Created at,Organization,Tags\r\n1,2026-11-09 10:00:00,a,x\r\n\
                   2,not a time,a,x\r\n\r\n\n3,2026-11-09 10:00:00,a,x,y\n";
        let [two, one] = read_both(csv);
        assert_eq!(two.0, one.0);
        let errors = one.0.expect_err("refused");
        assert!(
            errors.contains("line 3, column Created at") && errors.contains("line 6: has 5 fields"),
            "{errors}"
        );
    }

    #[test]
    fn a_quoted_newline_across_the_middle_is_not_a_split() {
        // A subject of 2 000 lines around the middle of the file: the second part starts after
        // it, where the next row does.
        let long = "a line, of text\n".repeat(2_000);
        let rows = 3_000;
        let csv = file(rows, "\n", |i| {
            (i == rows / 2).then(|| format!("T-{i},\"{long}\",2026-11-02 10:00:00,cus_1,sso"))
        });
        let body = csv.find('\n').map(|n| n + 1).unwrap_or_default();
        let at = second_part(csv.as_bytes(), body, Ticket::PER_CHUNK).unwrap_or_default();
        let after = csv.find(&format!("\nT-{}", rows / 2 + 1)).map(|n| n + 1);
        assert_eq!(Some(at), after, "the row after the long one");
        let [two, one] = read_both(&csv);
        assert!(two.2);
        same(&two, &one);

        // A quote inside an unquoted field before it, which readers take literally, makes the
        // count take a newline inside the subject for a row's end: no row starts there, and
        // the first part's reading reads on through the whole file.
        let csv = file(rows, "\n", |i| match i {
            10 => Some(format!("T-{i},5\" screen,2026-11-02 10:00:00,cus_1,sso")),
            _ if i == rows / 2 => Some(format!("T-{i},\"{long}\",2026-11-02 10:00:00,cus_1,sso")),
            _ => None,
        });
        let at = second_part(csv.as_bytes(), body, Ticket::PER_CHUNK).unwrap_or_default();
        assert!(at < after.unwrap_or_default(), "fooled: {at}");
        let [two, one] = read_both(&csv);
        assert!(!two.2, "the second part is dropped");
        assert_eq!(two.0.as_ref().map(|o| o.0), Ok(rows as u64));
        same(&two, &one);
    }

    #[test]
    fn repeated_ids_and_bad_rows_are_named_across_the_parts() {
        let rows = 45_000;
        let csv = file(rows, "\n", |i| match i {
            // Line 40 002: a copy of ticket T-3 (line 5) and of the number 100 (line 12).
            40_000 => Some("T-3,again,2026-11-03 10:00:00,cus_1,sso".into()),
            40_001 => Some("100,again,2026-11-03 10:00:00,cus_1,sso".into()),
            10 => Some("100,first,2026-11-03 10:00:00,cus_1,sso".into()),
            // Line 30 003: a bad time in the second part.
            30_001 => Some("T-30001,x,not a time,cus_1,sso".into()),
            _ => None,
        });
        let [two, one] = read_both(&csv);
        assert!(two.2);
        same(&two, &one);
        assert_eq!(
            two.0,
            Err("t.csv: 3 problems, nothing imported:\n  \
                 t.csv: line 30003, column Created at (created), value \"not a time\": is not a \
                 time (RFC 3339, YYYY-MM-DD HH:MM:SS, dd/Mon/yy h:mm AM or YYYY-MM-DD)\n  \
                 t.csv: line 40002, column Id (ticket_id), value \"T-3\": duplicate ticket T-3 \
                 (first on line 5)\n  \
                 t.csv: line 40003, column Id (ticket_id), value \"100\": duplicate ticket 100 \
                 (first on line 12)"
                .to_owned())
        );
    }

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
