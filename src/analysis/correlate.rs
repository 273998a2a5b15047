//! Lagged correlations between a business and an engineering signal, done so that two unrelated
//! trending series do not look related.
//!
//! 1. Both series are differenced first (Δxₜ = xₜ − xₜ₋₁): levels of trending series correlate
//!    spuriously (Granger & Newbold 1974, "Spurious regressions in econometrics").
//! 2. Spearman's rank correlation at each lag k in a range: ρ(Δxₜ, Δyₜ₊ₖ), so a positive k means
//!    x leads y by k periods.
//! 3. The p-value accounts for the search over lags: the statistic is max over lags of |ρ|, and
//!    its null distribution comes from permuting Δx (exchangeable once differenced) and redoing
//!    the whole search; p = (1 + #{permuted ≥ observed}) / (1 + B) (Phipson & Smyth 2010).
//! 4. The effective sample size of the best lag uses Bartlett's approximation for two
//!    autocorrelated series: n_eff = n (1 − r₁ˣ r₁ʸ) / (1 + r₁ˣ r₁ʸ), r₁ the lag-1
//!    autocorrelations of the differenced series.
//!
//! Findings are worded as association ("associated with, at lag k"), never as cause.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// What the search found for one pair of signals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Correlation {
    /// Business signal.
    pub x: String,
    /// Engineering signal.
    pub y: String,
    /// Periods ("month" or "week").
    pub unit: &'static str,
    /// Pairs of differenced values at the best lag (0 when not computed).
    pub n: usize,
    /// Whether there were enough points to say anything.
    pub enough_data: bool,
    /// The lag with the largest |ρ| (x leads y by this many periods).
    pub lag: Option<i32>,
    /// Spearman's ρ at that lag.
    pub rho: Option<f64>,
    /// Effective sample size at that lag.
    pub n_eff: Option<f64>,
    /// Permutation p-value of the maximum |ρ| over all lags searched.
    pub p_value: Option<f64>,
    /// In words.
    pub summary: String,
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    // Ties get their mean rank below, so the order among equal values does not matter.
    idx.sort_unstable_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        // Ties share the mean of their ranks.
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    if a.len() < 3 {
        return None;
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// Spearman's ρ of the pairs present.
pub fn spearman(pairs: &[(f64, f64)]) -> Option<f64> {
    let (a, b): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
    pearson(&ranks(&a), &ranks(&b))
}

/// One lag of the permutation search: where the pairs are, and the centred ranks of Δy there.
struct LagPlan {
    /// Positions t of Δx whose pair (Δxₜ, Δyₜ₊ₖ) is present.
    at: Vec<usize>,
    /// Ranks of those Δy, minus their mean.
    y: Vec<f64>,
    /// Σ y².
    syy: f64,
}

impl LagPlan {
    fn new(dx: &[Option<f64>], dy: &[Option<f64>], k: i32, min_n: usize) -> Option<Self> {
        let mut at = Vec::new();
        let mut ys = Vec::new();
        for (t, x) in dx.iter().enumerate() {
            let u = usize::try_from(t as i64 + i64::from(k)).ok();
            if let (Some(_), Some(Some(y))) = (x, u.and_then(|u| dy.get(u))) {
                at.push(t);
                ys.push(*y);
            }
        }
        if at.len() < min_n.max(3) {
            return None;
        }
        let r = ranks(&ys);
        let m = r.iter().sum::<f64>() / r.len() as f64;
        let y: Vec<f64> = r.iter().map(|v| v - m).collect();
        let syy = y.iter().map(|v| v * v).sum();
        Some(Self { at, y, syy })
    }

    /// Spearman's ρ of these x values against the plan's Δy: Pearson's r of the ranks.
    fn rho(&self, xs: &[f64]) -> Option<f64> {
        let r = ranks(xs);
        let m = r.iter().sum::<f64>() / r.len() as f64;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (a, b) in r.iter().zip(&self.y) {
            sxy += (a - m) * b;
            sxx += (a - m) * (a - m);
        }
        (sxx > 0.0 && self.syy > 0.0).then(|| sxy / (sxx * self.syy).sqrt())
    }
}

fn diff(v: &[Option<f64>]) -> Vec<Option<f64>> {
    v.windows(2)
        .map(|w| match (w[0], w[1]) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        })
        .collect()
}

/// (Δxₜ, Δyₜ₊ₖ) pairs where both are present.
fn lagged(dx: &[Option<f64>], dy: &[Option<f64>], k: i32) -> Vec<(f64, f64)> {
    (0..dx.len())
        .filter_map(|t| {
            let u = t as i64 + i64::from(k);
            let y = *dy.get(usize::try_from(u).ok()?)?;
            Some((dx[t]?, y?))
        })
        .collect()
}

fn lag1(v: &[Option<f64>]) -> f64 {
    let pairs: Vec<(f64, f64)> = v.windows(2).filter_map(|w| Some((w[0]?, w[1]?))).collect();
    let (a, b): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
    pearson(&a, &b).unwrap_or(0.0)
}

/// The best lag and its ρ over `lags`, each lag needing `min_n` pairs.
fn best(
    dx: &[Option<f64>],
    dy: &[Option<f64>],
    lags: &[i32],
    min_n: usize,
) -> Option<(i32, f64, usize)> {
    lags.iter()
        .filter_map(|&k| {
            let p = lagged(dx, dy, k);
            (p.len() >= min_n).then(|| spearman(&p).map(|r| (k, r, p.len())))?
        })
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
}

/// Searches `lags` for an association between `x` and `y` (aligned series, one value per period,
/// `None` where missing); reports only with at least `min_points` differenced pairs.
#[allow(clippy::too_many_arguments)]
pub fn correlate(
    x_name: &str,
    x: &[Option<f64>],
    y_name: &str,
    y: &[Option<f64>],
    lags: &[i32],
    unit: &'static str,
    min_points: usize,
    permutations: usize,
    seed: u64,
) -> Correlation {
    let (dx, dy) = (diff(x), diff(y));
    let mut out = Correlation {
        x: x_name.to_owned(),
        y: y_name.to_owned(),
        unit,
        n: 0,
        enough_data: false,
        lag: None,
        rho: None,
        n_eff: None,
        p_value: None,
        summary: String::new(),
    };
    let Some((lag, rho, n)) = best(&dx, &dy, lags, min_points) else {
        let n = lags
            .iter()
            .map(|&k| lagged(&dx, &dy, k).len())
            .max()
            .unwrap_or(0);
        out.n = n;
        out.summary = format!("not enough data ({n}/{min_points} {unit}s of changes)");
        return out;
    };
    let observed = rho.abs();
    // The null: the same search after shuffling Δx (the positions of the missing values stay).
    // Since they stay, each lag pairs the same positions in every permutation: the positions and
    // the ranks of Δy there are worked out once, and each permutation only ranks Δx.
    let plans: Vec<LagPlan> = lags
        .iter()
        .filter_map(|&k| LagPlan::new(&dx, &dy, k, min_points))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let present: Vec<usize> = (0..dx.len()).filter(|&i| dx[i].is_some()).collect();
    let mut values: Vec<f64> = present.iter().filter_map(|&i| dx[i]).collect();
    let mut shuffled = vec![0.0; dx.len()];
    let mut exceed = 0usize;
    let mut xs = Vec::new();
    for _ in 0..permutations {
        values.shuffle(&mut rng);
        for (&i, &v) in present.iter().zip(&values) {
            shuffled[i] = v;
        }
        let beats = plans.iter().any(|plan| {
            xs.clear();
            xs.extend(plan.at.iter().map(|&t| shuffled[t]));
            plan.rho(&xs).is_some_and(|r| r.abs() >= observed)
        });
        exceed += usize::from(beats);
    }
    let p = (1 + exceed) as f64 / (1 + permutations) as f64;
    let (r1x, r1y) = (lag1(&dx), lag1(&dy));
    let n_eff = (n as f64 * (1.0 - r1x * r1y) / (1.0 + r1x * r1y)).clamp(2.0, n as f64);
    out.n = n;
    out.enough_data = true;
    out.lag = Some(lag);
    out.rho = Some(rho);
    out.n_eff = Some(n_eff);
    out.p_value = Some(p);
    let direction = if rho > 0.0 { "rises" } else { "falls" };
    out.summary = if p <= 0.05 {
        format!(
            "changes in {x_name} are associated with changes in {y_name} {lag} {unit}(s) later \
             (when one rises the other {direction}; Spearman ρ = {rho:.2}, n = {n}, effective n ≈ \
             {n_eff:.0}, p = {p:.3} over {} lags searched); an association, not a cause",
            lags.len()
        )
    } else {
        format!(
            "no association found between {x_name} and {y_name} (strongest at lag {lag}: ρ = \
             {rho:.2}, p = {p:.2} over {} lags searched)",
            lags.len()
        )
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Normal};

    fn walk(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
        let d = Normal::new(0.0, 1.0).expect("normal");
        let mut v = Vec::with_capacity(n);
        let mut x = 0.0;
        for _ in 0..n {
            x += d.sample(rng);
            v.push(x);
        }
        v
    }

    #[test]
    fn spearman_of_a_monotone_pair_is_one_and_ties_share_ranks() {
        let p: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, (i * i) as f64)).collect();
        assert!((spearman(&p).expect("rho") - 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[3.0, 1.0, 3.0]), vec![2.5, 1.0, 2.5]);
    }

    #[test]
    fn a_planted_lag_3_relation_is_found_at_lag_3() {
        let lags: Vec<i32> = (0..=6).collect();
        for seed in 0..10 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let x = walk(&mut rng, 60);
            let noise = walk(&mut rng, 60);
            // y follows x three months later, plus its own random walk.
            let y: Vec<Option<f64>> = (0..60)
                .map(|t| Some(if t >= 3 { x[t - 3] } else { 0.0 } + 0.5 * noise[t]))
                .collect();
            let x: Vec<Option<f64>> = x.into_iter().map(Some).collect();
            let c = correlate("mrr", &x, "incidents", &y, &lags, "month", 24, 199, seed);
            assert_eq!(c.lag, Some(3), "seed {seed}: {}", c.summary);
            assert!(c.p_value.expect("p") <= 0.05, "{}", c.summary);
            assert!(c.summary.contains("associated with") && c.summary.contains("not a cause"));
        }
    }

    #[test]
    fn independent_random_walks_are_significant_at_most_at_the_stated_level() {
        // Raw levels of two independent random walks correlate strongly most of the time; after
        // differencing and with the lag search accounted for, p ≤ 0.05 in about 5 % of runs.
        let lags: Vec<i32> = (0..=6).collect();
        let runs = 100;
        let mut significant = 0;
        let mut raw_strong = 0;
        for seed in 0..runs {
            let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
            let x = walk(&mut rng, 48);
            let y = walk(&mut rng, 48);
            let pairs: Vec<(f64, f64)> = x.iter().copied().zip(y.iter().copied()).collect();
            if spearman(&pairs).is_some_and(|r| r.abs() > 0.5) {
                raw_strong += 1;
            }
            let x: Vec<Option<f64>> = x.into_iter().map(Some).collect();
            let y: Vec<Option<f64>> = y.into_iter().map(Some).collect();
            let c = correlate("x", &x, "y", &y, &lags, "month", 24, 99, seed);
            if c.p_value.is_some_and(|p| p <= 0.05) {
                significant += 1;
            }
        }
        assert!(
            raw_strong > 20,
            "levels of random walks do look related: {raw_strong}/100"
        );
        assert!(
            significant <= 9,
            "{significant}/100 independent pairs called significant"
        );
    }

    #[test]
    fn too_few_points_says_so() {
        let x: Vec<Option<f64>> = (0..10).map(|i| Some(i as f64)).collect();
        let c = correlate("a", &x, "b", &x, &[0, 1], "month", 24, 10, 1);
        assert!(!c.enough_data && c.summary.starts_with("not enough data (9/24"));
    }
}
