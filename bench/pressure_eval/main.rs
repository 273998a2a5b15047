//! The pressure index's evaluation (issue #22): synthetic organisations with a planted truth,
//! run through the daemon's own analysis, scored per profile for the daemon's detector and two
//! reference detectors in the same run.
//!
//! Run with `cargo bench --bench pressure_eval` (release), or add flags after `--`:
//!
//! - `--seeds N`: organisations per profile and per twin set (default 40);
//! - `--calib-from S` / `--fresh-from S`: first seed of the calibration and fresh sets
//!   (defaults 0 and 10 000); the report is on the fresh set;
//! - `--calibrate`: also sweep the daemon's alarm threshold over the calibration twins and print
//!   the false-alarm rate of each (the chosen value goes into `PressureSettings`'s defaults by
//!   hand; nothing is fitted when the daemon runs);
//! - `--target F`: the false-alarm rate the calibration aims at (default 0.025);
//! - `--only PROFILE-PREFIX`, `--verbose`, `--trace`, `--h`, `--k` (growth threshold),
//!   `--agree`, `--agree-clear`, `--agree-z`, `--agree-weak-z`, `--growth-supports 0|1`,
//!   `--recent`, `--gap`, `--z-cap`:
//!   debugging and exploring (`--trace` prints the daemon's weeks around each planted shift of
//!   the fresh organisations, with every component's z); with `PRESSURE_EVAL_TRACE=1` each of
//!   the daemon's shifts is printed with the evidence of the weeks before it;
//! - `PRESSURE_EVAL_OUTAGE_AFTERMATH=1`: the twins' outage also fails deployments and lengthens
//!   recovery for 1–3 weeks, as the demo's did (not part of the table; see
//!   `BENCHMARKS.md`); `PRESSURE_EVAL_NO_WEEKLY=1`: the rows without the weekly delivery
//!   figures, so the detector reads the 4-week windows alone (the former detector's inputs);
//!   `PRESSURE_EVAL_NO_LATENCY=1`: the latency SLO folded into the worst SLO's burn rate, as
//!   before the detector read it apart.
//!
//! Scoring. A shift at K is *hit* when the right regime is reached in a week within ±2 weeks of
//! K (and was not already the regime before that window); its delay is that week − K. A *false
//! alarm* is any regime change on a noise-only twin, or on a shifted organisation one outside
//! every window. The revenue-only slowdown has no ±2 weeks (revenue is monthly): it must never be
//! called resilience, and the slowdown must be *named* — a move to balanced, or a watch, whose
//! leading components are growth components — within K−2 … K+13; a move to balanced in that
//! window is not a false alarm.

mod detectors;
mod org;

use barometer::analysis::dora::bands;
use barometer::analysis::pressure::{PressureSettings, Regime};

use detectors::{Detector, Outcome};
use org::{generate, Org, Profile};

struct Args {
    seeds: u64,
    calib_from: u64,
    fresh_from: u64,
    calibrate: bool,
    target: f64,
    only: Option<String>,
    verbose: bool,
    /// Print the daemon's weeks around each planted shift of the fresh organisations.
    trace: bool,
    /// Overrides of the daemon's settings, for exploring (`--k`, `--agree`, `--gap`).
    k: Option<f64>,
    agree: Option<usize>,
    gap: Option<usize>,
    recent: Option<usize>,
    h: Option<f64>,
    agree_z: Option<f64>,
    z_cap: Option<f64>,
    agree_clear: Option<usize>,
    agree_weak_z: Option<f64>,
    growth_supports: Option<bool>,
}

fn args() -> Args {
    let mut a = Args {
        seeds: 40,
        calib_from: 0,
        fresh_from: 10_000,
        calibrate: false,
        target: 0.025,
        only: None,
        verbose: false,
        trace: false,
        k: None,
        agree: None,
        gap: None,
        recent: None,
        h: None,
        agree_z: None,
        z_cap: None,
        agree_clear: None,
        agree_weak_z: None,
        growth_supports: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let num = |it: &mut dyn Iterator<Item = String>| -> f64 {
            it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("{k} needs a number");
                std::process::exit(2)
            })
        };
        match k.as_str() {
            "--seeds" => a.seeds = num(&mut it) as u64,
            "--calib-from" => a.calib_from = num(&mut it) as u64,
            "--fresh-from" => a.fresh_from = num(&mut it) as u64,
            "--target" => a.target = num(&mut it),
            "--calibrate" => a.calibrate = true,
            "--k" => a.k = Some(num(&mut it)),
            "--agree" => a.agree = Some(num(&mut it) as usize),
            "--gap" => a.gap = Some(num(&mut it) as usize),
            "--recent" => a.recent = Some(num(&mut it) as usize),
            "--h" => a.h = Some(num(&mut it)),
            "--agree-z" => a.agree_z = Some(num(&mut it)),
            "--z-cap" => a.z_cap = Some(num(&mut it)),
            "--agree-clear" => a.agree_clear = Some(num(&mut it) as usize),
            "--agree-weak-z" => a.agree_weak_z = Some(num(&mut it)),
            "--growth-supports" => a.growth_supports = Some(num(&mut it) != 0.0),
            "--verbose" => a.verbose = true,
            "--trace" => a.trace = true,
            "--only" => a.only = it.next(),
            // cargo bench passes --bench.
            _ => {}
        }
    }
    a
}

/// The organisations of one seed set: each profile and its noise-only twin.
fn orgs(from: u64, n: u64, only: Option<&str>) -> Vec<Org> {
    let bands = bands::table(2023).expect("the 2023 DORA bands ship with the crate");
    let mut out = Vec::new();
    for p in Profile::ALL {
        if only.is_some_and(|o| !p.name().starts_with(o)) {
            continue;
        }
        for seed in from..from + n {
            out.push(generate(p, seed, false, &bands));
            out.push(generate(p, seed, true, &bands));
        }
    }
    out
}

#[derive(Default, Clone)]
struct Tally {
    orgs: usize,
    right: usize,
    /// Hits per shift index (K, or K1 and K2).
    hits: [usize; 2],
    delays: [Vec<i64>; 2],
    false_alarm_orgs: usize,
    resilience_called: usize,
    named: usize,
}

/// Per detector, per (profile, twin) the tally.
type Results = Vec<(String, Vec<(Profile, bool, Tally)>)>;

fn median(v: &[i64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    })
}

/// Scores one detector's outcome on one organisation.
fn score(org: &Org, out: &Outcome, t: &mut Tally, verbose: bool, who: &str) {
    t.orgs += 1;
    let regimes = &out.regimes;
    let changes: Vec<(usize, Regime, Regime)> = (1..regimes.len())
        .filter_map(|i| match (regimes[i - 1], regimes[i]) {
            (Some(a), Some(b)) if a != b => Some((i, a, b)),
            _ => None,
        })
        .collect();
    let slowdown = org.profile == Profile::Slowdown;
    let windows: Vec<(usize, usize)> = org
        .ks
        .iter()
        .map(|&k| (k.saturating_sub(2), if slowdown { k + 13 } else { k + 2 }))
        .collect();
    let mut ok = true;
    for (j, &k) in org.ks.iter().enumerate() {
        if slowdown {
            break;
        }
        let target = match (org.profile, j) {
            (Profile::Recovery, 1) => Regime::Growth,
            _ => Regime::Resilience,
        };
        let (lo, hi) = windows[j];
        let before = regimes.get(lo.saturating_sub(1)).copied().flatten();
        let first = (lo..regimes.len()).find(|&i| regimes[i] == Some(target));
        match first {
            Some(i) if i <= hi && before != Some(target) => {
                t.hits[j] += 1;
                t.delays[j].push(i as i64 - k as i64);
            }
            _ => ok = false,
        }
    }
    let false_alarms = changes
        .iter()
        .filter(|(i, _, to)| {
            !windows.iter().any(|&(lo, hi)| *i >= lo && *i <= hi)
                || (slowdown && *to == Regime::Resilience)
        })
        .count();
    if false_alarms > 0 {
        t.false_alarm_orgs += 1;
        ok = false;
    }
    if slowdown && !org.twin {
        let called = regimes.contains(&Some(Regime::Resilience));
        t.resilience_called += usize::from(called);
        let (lo, hi) = windows[0];
        let named = out.named.iter().any(|&i| i >= lo && i <= hi);
        t.named += usize::from(named);
        ok &= !called && named;
    }
    t.right += usize::from(ok);
    if verbose && !ok {
        eprintln!(
            "{who:<16} {:<36} twin={} ks={:?} changes={:?}",
            org.profile.name(),
            org.twin,
            org.ks,
            changes
        );
    }
}

fn pct(k: usize, n: usize) -> String {
    if n == 0 {
        return "–".into();
    }
    format!("{k}/{n} ({:.0} %)", 100.0 * k as f64 / n as f64)
}

fn delay(v: &[i64]) -> String {
    median(v).map_or("–".into(), |d| format!("{d:+.1}"))
}

fn run(orgs: &[Org], detectors: &[Detector], verbose: bool) -> Results {
    detectors
        .iter()
        .map(|d| {
            let mut rows: Vec<(Profile, bool, Tally)> = Vec::new();
            for o in orgs {
                if verbose {
                    eprintln!("{} twin={} ks={:?}", o.profile.name(), o.twin, o.ks);
                }
                let out = d.run(&o.rows);
                let i = match rows.iter().position(|r| r.0 == o.profile && r.1 == o.twin) {
                    Some(i) => i,
                    None => {
                        rows.push((o.profile, o.twin, Tally::default()));
                        rows.len() - 1
                    }
                };
                score(o, &out, &mut rows[i].2, verbose, d.name());
            }
            (d.name().to_owned(), rows)
        })
        .collect()
}

fn print_table(title: &str, results: &Results) {
    println!("\n### {title}\n");
    println!("| profile | detector | organisations right | hits (K / K1) | hits K2 | median delay (weeks) | false alarms (orgs) | slowdown: resilience called / named |");
    println!("|---|---|---|---|---|---|---|---|");
    let profiles: Vec<(Profile, bool)> = results
        .first()
        .map(|r| r.1.iter().map(|x| (x.0, x.1)).collect())
        .unwrap_or_default();
    for (p, twin) in profiles {
        for (name, rows) in results {
            let Some((_, _, t)) = rows.iter().find(|r| r.0 == p && r.1 == twin) else {
                continue;
            };
            let label = if twin {
                format!("noise-only twin of: {}", p.name())
            } else {
                p.name().to_owned()
            };
            let shifted = !twin && p != Profile::Slowdown;
            let k2 = !twin && p == Profile::Recovery;
            println!(
                "| {label} | {name} | {} | {} | {} | {} | {} | {} |",
                pct(t.right, t.orgs),
                if shifted {
                    pct(t.hits[0], t.orgs)
                } else {
                    "–".into()
                },
                if k2 {
                    pct(t.hits[1], t.orgs)
                } else {
                    "–".into()
                },
                if k2 {
                    format!("{} / {}", delay(&t.delays[0]), delay(&t.delays[1]))
                } else if shifted {
                    delay(&t.delays[0])
                } else {
                    "–".into()
                },
                pct(t.false_alarm_orgs, t.orgs),
                if p == Profile::Slowdown && !twin {
                    format!(
                        "{} / {}",
                        pct(t.resilience_called, t.orgs),
                        pct(t.named, t.orgs)
                    )
                } else {
                    "–".into()
                },
            );
        }
    }
    // Noise-only, all twins together.
    for (name, rows) in results {
        let (mut n, mut fa) = (0, 0);
        for (_, twin, t) in rows {
            if *twin {
                n += t.orgs;
                fa += t.false_alarm_orgs;
            }
        }
        println!(
            "| **all noise-only twins** | {name} | {} | – | – | – | {} | – |",
            pct(n - fa, n),
            pct(fa, n)
        );
    }
}

/// The share of noise-only twins with a false regime change.
fn false_alarm_rate(results: &Results) -> f64 {
    let (mut n, mut fa) = (0, 0);
    for (_, rows) in results {
        for (_, twin, t) in rows {
            if *twin {
                n += t.orgs;
                fa += t.false_alarm_orgs;
            }
        }
    }
    fa as f64 / n.max(1) as f64
}

/// The daemon's weeks from 3 before to 6 after each planted shift: regime, both statistics,
/// the components that moved and what a watch waits for.
fn trace(o: &Org, s: &PressureSettings) {
    let r = barometer::analysis::pressure::pressure_unbacked(&o.rows, s);
    // The same run with every component's mean z listed (agreement at z ≥ 0): the moves under
    // the agreement level too. Its regimes differ; only its `moved` is read.
    let all = barometer::analysis::pressure::pressure_unbacked(
        &o.rows,
        &PressureSettings {
            agree_z: 1e-9,
            ..s.clone()
        },
    );
    eprintln!("{} ks={:?}", o.profile.name(), o.ks);
    for &k in &o.ks {
        for i in k.saturating_sub(3)..(k + 7).min(r.weeks.len()) {
            let w = &r.weeks[i];
            let moved: Vec<String> = all.weeks[i]
                .moved
                .iter()
                .map(|p| format!("{:.4}{:+.1}", p.component.as_str(), p.z))
                .collect();
            let row = &o.rows[i];
            eprintln!(
                "  {:+3} {:<10} up {:4.1} dn {:4.1} budget {:.2} burn {:.2} cfr {:.2} rec {:5.1}h inc {} | {} | {}",
                i as i64 - k as i64,
                w.regime.map_or("-", |r| r.as_str()),
                w.cusum_up,
                w.cusum_down,
                row.budget_consumed_4w.unwrap_or(f64::NAN),
                row.burn_rate.unwrap_or(f64::NAN),
                row.cfr_4w.unwrap_or(f64::NAN),
                row.recovery_4w_s.unwrap_or(f64::NAN) / 3600.0,
                row.incidents.unwrap_or(f64::NAN),
                moved.join(" "),
                w.watch.as_ref().and_then(|x| x.waiting_for.clone()).unwrap_or_default(),
            );
        }
    }
}

fn main() {
    let a = args();
    let started = std::time::Instant::now();
    let calib = orgs(a.calib_from, a.seeds, a.only.as_deref());
    let fresh = orgs(a.fresh_from, a.seeds, a.only.as_deref());
    eprintln!(
        "generated {} + {} organisations in {:.1?}",
        calib.len(),
        fresh.len(),
        started.elapsed()
    );
    let mut defaults = PressureSettings::with_bands(bands::table(2023).expect("2023 bands"));
    if let Some(k) = a.k {
        defaults.growth_alarm_h = k;
    }
    if let Some(x) = a.agree {
        defaults.agree = x;
    }
    if let Some(x) = a.gap {
        defaults.baseline_gap = x;
    }
    if let Some(x) = a.recent {
        defaults.recent_weeks = x;
    }
    if let Some(x) = a.agree_z {
        defaults.agree_z = x;
    }
    if let Some(x) = a.agree_clear {
        defaults.agree_clear = x;
    }
    if let Some(x) = a.growth_supports {
        defaults.growth_supports = x;
    }
    if let Some(x) = a.agree_weak_z {
        defaults.agree_weak_z = x;
    }
    if let Some(x) = a.z_cap {
        defaults.z_cap = x;
    }
    if let Some(x) = a.h {
        defaults.alarm_h = x;
    }
    let twins: Vec<Org> = calib.into_iter().filter(|o| o.twin).collect();

    // The reference CUSUM on incident counts is the evaluation's own: its threshold is
    // calibrated here, on the calibration twins, to the same target.
    let grid: Vec<f64> = (4..=60).map(|i| f64::from(i) * 0.1).collect();
    let ref_grid: Vec<f64> = (4..=60).map(|i| f64::from(i) * 0.5).collect();
    let mut h_ref = *ref_grid.last().unwrap_or(&10.0);
    for &h in &ref_grid {
        let r = run(&twins, &[Detector::IncidentCusum { h }], false);
        if false_alarm_rate(&r) <= a.target {
            h_ref = h;
            break;
        }
    }
    println!("reference CUSUM on incidents: h = {h_ref} (calibrated on {} twins, target false-alarm rate {:.1} %)", twins.len(), 100.0 * a.target);

    if a.calibrate {
        // Each side's threshold on its own, the other switched off, to half the target each.
        println!("\n### Calibration of the daemon's thresholds (calibration twins)\n");
        println!("| threshold | resilience side (alarm_h): false-alarm rate | growth side (growth_alarm_h): false-alarm rate |");
        println!("|---|---|---|");
        let (mut chosen_r, mut chosen_g) = (None, None);
        for &h in &grid {
            let mut r = defaults.clone();
            r.alarm_h = h;
            r.growth_alarm_h = f64::INFINITY;
            let mut g = defaults.clone();
            g.alarm_h = f64::INFINITY;
            g.growth_alarm_h = h;
            let fr = false_alarm_rate(&run(&twins, &[Detector::Daemon(Box::new(r))], false));
            let fg = false_alarm_rate(&run(&twins, &[Detector::Daemon(Box::new(g))], false));
            println!("| {h:.2} | {:.1} % | {:.1} % |", 100.0 * fr, 100.0 * fg);
            if fr <= a.target / 2.0 && chosen_r.is_none() {
                chosen_r = Some(h);
            }
            if fg <= a.target / 2.0 && chosen_g.is_none() {
                chosen_g = Some(h);
            }
        }
        println!(
            "\nsmallest thresholds with a false-alarm rate ≤ {:.2} % each: alarm_h {:?}, growth_alarm_h {:?} (defaults in PressureSettings: {}, {})",
            50.0 * a.target,
            chosen_r,
            chosen_g,
            defaults.alarm_h,
            defaults.growth_alarm_h
        );
        if let (Some(r), Some(g)) = (chosen_r, chosen_g) {
            println!("(the fresh-seed table below uses these calibrated values)");
            defaults.alarm_h = r;
            defaults.growth_alarm_h = g;
        }
    }

    if a.trace {
        for o in fresh.iter().filter(|o| !o.twin) {
            trace(o, &defaults);
        }
    }
    let detectors = [
        Detector::Daemon(Box::new(defaults.clone())),
        Detector::BudgetRule,
        Detector::IncidentCusum { h: h_ref },
    ];
    let results = run(
        &fresh,
        &detectors[..if a.verbose { 1 } else { 3 }],
        a.verbose,
    );
    print_table(
        &format!(
            "Fresh seeds {}..{} ({} organisations per profile and per twin set)",
            a.fresh_from,
            a.fresh_from + a.seeds,
            a.seeds
        ),
        &results,
    );
    eprintln!("done in {:.1?}", started.elapsed());
}
