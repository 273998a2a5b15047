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

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::median;
use crate::model::calendar::{Calendar, DAY_MS, WEEK_MS};
use crate::model::{Month, Ticket};

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
    let index: HashMap<i64, usize> = weeks.iter().enumerate().map(|(i, w)| (*w, i)).collect();
    let n = weeks.len();
    let (mut opened, mut solved) = (vec![0u64; n], vec![0u64; n]);
    let mut first: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut resolution: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut weighted = vec![0.0f64; n];
    let (mut opened_before, mut solved_before) = (0u64, 0u64);
    let first_week = weeks.first().copied().unwrap_or(i64::MIN);
    let known: HashSet<&str> = arr
        .values()
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    let mut unknown: HashMap<&str, u64> = HashMap::new();
    let mut without = 0u64;
    let totals: BTreeMap<Month, f64> = arr.iter().map(|(m, c)| (*m, c.values().sum())).collect();
    let customer_arr = |t: &Ticket| -> f64 {
        let month = Month::of(calendar.local_date(t.created_ms));
        t.customer
            .as_deref()
            .and_then(|c| arr_month(arr, month)?.get(c).copied())
            .unwrap_or(0.0)
    };
    for t in tickets {
        match t.customer.as_deref() {
            None => without += 1,
            Some(c) if !known.contains(c) => *unknown.entry(c).or_insert(0) += 1,
            _ => {}
        }
        let cw = calendar.week_start(t.created_ms);
        if cw < first_week {
            opened_before += 1;
        }
        if let Some(&i) = index.get(&cw) {
            opened[i] += 1;
            if let Some(m) = t.first_reply_minutes {
                first[i].push(m / 60.0);
            }
            let month_total = totals
                .range(..=week_month(calendar, cw))
                .next_back()
                .or_else(|| totals.iter().next())
                .map(|(_, v)| *v)
                .unwrap_or(0.0);
            if month_total > 0.0 {
                weighted[i] += customer_arr(t) / month_total * 100.0;
            }
        }
        if let Some(s) = t.solved_ms {
            let sw = calendar.week_start(s);
            if sw < first_week {
                solved_before += 1;
            }
            if let Some(&i) = index.get(&sw) {
                solved[i] += 1;
                resolution[i].push((s - t.created_ms) as f64 / 3_600_000.0);
            }
        }
    }
    let mut backlog = opened_before.saturating_sub(solved_before);
    let mut out = Vec::with_capacity(n);
    for (i, &week_start) in weeks.iter().enumerate() {
        backlog = (backlog + opened[i]).saturating_sub(solved[i]);
        let customers = (!arr.is_empty())
            .then(|| arr_month(arr, week_month(calendar, week_start)))
            .flatten()
            .map(|m| m.values().filter(|v| **v > 0.0).count() as u64);
        out.push(SupportWeek {
            week_start,
            opened: opened[i],
            solved: solved[i],
            backlog,
            first_response_median_h: median(&mut first[i]),
            resolution_median_h: median(&mut resolution[i]),
            customers,
            per_100_customers: customers
                .filter(|c| *c > 0)
                .map(|c| opened[i] as f64 * 100.0 / c as f64),
            revenue_weighted: (!arr.is_empty()).then_some(weighted[i]),
        });
    }
    let mut unknown_customers: Vec<Unknown> = unknown
        .into_iter()
        .map(|(c, n)| Unknown {
            customer: c.to_owned(),
            tickets: n,
        })
        .collect();
    unknown_customers.sort_by(|a, b| b.tickets.cmp(&a.tickets).then(a.customer.cmp(&b.customer)));
    SupportReport {
        pains: pains(tickets, weeks, calendar, pain_weeks, &customer_arr),
        weeks: out,
        pain_window_weeks: pain_weeks,
        revenue_known: !arr.is_empty(),
        tickets_without_customer: without,
        unknown_customers,
        tickets: tickets.len() as u64,
    }
}

/// The pain table: tickets opened in the last `window` weeks per topic, with the ARR of the
/// customers behind them; the same window before gives the trend.
fn pains(
    tickets: &[Ticket],
    weeks: &[i64],
    calendar: &Calendar,
    window: usize,
    customer_arr: &dyn Fn(&Ticket) -> f64,
) -> Vec<Pain> {
    let Some(&last) = weeks.last() else {
        return Vec::new();
    };
    let window = window.max(1) as i64;
    let end = last + WEEK_MS;
    let start = end - window * WEEK_MS;
    let before = start - window * WEEK_MS;
    // topic → (tickets, customers → ARR, weighted, previous)
    type Acc<'a> = (u64, HashMap<&'a str, f64>, f64, u64);
    let mut by: BTreeMap<&str, Acc<'_>> = BTreeMap::new();
    for t in tickets {
        let w = calendar.week_start(t.created_ms);
        let current = (start..end).contains(&w);
        if !current && !(before..start).contains(&w) {
            continue;
        }
        let a = if current { customer_arr(t) } else { 0.0 };
        for topic in t.topics() {
            let e = by
                .entry(topic)
                .or_insert_with(|| (0, HashMap::new(), 0.0, 0));
            if current {
                e.0 += 1;
                e.2 += a;
                if let Some(c) = t.customer.as_deref() {
                    let v = e.1.entry(c).or_insert(0.0);
                    *v = v.max(a);
                }
            } else {
                e.3 += 1;
            }
        }
    }
    let mut out: Vec<Pain> = by
        .into_iter()
        .filter(|(_, e)| e.0 > 0)
        .map(|(topic, (n, customers, weighted_arr, previous))| Pain {
            topic: topic.to_owned(),
            tickets: n,
            customers: customers.len() as u64,
            arr_at_stake: customers.values().sum(),
            weighted_arr,
            previous_tickets: previous,
        })
        .collect();
    out.sort_by(|a, b| {
        b.arr_at_stake
            .total_cmp(&a.arr_at_stake)
            .then(b.tickets.cmp(&a.tickets))
            .then(a.topic.cmp(&b.topic))
    });
    out
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
