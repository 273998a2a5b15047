//! Change points of weekly signals, with the `changepoint` crate's Bayesian online change-point
//! detection (BOCPD; Adams & MacKay 2007, "Bayesian Online Changepoint Detection").
//!
//! Why BOCPD: it gives, for every week, a posterior over "how long since the last change", so a
//! change comes with a probability rather than a yes/no from a threshold, and it needs no window
//! length. The prior fits the series: counts (deployments, incidents) are Poisson with a Gamma
//! prior on the rate; everything else is standardised (median / MAD of its first weeks, see
//! [`Detector`]) and modelled as Gaussian with a Normal–Gamma prior. The hazard is a constant 1/26: a change every half-year a priori.
//! Change points are the maximum a posteriori segmentation (`map_changepoints`). Each is then
//! checked with an event study: the level in the 8 weeks before against the 8 weeks after, with a
//! bootstrap interval of the difference.

use changepoint::rv::dist::{Gamma, Gaussian, NormalGamma, Poisson};
use changepoint::utils::map_changepoints;
use changepoint::{Bocpd, BocpdLike};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

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

/// Values a continuous signal's scale is calibrated on.
const CALIBRATION: usize = 13;
/// A detector keeps its state every this many values, to resume from when history changes.
const CHECKPOINT_EVERY: usize = 13;

/// Centre and spread of the calibration values: median and MAD (× 1.4826, consistent with the
/// standard deviation for normal data; Rousseeuw & Croux 1993), else the standard deviation when
/// more than half the values are equal. `None` while the values do not vary at all.
fn scale_of(v: &[f64]) -> Option<(f64, f64)> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let med = s.get(s.len() / 2).copied()?;
    let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = dev.get(dev.len() / 2).copied().unwrap_or(0.0) * 1.4826;
    if mad > 1e-12 {
        return Some((med, mad));
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    (sd > 1e-12).then_some((med, sd))
}

/// The BOCPD state of one signal.
#[derive(Debug, Clone)]
enum Run {
    /// Poisson counts, Gamma prior on the rate.
    Counts(Bocpd<u32, Poisson, Gamma>),
    /// Standardised values, Normal–Gamma prior.
    Continuous(Bocpd<f64, Gaussian, NormalGamma>),
}

impl Run {
    fn new(kind: Kind) -> Self {
        match kind {
            // A weak prior on the rate: mean 1 a week, as much weight as one observation.
            Kind::Counts => Run::Counts(Bocpd::new(HAZARD_WEEKS, Gamma::new_unchecked(1.0, 1.0))),
            Kind::Continuous => Run::Continuous(Bocpd::new(
                HAZARD_WEEKS,
                NormalGamma::new_unchecked(0.0, 1.0, 1.0, 1.0),
            )),
        }
    }

    fn step(&mut self, v: f64, scale: Option<(f64, f64)>) -> Vec<f64> {
        match self {
            Run::Counts(b) => b.step(&(v.max(0.0).round() as u32)).to_vec(),
            Run::Continuous(b) => {
                let (c, s) = scale.unwrap_or((0.0, 1.0));
                b.step(&((v - c) / s)).to_vec()
            }
        }
    }
}

/// Online change-point detection of one weekly signal that resumes instead of starting over.
///
/// A continuous signal is standardised by the centre and spread of its first 13 values (the
/// calibration; later when those do not vary): a value's standardised form then never changes
/// as weeks are added, so adding a week is one BOCPD step, and the answer is exactly the one a
/// detector run over the whole series from scratch gives. When a week already seen changes (a
/// late deployment status, a re-imported month), the detector goes back to its last checkpoint
/// before that week and replays from there.
#[derive(Debug, Clone)]
pub struct Detector {
    signal: String,
    kind: Kind,
    /// (week, value) of the weeks fed so far, oldest first.
    points: Vec<(i64, f64)>,
    /// Centre and spread of a continuous signal, and how many values they were taken from.
    scale: Option<((f64, f64), usize)>,
    run: Run,
    /// Run-length distribution after each stepped value.
    r: Vec<Vec<f64>>,
    /// (values stepped, state after them).
    checkpoints: Vec<(usize, Run)>,
    /// Change points already reported, by position: one rests only on the values and run
    /// lengths up to 8 weeks after it, which adding weeks does not change.
    found: BTreeMap<usize, ChangePoint>,
}

impl Detector {
    /// A detector with no data yet.
    pub fn new(signal: &str, kind: Kind) -> Self {
        Self {
            signal: signal.to_owned(),
            kind,
            points: Vec::new(),
            scale: None,
            run: Run::new(kind),
            r: Vec::new(),
            checkpoints: Vec::new(),
            found: BTreeMap::new(),
        }
    }

    /// Brings the detector to `series` ((week, value) of the weeks present, in order). Returns
    /// how many values were stepped (0 when nothing changed).
    pub fn update(&mut self, series: &[(i64, f64)]) -> usize {
        let same = self
            .points
            .iter()
            .zip(series)
            .take_while(|(a, b)| a.0 == b.0 && a.1.to_bits() == b.1.to_bits())
            .count();
        if same == self.points.len() && same == series.len() {
            return 0;
        }
        if same < self.points.len() {
            // History changed from value `same` on: back to the last state before it.
            self.found.retain(|c, _| c + EVENT_WEEKS <= same);
            if self.scale.is_some_and(|(_, n)| n > same) {
                *self = Self::new(&self.signal, self.kind);
            } else {
                self.checkpoints.retain(|(k, _)| *k <= same);
                match self.checkpoints.last() {
                    Some((k, run)) => {
                        self.run = run.clone();
                        self.r.truncate(*k);
                    }
                    None => {
                        self.run = Run::new(self.kind);
                        self.r.clear();
                    }
                }
            }
        }
        self.points.clear();
        self.points.extend_from_slice(series);
        if self.kind == Kind::Continuous && self.scale.is_none() {
            // Calibrate on the first 13 values, or on more once they vary.
            if self.points.len() < CALIBRATION {
                return 0;
            }
            // The first prefix of at least 13 values that varies: the same whichever way the
            // values arrived.
            let values: Vec<f64> = self.points.iter().map(|p| p.1).collect();
            match (CALIBRATION..=values.len()).find_map(|k| Some((scale_of(&values[..k])?, k))) {
                Some(found) => self.scale = Some(found),
                None => return 0,
            }
        }
        let scale = self.scale.map(|(s, _)| s);
        let from = self.r.len();
        for i in from..self.points.len() {
            let step = self.run.step(self.points[i].1, scale);
            self.r.push(step);
            if (i + 1) % CHECKPOINT_EVERY == 0 {
                self.checkpoints.push((i + 1, self.run.clone()));
            }
        }
        self.points.len() - from
    }

    /// The change points of the series fed so far. Only changes with 8 weeks on each side are
    /// reported (an edge has no "after" to judge).
    pub fn change_points(&mut self) -> Vec<ChangePoint> {
        let n = self.points.len();
        if n < 2 * EVENT_WEEKS || self.r.len() != n {
            return Vec::new();
        }
        let found = map_changepoints(&self.r)
            .into_iter()
            .filter(|&c| c >= EVENT_WEEKS && c + EVENT_WEEKS <= n)
            .collect::<Vec<_>>();
        found
            .into_iter()
            .map(|c| {
                if let Some(cp) = self.found.get(&c) {
                    return cp.clone();
                }
                let cp = self.event_study(c);
                self.found.insert(c, cp.clone());
                cp
            })
            .collect()
    }

    /// The change at position `c`: levels 8 weeks before and after, the bootstrap interval of
    /// the difference (seeded by the position, so the answer does not depend on what else was
    /// found), and the probability of a change in those weeks as seen at their end.
    fn event_study(&self, c: usize) -> ChangePoint {
        let values: Vec<f64> = self.points[c - EVENT_WEEKS..c + EVENT_WEEKS]
            .iter()
            .map(|(_, v)| *v)
            .collect();
        let (before, after) = values.split_at(EVENT_WEEKS);
        let seen_at = c + EVENT_WEEKS - 1;
        let probability: f64 = self.r[seen_at].iter().take(EVENT_WEEKS).sum();
        let mut rng = ChaCha8Rng::seed_from_u64(7 ^ c as u64);
        ChangePoint {
            signal: self.signal.clone(),
            week_ms: self.points[c].0,
            before: mean(before),
            after: mean(after),
            interval: bootstrap(before, after, &mut rng),
            probability: probability.clamp(0.0, 1.0),
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
/// order. The same as feeding a [`Detector`] week by week.
pub fn change_points(signal: &str, series: &[(i64, f64)], kind: Kind) -> Vec<ChangePoint> {
    let mut d = Detector::new(signal, kind);
    d.update(series);
    d.change_points()
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

    #[test]
    fn feeding_week_by_week_or_rewriting_history_gives_the_from_scratch_answer() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = Normal::new(0.0, 0.03).expect("normal");
        let mut series: Vec<(i64, f64)> = (0..120)
            .map(|w| (w, if w < 70 { 0.1 } else { 0.3 } + n.sample(&mut rng)))
            .collect();
        let mut d = Detector::new("cfr", Kind::Continuous);
        for end in 1..=series.len() {
            let stepped = d.update(&series[..end]);
            assert!(stepped <= 1 || end == CALIBRATION, "{end}: {stepped}");
        }
        assert_eq!(d.update(&series), 0, "nothing new, nothing stepped");
        let scratch = change_points("cfr", &series, Kind::Continuous);
        assert!(
            scratch.iter().any(|c| (c.week_ms - 70).abs() <= 2),
            "{scratch:?}"
        );
        assert_eq!(d.change_points(), scratch);
        // A late correction to week 100 replays from the checkpoint at 91, not from the start.
        series[100].1 += 0.5;
        let stepped = d.update(&series);
        assert_eq!(stepped, 120 - 91);
        assert_eq!(
            d.change_points(),
            change_points("cfr", &series, Kind::Continuous)
        );
        // A correction inside the calibration weeks starts over.
        series[2].1 += 0.1;
        assert_eq!(d.update(&series), 120);
        assert_eq!(
            d.change_points(),
            change_points("cfr", &series, Kind::Continuous)
        );
    }
}
