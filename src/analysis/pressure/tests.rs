//! Planted scenarios with a known truth, many seeds each.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};

use super::*;
use crate::analysis::dora::bands;

const WEEKS: usize = 104;
const SHIFT: usize = 60;

/// How an organisation behaves in a phase.
#[derive(Debug, Clone, Copy)]
struct Phase {
    /// Monthly MRR growth.
    growth: f64,
    nrr: f64,
    grr: f64,
    new_logos: f64,
    /// Error budget spent per week (a 28-day budget: 0.25 a week spends it all in 4 weeks).
    budget_per_week: f64,
    burn: f64,
    cfr: f64,
    recovery_h: f64,
    incidents: f64,
}

const GROWTH: Phase = Phase {
    growth: 0.03,
    nrr: 1.12,
    grr: 0.94,
    new_logos: 20.0,
    budget_per_week: 0.05,
    burn: 0.2,
    cfr: 0.07,
    recovery_h: 3.0,
    incidents: 1.0,
};

const STRAIN: Phase = Phase {
    growth: 0.005,
    nrr: 1.0,
    grr: 0.88,
    new_logos: 12.0,
    budget_per_week: 0.18,
    burn: 1.3,
    cfr: 0.22,
    recovery_h: 20.0,
    incidents: 3.5,
};

/// Growth slows, nothing else changes.
const SLOWDOWN: Phase = Phase {
    growth: 0.004,
    nrr: GROWTH.nrr,
    grr: GROWTH.grr,
    new_logos: 9.0,
    ..GROWTH
};

/// Odd events in an otherwise steady organisation.
#[derive(Debug, Clone, Copy, Default)]
struct Tails {
    outage_week: Option<usize>,
    failed_deploys_week: Option<usize>,
    churn_month: Option<usize>,
}

/// 104 weeks: `before` until `shift`, then `after`, with noise; monthly revenue carried over its
/// weeks (a month = 4.345 weeks), weekly engineering signals with 4-week rolling windows.
fn organisation(
    seed: u64,
    before: Phase,
    after: Phase,
    shift: usize,
    tails: Tails,
) -> Vec<WeekSignals> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = |rng: &mut ChaCha8Rng, sd: f64| Normal::new(0.0, sd).map_or(0.0, |d| d.sample(rng));
    let pois = |rng: &mut ChaCha8Rng, mean: f64| Poisson::new(mean).map_or(0.0, |d| d.sample(rng));
    let month_of = |w: usize| (w as f64 / 4.345) as usize;
    let months = month_of(WEEKS) + 1;
    // Monthly revenue: a month takes the phase of its first week.
    let mut mrr = vec![100_000.0f64];
    let mut logos = Vec::new();
    let mut nrr = Vec::new();
    let mut grr = Vec::new();
    for m in 0..months {
        let phase = if (m as f64 * 4.345) as usize >= shift {
            after
        } else {
            before
        };
        let prev = *mrr.last().unwrap_or(&100_000.0);
        mrr.push(prev * (1.0 + phase.growth + n(&mut rng, 0.004)));
        logos.push(pois(&mut rng, phase.new_logos));
        nrr.push(phase.nrr + n(&mut rng, 0.01));
        let mut g = phase.grr + n(&mut rng, 0.005);
        if tails.churn_month == Some(m) {
            g -= 0.05;
        }
        grr.push(g);
    }
    let mut spent = Vec::new();
    let mut cfr = Vec::new();
    let mut out = Vec::new();
    for w in 0..WEEKS {
        let p = if w >= shift { after } else { before };
        let m = month_of(w);
        let mut burn = (p.burn + n(&mut rng, 0.1 * p.burn.max(0.2))).max(0.0);
        let mut week_spent = (p.budget_per_week + n(&mut rng, 0.02)).max(0.0);
        if tails.outage_week == Some(w) {
            // One long outage: a burn rate of 8 for the week, 60 % of the budget, not all of it.
            burn = 8.0;
            week_spent = 0.6;
        }
        spent.push(week_spent);
        let mut week_cfr = (p.cfr + n(&mut rng, 0.03)).clamp(0.0, 1.0);
        if tails.failed_deploys_week == Some(w) {
            week_cfr = 0.6;
        }
        cfr.push(week_cfr);
        let from = w.saturating_sub(3);
        let roll = |v: &[f64]| v[from..=w].iter().sum::<f64>();
        out.push(WeekSignals {
            week_ms: w as i64 * WEEK_MS,
            partial: false,
            mrr: Some(mrr[m + 1]),
            mrr_3m_ago: m.checked_sub(2).map(|k| mrr[k]),
            net_new_mrr: Some(mrr[m + 1] - mrr[m]),
            nrr: Some(nrr[m]),
            grr: Some(grr[m]),
            new_logos: Some(logos[m]),
            revenue_as_of: Some(format!("m{m}")),
            budget_consumed_4w: Some(roll(&spent)),
            burn_rate: Some(burn),
            cfr_4w: Some(roll(&cfr) / (w - from + 1) as f64),
            recovery_4w_s: Some(p.recovery_h * 3600.0 * (1.0 + n(&mut rng, 0.2)).max(0.2)),
            // The 4-week windows alone: these scenarios test the detector as it reads a caller
            // without the weekly delivery figures.
            attempted_week: None,
            failures_week: None,
            recovery_week_s: None,
            recoveries_week: None,
            incidents: Some(pois(&mut rng, p.incidents)),
            // No bug data, like the #22 evaluation's organisations: the component is absent.
            bugs_opened: None,
            // No ticket or cost data either (#17): those components are absent too.
            support_per_100: None,
            support_pain: None,
            cost_growth_3m: None,
            revenue_growth_3m: None,
            margin: None,
            rule_of_40: None,
            deployments: Some(rng.random_range(5.0..15.0)),
            lead_time_s: None,
        });
    }
    out
}

fn settings() -> PressureSettings {
    PressureSettings::with_bands(bands::table(2023).expect("2023 bands"))
}

fn first_shift(r: &PressureReport, up: bool) -> Option<&Shift> {
    r.shifts
        .iter()
        .find(|s| (s.to.rank() > s.from.rank()) == up)
}

fn week_of(ms: i64) -> i64 {
    ms / WEEK_MS
}

#[test]
fn growth_then_resilience_is_found_within_two_weeks_with_its_evidence() {
    let s = settings();
    let mut found = 0;
    let mut named = 0;
    for seed in 0..20 {
        let r = pressure(
            &organisation(seed, GROWTH, STRAIN, SHIFT, Tails::default()),
            &s,
        );
        let Some(shift) = first_shift(&r, true) else {
            continue;
        };
        if (week_of(shift.since_ms) - SHIFT as i64).abs() <= 2 {
            found += 1;
        }
        // The evidence names resilience-side components that moved (the planted ones: budget,
        // availability, CFR, recovery, incidents, churn), not only the revenue slowdown.
        if shift
            .evidence
            .iter()
            .any(|m| !m.component.is_growth() && m.push > 0.1)
        {
            named += 1;
        }
        // It ends in resilience, with both sides shown.
        let last = r.weeks.last().expect("weeks");
        assert_eq!(last.regime, Some(Regime::Resilience), "seed {seed}");
        assert!(last.growth.is_some() && last.resilience.is_some());
        // Before the shift the organisation was in growth.
        assert_eq!(
            r.weeks[SHIFT - 1].regime,
            Some(Regime::Growth),
            "seed {seed}"
        );
    }
    assert!(found >= 19, "found within ±2 weeks in {found}/20 runs");
    assert!(
        named >= 19,
        "resilience components named in {named}/20 runs"
    );
}

#[test]
fn an_exhausted_budget_forces_resilience() {
    let s = settings();
    let exhausted = Phase {
        budget_per_week: 0.4,
        ..STRAIN
    };
    for seed in 0..20 {
        let r = pressure(
            &organisation(seed, GROWTH, exhausted, SHIFT, Tails::default()),
            &s,
        );
        let shift = first_shift(&r, true).expect("a shift");
        assert!(
            (week_of(shift.since_ms) - SHIFT as i64).abs() <= 2,
            "seed {seed}: {}",
            shift.summary
        );
        // From the first week the 4-week budget is spent, the regime is resilience.
        let out = r
            .weeks
            .iter()
            .position(|w| w.forced.is_some())
            .expect("a forced week");
        assert!(
            r.weeks[out..]
                .iter()
                .all(|w| w.regime == Some(Regime::Resilience)),
            "seed {seed}"
        );
    }
}

#[test]
fn a_shift_is_caught_while_the_budget_still_holds() {
    // Churn, incidents and CFR rise; the budget is strained but never exhausted: the one-line
    // rule "budget exhausted → resilience" would say nothing.
    let s = settings();
    let held = Phase {
        budget_per_week: 0.12,
        ..STRAIN
    };
    let mut found = 0;
    for seed in 0..20 {
        let weeks = organisation(seed, GROWTH, held, SHIFT, Tails::default());
        assert!(weeks
            .iter()
            .all(|w| w.budget_consumed_4w.is_some_and(|c| c < 1.0)));
        let r = pressure(&weeks, &s);
        if first_shift(&r, true).is_some_and(|sh| (week_of(sh.since_ms) - SHIFT as i64).abs() <= 2)
        {
            found += 1;
        }
        assert!(r.weeks.iter().all(|w| w.forced.is_none()));
    }
    assert!(found >= 19, "{found}/20");
}

#[test]
fn resilience_that_recovers_shifts_back_to_growth() {
    let s = settings();
    let mut found = 0;
    for seed in 0..20 {
        let r = pressure(
            &organisation(seed, STRAIN, GROWTH, SHIFT, Tails::default()),
            &s,
        );
        // Long strain: incidents and new logos, scored against their own (strained) history,
        // settle, so the regime may ease to balanced; it is never growth.
        assert_ne!(
            r.weeks[SHIFT - 1].regime,
            Some(Regime::Growth),
            "seed {seed}: start {:?}; {:?}",
            r.weeks.iter().find_map(|w| w.regime),
            r.shifts.iter().map(|s| &s.summary).collect::<Vec<_>>()
        );
        if first_shift(&r, false).is_some_and(|sh| (week_of(sh.since_ms) - SHIFT as i64).abs() <= 2)
        {
            found += 1;
        }
        assert_eq!(
            r.weeks.last().and_then(|w| w.regime),
            Some(Regime::Growth),
            "seed {seed}"
        );
    }
    assert!(found >= 19, "{found}/20");
}

#[test]
fn a_slowdown_in_new_business_alone_is_balanced_never_resilience() {
    let s = settings();
    let mut balanced = 0;
    for seed in 0..20 {
        let r = pressure(
            &organisation(seed, GROWTH, SLOWDOWN, SHIFT, Tails::default()),
            &s,
        );
        assert!(
            r.weeks.iter().all(|w| w.regime != Some(Regime::Resilience)),
            "seed {seed}: {:?}",
            r.shifts.iter().map(|s| &s.summary).collect::<Vec<_>>()
        );
        // The slowdown is named: a move to balanced led by growth components, or a watch
        // towards balanced naming them. (It used to have to end balanced in 19/20 runs; the
        // detector now moves only on calibrated evidence and otherwise shows a watch, and the
        // goal of issue #22 is ≥ 80 % named.)
        let shift_named = r.shifts.iter().any(|sh| {
            sh.to == Regime::Balanced
                && sh.evidence.first().is_some_and(|m| m.component.is_growth())
        });
        let watch_named = r.weeks[SHIFT..].iter().any(|w| {
            w.watch.as_ref().is_some_and(|x| {
                x.towards == Regime::Balanced
                    && x.components
                        .first()
                        .is_some_and(|p| p.component.is_growth())
            })
        });
        balanced += usize::from(shift_named || watch_named);
    }
    assert!(balanced >= 16, "{balanced}/20");
}

#[test]
fn evidence_under_the_threshold_is_a_watch_not_a_shift() {
    // Half the strain: the resilience side moves, not enough for a regime change everywhere,
    // and where it does not change the regime the weeks say "watch" with the components.
    let s = settings();
    let mild = Phase {
        cfr: 0.13,
        recovery_h: 8.0,
        incidents: 2.0,
        ..GROWTH
    };
    let mut watched = 0;
    for seed in 0..10 {
        let r = pressure(
            &organisation(seed, GROWTH, mild, SHIFT, Tails::default()),
            &s,
        );
        let first = r.weeks.iter().position(|w| w.watch.is_some());
        if let Some(i) = first {
            let w = r.weeks[i].watch.as_ref().expect("a watch");
            assert!(w.statistic >= s.watch_share && w.threshold == 1.0);
            assert!(w.summary.starts_with("watch → "), "{}", w.summary);
            // A watch is not a regime: the week keeps its regime.
            assert_eq!(r.weeks[i].regime, r.weeks[i - 1].regime);
            if i >= SHIFT - 2 && w.towards == Regime::Resilience {
                watched += 1;
                assert!(w.components.iter().all(|p| p.z >= s.agree_z));
            }
        }
    }
    assert!(watched >= 5, "{watched}/10");
}

#[test]
fn one_outlier_week_counts_at_most_the_cap() {
    let s = settings();
    // A steady organisation with one absurd week of everything at once.
    let mut weeks = organisation(3, GROWTH, GROWTH, WEEKS, Tails::default());
    let w = &mut weeks[70];
    w.incidents = Some(500.0);
    w.burn_rate = Some(50.0);
    w.cfr_4w = Some(0.9);
    let r = pressure(&weeks, &s);
    let signal = r.weeks[70].signal.expect("a signal");
    assert!(signal <= 2.0 * s.z_cap + 1e-9, "{signal}");
    assert!(
        r.shifts.is_empty(),
        "{:?}",
        r.shifts.iter().map(|s| &s.summary).collect::<Vec<_>>()
    );
}

#[test]
fn pure_noise_rarely_flags_a_shift_even_with_heavy_tails() {
    let s = settings();
    let runs = 100;
    let mut flagged = 0;
    let mut flagged_tails = 0;
    for seed in 0..runs {
        let r = pressure(
            &organisation(seed, GROWTH, GROWTH, WEEKS, Tails::default()),
            &s,
        );
        flagged += usize::from(!r.shifts.is_empty());
        let tails = Tails {
            outage_week: Some(40 + (seed % 20) as usize),
            failed_deploys_week: Some(70 + (seed % 10) as usize),
            churn_month: Some(15 + (seed % 5) as usize),
        };
        let r = pressure(&organisation(1000 + seed, GROWTH, GROWTH, WEEKS, tails), &s);
        flagged_tails += usize::from(!r.shifts.is_empty());
    }
    assert!(
        flagged * 20 <= runs as usize,
        "{flagged}/{runs} noise runs flagged a shift"
    );
    assert!(
        flagged_tails * 20 <= runs as usize,
        "{flagged_tails}/{runs} heavy-tail runs flagged a shift"
    );
}

#[test]
fn an_alternating_series_does_not_flip_the_regime_every_week() {
    let s = settings();
    // P alternates between clearly resilient and clearly growing weeks.
    let weeks: Vec<WeekSignals> = (0..WEEKS)
        .map(|w| {
            let bad = w % 2 == 1;
            WeekSignals {
                week_ms: w as i64 * WEEK_MS,
                mrr: Some(100.0),
                mrr_3m_ago: Some(if bad { 100.0 } else { 90.0 }),
                nrr: Some(if bad { 0.95 } else { 1.15 }),
                burn_rate: Some(if bad { 2.5 } else { 0.1 }),
                cfr_4w: Some(if bad { 0.4 } else { 0.05 }),
                ..WeekSignals::default()
            }
        })
        .collect();
    let r = pressure(&weeks, &s);
    let flips = r
        .weeks
        .windows(2)
        .filter(|w| w[0].regime.is_some() && w[0].regime != w[1].regime)
        .count();
    assert!(flips <= 2, "{flips} flips");
}

#[test]
fn missing_weeks_and_a_late_source_neither_break_nor_bias_the_index() {
    let s = settings();
    for seed in 0..20 {
        let mut weeks = organisation(seed, GROWTH, STRAIN, SHIFT, Tails::default());
        let mut rng = ChaCha8Rng::seed_from_u64(seed + 77);
        // Revenue only starts in week 20; one week in ten has no engineering data at all.
        for (i, w) in weeks.iter_mut().enumerate() {
            if i < 20 {
                w.mrr = None;
                w.mrr_3m_ago = None;
                w.net_new_mrr = None;
                w.nrr = None;
                w.grr = None;
                w.new_logos = None;
            }
            if rng.random_bool(0.1) {
                *w = WeekSignals {
                    week_ms: w.week_ms,
                    ..WeekSignals::default()
                };
            }
        }
        let r = pressure(&weeks, &s);
        // Until revenue arrives there is no P: never a made-up number.
        assert!(r.weeks[..20].iter().all(|w| w.p.is_none()));
        assert!(r.weeks[20..31]
            .iter()
            .any(|w| matches!(w.status, PressureStatus::WarmingUp { .. })));
        // No shift before the planted one, and the planted one is found (a week of slack: a
        // tenth of the weeks are missing, which blurs the estimate of when it began).
        assert!(
            r.shifts
                .iter()
                .all(|sh| week_of(sh.since_ms) >= SHIFT as i64 - 3),
            "seed {seed}: {:?}",
            r.shifts
                .iter()
                .map(|s| (week_of(s.since_ms), week_of(s.week_ms), &s.summary))
                .collect::<Vec<_>>()
        );
        let sh = first_shift(&r, true).expect("found");
        assert!(
            (week_of(sh.since_ms) - SHIFT as i64).abs() <= 3,
            "seed {seed}: {}",
            sh.summary
        );
    }
}

#[test]
fn warming_up_says_so_instead_of_a_number() {
    let s = settings();
    let r = pressure(
        &organisation(1, GROWTH, GROWTH, WEEKS, Tails::default())[..8],
        &s,
    );
    assert_eq!(
        r.weeks[0].status,
        PressureStatus::WarmingUp {
            scored: 1,
            needed: 12
        }
    );
    assert_eq!(r.weeks[0].status.to_string(), "warming up (1/12)");
    assert!(r.weeks.iter().all(|w| w.regime.is_none()));
}

/// Bug inflow is optional: an organisation without bug data has no `bug_inflow` component and
/// exactly the index it had before the component existed (the #22 evaluation's organisations have
/// none); with bug data, a rise against its own history scores like incidents do.
#[test]
fn bug_inflow_is_scored_only_where_bug_data_exists() {
    let weeks = organisation(7, GROWTH, STRAIN, SHIFT, Tails::default());
    let without = pressure(&weeks, &settings());
    assert!(without.weeks.iter().all(|w| w
        .components
        .iter()
        .all(|c| c.component != Component::BugInflow)));

    // 10 bugs a week for 60 weeks, then 20: 4-week sums of 40, then 80.
    let with: Vec<WeekSignals> = weeks
        .iter()
        .enumerate()
        .map(|(i, w)| WeekSignals {
            bugs_opened: Some(if i < SHIFT { 10.0 } else { 20.0 }),
            ..w.clone()
        })
        .collect();
    let r = pressure(&with, &settings());
    let bug = |i: usize| {
        r.weeks[i]
            .components
            .iter()
            .find(|c| c.component == Component::BugInflow)
            .map(|c| (c.value, c.score))
    };
    // Week 3 has no 8-week-old baseline yet: present, scored 0 (no evidence either way).
    assert_eq!(bug(3), Some((10.0, 0.0)));
    // Week 59: a flat history of 40 (MAD 0, spread √40 ≈ 6.3) and 40 now: z = 0.
    assert_eq!(bug(SHIFT - 1), Some((10.0, 0.0)));
    // Week 63, the 4-week sum is 80 against a baseline of 40: z = 40 / √40 ≈ 6.3, score
    // 6.3 / 3 clamped to 1.
    assert_eq!(bug(SHIFT + 3), Some((20.0, 1.0)));
    // It counts in R̄, so the resilience side is higher than without it at week 63.
    let r_of = |rep: &PressureReport| rep.weeks[SHIFT + 3].resilience.unwrap_or(f64::NAN);
    assert!(
        r_of(&r) > r_of(&without),
        "{} vs {}",
        r_of(&r),
        r_of(&without)
    );
    // And the shift into resilience names it among its evidence.
    let shift = first_shift(&r, true).expect("a shift to resilience");
    assert!(
        shift
            .evidence
            .iter()
            .any(|m| m.component == Component::BugInflow),
        "{:?}",
        shift.evidence
    );
}

/// The score of `c` in week `i`, with its value.
fn scored(r: &PressureReport, i: usize, c: Component) -> Option<(f64, f64)> {
    r.weeks[i]
        .components
        .iter()
        .find(|s| s.component == c)
        .map(|s| (s.value, s.score))
}

/// Σ and count of the resilience scores of week `i`: R̄ by hand.
fn resilience_parts(r: &PressureReport, i: usize) -> (f64, f64) {
    r.weeks[i]
        .components
        .iter()
        .filter(|s| s.component.side() == Side::Resilience)
        .fold((0.0, 0.0), |(sum, n), s| (sum + s.score, n + 1.0))
}

/// Support load (#17) is optional: with ticket data a support flood raises R̄ through
/// `support_load`, listed as used; the revenue-weighted pain, without its data, is listed as
/// missing and stays out.
#[test]
fn a_support_flood_raises_r_only_where_ticket_data_exists() {
    let weeks = organisation(7, GROWTH, GROWTH, SHIFT, Tails::default());
    let without = pressure(&weeks, &settings());
    // 10 tickets per 100 customers a week for 60 weeks, then 16.
    let with: Vec<WeekSignals> = weeks
        .iter()
        .enumerate()
        .map(|(i, w)| WeekSignals {
            support_per_100: Some(if i < SHIFT { 10.0 } else { 16.0 }),
            ..w.clone()
        })
        .collect();
    let r = pressure(&with, &settings());
    for (a, b) in without.weeks.iter().zip(&r.weeks) {
        assert!(a.optional_missing.contains(&Component::SupportLoad));
        assert!(!a.optional_used.contains(&Component::SupportLoad));
        assert!(b.optional_used.contains(&Component::SupportLoad));
        assert!(b.optional_missing.contains(&Component::CustomerPain));
        assert!(b
            .components
            .iter()
            .all(|c| c.component != Component::CustomerPain));
    }
    // Week 59: the 4-week mean is 10 against a flat history of 10 (MAD 0, spread at least 10 %
    // of the median = 1): z = 0, score 0.
    assert_eq!(
        scored(&r, SHIFT - 1, Component::SupportLoad),
        Some((10.0, 0.0))
    );
    // Week 60: mean (3 × 10 + 16) / 4 = 11.5, z = 1.5 / 1, score 1.5 / 3 = 0.5.
    assert_eq!(scored(&r, SHIFT, Component::SupportLoad), Some((16.0, 0.5)));
    // Week 61: mean (2 × 10 + 2 × 16) / 4 = 13, z = 3, score 1 (and clamped at 1 after).
    assert_eq!(
        scored(&r, SHIFT + 1, Component::SupportLoad),
        Some((16.0, 1.0))
    );
    assert_eq!(
        scored(&r, SHIFT + 3, Component::SupportLoad),
        Some((16.0, 1.0))
    );
    // R̄ with the component is the mean over one component more: (Σ + score) / (n + 1), the
    // growth side untouched, so P rises by exactly R̄'s rise.
    for (i, score) in [(SHIFT - 1, 0.0), (SHIFT, 0.5), (SHIFT + 3, 1.0)] {
        let (sum, n) = resilience_parts(&without, i);
        let expected = (sum + score) / (n + 1.0);
        let got = r.weeks[i].resilience.unwrap_or(f64::NAN);
        assert!(
            (got - expected).abs() < 1e-12,
            "week {i}: {got} vs {expected}"
        );
        assert_eq!(r.weeks[i].growth, without.weeks[i].growth);
    }
    assert!(r.weeks[SHIFT + 3].p_raw > without.weeks[SHIFT + 3].p_raw);
}

/// Without ticket data the support components are listed as missing and the index is exactly
/// the one of the organisation without them: a ticket source that starts at week 70 leaves
/// every week before it identical, field for field, to the run without tickets.
#[test]
fn without_ticket_data_support_is_missing_and_p_is_identical() {
    let weeks = organisation(11, GROWTH, STRAIN, SHIFT, Tails::default());
    let without = pressure(&weeks, &settings());
    let late = 70;
    let with: Vec<WeekSignals> = weeks
        .iter()
        .enumerate()
        .map(|(i, w)| WeekSignals {
            support_per_100: (i >= late).then_some(12.0),
            support_pain: (i >= late).then_some(4.0),
            ..w.clone()
        })
        .collect();
    let r = pressure(&with, &settings());
    for i in 0..late {
        assert_eq!(r.weeks[i], without.weeks[i], "week {i}");
    }
    let before = |rep: &PressureReport| -> Vec<Shift> {
        let cut = late as i64 * WEEK_MS;
        rep.shifts
            .iter()
            .filter(|s| s.week_ms < cut)
            .cloned()
            .collect()
    };
    assert_eq!(before(&r), before(&without));
    for w in &without.weeks {
        for c in [Component::SupportLoad, Component::CustomerPain] {
            assert!(w.optional_missing.contains(&c));
            assert!(w.components.iter().all(|s| s.component != c));
        }
        // P_raw is R̄ − Ḡ over the components present, none of them optional.
        if let (Some(p), Some(g)) = (w.p_raw, w.growth) {
            let (sum, n) = w
                .components
                .iter()
                .filter(|s| s.component.side() == Side::Resilience)
                .fold((0.0, 0.0), |(a, n), s| (a + s.score, n + 1.0));
            assert!((p - (sum / n - g)).abs() < 1e-12);
        }
    }
    for w in &r.weeks[late..] {
        assert!(w.optional_used.contains(&Component::SupportLoad));
        assert!(w.optional_used.contains(&Component::CustomerPain));
    }
}

/// The profitability tag needs two of its three conditions (cost outgrowing revenue, the margin
/// falling against its own history, the Rule of 40 under 40); one alone is not enough, and the
/// tag never moves P.
#[test]
fn the_profitability_tag_needs_two_conditions_and_stays_out_of_p() {
    let weeks = organisation(7, GROWTH, GROWTH, SHIFT, Tails::default());
    let plain = pressure(&weeks, &settings());
    assert!(plain.weeks.iter().all(|w| w.profitability.is_none()
        && w.optional_missing.contains(&Component::CostVsRevenue)
        && w.optional_missing.contains(&Component::Margin)));
    // (cost growth, revenue growth, margin from week 60, Rule of 40) for every week.
    let run = |cost: f64, revenue: f64, margin_after: f64, r40: f64| {
        let w: Vec<WeekSignals> = weeks
            .iter()
            .enumerate()
            .map(|(i, w)| WeekSignals {
                cost_growth_3m: Some(cost),
                revenue_growth_3m: Some(revenue),
                margin: Some(if i < SHIFT { 0.10 } else { margin_after }),
                rule_of_40: Some(r40),
                ..w.clone()
            })
            .collect();
        pressure(&w, &settings())
    };
    let at = 70;
    let holds = |r: &PressureReport| -> Vec<Option<bool>> {
        r.weeks[at]
            .profitability
            .as_ref()
            .map(|t| t.evidence.iter().map(|e| e.holds).collect())
            .unwrap_or_default()
    };
    let tagged = |r: &PressureReport| r.weeks[at].profitability.as_ref().map(|t| t.tagged);

    // Cost +10 % against revenue +5 % over 3 months: holds. The margin steady at 10 %: its
    // baseline (weeks 10–61) is 10 %, z 0: does not hold. The Rule of 40 at exactly 40 is on
    // the line, not under it. One condition: no tag.
    let one = run(0.10, 0.05, 0.10, 40.0);
    assert_eq!(holds(&one), [Some(true), Some(false), Some(false)]);
    assert_eq!(tagged(&one), Some(false));
    // The same with the Rule of 40 at 39.9: two conditions, tagged.
    let two = run(0.10, 0.05, 0.10, 39.9);
    assert_eq!(holds(&two), [Some(true), Some(false), Some(true)]);
    assert_eq!(tagged(&two), Some(true));
    // The margin down from 10 % to 7 % at week 60: at week 70 its baseline (weeks 10–61: 50 at
    // 10 %, 2 at 7 %) has median 10 % and MAD 0, so the spread is the 1-point floor and
    // z = (10 − 7) / 1 = 3 ≥ 1: falling. With cost behind revenue (+3 % against +5 %) and the
    // Rule of 40 at 45, it is the only condition: no tag.
    let margin_only = run(0.03, 0.05, 0.07, 45.0);
    assert_eq!(holds(&margin_only), [Some(false), Some(true), Some(false)]);
    assert_eq!(tagged(&margin_only), Some(false));
    let t = margin_only.weeks[at].profitability.as_ref().unwrap();
    assert_eq!(t.margin_baseline, Some(0.10));
    assert!((t.margin_z.unwrap_or_default() - 3.0).abs() < 1e-9);
    // Falling margin and cost ahead of revenue: two, tagged.
    let squeeze = run(0.10, 0.05, 0.07, 45.0);
    assert_eq!(holds(&squeeze), [Some(true), Some(true), Some(false)]);
    assert_eq!(tagged(&squeeze), Some(true));
    assert!(squeeze.weeks[at].optional_used.contains(&Component::Margin));
    // None of this moves P or the regime: the profitability components are shown, not
    // averaged in, and the detector does not read them.
    for r in [&one, &two, &margin_only, &squeeze] {
        for (a, b) in plain.weeks.iter().zip(&r.weeks) {
            assert_eq!(
                (a.p_raw, a.p, a.signal, a.regime),
                (b.p_raw, b.p, b.signal, b.regime)
            );
        }
        assert_eq!(r.shifts, plain.shifts);
    }
}

/// `weeks` with weekly ticket figures around `before` until week 60 and `after` from then on
/// (tickets per 100 customers, revenue-weighted pain at half of it), with 10 % noise.
fn with_tickets(seed: u64, weeks: &[WeekSignals], before: f64, after: f64) -> Vec<WeekSignals> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    weeks
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let level = if i < SHIFT { before } else { after };
            let load = Normal::new(level, 0.1 * level).map_or(level, |d| d.sample(&mut rng));
            WeekSignals {
                support_per_100: Some(load.max(0.0)),
                support_pain: Some(load.max(0.0) / 2.0),
                ..w.clone()
            }
        })
        .collect()
}

/// Issue #17's scenario: revenue holds steady while tickets per customer and cost grow. P moves
/// towards resilience through the support components, which the detector names among the
/// moves, and the profitability tag names cost and margin; the growth side does not move.
#[test]
fn steady_revenue_with_rising_tickets_and_cost_moves_towards_resilience_and_profitability() {
    let s = settings();
    let mut named = 0;
    for seed in 0..20 {
        let plain = organisation(seed, GROWTH, GROWTH, SHIFT, Tails::default());
        let mut weeks = with_tickets(seed, &plain, 10.0, 25.0);
        for (i, w) in weeks.iter_mut().enumerate() {
            let after = i >= SHIFT;
            w.cost_growth_3m = Some(if after { 0.15 } else { 0.06 });
            w.revenue_growth_3m = Some(0.07);
            w.margin = Some(if after { 0.04 } else { 0.10 });
            w.rule_of_40 = Some(45.0);
        }
        let (without, with) = (pressure(&plain, &s), pressure(&weeks, &s));
        let at = SHIFT + 6;
        assert!(
            with.weeks[at].p_raw > without.weeks[at].p_raw,
            "seed {seed}"
        );
        assert_eq!(with.weeks[at].growth, without.weeks[at].growth);
        let t = with.weeks[at].profitability.as_ref().expect("cost data");
        assert!(t.tagged, "seed {seed}: {}", t.summary);
        let holding: Vec<ProfitCondition> = t
            .evidence
            .iter()
            .filter(|e| e.holds == Some(true))
            .map(|e| e.condition)
            .collect();
        assert_eq!(
            holding,
            [
                ProfitCondition::CostOutgrowsRevenue,
                ProfitCondition::MarginFalling
            ]
        );
        named += usize::from(with.weeks[SHIFT..=at].iter().any(|w| {
            w.moved
                .iter()
                .any(|p| p.component == Component::SupportLoad && p.z >= 2.0)
        }));
    }
    assert_eq!(named, 20, "support_load named among the moves");
}

/// The other half of #17's scenarios: with steady ticket data, a slowdown in new business alone
/// is still never called resilience.
#[test]
fn a_slowdown_with_steady_tickets_is_never_resilience() {
    let s = settings();
    for seed in 0..20 {
        let weeks = with_tickets(
            seed,
            &organisation(seed, GROWTH, SLOWDOWN, SHIFT, Tails::default()),
            10.0,
            10.0,
        );
        let r = pressure(&weeks, &s);
        assert!(
            r.weeks.iter().all(|w| w.regime != Some(Regime::Resilience)),
            "seed {seed}: {:?}",
            r.shifts.iter().map(|s| &s.summary).collect::<Vec<_>>()
        );
    }
}

/// Noisy but steady ticket figures (10 % week-to-week noise) keep the false-alarm rate of the
/// noise-only organisations within the same 5 %: one more weekly family, read on its own
/// history, does not turn noise into shifts.
#[test]
fn steady_ticket_noise_rarely_flags_a_shift() {
    let s = settings();
    let runs = 100;
    let flagged = (0..runs)
        .filter(|&seed| {
            let weeks = organisation(seed, GROWTH, GROWTH, WEEKS, Tails::default());
            !pressure(&with_tickets(seed, &weeks, 10.0, 10.0), &s)
                .shifts
                .is_empty()
        })
        .count();
    assert!(
        flagged * 20 <= runs as usize,
        "{flagged}/{runs} flagged a shift"
    );
}
