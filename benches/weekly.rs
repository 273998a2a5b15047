//! The weekly view of 200 services × 5 years (issue 6): a full computation, and the update
//! after one new week, with the goals full < 500 ms and incremental < 20 ms (medians).
//!
//! The input is the weekly rows the store-reading stage hands the engine (`views::rows`): 261
//! weeks of delivery and reliability signals per service, and the organisation's rows with
//! revenue. Inputs are built before the clock starts; the engine's own work is measured:
//! comparing rows, trends, the organisation's change points (BOCPD) and pressure index, and
//! the correlations.
//!
//! - full: a new engine brought to all 261 weeks (median of 15 runs);
//! - incremental: an engine at week 231 brought to each next week in turn, up to 261 (median
//!   and maximum of the 30 updates; a week that completes a month also recomputes the
//!   correlations, so the maximum is that case);
//! - on demand: one service's change points, computed the first time they are asked for
//!   (median over 15 services), and every service's for comparison.
//!
//! - products (issue #16): ten products of twenty services each, each with its own engine (its
//!   rows are those of an organisation of its services): all ten brought to 261 weeks, then all
//!   ten brought one week on.
//!
//! Run with `cargo bench --bench weekly`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use barometer::analysis::dora::DoraSettings;
use barometer::analysis::pressure::{PressureSettings, WeekSignals};
use barometer::analysis::weekly::{Engine, ViewSettings, WeekRow};
use barometer::model::Coverage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SERVICES: usize = 200;
const WEEKS: usize = 261;
const WEEK_MS: i64 = 7 * 86_400_000;
/// Monday 2021-01-04.
const START: i64 = 1_609_718_400_000;

fn coverage() -> BTreeMap<&'static str, Coverage> {
    [
        "deployments",
        "incidents",
        "lead_time",
        "cfr_4w",
        "recovery_4w",
        "burn_rate",
        "budget_consumed_4w",
    ]
    .into_iter()
    .map(|k| (k, Coverage::Complete))
    .collect()
}

/// One service's weeks: a stable first half, a worse second half from a random week on.
fn service(seed: u64) -> Vec<WeekRow> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let turn = rng.random_range(60..200);
    (0..WEEKS)
        .map(|i| {
            let bad = i >= turn;
            WeekRow {
                signals: WeekSignals {
                    week_ms: START + i as i64 * WEEK_MS,
                    deployments: Some(rng.random_range(2..20) as f64),
                    incidents: Some(rng.random_range(0..if bad { 5 } else { 2 }) as f64),
                    lead_time_s: Some(rng.random_range(3_600.0..200_000.0)),
                    cfr_4w: Some(rng.random_range(0.0..0.15) + if bad { 0.1 } else { 0.0 }),
                    recovery_4w_s: Some(rng.random_range(600.0..30_000.0)),
                    burn_rate: Some(rng.random_range(0.1..if bad { 2.0 } else { 0.9 })),
                    budget_consumed_4w: Some(rng.random_range(0.1..0.9)),
                    ..WeekSignals::default()
                },
                coverage: coverage(),
                cfr_4w_detail: None,
            }
        })
        .collect()
}

/// The organisation: the services summed (worst reliability), with monthly revenue.
fn organisation(services: &BTreeMap<String, Vec<WeekRow>>) -> Vec<WeekRow> {
    (0..WEEKS)
        .map(|i| {
            let mut s = WeekSignals {
                week_ms: START + i as i64 * WEEK_MS,
                ..WeekSignals::default()
            };
            let rows: Vec<&WeekSignals> = services.values().map(|v| &v[i].signals).collect();
            let sum =
                |f: fn(&WeekSignals) -> Option<f64>| Some(rows.iter().filter_map(|r| f(r)).sum());
            let max = |f: fn(&WeekSignals) -> Option<f64>| {
                rows.iter().filter_map(|r| f(r)).reduce(f64::max)
            };
            let mean =
                |f: fn(&WeekSignals) -> Option<f64>| sum(f).map(|v: f64| v / rows.len() as f64);
            s.deployments = sum(|r| r.deployments);
            s.incidents = sum(|r| r.incidents);
            s.lead_time_s = mean(|r| r.lead_time_s);
            s.cfr_4w = mean(|r| r.cfr_4w);
            s.recovery_4w_s = mean(|r| r.recovery_4w_s);
            s.burn_rate = max(|r| r.burn_rate);
            s.budget_consumed_4w = max(|r| r.budget_consumed_4w);
            let month = (i / 4) as f64;
            s.mrr = Some(2.0e6 * 1.02_f64.powf(month));
            s.mrr_3m_ago = Some(2.0e6 * 1.02_f64.powf(month - 3.0));
            s.net_new_mrr = Some(2.0e6 * 1.02_f64.powf(month) * 0.02);
            s.nrr = Some(1.04 + 0.01 * (month * 0.7).sin());
            s.grr = Some(0.92);
            s.new_logos = Some(10.0 + (i % 5) as f64);
            let mut cov = coverage();
            cov.insert("mrr", Coverage::Complete);
            WeekRow {
                signals: s,
                coverage: cov,
                cfr_4w_detail: None,
            }
        })
        .collect()
}

type Input = (Vec<WeekRow>, BTreeMap<String, Vec<WeekRow>>);

/// The first `n` weeks, the last one partial.
fn cut(org: &[WeekRow], services: &BTreeMap<String, Vec<WeekRow>>, n: usize) -> Input {
    let f = |rows: &[WeekRow]| {
        let mut v = rows[..n].to_vec();
        if let Some(l) = v.last_mut() {
            l.signals.partial = true;
        }
        v
    };
    (
        f(org),
        services.iter().map(|(k, v)| (k.clone(), f(v))).collect(),
    )
}

fn settings() -> ViewSettings {
    ViewSettings {
        pressure: PressureSettings::with_bands(DoraSettings::default().bands),
        min_months: 24,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let services: BTreeMap<String, Vec<WeekRow>> = (0..SERVICES)
        .map(|i| (format!("service-{i:03}"), service(i as u64)))
        .collect();
    let org = organisation(&services);
    println!(
        "{SERVICES} services x {WEEKS} weeks ({} service-weeks)",
        SERVICES * WEEKS
    );

    let mut full = Vec::new();
    let runs = if std::env::var_os("WEEKLY_BENCH_SKIP_ON_DEMAND").is_some() {
        1
    } else {
        15
    };
    for _ in 0..runs {
        let (o, s) = cut(&org, &services, WEEKS);
        let t = Instant::now();
        let mut e = Engine::new(settings());
        e.update(o, s);
        full.push(t.elapsed());
        std::hint::black_box(e.snapshot());
    }
    println!(
        "full computation: median {} (goal < 500 ms)",
        ms(median(full))
    );

    let mut e = Engine::new(settings());
    let (o, s) = cut(&org, &services, WEEKS - 30);
    e.update(o, s);
    let mut inc = Vec::new();
    let mut with_correlations = 0;
    for n in WEEKS - 29..=WEEKS {
        let (o, s) = cut(&org, &services, n);
        let t = Instant::now();
        let done = e.update(o, s);
        inc.push(t.elapsed());
        with_correlations += usize::from(done.correlations);
    }
    let max = inc.iter().max().copied().unwrap_or_default();
    println!(
        "incremental (one new week): median {}, max {} over {} updates, {with_correlations} of which completed a month (goal < 20 ms)",
        ms(median(inc.clone())),
        ms(max),
        inc.len()
    );

    products(&services);
    if std::env::var_os("WEEKLY_BENCH_SKIP_ON_DEMAND").is_some() {
        return;
    }
    let mut one = Vec::new();
    for i in 0..15 {
        let t = Instant::now();
        std::hint::black_box(e.service_change_points(&format!("service-{:03}", i * 13)));
        one.push(t.elapsed());
    }
    println!(
        "one service's change points on first request: median {}",
        ms(median(one))
    );
    let t = Instant::now();
    for i in 0..SERVICES {
        std::hint::black_box(e.service_change_points(&format!("service-{i:03}")));
    }
    println!("every service's change points (once): {}", ms(t.elapsed()));
    let (o, s) = cut(&org, &services, WEEKS);
    let mut inc_all = Vec::new();
    let mut e2 = Engine::new(settings());
    let (o0, s0) = cut(&org, &services, WEEKS - 1);
    e2.update(o0, s0);
    for i in 0..SERVICES {
        e2.service_change_points(&format!("service-{i:03}"));
    }
    let t = Instant::now();
    e2.update(o, s);
    inc_all.push(t.elapsed());
    println!(
        "incremental with every service's change points kept current: {}",
        ms(inc_all[0])
    );
}

/// Ten products of twenty services each: every product's own view, full and one week on.
fn products(services: &BTreeMap<String, Vec<WeekRow>>) {
    const PRODUCTS: usize = 10;
    let per = SERVICES / PRODUCTS;
    let inputs: Vec<Input> = (0..PRODUCTS)
        .map(|p| {
            let mine: BTreeMap<String, Vec<WeekRow>> = services
                .iter()
                .skip(p * per)
                .take(per)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (organisation(&mine), mine)
        })
        .collect();
    let mut full = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for (org, svc) in &inputs {
            let (o, s) = cut(org, svc, WEEKS);
            let mut e = Engine::new(settings());
            e.update(o, s);
            std::hint::black_box(e.snapshot());
        }
        full.push(t.elapsed());
    }
    let mut engines: Vec<Engine> = inputs
        .iter()
        .map(|(org, svc)| {
            let mut e = Engine::new(settings());
            let (o, s) = cut(org, svc, WEEKS - 30);
            e.update(o, s);
            e
        })
        .collect();
    let mut inc = Vec::new();
    for n in WEEKS - 29..=WEEKS {
        let t = Instant::now();
        for ((org, svc), e) in inputs.iter().zip(engines.iter_mut()) {
            let (o, s) = cut(org, svc, n);
            e.update(o, s);
        }
        inc.push(t.elapsed());
    }
    println!(
        "products ({PRODUCTS} x {per} services): all views full, median {} (goal < 500 ms); all one week on, median {} (goal < 20 ms)",
        ms(median(full)),
        ms(median(inc))
    );
}
