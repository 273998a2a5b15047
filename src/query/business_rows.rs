//! The business signals of a scope's weekly rows (#17): support load and revenue-weighted
//! pain from the tickets, cost growth against revenue growth, the margin and the Rule of 40 from
//! the metrics — the pressure index's optional components and its profitability tag. A scope
//! whose data cannot be attributed gets none of them: missing, never zero.

use std::collections::{BTreeMap, HashSet};

use super::business::{self, PAIN_WEEKS};
use super::settings::Settings;
use super::views::carried;
use crate::analysis::cost::{self, CostMonth, MarginKind, RevenueMonth};
use crate::analysis::support::{self, ArrByMonth};
use crate::analysis::weekly::WeekRow;
use crate::model::revenue::Snapshots;
use crate::model::{Calendar, Coverage, MetricRow, Month, Product, Ticket, TicketColumns};
use crate::store::{Store, StoreError};

/// What one scope's support and cost signals are computed from.
pub(super) struct ScopeBusiness {
    /// The scope's tickets, in their stored chunks' compact columns (~20 bytes a ticket, where
    /// owned `Ticket`s take ten times that: a million tickets are read by every weekly view).
    pub(super) tickets: Vec<TicketColumns>,
    /// The ARR of the scope's customers, by month.
    pub(super) arr: ArrByMonth,
    /// The scope's cost months (none without attributable metrics).
    pub(super) cost: Vec<CostMonth>,
    /// Which margin the Rule of 40 (and the `margin` component) reads.
    pub(super) margin: MarginKind,
}

/// The organisation's: every ticket, every customer, every metric row, with the revenue the
/// cost view reads (`barometer cost` shows the same figures).
pub(super) fn organisation(
    store: &Store,
    settings: &Settings,
    snapshots: &Snapshots,
) -> Result<ScopeBusiness, StoreError> {
    let cost = business::cost_report(store, settings)?.map_or_else(Vec::new, |r| r.months);
    let mut tickets = Vec::new();
    business::ticket_chunks(store, |c| tickets.push(c))?;
    Ok(ScopeBusiness {
        tickets,
        arr: business::arr_where(snapshots, |_| true),
        cost,
        margin: settings.rule_of_40_margin,
    })
}

/// A product's, where the data can be attributed to it:
///
/// - a ticket naming one of the known services (`services`) is the product's when that service
///   is one of the product's; a ticket naming none is the product's when its customer is (the
///   customer's latest segment or plan belongs to the product, as for its revenue);
/// - its customers' ARR weighs its pain and counts its customers;
/// - metric rows labelled `product=<name>` or `service=<one of its services>` are its cost and
///   margin, against its own MRR (`revenue`, by month index).
pub(super) fn product(
    store: &Store,
    settings: &Settings,
    snapshots: &Snapshots,
    product: &Product,
    services: &HashSet<&str>,
    revenue: &BTreeMap<i32, f64>,
) -> Result<ScopeBusiness, StoreError> {
    let owned: HashSet<&str> = snapshots
        .customer_names()
        .iter()
        .zip(snapshots.latest_labels())
        .filter(|(_, (segment, plan))| product.owns_revenue(*segment, *plan))
        .map(|(c, _)| c.as_str())
        .collect();
    let mine = |s: &str| product.services.iter().any(|x| x == s);
    let mut tickets = Vec::new();
    business::ticket_chunks(store, |chunk| {
        let kept: Vec<Ticket> = chunk
            .iter()
            .filter(|t| {
                let mut named = t
                    .components
                    .iter()
                    .filter(|c| services.contains(c))
                    .peekable();
                if named.peek().is_none() {
                    t.customer.is_some_and(|c| owned.contains(c))
                } else {
                    named.any(mine)
                }
            })
            .map(|t| t.to_ticket())
            .collect();
        if !kept.is_empty() {
            tickets.push(TicketColumns::from_tickets(&kept));
        }
    })?;
    let metrics: Vec<MetricRow> = business::metrics(store)?
        .into_iter()
        .filter(|r| {
            r.labels.get("product").is_some_and(|p| *p == product.name)
                || r.labels.get("service").is_some_and(|s| mine(s))
        })
        .collect();
    let revenue: Vec<RevenueMonth> = revenue
        .iter()
        .map(|(m, mrr)| RevenueMonth {
            month: Month::from_index(*m),
            mrr: *mrr,
        })
        .collect();
    let cost = if metrics.is_empty() {
        Vec::new()
    } else {
        cost::report(&metrics, &revenue, settings.rule_of_40_margin).months
    };
    Ok(ScopeBusiness {
        tickets,
        arr: business::arr_where(snapshots, |c| owned.contains(c)),
        cost,
        margin: settings.rule_of_40_margin,
    })
}

fn coverage(present: bool, partial: bool) -> Coverage {
    match (present, partial) {
        (false, _) => Coverage::Missing,
        (true, true) => Coverage::PartialWeek,
        (true, false) => Coverage::Complete,
    }
}

/// Support load (tickets per 100 paying customers) and revenue-weighted pain of each week, from
/// the week of the scope's first ticket on (`docs/support.md`); before it, and in a scope
/// without tickets or without revenue to count customers by, missing rather than zero.
pub(super) fn support_into(rows: &mut [WeekRow], b: &ScopeBusiness, cal: &Calendar) {
    let weeks: Vec<i64> = rows.iter().map(|r| r.signals.week_ms).collect();
    let mut fold = support::SupportFold::new(&weeks, cal, &b.arr, PAIN_WEEKS);
    for chunk in &b.tickets {
        fold.add_chunk(chunk);
    }
    let first = fold.earliest().map(|t| cal.week_start(t));
    let figures = match first {
        Some(_) => fold.finish().weeks,
        None => Vec::new(),
    };
    for (i, row) in rows.iter_mut().enumerate() {
        let s = &mut row.signals;
        let started = first.is_some_and(|first| s.week_ms >= first);
        if let Some(f) = figures.get(i).filter(|_| started) {
            s.support_per_100 = f.per_100_customers;
            s.support_pain = f.revenue_weighted;
        }
        let partial = s.partial;
        let (load, pain) = (s.support_per_100.is_some(), s.support_pain.is_some());
        row.coverage
            .insert("support_per_100", coverage(load, partial));
        row.coverage.insert("support_pain", coverage(pain, partial));
    }
}

/// Cost growth against revenue growth, the configured margin and the Rule of 40 of the month
/// holding each week's Thursday, each carried like revenue from its latest earlier month (at
/// most 5 weeks past its month, `coverage` stale): the month's cost often comes in before its
/// revenue, and a week is better read with last month's pair than with half of this month's.
pub(super) fn cost_into(rows: &mut [WeekRow], b: &ScopeBusiness, cal: Calendar) {
    fn by_month<T>(b: &ScopeBusiness, pick: impl Fn(&CostMonth) -> Option<T>) -> BTreeMap<i32, T> {
        b.cost
            .iter()
            .filter_map(|m| Some((m.month.index(), pick(m)?)))
            .collect()
    }
    // Cost and revenue growth as a pair: the comparison needs the same 3 months of both.
    let growth = by_month(b, |m| m.cost_growth_3m.zip(m.revenue_growth_3m));
    let margin = by_month(b, |m| match b.margin {
        MarginKind::Operating => m.operating_margin,
        MarginKind::Gross => m.gross_margin,
    });
    let rule = by_month(b, |m| m.rule_of_40.as_ref().map(|r| r.score));
    for row in rows {
        let (w, partial) = (row.signals.week_ms, row.signals.partial);
        let (g, g_cov) = carried(&growth, w, partial, cal);
        let (m, m_cov) = carried(&margin, w, partial, cal);
        let (r, r_cov) = carried(&rule, w, partial, cal);
        let s = &mut row.signals;
        (s.cost_growth_3m, s.revenue_growth_3m) = g.map(|(_, v)| *v).unzip();
        s.margin = m.map(|(_, v)| *v);
        s.rule_of_40 = r.map(|(_, v)| *v);
        row.coverage.insert("cost_growth_3m", g_cov);
        row.coverage.insert("margin", m_cov);
        row.coverage.insert("rule_of_40", r_cov);
    }
}
