//! How a scope's rows read its SLOs: the availability and the latency SLOs' burn rates apart.

use super::*;
use crate::analysis::reliability::{SloSpec, SloStatus};

fn def(name: &str, target: f64, kind: SloKind) -> SloDef {
    SloDef {
        name: name.to_owned(),
        service: "api".to_owned(),
        ratio: true,
        spec: SloSpec {
            target,
            window_ms: 28 * 86_400_000,
            step_ms: 3_600_000,
        },
        kind,
    }
}

/// One complete week of an SLO at `availability`, with `left` of its budget remaining.
fn week(availability: f64, left: f64) -> Vec<WeekReliability> {
    vec![WeekReliability {
        week_start: 0,
        partial: false,
        availability: Some(availability),
        error_ratio: Some(1.0 - availability),
        total_requests: None,
        error_requests: None,
        bad_minutes: None,
        unknown_minutes: None,
        error_budget_remaining: Some(left),
        burn_rates: [None; 4],
        status: SloStatus::Met,
        coverage: 1.0,
    }]
}

/// The week's row of a scope with these SLOs (no delivery; the week is over).
fn row(slos: &[(SloDef, Vec<WeekReliability>)]) -> WeekRow {
    let defs: Vec<(&SloDef, Vec<WeekReliability>)> =
        slos.iter().map(|(d, r)| (d, r.clone())).collect();
    let refs: Vec<&(&SloDef, Vec<WeekReliability>)> = defs.iter().collect();
    let mut rows = scope_rows(&[0], WEEK_MS, None, &refs);
    assert_eq!(rows.len(), 1);
    rows.remove(0)
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn a_latency_slo_burns_apart_from_the_availability_slos() {
    // Burn rate = (1 − availability) / (1 − target): the availability SLO at 99.8 % of 99.9 %
    // burns 2; the latency SLOs at 97 % and 98.5 % of 99 % burn 3 and 1.5. The latency SLO is
    // the worse one, yet `burn_rate` is the availability SLO's alone, and `latency_burn_rate`
    // the worst latency SLO's. The budget is the worst of all (the error-budget policy reads
    // every SLO): 1 − 0.1 = 0.9, the slower latency SLO's.
    let r = row(&[
        (
            def("api-up", 0.999, SloKind::Availability),
            week(0.998, 0.6),
        ),
        (def("api-fast", 0.99, SloKind::Latency), week(0.97, 0.1)),
        (def("api-p99", 0.99, SloKind::Latency), week(0.985, 0.5)),
    ]);
    assert!(close(r.signals.burn_rate, 2.0), "{:?}", r.signals);
    assert!(close(r.signals.latency_burn_rate, 3.0), "{:?}", r.signals);
    assert!(close(r.signals.budget_consumed_4w, 0.9), "{:?}", r.signals);
    assert_eq!(
        r.coverage.get("latency_burn_rate"),
        Some(&Coverage::Complete)
    );
    assert_eq!(r.coverage.get("burn_rate"), Some(&Coverage::Complete));
}

#[test]
fn without_a_latency_slo_the_worst_slo_is_the_burn_rate() {
    // Two availability SLOs burning 2 and 3: the worst, 3, is the burn rate, as before SLO
    // kinds; there is no latency burn rate and no coverage entry for one.
    let r = row(&[
        (
            def("api-up", 0.999, SloKind::Availability),
            week(0.998, 0.6),
        ),
        (def("api-ok", 0.99, SloKind::Availability), week(0.97, 0.1)),
    ]);
    assert!(close(r.signals.burn_rate, 3.0), "{:?}", r.signals);
    assert_eq!(r.signals.latency_burn_rate, None);
    assert!(close(r.signals.budget_consumed_4w, 0.9), "{:?}", r.signals);
    assert!(!r.coverage.contains_key("latency_burn_rate"));
}

#[test]
fn with_latency_slos_only_the_burn_rate_is_missing_not_complete() {
    // One latency SLO at 98 % of 99 %: it burns 2 and spends 1 − 0.4 = 0.6 of its budget. No
    // availability SLO gave a burn rate, so `burn_rate` is absent and its coverage says so,
    // while the latency rate and the budget are complete.
    let r = row(&[(def("api-fast", 0.99, SloKind::Latency), week(0.98, 0.4))]);
    assert_eq!(r.signals.burn_rate, None);
    assert!(close(r.signals.latency_burn_rate, 2.0), "{:?}", r.signals);
    assert!(close(r.signals.budget_consumed_4w, 0.6), "{:?}", r.signals);
    assert_eq!(r.coverage.get("burn_rate"), Some(&Coverage::Missing));
    assert_eq!(
        r.coverage.get("latency_burn_rate"),
        Some(&Coverage::Complete)
    );
    assert_eq!(
        r.coverage.get("budget_consumed_4w"),
        Some(&Coverage::Complete)
    );
}
