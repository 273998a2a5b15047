//! Synthetic organisations with a planted truth, and the weekly rows the daemon would build from
//! them.
//!
//! Everything is generated as raw events — deployments with their failures and recoveries,
//! incidents, hourly SLI samples of two SLOs (availability and latency), customer-level MRR by
//! month — and turned into [`WeekSignals`] by the library's own functions (`dora::weekly`,
//! `reliability::weekly`, `revenue::monthly`) and the same mapping as `query::views::scope_rows`
//! and `revenue_into`, so that the evaluation measures what the daemon computes.

use barometer::analysis::dora::{
    self, BandTable, ChangeSet, DeployFacts, DoraModel, FailureSignal, IncidentFacts, Recovery,
};
use barometer::analysis::pressure::WeekSignals;
use barometer::analysis::reliability::{self, SliPoints, SloSamples, SloSpec};
use barometer::analysis::revenue::{self, RevenueSettings};
use barometer::model::revenue::Snapshots;
use barometer::model::{DeployState, Point};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, LogNormal, Normal, Poisson};

pub const WEEK_MS: i64 = 7 * 86_400_000;
const HOUR_MS: i64 = 3_600_000;
/// Monday 2024-01-01 00:00 UTC: the first week.
pub const T0: i64 = 1_704_067_200_000;
pub const WEEKS: usize = 104;

/// What is planted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// growth → resilience at K, the error budget runs out right after K.
    Budget,
    /// growth → resilience at K; incidents, CFR, recovery and latency worsen, growth stalls, the
    /// budget holds.
    Quiet,
    /// growth → resilience at K1 (budget runs out), back to growth at K2.
    Recovery,
    /// new business and expansion fall at K, reliability steady: balanced at most, never
    /// resilience, and the slowdown named.
    Slowdown,
}

impl Profile {
    pub const ALL: [Profile; 4] = [
        Profile::Budget,
        Profile::Quiet,
        Profile::Recovery,
        Profile::Slowdown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Budget => "budget-driven shift",
            Profile::Quiet => "quiet resilience (budget holds)",
            Profile::Recovery => "recovery (K1 resilience, K2 growth)",
            Profile::Slowdown => "revenue-only slowdown",
        }
    }
}

/// How the organisation behaves in one phase.
#[derive(Debug, Clone, Copy)]
struct Phase {
    deploys: f64,
    cfr: f64,
    recovery_h: f64,
    incidents: f64,
    /// Mean error ratio of the availability SLO (target 99.9 %).
    errors: f64,
    /// Mean share of slow requests of the latency SLO (target 99 %).
    slow: f64,
    /// New customers a month, as a share of paying customers.
    new_rate: f64,
    /// Monthly probability that a customer expands.
    expansion: f64,
    /// Monthly probability that a customer churns.
    churn: f64,
}

/// The planted truth and the rows.
pub struct Org {
    pub profile: Profile,
    /// Whether nothing changes (the profile's noise-only twin).
    pub twin: bool,
    /// Shift weeks (index into the rows): [K] or [K1, K2]; empty for a twin.
    pub ks: Vec<usize>,
    pub rows: Vec<WeekSignals>,
}

fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    Poisson::new(mean).map_or(0.0, |d| d.sample(rng)) as u64
}

fn normal(rng: &mut ChaCha8Rng, sd: f64) -> f64 {
    Normal::new(0.0, sd).map_or(0.0, |d| d.sample(rng))
}

/// Gamma with mean 1 and the given shape: a multiplicative burst factor (a Poisson count with a
/// Gamma-distributed rate is negative-binomial, i.e. overdispersed and bursty).
fn burst(rng: &mut ChaCha8Rng, shape: f64) -> f64 {
    Gamma::new(shape, 1.0 / shape).map_or(1.0, |d| d.sample(rng))
}

/// One organisation of `profile`, seeded; `twin` keeps the first phase throughout and adds the
/// outlier weeks.
pub fn generate(profile: Profile, seed: u64, twin: bool, bands: &BandTable) -> Org {
    // The twin shares the seed's organisation (its base rates); only the shift is left out.
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9) ^ profile as u64);
    let base = Phase {
        deploys: rng.random_range(8.0..25.0),
        cfr: rng.random_range(0.04..0.09),
        recovery_h: rng.random_range(1.0..4.0),
        incidents: rng.random_range(0.8..2.5),
        errors: rng.random_range(0.0001..0.0003),
        slow: rng.random_range(0.001..0.003),
        new_rate: rng.random_range(0.035..0.06),
        expansion: rng.random_range(0.03..0.05),
        churn: rng.random_range(0.005..0.012),
    };
    let strain = |rng: &mut ChaCha8Rng, errors: f64| Phase {
        deploys: base.deploys * rng.random_range(0.8..1.0),
        cfr: base.cfr + rng.random_range(0.10..0.16),
        recovery_h: base.recovery_h * rng.random_range(4.0..8.0),
        incidents: base.incidents * rng.random_range(2.2..3.2),
        errors,
        slow: rng.random_range(0.0045..0.006),
        new_rate: base.new_rate * rng.random_range(0.4..0.6),
        expansion: base.expansion * rng.random_range(0.3..0.5),
        churn: base.churn * rng.random_range(1.3..1.7),
    };
    let k = rng.random_range(36..80);
    let (ks, phases): (Vec<usize>, Vec<Phase>) = match profile {
        Profile::Budget => {
            let e = rng.random_range(0.003..0.006);
            (vec![k], vec![base, strain(&mut rng, e)])
        }
        Profile::Quiet => {
            let e = base.errors * rng.random_range(1.5..2.5);
            (vec![k], vec![base, strain(&mut rng, e)])
        }
        Profile::Recovery => {
            let k1 = rng.random_range(30..55);
            let k2 = k1 + rng.random_range(20..36);
            let e = rng.random_range(0.0015..0.002);
            (vec![k1, k2], vec![base, strain(&mut rng, e), base])
        }
        Profile::Slowdown => {
            let slow = Phase {
                new_rate: base.new_rate * rng.random_range(0.25..0.4),
                expansion: base.expansion * rng.random_range(0.2..0.35),
                ..base
            };
            (vec![k], vec![base, slow])
        }
    };
    // Odd weeks of the twins: one large outage that leaves budget, one huge deal.
    let outage = rng.random_range(30..95);
    // A real outage is not only an SLO event: the fixes shipped while it lasts fail more often
    // and take longer to recover (the demo's outage of April 2025 moved the SLO, CFR and
    // recovery time together for about three weeks): 1–3 weeks with the CFR 15–35 pp higher,
    // recovery 3–8 times longer and one more incident a week after the first. Its length and
    // strength are drawn from their own stream, so that every other draw — and every shifted
    // organisation — stays as it was.
    let mut orng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x85EB_CA6B) ^ profile as u64);
    let outage_weeks = orng.random_range(1..=3usize);
    let outage_cfr = orng.random_range(0.15..0.35);
    let outage_recovery = orng.random_range(3.0..8.0);
    // Opt-in (`PRESSURE_EVAL_OUTAGE_AFTERMATH=1`): with it no variant of the detector meets the
    // issue's goals together (BENCHMARKS.md), so the issue's own twins stay the default table.
    let aftermath = std::env::var_os("PRESSURE_EVAL_OUTAGE_AFTERMATH").is_some();
    let in_outage = |w: usize| twin && aftermath && (outage..outage + outage_weeks).contains(&w);
    // A slow release in every twin, rolled back after 2–5 days: the latency SLO alone burns
    // about three times faster meanwhile (errors do not move). Its own stream, like the
    // outage's aftermath.
    let mut lrng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0xC2B2_AE35) ^ profile as u64);
    let slow_release = lrng.random_range(30..95usize) * 168 + lrng.random_range(0..168usize);
    let slow_release = slow_release..slow_release + lrng.random_range(48..120usize);
    let deal_week = rng.random_range(30..95);
    // Heavier tails in every other twin.
    let heavy = twin && seed % 2 == 1;
    let (ks, phases) = if twin {
        (Vec::new(), vec![base])
    } else {
        (ks, phases)
    };
    let phase_of = |w: usize| -> Phase {
        let n = ks.iter().filter(|&&k| w >= k).count();
        phases[n.min(phases.len() - 1)]
    };
    let season = |w: usize| 1.0 + 0.15 * (std::f64::consts::TAU * w as f64 / 52.0).sin();
    // Christmas: the last week of each year, almost nothing is deployed.
    let holiday = |w: usize| w % 52 == 51;

    // Delivery.
    let mut model = DoraModel::default();
    let shape = if heavy { 0.8 } else { 2.0 };
    let mut number = 0u64;
    for w in 0..WEEKS {
        let mut p = phase_of(w);
        if in_outage(w) {
            p.cfr += outage_cfr;
            p.recovery_h *= outage_recovery;
        }
        let start = T0 + w as i64 * WEEK_MS;
        let n = if holiday(w) {
            poisson(&mut rng, 1.0)
        } else {
            poisson(&mut rng, p.deploys * season(w))
        };
        for _ in 0..n {
            let at = start + rng.random_range(0..WEEK_MS);
            let failed = rng.random_bool(p.cfr.clamp(0.0, 1.0));
            number += 1;
            let recovery = failed.then(|| {
                let h = LogNormal::new(p.recovery_h.ln(), 0.8)
                    .map_or(p.recovery_h, |d| d.sample(&mut rng));
                let ms = (h * HOUR_MS as f64) as i64;
                Recovery {
                    end_ms: at + ms,
                    duration_ms: ms,
                    by: "synthetic".into(),
                }
            });
            model.deployments.push(DeployFacts {
                service: "app".into(),
                repo: "org/app".into(),
                id: number,
                sha: format!("{number:x}"),
                at_ms: at,
                state: if failed && rng.random_bool(0.5) {
                    DeployState::Failure
                } else {
                    DeployState::Success
                },
                change_set: ChangeSet::Exact,
                changes: Vec::new(),
                failures: if failed {
                    vec![FailureSignal::Status {
                        state: DeployState::Failure,
                    }]
                } else {
                    Vec::new()
                },
                unplanned: None,
                rollback_of: None,
                recovery,
            });
        }
        let mut rate = p.incidents * season(w) * burst(&mut rng, shape);
        if heavy && rng.random_bool(0.05) {
            rate *= 3.0;
        }
        if twin && w == outage {
            rate += 2.0;
        } else if in_outage(w) {
            rate += 1.0;
        }
        for _ in 0..poisson(&mut rng, rate) {
            number += 1;
            let opened = start + rng.random_range(0..WEEK_MS);
            model.incidents.push(IncidentFacts {
                repo: "org/app".into(),
                number,
                service: Some("app".into()),
                opened_ms: opened,
                closed_ms: Some(opened + 4 * HOUR_MS),
                deployments: Vec::new(),
                how: "synthetic".into(),
            });
        }
    }
    model.deployments.sort_by_key(|d| d.at_ms);
    let weeks: Vec<i64> = (0..WEEKS).map(|w| T0 + w as i64 * WEEK_MS).collect();
    let delivery = dora::weekly(&model, None, &weeks, bands);

    // Reliability: hourly error ratios of two SLOs.
    let hours = WEEKS * 168;
    let mut avail = Vec::with_capacity(hours);
    let mut latency = Vec::with_capacity(hours);
    for w in 0..WEEKS {
        let p = phase_of(w);
        let wk_a = (normal(&mut rng, 0.3)).exp();
        let wk_l = (normal(&mut rng, 0.2)).exp();
        let outage_hours = if twin && w == outage {
            // 2 hours of 10 % errors: a burn rate near 1.2 for the week and ~30 % of a 99.9 %
            // SLO's 28-day budget, which holds.
            rng.random_range(0..160)
        } else {
            usize::MAX
        };
        for h in 0..168 {
            let ts = T0 + (w * 168 + h) as i64 * HOUR_MS;
            let mut e = p.errors * wk_a * (normal(&mut rng, 0.5) - 0.125).exp();
            if (outage_hours..outage_hours.saturating_add(2)).contains(&h) {
                e = 0.10 * rng.random_range(0.9..1.1);
            }
            // Slow requests follow the load (the traffic's seasonality).
            let mut l = p.slow * season(w) * wk_l * (normal(&mut rng, 0.3) - 0.045).exp();
            if (outage_hours..outage_hours.saturating_add(2)).contains(&h) {
                // An outage is slow as well as failing: what does not fail times out.
                l = l.max(e);
            } else if twin && slow_release.contains(&(w * 168 + h)) {
                l *= 3.0;
            }
            avail.push(Point {
                ts,
                value: e.min(1.0),
            });
            latency.push(Point {
                ts,
                value: l.min(1.0),
            });
        }
    }
    let slo = |target: f64| SloSpec {
        target,
        window_ms: 28 * 86_400_000,
        step_ms: HOUR_MS,
    };
    let slos = [
        (
            slo(0.999),
            reliability::weekly(
                &slo(0.999),
                &SloSamples::steps_only(SliPoints::Ratio(&avail)),
                &weeks,
                i64::MAX,
            ),
        ),
        (
            slo(0.99),
            reliability::weekly(
                &slo(0.99),
                &SloSamples::steps_only(SliPoints::Ratio(&latency)),
                &weeks,
                i64::MAX,
            ),
        ),
    ];

    // Revenue: customers by month; a month takes the phase of its middle week.
    let month0 = 2024 * 12;
    let months = (WEEKS as f64 / 4.345).ceil() as i32 + 1;
    let mut snaps = Snapshots::new();
    let mut customers: Vec<(u64, f64)> = (0..rng.random_range(150..300))
        .map(|c| {
            let mrr = LogNormal::new(6.0, 0.8).map_or(400.0, |d| d.sample(&mut rng));
            (c, mrr)
        })
        .collect();
    let mut next_id = customers.len() as u64;
    let deal_month = (deal_week as f64 / 4.345) as i32;
    for m in 0..months {
        let mid = ((m as f64 + 0.5) * 4.345) as usize;
        let p = phase_of(mid.min(WEEKS - 1));
        if m > 0 {
            let mut kept = Vec::with_capacity(customers.len());
            for (id, mrr) in customers.drain(..) {
                if rng.random_bool(p.churn) {
                    continue;
                }
                let mut mrr = mrr;
                if rng.random_bool(p.expansion) {
                    mrr *= rng.random_range(1.2..1.6);
                } else if rng.random_bool(0.02) {
                    mrr *= rng.random_range(0.6..0.9);
                }
                kept.push((id, mrr));
            }
            customers = kept;
            let paying = customers.len() as f64;
            let new = poisson(&mut rng, p.new_rate * paying * season(mid));
            for _ in 0..new {
                let mrr = LogNormal::new(6.0, 0.8).map_or(400.0, |d| d.sample(&mut rng));
                customers.push((next_id, mrr));
                next_id += 1;
            }
            if twin && m == deal_month {
                // One huge deal: a customer worth a tenth of the MRR.
                let total: f64 = customers.iter().map(|c| c.1).sum();
                customers.push((next_id, total * 0.1));
                next_id += 1;
            }
        }
        for (id, mrr) in &customers {
            let _ = snaps.insert_coded(month0 + m, &format!("c{id}"), *mrr, None, None, 0);
        }
    }
    let monthly = revenue::monthly(&snaps, RevenueSettings::default(), None);

    // The rows, as `query::views::scope_rows` and `revenue_into` build them.
    let rows = weeks
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let d = &delivery[i];
            let mut s = WeekSignals {
                week_ms: w,
                deployments: Some(d.week.deployments as f64),
                incidents: Some(d.week.incidents as f64),
                lead_time_s: d.week.lead_time.map(|q| q.p50),
                cfr_4w: d.rolling_4w.change_failure_rate.map(|r| r.value),
                recovery_4w_s: d.rolling_4w.recovery_time.map(|q| q.p50),
                attempted_week: Some(d.week.attempted as f64),
                failures_week: d.week.change_failure_rate.map(|r| r.k as f64),
                recovery_week_s: d.week.recovery_time.map(|q| q.p50),
                recoveries_week: d.week.recovery_time.map(|q| q.n as f64),
                ..WeekSignals::default()
            };
            if std::env::var_os("PRESSURE_EVAL_NO_WEEKLY").is_some() {
                // The detector as it was, on the 4-week windows alone: for comparison.
                s.attempted_week = None;
                s.failures_week = None;
                s.recovery_week_s = None;
                s.recoveries_week = None;
            }
            // The latency SLO apart (as `scope_rows` keeps an SLO of kind latency), unless
            // `PRESSURE_EVAL_NO_LATENCY` folds it into the worst SLO, as before.
            let apart = std::env::var_os("PRESSURE_EVAL_NO_LATENCY").is_none();
            for (j, (spec, rows)) in slos.iter().enumerate() {
                let r = &rows[i];
                if let Some(a) = r.availability {
                    let b = (1.0 - a) / (1.0 - spec.target);
                    let to = if apart && j == 1 {
                        &mut s.latency_burn_rate
                    } else {
                        &mut s.burn_rate
                    };
                    *to = Some(to.map_or(b, |x: f64| x.max(b)));
                }
                if let Some(left) = r.error_budget_remaining {
                    let spent = 1.0 - left;
                    s.budget_consumed_4w =
                        Some(s.budget_consumed_4w.map_or(spent, |x: f64| x.max(spent)));
                }
            }
            // Revenue of the month holding the week's Thursday.
            let thursday = w + 3 * 86_400_000;
            let label = barometer::analysis::Calendar::UTC
                .local_date(thursday)
                .format("%Y-%m")
                .to_string();
            let idx = monthly.iter().position(|m| m.month.to_string() == label);
            if let Some(j) = idx {
                let f = &monthly[j];
                s.revenue_as_of = Some(f.month.to_string());
                s.mrr = Some(f.mrr);
                s.mrr_3m_ago = j.checked_sub(3).map(|k| monthly[k].mrr);
                s.net_new_mrr = f.movements.as_ref().map(|m| m.net());
                s.nrr = f.nrr;
                s.grr = f.grr;
                s.new_logos = f.movements.as_ref().map(|m| m.new_customers as f64);
            }
            s
        })
        .collect();
    Org {
        profile,
        twin,
        ks,
        rows,
    }
}
