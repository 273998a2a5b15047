//! Support load and customer pain: weekly ticket figures, and the topics customers raise
//! weighted by the revenue of the customers who raised them.
//!
//! Definitions (see `docs/support.md`): a ticket is *opened* in the week of its creation and
//! *solved* in the week of its solved/closed time (Zendesk's "Solved at", Intercom's "last
//! closed at", Jira's "Resolved"); the *backlog* at a week's end is every ticket opened by then
//! and not solved by then. *First response* is the time to the first agent reply (Zendesk's
//! "First reply time", Intercom's "time to first response"), its median over the tickets opened
//! in the week; *resolution* is created → solved, its median over the tickets solved in the
//! week (Zendesk "Full resolution time"). *Tickets per 100 customers* divides the week's opened
//! tickets by the paying customers of the week's month. *Revenue-weighted tickets* counts each
//! ticket as its customer's share of ARR, × 100: 100 means as many tickets as if every customer,
//! weighted by what it pays, had raised one.

use std::collections::{BTreeMap, HashMap};

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::median;
use crate::model::calendar::{Calendar, DAY_MS, WEEK_MS};
use crate::model::{Month, Ticket, TicketColumns, TicketRef};

/// The ARR of each paying customer, by month: what the revenue data says, keyed by the customer
/// id tickets carry.
pub type ArrByMonth = BTreeMap<Month, HashMap<String, f64>>;

/// One week of support load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SupportWeek {
    /// The week's Monday 00:00 (analysis time zone), ms.
    pub week_start: i64,
    /// Tickets opened.
    pub opened: u64,
    /// Tickets solved.
    pub solved: u64,
    /// Open tickets at the week's end.
    pub backlog: u64,
    /// Median hours to the first reply, over tickets opened this week that have one.
    pub first_response_median_h: Option<f64>,
    /// Median hours created → solved, over tickets solved this week.
    pub resolution_median_h: Option<f64>,
    /// Paying customers in the week's month (revenue data), if known.
    pub customers: Option<u64>,
    /// Opened tickets per 100 paying customers.
    pub per_100_customers: Option<f64>,
    /// Σ over opened tickets of the customer's share of ARR, × 100.
    pub revenue_weighted: Option<f64>,
}

/// A topic (component, tag or type) customers raise, with the revenue behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pain {
    /// The component, tag or type.
    pub topic: String,
    /// Tickets about it in the window.
    pub tickets: u64,
    /// Distinct customers who raised them.
    pub customers: u64,
    /// ARR of those customers (each once): what is at stake.
    pub arr_at_stake: f64,
    /// Σ over the tickets of their customer's ARR: tickets weighted by revenue.
    pub weighted_arr: f64,
    /// Tickets about it in the window before (same length), for the trend.
    pub previous_tickets: u64,
}

/// Tickets whose customer the revenue data does not know, listed (never dropped silently).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unknown {
    /// The customer id as the ticket gives it.
    pub customer: String,
    /// Its tickets (all time).
    pub tickets: u64,
}

/// The support view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SupportReport {
    /// Weekly figures, oldest first.
    pub weeks: Vec<SupportWeek>,
    /// Weeks the pain table covers (ending with the last week).
    pub pain_window_weeks: usize,
    /// Top customer pains, most ARR at stake first.
    pub pains: Vec<Pain>,
    /// Whether any revenue data was there to weigh tickets by.
    pub revenue_known: bool,
    /// Tickets without a customer id.
    pub tickets_without_customer: u64,
    /// Customer ids the revenue data does not know, most tickets first.
    pub unknown_customers: Vec<Unknown>,
    /// Tickets in all.
    pub tickets: u64,
}

/// The month a week belongs to: its Thursday's (the ISO rule, as the revenue view uses).
fn week_month(calendar: &Calendar, week_start: i64) -> Month {
    Month::of(calendar.local_date(week_start + 3 * DAY_MS))
}

/// The revenue month that stands for `month`: itself, else the latest before it, else the first.
fn arr_month(arr: &ArrByMonth, month: Month) -> Option<&HashMap<String, f64>> {
    arr.range(..=month)
        .next_back()
        .or_else(|| arr.iter().next())
        .map(|(_, m)| m)
}

/// Weekly support figures for `weeks` (Mondays, ms, ascending) and the pain table over the last
/// `pain_weeks` of them.
pub fn support(
    tickets: &[Ticket],
    weeks: &[i64],
    calendar: &Calendar,
    arr: &ArrByMonth,
    pain_weeks: usize,
) -> SupportReport {
    let mut fold = SupportFold::new(weeks, calendar, arr, pain_weeks);
    fold.add_chunk(&TicketColumns::from_tickets(tickets));
    fold.finish()
}

/// One topic's row of the pain table while tickets are folded in.
#[derive(Debug, Default)]
struct PainAcc {
    tickets: u64,
    /// Each customer's highest ARR over its tickets in the window.
    customers: FxHashMap<String, f64>,
    weighted: f64,
    previous: u64,
}

/// The support view folded ticket by ticket ([`SupportFold::add_chunk`], then
/// [`SupportFold::finish`]): what [`support`] computes, without holding the tickets. A
/// million tickets read chunk by chunk keep only their first-reply and resolution times (for
/// the medians) and the pain window's customers.
pub struct SupportFold<'a> {
    weeks: &'a [i64],
    calendar: &'a Calendar,
    arr: &'a ArrByMonth,
    pain_weeks: usize,
    /// Each customer's ARR by month, by the customer's number in `known` (0 where it has none
    /// that month): a ticket's customer is looked up once per chunk it appears in, not per
    /// ticket and month (string hashing and compares were a third of the fold).
    arr_fx: BTreeMap<Month, Vec<f64>>,
    index: FxHashMap<i64, usize>,
    opened: Vec<u64>,
    solved: Vec<u64>,
    first: Vec<Vec<f64>>,
    resolution: Vec<Vec<f64>>,
    weighted: Vec<f64>,
    /// The ARR of all customers in the month that stands for each week's (0 without any).
    week_total: Vec<f64>,
    opened_before: u64,
    solved_before: u64,
    /// The customers the revenue data knows, numbered.
    known: FxHashMap<&'a str, u32>,
    unknown: FxHashMap<String, u64>,
    without: u64,
    /// The pain window, `[start, end)`, and the one before it (from `before`).
    pain_window: Option<(i64, i64, i64)>,
    pains: BTreeMap<String, PainAcc>,
    tickets: u64,
    earliest: Option<i64>,
    /// The last day a ticket was created on, and the revenue month standing for its month:
    /// exports are in time order, so a million tickets look their month up a few hundred times.
    day_month: Option<(i64, Option<Month>)>,
}

impl<'a> SupportFold<'a> {
    /// An empty fold for `weeks` (Mondays, ms, ascending), with the pain table over the last
    /// `pain_weeks` of them.
    pub fn new(
        weeks: &'a [i64],
        calendar: &'a Calendar,
        arr: &'a ArrByMonth,
        pain_weeks: usize,
    ) -> Self {
        let n = weeks.len();
        // Each month's ARR summed in customer order: the same total whatever the map's order.
        let totals: BTreeMap<Month, f64> = arr
            .iter()
            .map(|(m, c)| {
                let mut v: Vec<(&String, &f64)> = c.iter().collect();
                v.sort_unstable_by(|a, b| a.0.cmp(b.0));
                (*m, v.into_iter().map(|(_, a)| *a).sum())
            })
            .collect();
        let week_total = weeks
            .iter()
            .map(|w| {
                totals
                    .range(..=week_month(calendar, *w))
                    .next_back()
                    .or_else(|| totals.iter().next())
                    .map_or(0.0, |(_, v)| *v)
            })
            .collect();
        let mut known: FxHashMap<&'a str, u32> = FxHashMap::default();
        for customer in arr.values().flat_map(|m| m.keys()) {
            let no = u32::try_from(known.len()).unwrap_or(u32::MAX);
            known.entry(customer.as_str()).or_insert(no);
        }
        let pain_window = weeks.last().map(|last| {
            let window = pain_weeks.max(1) as i64;
            let end = last + WEEK_MS;
            let start = end - window * WEEK_MS;
            (start, end, start - window * WEEK_MS)
        });
        Self {
            weeks,
            calendar,
            arr,
            pain_weeks,
            arr_fx: arr
                .iter()
                .map(|(m, c)| {
                    let mut by_no = vec![0.0; known.len()];
                    for (customer, a) in c {
                        if let Some(slot) = known
                            .get(customer.as_str())
                            .and_then(|no| by_no.get_mut(*no as usize))
                        {
                            *slot = *a;
                        }
                    }
                    (*m, by_no)
                })
                .collect(),
            index: weeks.iter().enumerate().map(|(i, w)| (*w, i)).collect(),
            opened: vec![0; n],
            solved: vec![0; n],
            first: vec![Vec::new(); n],
            resolution: vec![Vec::new(); n],
            weighted: vec![0.0; n],
            week_total,
            opened_before: 0,
            solved_before: 0,
            known,
            unknown: FxHashMap::default(),
            without: 0,
            pain_window,
            pains: BTreeMap::new(),
            tickets: 0,
            earliest: None,
            day_month: None,
        }
    }

    /// The earliest creation time folded in, if any ticket was.
    pub fn earliest(&self) -> Option<i64> {
        self.earliest
    }

    /// The ARR of customer `no` (of `known`) in the month the ticket was opened (0 for a
    /// customer the revenue data does not know).
    fn customer_arr(&mut self, t: &TicketRef<'_>, no: Option<u32>) -> f64 {
        let Some(no) = no else {
            return 0.0;
        };
        let day = (t.created_ms + self.calendar.offset_ms()).div_euclid(DAY_MS);
        let month = match self.day_month {
            Some((d, m)) if d == day => m,
            _ => {
                let month = Month::of(self.calendar.local_date(t.created_ms));
                // The revenue month that stands for it, as `arr_month` picks it.
                let m = self
                    .arr_fx
                    .range(..=month)
                    .next_back()
                    .or_else(|| self.arr_fx.iter().next())
                    .map(|(m, _)| *m);
                self.day_month = Some((day, m));
                m
            }
        };
        month
            .and_then(|m| self.arr_fx.get(&m)?.get(no as usize).copied())
            .unwrap_or(0.0)
    }

    /// Folds in every ticket of a chunk.
    pub fn add_chunk(&mut self, tickets: &TicketColumns) {
        // Each name of the chunk looked up once: a known customer's number, and the tickets of
        // the others.
        let numbers: Vec<Option<u32>> = tickets
            .names
            .iter()
            .map(|n| self.known.get(n.as_str()).copied())
            .collect();
        let mut unknown = vec![0u64; tickets.names.len()];
        for (t, code) in tickets.iter().zip(&tickets.customer) {
            // A customer code is 1 + its index in the names, 0 for none.
            let no = match (*code as usize).checked_sub(1) {
                None => {
                    self.without += 1;
                    None
                }
                Some(name) => {
                    let no = numbers.get(name).copied().flatten();
                    if let Some(n) = unknown.get_mut(name).filter(|_| no.is_none()) {
                        *n += 1;
                    }
                    no
                }
            };
            self.add(&t, no);
        }
        for (name, n) in tickets.names.iter().zip(unknown) {
            if n > 0 {
                match self.unknown.get_mut(name.as_str()) {
                    Some(total) => *total += n,
                    None => {
                        self.unknown.insert(name.clone(), n);
                    }
                }
            }
        }
    }

    /// Folds in ticket `t`, of customer `no` (of `known`) if the revenue data knows it.
    fn add(&mut self, t: &TicketRef<'_>, no: Option<u32>) {
        self.tickets += 1;
        self.earliest = Some(self.earliest.map_or(t.created_ms, |e| e.min(t.created_ms)));
        let first_week = self.weeks.first().copied().unwrap_or(i64::MIN);
        let cw = self.calendar.week_start(t.created_ms);
        if cw < first_week {
            self.opened_before += 1;
        }
        if let Some(&i) = self.index.get(&cw) {
            self.opened[i] += 1;
            if let Some(m) = t.first_reply_minutes {
                self.first[i].push(m / 60.0);
            }
            if self.week_total[i] > 0.0 {
                self.weighted[i] += self.customer_arr(t, no) / self.week_total[i] * 100.0;
            }
        }
        if let Some(s) = t.solved_ms {
            let sw = self.calendar.week_start(s);
            if sw < first_week {
                self.solved_before += 1;
            }
            if let Some(&i) = self.index.get(&sw) {
                self.solved[i] += 1;
                self.resolution[i].push((s - t.created_ms) as f64 / 3_600_000.0);
            }
        }
        if let Some((start, end, before)) = self.pain_window {
            let current = (start..end).contains(&cw);
            if current || (before..start).contains(&cw) {
                self.add_pain(t, no, current);
            }
        }
    }

    /// The pain table's share of a ticket opened in the window (`current`) or the one before.
    fn add_pain(&mut self, t: &TicketRef<'_>, no: Option<u32>, current: bool) {
        let a = if current {
            self.customer_arr(t, no)
        } else {
            0.0
        };
        for topic in t.topics() {
            let e = match self.pains.get_mut(topic) {
                Some(e) => e,
                None => self.pains.entry(topic.to_owned()).or_default(),
            };
            if !current {
                e.previous += 1;
                continue;
            }
            e.tickets += 1;
            e.weighted += a;
            if let Some(c) = t.customer {
                match e.customers.get_mut(c) {
                    Some(v) => *v = v.max(a),
                    None => {
                        e.customers.insert(c.to_owned(), 0.0f64.max(a));
                    }
                }
            }
        }
    }

    /// The view.
    pub fn finish(mut self) -> SupportReport {
        let arr = self.arr;
        let mut backlog = self.opened_before.saturating_sub(self.solved_before);
        let mut out = Vec::with_capacity(self.weeks.len());
        for (i, &week_start) in self.weeks.iter().enumerate() {
            backlog = (backlog + self.opened[i]).saturating_sub(self.solved[i]);
            let customers = (!arr.is_empty())
                .then(|| arr_month(arr, week_month(self.calendar, week_start)))
                .flatten()
                .map(|m| m.values().filter(|v| **v > 0.0).count() as u64);
            out.push(SupportWeek {
                week_start,
                opened: self.opened[i],
                solved: self.solved[i],
                backlog,
                first_response_median_h: median(&mut self.first[i]),
                resolution_median_h: median(&mut self.resolution[i]),
                customers,
                per_100_customers: customers
                    .filter(|c| *c > 0)
                    .map(|c| self.opened[i] as f64 * 100.0 / c as f64),
                revenue_weighted: (!arr.is_empty()).then_some(self.weighted[i]),
            });
        }
        let mut unknown_customers: Vec<Unknown> = self
            .unknown
            .into_iter()
            .map(|(customer, tickets)| Unknown { customer, tickets })
            .collect();
        unknown_customers
            .sort_by(|a, b| b.tickets.cmp(&a.tickets).then(a.customer.cmp(&b.customer)));
        let mut pains: Vec<Pain> = self
            .pains
            .into_iter()
            .filter(|(_, e)| e.tickets > 0)
            .map(|(topic, e)| {
                // Summed in customer order: the same total whatever the map's order.
                let mut at_stake: Vec<(String, f64)> = e.customers.into_iter().collect();
                at_stake.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                Pain {
                    topic,
                    tickets: e.tickets,
                    customers: at_stake.len() as u64,
                    arr_at_stake: at_stake.iter().map(|(_, a)| a).sum(),
                    weighted_arr: e.weighted,
                    previous_tickets: e.previous,
                }
            })
            .collect();
        pains.sort_by(|a, b| {
            b.arr_at_stake
                .total_cmp(&a.arr_at_stake)
                .then(b.tickets.cmp(&a.tickets))
                .then(a.topic.cmp(&b.topic))
        });
        SupportReport {
            pains,
            weeks: out,
            pain_window_weeks: self.pain_weeks,
            revenue_known: !arr.is_empty(),
            tickets_without_customer: self.without,
            unknown_customers,
            tickets: self.tickets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or_default()
    }

    fn ticket(id: &str, customer: Option<&str>, tags: &[&str], created: &str) -> Ticket {
        Ticket {
            id: id.into(),
            created_ms: at(created),
            solved_ms: None,
            first_reply_minutes: None,
            customer: customer.map(str::to_owned),
            priority: None,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            kind: None,
            components: vec![],
        }
    }

    /// Two paying customers (cus_a 1.2 M ARR, cus_b 0.2 M), 40 free-tier accounts the revenue
    /// data does not know, and a ticket without a customer.
    #[test]
    fn pain_is_weighted_by_the_revenue_of_the_customers_who_raised_it() {
        let mut tickets = vec![
            Ticket {
                solved_ms: Some(at("2026-11-09 21:00")),
                first_reply_minutes: Some(30.0),
                ..ticket(
                    "101",
                    Some("cus_a"),
                    &["checkout_latency", "enterprise"],
                    "2026-11-09 09:00",
                )
            },
            Ticket {
                solved_ms: Some(at("2026-11-11 10:00")),
                first_reply_minutes: Some(90.0),
                ..ticket(
                    "102",
                    Some("cus_a"),
                    &["checkout_latency"],
                    "2026-11-10 10:00",
                )
            },
            ticket("103", Some("cus_b"), &["billing"], "2026-11-11 08:00"),
            Ticket {
                solved_ms: Some(at("2026-11-12 18:00")),
                first_reply_minutes: Some(60.0),
                ..ticket("104", Some("free_9"), &["how_to"], "2026-11-12 12:00")
            },
            ticket("105", None, &[], "2026-11-12 13:00"),
        ];
        for i in 0..40 {
            tickets.push(ticket(
                &format!("f{i}"),
                Some(&format!("free_{i:02}")),
                &["export"],
                "2026-11-13 09:00",
            ));
        }
        let month = Month::of(chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default());
        let arr: ArrByMonth = [(
            month,
            [
                ("cus_a".to_owned(), 1_200_000.0),
                ("cus_b".to_owned(), 200_000.0),
            ]
            .into(),
        )]
        .into();
        let weeks = [at("2026-11-02 00:00"), at("2026-11-09 00:00")];
        let r = support(&tickets, &weeks, &Calendar::UTC, &arr, 1);

        assert_eq!(r.weeks[0].opened, 0);
        let w = &r.weeks[1];
        // 5 + 40 opened; 101, 102 and 104 solved; 45 − 3 open at the week's end.
        assert_eq!((w.opened, w.solved, w.backlog), (45, 3, 42));
        // First replies 0.5 h, 1.5 h, 1 h → 1 h; resolutions 12 h, 24 h, 6 h → 12 h.
        assert_eq!(w.first_response_median_h, Some(1.0));
        assert_eq!(w.resolution_median_h, Some(12.0));
        // 45 tickets / 2 paying customers × 100.
        assert_eq!(w.customers, Some(2));
        assert_eq!(w.per_100_customers, Some(2250.0));
        // 2 × 1.2/1.4 + 0.2/1.4 = 2.6/1.4 → × 100 = 185.71…
        let weighted = w.revenue_weighted.unwrap_or_default();
        assert!((weighted - 2.6 / 1.4 * 100.0).abs() < 1e-9, "{weighted}");

        // 2 tickets from 1.2 M ARR rank above 40 tickets from accounts without revenue.
        let top: Vec<(&str, u64, f64)> = r
            .pains
            .iter()
            .map(|p| (p.topic.as_str(), p.tickets, p.arr_at_stake))
            .collect();
        assert_eq!(
            top,
            [
                ("checkout_latency", 2, 1_200_000.0),
                ("enterprise", 1, 1_200_000.0),
                ("billing", 1, 200_000.0),
                ("export", 40, 0.0),
                ("how_to", 1, 0.0),
                ("untagged", 1, 0.0),
            ]
        );
        assert_eq!(
            r.pains[0].weighted_arr, 2_400_000.0,
            "each ticket counts its ARR"
        );
        // Unknown ids are listed, never dropped: free_00..free_39 and free_9; 105 has none.
        assert_eq!(r.unknown_customers.len(), 41);
        assert_eq!(r.tickets_without_customer, 1);
        assert_eq!(r.tickets, 45);
    }

    #[test]
    fn without_revenue_data_tickets_are_still_counted() {
        let t = [ticket("1", Some("x"), &["a"], "2026-11-10 10:00")];
        let r = support(
            &t,
            &[at("2026-11-09 00:00")],
            &Calendar::UTC,
            &ArrByMonth::new(),
            4,
        );
        assert!(!r.revenue_known);
        assert_eq!(r.weeks[0].per_100_customers, None);
        assert_eq!(r.weeks[0].revenue_weighted, None);
        assert_eq!(r.pains[0].tickets, 1);
    }
}
