//! Change points of weekly signals, with the `changepoint` crate's Bayesian online change-point
//! detection (BOCPD; Adams & MacKay 2007, "Bayesian Online Changepoint Detection").
//!
//! Why BOCPD: it gives, for every week, a posterior over "how long since the last change", so a
//! change comes with a probability rather than a yes/no from a threshold, and it needs no window
//! length. The prior fits the series: counts (deployments, incidents) are Poisson with a Gamma
//! prior on the rate; everything else is standardised (median / MAD) and modelled as Gaussian with
//! a Normal–Gamma prior. The hazard is a constant 1/26: a change every half-year a priori.
//! Change points are the maximum a posteriori segmentation (`map_changepoints`). Each is then
//! checked with an event study: the level in the 8 weeks before against the 8 weeks after, with a
//! bootstrap interval of the difference.

use changepoint::rv::dist::{Gamma, Gaussian, NormalGamma, Poisson};
use changepoint::utils::map_changepoints;
use changepoint::{Bocpd, BocpdLike};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Expected weeks between changes, a priori.
const HAZARD_WEEKS: f64 = 26.0;
/// Weeks compared on each side of a change point.
const EVENT_WEEKS: usize = 8;

/// What kind of values a signal holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Non-negative counts (deployments, incidents): Poisson–Gamma.
    Counts,
    /// Anything else: standardised, Normal–Gamma.
    Continuous,
}

/// One detected change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangePoint {
    /// The signal.
    pub signal: String,
    /// First week of the new level, ms.
    pub week_ms: i64,
    /// Mean of the 8 weeks before.
    pub before: f64,
    /// Mean of the 8 weeks from the change on.
    pub after: f64,
    /// 95 % bootstrap interval of after − before.
    pub interval: (f64, f64),
    /// Posterior probability that a change happened within the 8 weeks up to and including
    /// this one, as seen 8 weeks later (or at the end of the data).
    pub probability: f64,
}

fn standardise(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let med = s.get(s.len() / 2).copied().unwrap_or(0.0);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = dev.get(dev.len() / 2).copied().unwrap_or(0.0) * 1.4826;
    let sd = if mad > 1e-12 { mad } else { 1.0 };
    v.iter().map(|x| (x - med) / sd).collect()
}

/// Run-length distributions after each value.
fn run_lengths(values: &[f64], kind: Kind) -> Vec<Vec<f64>> {
    match kind {
        Kind::Counts => {
            // A weak prior on the rate: mean 1 a week, as much weight as one observation.
            let prior = Gamma::new_unchecked(1.0, 1.0);
            let mut cpd: Bocpd<u32, Poisson, Gamma> = Bocpd::new(HAZARD_WEEKS, prior);
            values
                .iter()
                .map(|v| cpd.step(&(v.max(0.0).round() as u32)).to_vec())
                .collect()
        }
        Kind::Continuous => {
            let prior = NormalGamma::new_unchecked(0.0, 1.0, 1.0, 1.0);
            let mut cpd: Bocpd<f64, Gaussian, NormalGamma> = Bocpd::new(HAZARD_WEEKS, prior);
            standardise(values)
                .iter()
                .map(|v| cpd.step(v).to_vec())
                .collect()
        }
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// 95 % percentile-bootstrap interval of mean(after) − mean(before) (Efron & Tibshirani 1993).
fn bootstrap(before: &[f64], after: &[f64], rng: &mut ChaCha8Rng) -> (f64, f64) {
    let mut diffs: Vec<f64> = (0..1000)
        .map(|_| {
            let pick = |v: &[f64], rng: &mut ChaCha8Rng| {
                (0..v.len())
                    .map(|_| v[rng.random_range(0..v.len())])
                    .sum::<f64>()
                    / v.len() as f64
            };
            pick(after, rng) - pick(before, rng)
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    (diffs[25], diffs[974])
}

/// The change points of one weekly signal: `series` holds (week, value) of the weeks present, in
/// order. Only changes with 8 weeks on each side are reported (an edge has no "after" to judge).
pub fn change_points(signal: &str, series: &[(i64, f64)], kind: Kind) -> Vec<ChangePoint> {
    if series.len() < 2 * EVENT_WEEKS {
        return Vec::new();
    }
    let values: Vec<f64> = series.iter().map(|(_, v)| *v).collect();
    let r = run_lengths(&values, kind);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    map_changepoints(&r)
        .into_iter()
        .filter(|&c| c >= EVENT_WEEKS && c + EVENT_WEEKS <= values.len())
        .map(|c| {
            let before = &values[c - EVENT_WEEKS..c];
            let after = &values[c..c + EVENT_WEEKS];
            let seen_at = (c + EVENT_WEEKS - 1).min(r.len() - 1);
            let horizon = seen_at - c;
            let probability: f64 = r[seen_at].iter().take(horizon + 1).sum();
            ChangePoint {
                signal: signal.to_owned(),
                week_ms: series[c].0,
                before: mean(before),
                after: mean(after),
                interval: bootstrap(before, after, &mut rng),
                probability: probability.clamp(0.0, 1.0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Normal, Poisson as PoissonDist};

    #[test]
    fn a_planted_step_in_counts_is_found_with_its_levels() {
        for seed in 0..10 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let series: Vec<(i64, f64)> = (0..80)
                .map(|w| {
                    let rate = if w < 50 { 1.0 } else { 5.0 };
                    let d = PoissonDist::new(rate).expect("poisson");
                    (w, d.sample(&mut rng))
                })
                .collect();
            let cps = change_points("incidents", &series, Kind::Counts);
            let found = cps.iter().find(|c| (c.week_ms - 50).abs() <= 2);
            let cp = found.unwrap_or_else(|| panic!("seed {seed}: {cps:?}"));
            assert!(cp.after > cp.before + 1.0, "seed {seed}: {cps:?}");
            assert!(cp.interval.0 > 0.0, "the interval excludes no change");
            assert!(cp.probability > 0.5, "{}", cp.probability);
        }
    }

    #[test]
    fn a_planted_step_in_a_continuous_signal_is_found_and_noise_rarely_is() {
        let mut flagged_noise = 0;
        for seed in 0..20 {
            let mut rng = ChaCha8Rng::seed_from_u64(100 + seed);
            let n = Normal::new(0.0, 0.02).expect("normal");
            let step: Vec<(i64, f64)> = (0..80)
                .map(|w| (w, if w < 40 { 0.08 } else { 0.20 } + n.sample(&mut rng)))
                .collect();
            let cps = change_points("cfr", &step, Kind::Continuous);
            assert!(
                cps.iter().any(|c| (c.week_ms - 40).abs() <= 2),
                "seed {seed}: {cps:?}"
            );
            let flat: Vec<(i64, f64)> = (0..80).map(|w| (w, 0.08 + n.sample(&mut rng))).collect();
            flagged_noise += usize::from(!change_points("cfr", &flat, Kind::Continuous).is_empty());
        }
        assert!(
            flagged_noise <= 2,
            "{flagged_noise}/20 flat series had a change point"
        );
    }
}
