//! The demo organisation tells the story it promises: growth, then strain.
//!
//! The figures are computed here from the stored raw events with the textbook formulas, not read
//! from the generator, so the test also proves the events carry what the analysis will need.

use std::collections::BTreeMap;

use barometer::model::{series, DeployState, Deployment, Incident, RevenueMonthRows, SeriesKey};
use barometer::sources::demo;
use barometer::store::Store;
use chrono::{Duration, NaiveDate, TimeZone, Utc};

fn seeded() -> (tempfile::TempDir, Store, NaiveDate) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let end = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    assert!(demo::seed(&store, 42, end, &token).unwrap().complete);
    (
        dir,
        store,
        demo::week_start(end) - Duration::weeks(demo::WEEKS),
    )
}

/// Trailing-12-month NRR: Σ MRRₜ / Σ MRRₜ₋₁₂ over the customers paying at t−12 (SaaS Capital).
fn nrr(months: &[BTreeMap<String, f64>], t: usize) -> f64 {
    let cohort = &months[t - 12];
    let start: f64 = cohort.values().sum();
    let now: f64 = cohort
        .keys()
        .map(|c| months[t].get(c).copied().unwrap_or(0.0))
        .sum();
    now / start
}

#[test]
fn growth_then_strain() {
    let (_dir, store, start) = seeded();

    // Revenue: ARR rises and NRR > 110 % while growing; NRR < 100 % at the end.
    let mut by_month: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for month in store.events::<RevenueMonthRows>() {
        let month = month.unwrap();
        assert_eq!(month.currency, "USD");
        let entry = by_month.entry(month.month.to_string()).or_default();
        for (customer, mrr, _, _) in month.rows() {
            entry.insert(customer.to_owned(), mrr);
        }
    }
    let months: Vec<BTreeMap<String, f64>> = by_month.into_values().collect();
    assert_eq!(months.len(), 24, "two years of monthly snapshots");
    let customers: std::collections::BTreeSet<&String> =
        months.iter().flat_map(|m| m.keys()).collect();
    assert!(
        (250..=400).contains(&customers.len()),
        "{} customers",
        customers.len()
    );
    let mrr = |t: usize| months[t].values().sum::<f64>();
    assert!(mrr(12) > 1.25 * mrr(0), "ARR grows in the first year");
    let growth_nrr = nrr(&months, 12);
    let late_nrr = nrr(&months, 23);
    assert!(growth_nrr > 1.10, "NRR while growing: {growth_nrr:.3}");
    assert!(late_nrr < 1.00, "NRR at the end: {late_nrr:.3}");

    // Delivery: frequent deploys early; change failures and incidents rise later.
    let week_of = |t: chrono::DateTime<Utc>| {
        (t - Utc.from_utc_datetime(&start.and_hms_opt(0, 0, 0).unwrap())).num_weeks()
    };
    let early = 0..50;
    let late = 70..demo::WEEKS;
    let deployments: Vec<Deployment> = store.events().collect::<Result<_, _>>().unwrap();
    let incidents: Vec<Incident> = store.events().collect::<Result<_, _>>().unwrap();
    let per_week =
        |range: &std::ops::Range<i64>, n: usize| n as f64 / (range.end - range.start) as f64;
    let deploys_in = |r: &std::ops::Range<i64>| {
        deployments
            .iter()
            .filter(|d| r.contains(&week_of(d.created_at)))
            .count()
    };
    let failed_in = |r: &std::ops::Range<i64>| {
        deployments
            .iter()
            .filter(|d| r.contains(&week_of(d.created_at)) && d.state == DeployState::Failure)
            .count()
    };
    let incidents_in = |r: &std::ops::Range<i64>| {
        incidents
            .iter()
            .filter(|i| r.contains(&week_of(i.created_at)))
            .count()
    };
    assert!(per_week(&early, deploys_in(&early)) > 1.4 * per_week(&late, deploys_in(&late)));
    let early_fail = failed_in(&early) as f64 / deploys_in(&early) as f64;
    let late_fail = failed_in(&late) as f64 / deploys_in(&late) as f64;
    assert!(
        late_fail > 2.0 * early_fail,
        "failed-status share {early_fail:.3} → {late_fail:.3}"
    );
    assert!(
        per_week(&late, incidents_in(&late)) > 1.5 * per_week(&early, incidents_in(&early)),
        "incidents per week rise"
    );

    // Reliability: the 99.9 % SLO holds while growing and is breached under strain.
    for service in ["api", "storefront"] {
        let slo = format!("{service}-availability");
        let total = SeriesKey::new(
            series::SLO_TOTAL,
            [("slo", slo.as_str()), ("service", service)],
        )
        .unwrap();
        let good = SeriesKey::new(
            series::SLO_GOOD,
            [("slo", slo.as_str()), ("service", service)],
        )
        .unwrap();
        let availability = |weeks: &std::ops::Range<i64>| {
            let from = Utc.from_utc_datetime(&start.and_hms_opt(0, 0, 0).unwrap())
                + Duration::weeks(weeks.start);
            let to = from + Duration::weeks(weeks.end - weeks.start);
            let sum = |k: &SeriesKey| -> f64 {
                store
                    .range(k, from.timestamp_millis(), to.timestamp_millis())
                    .unwrap()
                    .iter()
                    .map(|p| p.value)
                    .sum()
            };
            sum(&good) / sum(&total)
        };
        let (a_early, a_late) = (availability(&early), availability(&late));
        assert!(
            a_early > demo::SLO_TARGET,
            "{service} early availability {a_early:.5}"
        );
        assert!(
            a_late < demo::SLO_TARGET,
            "{service} late availability {a_late:.5}"
        );
    }
}
