use super::*;
use crate::analysis::WEEK_MS;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Monday 2024-01-01.
const START: i64 = 1_704_067_200_000;

/// `weeks` rows of one scope with noisy signals and a step in incidents and CFR at week 70.
fn scope(seed: u64, weeks: usize, revenue: bool) -> Vec<WeekRow> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..weeks)
        .map(|i| {
            let late = i >= 70;
            let mut s = WeekSignals {
                week_ms: START + i as i64 * WEEK_MS,
                deployments: Some(rng.random_range(5..15) as f64),
                incidents: Some(rng.random_range(0..if late { 6 } else { 2 }) as f64),
                lead_time_s: Some(rng.random_range(20_000.0..60_000.0)),
                cfr_4w: Some(rng.random_range(0.05..0.10) + if late { 0.2 } else { 0.0 }),
                recovery_4w_s: Some(rng.random_range(1_000.0..5_000.0)),
                burn_rate: Some(rng.random_range(0.2..0.8)),
                budget_consumed_4w: Some(rng.random_range(0.1..0.6)),
                ..WeekSignals::default()
            };
            if revenue {
                let month = i / 4;
                s.mrr = Some(100_000.0 * (1.0 + 0.02 * month as f64));
                s.mrr_3m_ago = (month >= 3).then(|| 100_000.0 * (1.0 + 0.02 * (month - 3) as f64));
                s.nrr = Some(1.05 - 0.001 * month as f64);
                s.grr = Some(0.93);
                s.new_logos = Some(3.0 + (month % 3) as f64);
            }
            WeekRow {
                signals: s,
                coverage: BTreeMap::from([("deployments", crate::model::Coverage::Complete)]),
                cfr_4w_detail: None,
            }
        })
        .collect()
}

/// The first `n` weeks of every scope, the last one the current, partial week.
fn first(
    org: &[WeekRow],
    services: &BTreeMap<String, Vec<WeekRow>>,
    n: usize,
) -> (Vec<WeekRow>, BTreeMap<String, Vec<WeekRow>>) {
    let cut = |rows: &[WeekRow]| {
        let mut v = rows[..n].to_vec();
        if let Some(last) = v.last_mut() {
            last.signals.partial = true;
        }
        v
    };
    (
        cut(org),
        services.iter().map(|(k, v)| (k.clone(), cut(v))).collect(),
    )
}

fn settings() -> ViewSettings {
    ViewSettings {
        pressure: PressureSettings::with_bands(
            crate::analysis::dora::DoraSettings::default().bands,
        ),
        min_months: 24,
    }
}

fn data() -> (Vec<WeekRow>, BTreeMap<String, Vec<WeekRow>>) {
    let org = scope(1, 130, true);
    let services = (0..3)
        .map(|i| (format!("svc-{i}"), scope(10 + i, 130, false)))
        .collect();
    (org, services)
}

#[test]
fn updating_week_by_week_gives_exactly_the_full_computation() {
    let (org, services) = data();
    let mut live = Engine::new(settings());
    for n in 1..=130 {
        let (o, s) = first(&org, &services, n);
        let done = live.update(o, s);
        assert_eq!(done.scopes, 4, "week {n}: every scope gained a week");
        if n == 60 {
            // Asked for halfway: from then on kept current step by step.
            live.service_change_points("svc-1");
        }
    }
    let (o, s) = first(&org, &services, 130);
    let mut full = Engine::new(settings());
    full.update(o, s);
    full.service_change_points("svc-1");
    let a = serde_json::to_value(live.snapshot()).expect("json");
    let b = serde_json::to_value(full.snapshot()).expect("json");
    assert_eq!(a, b);
    // The planted step is found, in the org and in the service asked for; the others' change
    // points are not computed.
    let snap = full.snapshot();
    let found = |cps: &[ChangePoint], signal: &str| {
        cps.iter().any(|c| {
            c.signal == signal && (c.week_ms - (START + 70 * WEEK_MS)).abs() <= 2 * WEEK_MS
        })
    };
    let org_cps = snap
        .org
        .change_points
        .as_deref()
        .expect("org change points");
    assert!(found(org_cps, "cfr_4w"), "{org_cps:?}");
    let svc = snap.services["svc-1"]
        .change_points
        .as_deref()
        .expect("asked for");
    assert!(found(svc, "cfr_4w"), "{svc:?}");
    assert!(snap.services["svc-0"].change_points.is_none());
    assert_eq!(snap.org.rows.len(), 130);
    assert!(snap.org.trends["cfr_4w"].mean_13w.is_some());
}

#[test]
fn an_update_redoes_only_what_changed() {
    let (org, mut services) = data();
    let mut e = Engine::new(settings());
    let (o, s) = first(&org, &services, 120);
    e.update(o.clone(), s.clone());
    e.service_change_points("svc-2");

    // Nothing new: nothing redone.
    assert_eq!(e.update(o.clone(), s.clone()), Updated::default());

    // A late correction to one service's week 110: that scope only, replayed from its last
    // checkpoint (week 104) rather than from the start; the org's index is left alone.
    services.get_mut("svc-2").expect("svc-2")[110]
        .signals
        .cfr_4w = Some(0.9);
    let (_, s2) = first(&org, &services, 120);
    let done = e.update(o.clone(), s2.clone());
    assert_eq!(done.scopes, 1);
    assert!(!done.pressure && !done.correlations);
    // cfr_4w replays weeks 104..119 (its checkpoint); the other signals are unchanged.
    assert_eq!(done.stepped, 119 - 104);

    // A new week in the middle of a month: the org's index is updated, the correlations (of
    // complete months only) are not.
    let mid = (121..130)
        .find(|&n| {
            let month = |i: usize| {
                crate::analysis::Calendar::UTC
                    .month_index(START + i as i64 * WEEK_MS + 3 * crate::analysis::DAY_MS)
            };
            month(n - 2) == month(n - 1)
        })
        .expect("a week inside a month");
    let (o3, s3) = first(&org, &services, mid);
    let (o2, s2) = first(&org, &services, mid - 1);
    e.update(o2, s2);
    let done = e.update(o3, s3);
    assert!(done.pressure);
    assert!(!done.correlations, "week {mid} completed no month");
    // Each eager detector steps the completed week once (5 org signals, P, svc-2's 5).
    assert_eq!(done.stepped, 11);
}

#[test]
fn a_service_that_disappears_is_dropped_and_an_unknown_one_has_no_change_points() {
    let (org, mut services) = data();
    let mut e = Engine::new(settings());
    let (o, s) = first(&org, &services, 50);
    e.update(o.clone(), s);
    services.remove("svc-0");
    let (_, s) = first(&org, &services, 50);
    e.update(o, s);
    assert!(!e.snapshot().services.contains_key("svc-0"));
    assert!(e.service_change_points("svc-0").is_none());
}
