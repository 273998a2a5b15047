//! One function per layout: a validated row of the file becomes a snapshot, a movement, a totals
//! row or a customer's attributes; every problem goes to the row's errors.

use std::collections::HashMap;

use super::fields::{parse_amount, parse_month_field, parse_movement_type, Row};
use super::header::Header;
use super::{Movement, MovementType, Total};
use crate::model::revenue::{month_label, Duplicate, MonthIdx, Near, Snapshots};
use crate::model::{CustomerAttributes, Month};

/// The columns of a snapshots file, looked up once per file.
pub(super) struct SnapshotColumns {
    customer: Option<usize>,
    /// `month`, or `date` when there is no month column, and its column.
    month: (&'static str, Option<usize>),
    mrr: Option<usize>,
    plan: Option<usize>,
    segment: Option<usize>,
}

impl SnapshotColumns {
    pub(super) fn of(header: &Header) -> Self {
        let month = if header.has("month") { "month" } else { "date" };
        Self {
            customer: header.get("customer_id"),
            month: (month, header.get(month)),
            mrr: header.get("mrr"),
            plan: header.get("plan"),
            segment: header.get("segment"),
        }
    }
}

/// A `customer_id, month, mrr` row: one customer's MRR in one month. A second row for the
/// same customer and month is refused here, or, with `repeated`, left to the caller there.
pub(super) fn snapshot(
    row: &mut Row<'_>,
    columns: &SnapshotColumns,
    scale: f64,
    (snapshots, near): (&mut Snapshots, &mut Near),
    repeated: Option<&mut Vec<Duplicate>>,
) {
    let line = row.line;
    let customer = row.required_at("customer_id", columns.customer);
    let (month_field, month_at) = columns.month;
    let month = row.parsed_at(month_field, month_at, parse_month_field);
    let mrr = row
        .parsed_at("mrr", columns.mrr, parse_amount)
        .map(|a| a * scale);
    if let Some(m) = mrr.filter(|m| *m < 0.0) {
        row.error("mrr", &m.to_string(), "MRR cannot be negative".into());
    }
    if let (Some(customer), Some(month)) = (customer, month) {
        let (plan, segment) = (row.opt_at(columns.plan), row.opt_at(columns.segment));
        let mrr = mrr.unwrap_or(0.0).max(0.0);
        if let Err(d) = snapshots.insert_near(near, month, customer, mrr, plan, segment, line) {
            match repeated {
                Some(repeated) => repeated.push(d),
                None => duplicate(row, customer, month, d.first),
            }
        }
    }
}

/// The problem of a second row for `customer` in `month`.
pub(super) fn duplicate(row: &mut Row<'_>, customer: &str, month: MonthIdx, first: u64) {
    row.error(
        "customer_id",
        customer,
        format!(
            "duplicate row for customer {customer} in {} (first on line {first})",
            month_label(month)
        ),
    );
}

/// A `date, customer_id, type, amount` row: one MRR movement.
pub(super) fn movement(row: &mut Row<'_>, scale: f64, movements: &mut Vec<Movement>) {
    let line = row.line;
    let customer = row.required("customer_id");
    let date = row.date();
    let kind = row.parsed("type", parse_movement_type);
    let amount = row.amount("amount", scale);
    if let (Some(customer), Some(date), Some(kind), Some(amount)) = (customer, date, kind, amount) {
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

/// A `month, arr` row: the organisation's stated totals of one month.
pub(super) fn total(
    row: &mut Row<'_>,
    scale: f64,
    totals: &mut Vec<Total>,
    seen_months: &mut HashMap<MonthIdx, u64>,
) {
    let line = row.line;
    let month = row.month();
    let arr = row.amount("arr", scale);
    let mrr = row.opt("mrr").and_then(|_| row.amount("mrr", scale));
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

/// A `customer_id, segment, ...` row: what the billing tool states about one customer. Each
/// customer once: a second row would leave which one counts to file order.
pub(super) fn attributes(
    row: &mut Row<'_>,
    out: &mut Vec<CustomerAttributes>,
    seen: &mut HashMap<String, u64>,
) {
    let line = row.line;
    let customer = row.required("customer_id");
    let currency = row.opt("currency").and_then(|c| {
        if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) {
            Some(c.to_ascii_uppercase())
        } else {
            row.error(
                "currency",
                c,
                "is not an ISO 4217 currency code (three letters, e.g. USD)".into(),
            );
            None
        }
    });
    let first_month = row
        .opt("first_month")
        .and_then(|_| row.parsed("first_month", parse_month_field))
        .map(Month::from_index);
    let Some(customer) = customer else { return };
    if let Some(first) = seen.get(customer) {
        let first = *first;
        row.error(
            "customer_id",
            customer,
            format!("duplicate row for customer {customer} (first on line {first})"),
        );
        return;
    }
    seen.insert(customer.to_owned(), line);
    let text = |field: &str| row.opt(field).map(str::to_owned);
    out.push(CustomerAttributes {
        customer_id: customer.to_owned(),
        name: text("name"),
        segment: text("segment"),
        plan: text("plan"),
        currency,
        country: text("country"),
        first_month,
    });
}
