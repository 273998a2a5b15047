//! The detectors compared: the daemon's own, and two references.

use barometer::analysis::pressure::{self, PressureSettings, Regime, WeekSignals};

/// A detector under evaluation.
pub enum Detector {
    /// The daemon's index with these settings (`pressure_unbacked`: the regimes are the same as
    /// `pressure`'s; only the BOCPD backing of each shift is left out).
    Daemon(Box<PressureSettings>),
    /// "An exhausted error budget means resilience": resilience while the 4-week budget is
    /// spent, growth otherwise.
    BudgetRule,
    /// A two-sided CUSUM (Page 1954) on weekly incident counts alone, standardised against the
    /// counts since the last change (mean, standard deviation at least the Poisson √mean),
    /// k = 0.5.
    IncidentCusum { h: f64 },
}

/// What a detector said about one organisation.
pub struct Outcome {
    /// The regime of each week (None while warming up).
    pub regimes: Vec<Option<Regime>>,
    /// Weeks where a slowdown in growth was named (a move to balanced or a watch, led by growth
    /// components).
    pub named: Vec<usize>,
}

impl Detector {
    pub fn name(&self) -> &'static str {
        match self {
            Detector::Daemon(_) => "barometer",
            Detector::BudgetRule => "budget exhausted",
            Detector::IncidentCusum { .. } => "CUSUM incidents",
        }
    }

    pub fn run(&self, rows: &[WeekSignals]) -> Outcome {
        match self {
            Detector::Daemon(s) => {
                let r = pressure::pressure_unbacked(rows, s);
                let index = |ms: i64| rows.iter().position(|w| w.week_ms == ms);
                let mut named: Vec<usize> = r
                    .shifts
                    .iter()
                    .filter(|sh| sh.from == Regime::Growth && sh.to == Regime::Balanced)
                    .filter(|sh| sh.evidence.first().is_some_and(|m| m.component.is_growth()))
                    .filter_map(|sh| index(sh.week_ms))
                    .collect();
                for (i, w) in r.weeks.iter().enumerate() {
                    if let Some(watch) = &w.watch {
                        if watch.towards == Regime::Balanced
                            && watch
                                .components
                                .first()
                                .is_some_and(|c| c.component.is_growth())
                        {
                            named.push(i);
                        }
                    }
                }
                if std::env::var_os("PRESSURE_EVAL_STATS").is_some() {
                    let v: Vec<f64> = r.weeks.iter().filter_map(|w| w.signal).collect();
                    let n = v.len().max(1) as f64;
                    let m = v.iter().sum::<f64>() / n;
                    let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt();
                    eprintln!("  signal mean {m:+.2} sd {sd:.2}");
                    let mut line = String::new();
                    for c in barometer::analysis::pressure::Component::ALL {
                        let n = r
                            .weeks
                            .iter()
                            .filter(|w| {
                                w.status == barometer::analysis::pressure::PressureStatus::Scored
                            })
                            .count()
                            .max(1) as f64;
                        let up = r
                            .weeks
                            .iter()
                            .filter(|w| w.moved.iter().any(|p| p.component == c && p.z >= 1.0))
                            .count() as f64;
                        let dn = r
                            .weeks
                            .iter()
                            .filter(|w| w.moved.iter().any(|p| p.component == c && p.z <= -1.0))
                            .count() as f64;
                        line += &format!(
                            " {}:{:.0}/{:.0}",
                            &c.as_str()[..3],
                            100.0 * up / n,
                            100.0 * dn / n
                        );
                    }
                    eprintln!(" {line}");
                }
                if std::env::var_os("PRESSURE_EVAL_TRACE").is_some() {
                    for sh in &r.shifts {
                        let i = index(sh.week_ms).unwrap_or(0);
                        let around: Vec<String> = r.weeks[i.saturating_sub(5)..=i]
                            .iter()
                            .map(|w| {
                                let m: Vec<String> = w
                                    .moved
                                    .iter()
                                    .map(|p| format!("{}{:+.1}", &p.component.as_str()[..3], p.z))
                                    .collect();
                                format!(
                                    "[{:+.2} up{:.1} {}]",
                                    w.signal.unwrap_or(f64::NAN),
                                    w.cusum_up.max(w.cusum_down),
                                    m.join(" ")
                                )
                            })
                            .collect();
                        eprintln!(
                            "  shift@{i} {}→{} ({}): {}",
                            sh.from.as_str(),
                            sh.to.as_str(),
                            sh.trigger,
                            around.join(" ")
                        );
                    }
                }
                Outcome {
                    regimes: r.weeks.iter().map(|w| w.regime).collect(),
                    named,
                }
            }
            Detector::BudgetRule => Outcome {
                regimes: rows
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        (i >= 12).then(|| {
                            if w.budget_consumed_4w.is_some_and(|b| b >= 1.0) {
                                Regime::Resilience
                            } else {
                                Regime::Growth
                            }
                        })
                    })
                    .collect(),
                named: Vec::new(),
            },
            Detector::IncidentCusum { h } => {
                let mut regimes = Vec::with_capacity(rows.len());
                let mut regime = Regime::Growth;
                let mut since = 0usize;
                let (mut up, mut down) = (0.0f64, 0.0f64);
                for i in 0..rows.len() {
                    let end = i.saturating_sub(4);
                    let base: Vec<f64> = rows[since..end.max(since)]
                        .iter()
                        .filter_map(|w| w.incidents)
                        .collect();
                    if let (Some(x), true) = (rows[i].incidents, base.len() >= 20) {
                        // Page's CUSUM standardises by the in-control mean and standard
                        // deviation. A median-centred count is biased (a skewed count's median
                        // sits below its mean), a drift of about k per week that the CUSUM
                        // piles up into false alarms; the sample variance keeps the
                        // overdispersion, at least the Poisson variance.
                        let (m, var) = mean_var(&base);
                        let sd = var.max(m).max(0.25).sqrt();
                        // Winsorised (Lucas & Crosier 1982, "Robust CUSUM"): one burst week
                        // of a heavy-tailed count would otherwise cross any useful h alone.
                        let z = ((x - m) / sd).clamp(-3.0, 3.0);
                        up = (up + z - 0.5).max(0.0);
                        down = (down - z - 0.5).max(0.0);
                        let next = if up > *h && regime != Regime::Resilience {
                            Some(Regime::Resilience)
                        } else if down > *h && regime == Regime::Resilience {
                            Some(Regime::Growth)
                        } else {
                            None
                        };
                        if up > *h || down > *h {
                            up = 0.0;
                            down = 0.0;
                        }
                        if let Some(r) = next {
                            regime = r;
                            since = i.saturating_sub(1);
                        }
                    }
                    regimes.push((i >= 12).then_some(regime));
                }
                Outcome {
                    regimes,
                    named: Vec::new(),
                }
            }
        }
    }
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, var)
}

#[allow(dead_code)]
fn median_mad(v: &[f64]) -> (f64, f64) {
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let m = med(&mut v.to_vec());
    let mad = med(&mut v.iter().map(|x| (x - m).abs()).collect()) * 1.4826;
    (m, mad)
}
