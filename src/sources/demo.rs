//! The built-in demo organisation: a seeded, deterministic data set with a story.
//!
//! Two years of a SaaS company with four repositories, two services behind SLOs and ~300
//! customers. For the first ~60 weeks it grows: frequent, mostly healthy deployments, a quiet
//! error budget, rising ARR and NRR above 110 %. Then strain builds: change failures and incidents
//! rise, recoveries take longer, the error budget burns, and — two months behind engineering —
//! churn and contraction rise until NRR falls below 100 %.
//!
//! The generator produces exactly the records the real sources write (deployments with their final
//! status time, merged pull requests with their commits, the main-line commit graph, incident
//! issues, monthly revenue snapshots, hourly SLO event counts), so every feature that runs on real
//! data runs on this. Each chunk (a repo-week, a service-week, a revenue month) is one atomic batch
//! together with a `demo` cursor that records what the chunk holds, as real sources do.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal, Poisson};
use serde::{Deserialize, Serialize};

use tokio_util::sync::CancellationToken;

use crate::model::{
    series, Change, Commit, DeploySource, DeployState, Deployment, Incident, RevenueMonth,
    RevenueMonthRows, SeriesKey,
};
use crate::store::{Cursor, Store, StoreError, WriteBatch};

/// The source name under which demo cursors are stored.
pub const SOURCE: &str = "demo";
/// Weeks of history.
pub const WEEKS: i64 = 104;
/// The week (0-based from the start) around which strain begins.
pub const SHIFT_WEEK: i64 = 62;

/// A demo repository.
struct RepoSpec {
    repo: &'static str,
    service: &'static str,
    /// Deployments per week in the growth phase.
    deploys_per_week: f64,
    source: DeploySource,
    /// Whether the service has an availability SLO (and hourly samples).
    slo: bool,
}

const REPOS: &[RepoSpec] = &[
    RepoSpec {
        repo: "acme/storefront",
        service: "storefront",
        deploys_per_week: 11.0,
        source: DeploySource::DeploymentsApi,
        slo: true,
    },
    RepoSpec {
        repo: "acme/api",
        service: "api",
        deploys_per_week: 8.0,
        source: DeploySource::DeploymentsApi,
        slo: true,
    },
    RepoSpec {
        repo: "acme/billing",
        service: "billing",
        deploys_per_week: 3.0,
        source: DeploySource::WorkflowRun,
        slo: false,
    },
    RepoSpec {
        repo: "acme/mobile",
        service: "mobile",
        deploys_per_week: 1.0,
        source: DeploySource::Release,
        slo: false,
    },
];

/// The demo SLOs: (name, service).
pub const SLOS: &[(&str, &str)] = &[
    ("storefront-availability", "storefront"),
    ("api-availability", "api"),
];

/// Availability target of the demo SLOs (99.9 % over 28 days).
pub const SLO_TARGET: f64 = 0.999;

/// The demo SLOs as (name, service, target): what the read side adds to the configured SLOs
/// when the demo organisation is in the store.
pub fn slos() -> Vec<(&'static str, &'static str, f64)> {
    SLOS.iter().map(|(n, s)| (*n, *s, SLO_TARGET)).collect()
}

/// What a demo chunk holds; stored as the chunk's cursor position so that anyone can check that
/// a batch landed whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkManifest {
    /// Points written.
    pub points: u64,
    /// Deployments written.
    pub deployments: u64,
    /// Revenue rows written.
    pub revenue_rows: u64,
}

/// What `seed` wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// First day of the data (a Monday).
    pub start: NaiveDate,
    /// Day after the data (a Monday).
    pub end: NaiveDate,
    /// Deployments.
    pub deployments: u64,
    /// Merged pull requests.
    pub changes: u64,
    /// Incident issues.
    pub incidents: u64,
    /// Customers that ever paid.
    pub customers: u64,
    /// Revenue rows.
    pub revenue_rows: u64,
    /// Points.
    pub points: u64,
    /// Whether every chunk was written.
    pub complete: bool,
}

/// Monday 00:00 UTC of the ISO week that contains `day`.
pub fn week_start(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

fn utc(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// Strain on engineering in week `w`: 0 while growing, ramping to 1 over eight weeks around
/// [`SHIFT_WEEK`].
fn strain(w: f64) -> f64 {
    ((w - (SHIFT_WEEK as f64 - 4.0)) / 8.0).clamp(0.0, 1.0)
}

fn sha(rng: &mut ChaCha8Rng) -> String {
    (0..20)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

fn exp_hours(rng: &mut ChaCha8Rng, mean_hours: f64) -> Duration {
    let e = Exp::new(1.0 / mean_hours)
        .map(|d| d.sample(rng))
        .unwrap_or(mean_hours);
    Duration::seconds((e * 3600.0) as i64)
}

fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    Poisson::new(mean.max(1e-6))
        .map(|d| d.sample(rng) as u64)
        .unwrap_or(0)
}

/// A working-hours moment (Mon–Fri, 09:00–18:00 UTC) in the week starting `monday`.
fn work_time(rng: &mut ChaCha8Rng, monday: DateTime<Utc>) -> DateTime<Utc> {
    monday
        + Duration::days(rng.random_range(0..5))
        + Duration::minutes(rng.random_range(9 * 60..18 * 60))
}

const TOPICS: &[&str] = &[
    "checkout flow",
    "search ranking",
    "invoice export",
    "session cache",
    "rate limiter",
    "onboarding wizard",
    "webhook retries",
    "pricing page",
    "audit log",
    "SSO login",
    "CSV import",
    "notification digest",
];
const VERBS: &[&str] = &["Add", "Fix", "Refactor", "Speed up", "Harden", "Improve"];

/// Whether `serve --demo` should seed: the store is empty, or an earlier seeding was interrupted
/// (its first chunk is there, its completion marker is not).
pub fn needs_seeding(store: &Store) -> Result<bool, StoreError> {
    let first_chunk = format!("github/{}/0", REPOS[0].repo);
    Ok(store.cursor(SOURCE, COMPLETE)?.is_none()
        && (store.is_empty() || store.cursor(SOURCE, &first_chunk)?.is_some()))
}

/// Whether the store holds a completely seeded demo organisation.
pub fn is_seeded(store: &Store) -> Result<bool, StoreError> {
    Ok(store.cursor(SOURCE, COMPLETE)?.is_some())
}

/// Cursor name written after the last chunk.
pub const COMPLETE: &str = "complete";

/// Seeds the demo organisation into `store`, with weeks ending just before `end` (a Monday).
///
/// Deterministic in `(seed, end)`; seeding twice writes the same records (an idempotent upsert).
/// Stops between chunks when `cancel` fires; the summary then says `complete: false`.
pub fn seed(
    store: &Store,
    seed: u64,
    end: NaiveDate,
    cancel: &CancellationToken,
) -> Result<Summary, StoreError> {
    let end = week_start(end);
    let start = end - Duration::weeks(WEEKS);
    let mut summary = Summary {
        start,
        end,
        ..Summary::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut outages: Vec<(String, DateTime<Utc>, DateTime<Utc>, f64)> = Vec::new();
    let mut incident_weeks = vec![0u32; WEEKS as usize];

    for spec in REPOS {
        let repo_seed = rng.random::<u64>();
        if cancel.is_cancelled() {
            return Ok(summary);
        }
        github_repo(
            store,
            spec,
            start,
            &mut ChaCha8Rng::seed_from_u64(repo_seed),
            &mut summary,
            &mut outages,
            &mut incident_weeks,
        )?;
    }
    revenue(
        store,
        start,
        end,
        &incident_weeks,
        &mut ChaCha8Rng::seed_from_u64(rng.random()),
        &mut summary,
    )?;
    for spec in REPOS.iter().filter(|s| s.slo) {
        if cancel.is_cancelled() {
            return Ok(summary);
        }
        let mine: Vec<_> = outages
            .iter()
            .filter(|o| o.0 == spec.service)
            .map(|o| (o.1, o.2, o.3))
            .collect();
        reliability(
            store,
            spec,
            start,
            &mine,
            &mut ChaCha8Rng::seed_from_u64(rng.random()),
            &mut summary,
        )?;
    }
    let mut done = WriteBatch::new();
    done.set_cursor(
        SOURCE,
        COMPLETE,
        Cursor {
            position: serde_json::to_string(&(seed, end)).ok(),
            updated_at: Some(Utc::now()),
            ..Cursor::default()
        },
    );
    store.commit(done)?;
    summary.complete = true;
    Ok(summary)
}

struct RepoState {
    next_number: u64,
    next_deploy_id: u64,
    head: String,
    last_deploy: DateTime<Utc>,
    /// PRs merged since the last deployment.
    pending_fix: Option<(u64, String, String)>,
    release: (u32, u32),
}

fn github_repo(
    store: &Store,
    spec: &RepoSpec,
    start: NaiveDate,
    rng: &mut ChaCha8Rng,
    summary: &mut Summary,
    outages: &mut Vec<(String, DateTime<Utc>, DateTime<Utc>, f64)>,
    incident_weeks: &mut [u32],
) -> Result<(), StoreError> {
    let mut st = RepoState {
        next_number: 100,
        next_deploy_id: 1_000_000 + u64::from(rng.random::<u16>()) * 10,
        head: sha(rng),
        last_deploy: utc(start) - Duration::days(2),
        pending_fix: None,
        release: (1, 0),
    };
    let root = Commit {
        repo: spec.repo.into(),
        sha: st.head.clone(),
        parents: vec![],
        authored_at: st.last_deploy - Duration::days(30),
        committed_at: st.last_deploy - Duration::days(30),
        pulls: None,
        files: None,
    };
    let mut batch = WriteBatch::new();
    batch.upsert_event(&root);

    for w in 0..WEEKS {
        let monday = utc(start) + Duration::weeks(w);
        let s = strain(w as f64);
        // Strain slows delivery: fewer, larger deployments.
        let n = poisson(rng, spec.deploys_per_week * (1.0 - 0.45 * s)).max(u64::from(w % 3 == 0));
        let mut times: Vec<_> = (0..n).map(|_| work_time(rng, monday)).collect();
        times.sort();
        let mut manifest = ChunkManifest::default();
        for t in times {
            if t <= st.last_deploy + Duration::minutes(20) {
                continue;
            }
            deploy_one(
                spec,
                t,
                s,
                w,
                rng,
                &mut st,
                &mut batch,
                summary,
                outages,
                incident_weeks,
            );
            manifest.deployments += 1;
        }
        summary.deployments += manifest.deployments;
        batch.set_cursor(
            SOURCE,
            &format!("github/{}/{w}", spec.repo),
            manifest_cursor(&manifest),
        );
        store.commit(std::mem::take(&mut batch))?;
    }
    Ok(())
}

fn manifest_cursor(m: &ChunkManifest) -> Cursor {
    Cursor {
        position: serde_json::to_string(m).ok(),
        ..Cursor::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn deploy_one(
    spec: &RepoSpec,
    t: DateTime<Utc>,
    s: f64,
    w: i64,
    rng: &mut ChaCha8Rng,
    st: &mut RepoState,
    batch: &mut WriteBatch,
    summary: &mut Summary,
    outages: &mut Vec<(String, DateTime<Utc>, DateTime<Utc>, f64)>,
    incident_weeks: &mut [u32],
) {
    let window = t - st.last_deploy;
    let mut n_prs = 1 + poisson(rng, 0.9 + 1.2 * s);
    let mut merges: Vec<DateTime<Utc>> = (0..n_prs)
        .map(|_| {
            let back = rng.random_range(0.05..0.95) * window.num_seconds().min(5 * 86_400) as f64;
            t - Duration::seconds(back as i64)
        })
        .collect();
    merges.sort();
    let fix = st.pending_fix.take();
    if fix.is_some() {
        n_prs += 1;
        merges.push(t - Duration::minutes(rng.random_range(10..40)));
    }
    for (i, merged_at) in merges.iter().enumerate() {
        let number = st.next_number;
        st.next_number += 1;
        let is_fix = fix.is_some() && i as u64 == n_prs - 1;
        let (title, head_ref, labels) = match (&fix, is_fix) {
            (Some((n, title, branch)), true) if rng.random_bool(0.5) => (
                format!("Revert \"{title}\""),
                format!("revert-{n}-{branch}"),
                vec![],
            ),
            (Some(_), true) => (
                format!("Hotfix: {}", TOPICS[rng.random_range(0..TOPICS.len())]),
                format!("hotfix/{number}"),
                vec!["hotfix".to_owned()],
            ),
            _ => {
                let topic = TOPICS[rng.random_range(0..TOPICS.len())];
                let verb = VERBS[rng.random_range(0..VERBS.len())];
                (
                    format!("{verb} {topic}"),
                    format!("{}-{number}", topic.replace(' ', "-").to_lowercase()),
                    vec![],
                )
            }
        };
        let (review_h, coding_h) = if is_fix {
            (0.5, 1.0)
        } else {
            (5.0 + 20.0 * s, 18.0 + 30.0 * s)
        };
        let created_at = *merged_at - exp_hours(rng, review_h) - Duration::minutes(5);
        let first_commit_at = created_at - exp_hours(rng, coding_h) - Duration::minutes(10);
        let n_commits = rng.random_range(1..=4);
        let mut commits = Vec::new();
        let mut parent = st.head.clone();
        for c in 0..n_commits {
            let at = first_commit_at
                + Duration::seconds(((created_at - first_commit_at).num_seconds() * c) / n_commits);
            let commit = Commit {
                repo: spec.repo.into(),
                sha: sha(rng),
                parents: vec![parent.clone()],
                authored_at: at,
                committed_at: at,
                pulls: None,
                files: None,
            };
            parent = commit.sha.clone();
            commits.push(commit.sha.clone());
            batch.upsert_event(&commit);
        }
        let merge = Commit {
            repo: spec.repo.into(),
            sha: sha(rng),
            parents: vec![st.head.clone(), parent],
            authored_at: *merged_at,
            committed_at: *merged_at,
            pulls: None,
            files: None,
        };
        st.head = merge.sha.clone();
        batch.upsert_event(&merge);
        batch.upsert_event(&Change {
            repo: spec.repo.into(),
            number,
            title,
            head_ref,
            base_ref: "main".into(),
            labels,
            files: vec![format!("src/{}.rs", spec.service)],
            created_at,
            merged_at: *merged_at,
            merge_commit_sha: st.head.clone(),
            commits,
            first_commit_at,
            body: String::new(),
        });
        summary.changes += 1;
    }

    // Whether this deployment goes wrong, and how it shows.
    let cfr = 0.07 + 0.23 * s;
    let failed = rng.random_bool(cfr);
    let kind = rng.random_range(0..100);
    let state = if failed && kind < 35 {
        DeployState::Failure
    } else {
        DeployState::Success
    };
    let finished_at = t + Duration::minutes(rng.random_range(3..25));
    let id = st.next_deploy_id;
    st.next_deploy_id += 1;
    let git_ref = match spec.source {
        DeploySource::Release => {
            st.release.1 += 1;
            if st.release.1 > 9 {
                st.release = (st.release.0 + 1, 0);
            }
            format!("v{}.{}.0", st.release.0, st.release.1)
        }
        _ => "main".into(),
    };
    batch.upsert_event(&Deployment {
        repo: spec.repo.into(),
        service: spec.service.into(),
        environment: "production".into(),
        id,
        source: spec.source,
        sha: st.head.clone(),
        git_ref,
        created_at: t,
        state,
        finished_at: Some(finished_at),
    });
    if state == DeployState::Success {
        st.last_deploy = t;
    }
    if failed {
        let last = summary.changes;
        st.pending_fix = Some((
            st.next_number - 1,
            format!("change #{last}"),
            format!("branch-{last}"),
        ));
        if kind >= 35 {
            // An incident: opened a little after the deployment, resolved after a recovery time
            // that lengthens under strain.
            let opened = finished_at + exp_hours(rng, 3.0) + Duration::minutes(5);
            let closed = opened + exp_hours(rng, 2.0 + 10.0 * s) + Duration::minutes(15);
            let number = st.next_number;
            st.next_number += 1;
            let names_sha = rng.random_bool(0.5);
            let body = if names_sha {
                format!(
                    "Errors rose right after deploying {}. Rolling forward with a fix.",
                    &st.head[..10]
                )
            } else {
                "Elevated error rate reported by customers.".to_owned()
            };
            batch.upsert_event(&Incident {
                repo: spec.repo.into(),
                number,
                title: format!("{}: elevated errors", spec.service),
                body,
                labels: vec!["incident".into(), format!("service:{}", spec.service)],
                created_at: opened,
                closed_at: Some(closed),
            });
            summary.incidents += 1;
            incident_weeks[w as usize] += 1;
            if spec.slo {
                // Mild while growing (the budget holds), severe under strain.
                let severity = rng.random_range(0.002..0.02) * (1.0 + 5.0 * s);
                outages.push((
                    spec.service.into(),
                    opened - Duration::minutes(30),
                    closed,
                    severity,
                ));
            }
        }
    }
}

fn month_index(d: NaiveDate) -> i32 {
    d.year() * 12 + d.month0() as i32
}

fn month_label(idx: i32) -> String {
    format!("{:04}-{:02}", idx.div_euclid(12), idx.rem_euclid(12) + 1)
}

struct Customer {
    id: String,
    mrr: f64,
    plan: &'static str,
    segment: &'static str,
}

fn new_customer(rng: &mut ChaCha8Rng, n: usize) -> Customer {
    let r: f64 = rng.random();
    let (plan, segment, lo, hi) = if r < 0.6 {
        ("starter", "smb", 150.0, 800.0)
    } else if r < 0.9 {
        ("growth", "mid-market", 1_000.0, 4_000.0)
    } else {
        ("enterprise", "enterprise", 6_000.0, 18_000.0)
    };
    Customer {
        id: format!("cus_{n:04}"),
        mrr: (rng.random_range(lo..hi) / 10.0_f64).round() * 10.0,
        plan,
        segment,
    }
}

/// Monthly revenue snapshots. Churn and contraction follow engineering strain with a two-month
/// lag, which is the story the correlation view should find.
fn revenue(
    store: &Store,
    start: NaiveDate,
    end: NaiveDate,
    incident_weeks: &[u32],
    rng: &mut ChaCha8Rng,
    summary: &mut Summary,
) -> Result<(), StoreError> {
    let first = month_index(start);
    let last = month_index(end - Duration::days(1)) - 1;
    let mut customers: Vec<Customer> = (0..110).map(|n| new_customer(rng, n)).collect();
    let mut seen = customers.len();
    for m in first..=last {
        let mid = NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 15)
            .unwrap_or(start);
        let week = (mid - start).num_days() as f64 / 7.0;
        let s = strain(week - 8.0);
        // A few recent incidents add to churn risk beyond the trend.
        let recent: u32 = incident_weeks
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let d = week - 8.0 - *i as f64;
                (0.0..8.0).contains(&d)
            })
            .map(|(_, n)| *n)
            .sum();
        let churn_p = 0.004 + 0.014 * s + 0.0004 * f64::from(recent);
        let expand_p = 0.09 - 0.055 * s;
        let contract_p = 0.015 + 0.035 * s;
        for c in customers.iter_mut().filter(|c| c.mrr > 0.0) {
            let r: f64 = rng.random();
            if r < churn_p {
                c.mrr = 0.0;
            } else if r < churn_p + expand_p {
                c.mrr = (c.mrr * rng.random_range(1.1..1.45) / 10.0).round() * 10.0;
            } else if r < churn_p + expand_p + contract_p {
                c.mrr = (c.mrr * rng.random_range(0.65..0.9) / 10.0).round() * 10.0;
            }
        }
        let new_logos = poisson(rng, 13.0 - 9.0 * s);
        for _ in 0..new_logos {
            customers.push(new_customer(rng, seen));
            seen += 1;
        }
        let mut batch = WriteBatch::new();
        let mut manifest = ChunkManifest::default();
        let month = month_label(m);
        let mut rows = RevenueMonthRows::new(SOURCE, SOURCE, &month, "USD");
        for c in customers.iter().filter(|c| c.mrr > 0.0) {
            rows.push(&c.id, c.mrr, Some(c.plan), Some(c.segment));
        }
        manifest.revenue_rows = rows.len() as u64;
        batch.upsert_event(&rows);
        summary.revenue_rows += manifest.revenue_rows;
        batch.upsert_event(&RevenueMonth {
            source: SOURCE.into(),
            month: month.clone(),
            import_id: SOURCE.into(),
            layout: "snapshots".into(),
        });
        batch.set_cursor(
            SOURCE,
            &format!("revenue/{month}"),
            manifest_cursor(&manifest),
        );
        store.commit(batch)?;
    }
    summary.customers = seen as u64;
    Ok(())
}

/// Hourly SLO event counts and p95 latency for one service.
fn reliability(
    store: &Store,
    spec: &RepoSpec,
    start: NaiveDate,
    outages: &[(DateTime<Utc>, DateTime<Utc>, f64)],
    rng: &mut ChaCha8Rng,
    summary: &mut Summary,
) -> Result<(), StoreError> {
    let slo = format!("{}-availability", spec.service);
    let labels = [("slo", slo.as_str()), ("service", spec.service)];
    let total_key = key(series::SLO_TOTAL, &labels)?;
    let good_key = key(series::SLO_GOOD, &labels)?;
    let latency_key = key(
        series::QUERY,
        &[
            ("query", "latency_p95"),
            ("service", spec.service),
            ("unit", "seconds"),
        ],
    )?;
    let noise = Normal::new(0.0, 0.08).map_err(|e| StoreError::Invalid {
        what: "demo noise".into(),
        reason: e.to_string(),
    })?;
    let base = if spec.service == "api" {
        42_000.0
    } else {
        18_000.0
    };
    for w in 0..WEEKS {
        let mut batch = WriteBatch::new();
        let mut manifest = ChunkManifest::default();
        let s = strain(w as f64);
        for h in 0..(7 * 24) {
            let t = utc(start) + Duration::weeks(w) + Duration::hours(h);
            let hour = f64::from(t.hour());
            let diurnal = 0.55 + 0.45 * ((hour - 15.0) / 24.0 * std::f64::consts::TAU).cos();
            let weekday = if t.weekday().num_days_from_monday() >= 5 {
                0.6
            } else {
                1.0
            };
            let growth = 1.0 + 0.9 * (w as f64 / WEEKS as f64);
            let total = (base * diurnal * weekday * growth * (1.0 + noise.sample(rng)))
                .max(100.0)
                .round();
            let mut ratio = (0.0002 + 0.0006 * s) * (1.0 + 3.0 * noise.sample(rng).abs());
            let mut latency = 0.18 + 0.12 * s + 0.02 * noise.sample(rng).abs();
            for (from, to, severity) in outages {
                if t + Duration::hours(1) > *from && t < *to {
                    ratio += severity;
                    latency *= 2.5;
                }
            }
            let errors = (total * ratio.min(1.0)).round();
            let ms = t.timestamp_millis();
            batch.put_point(&total_key, ms, total);
            batch.put_point(&good_key, ms, total - errors);
            batch.put_point(&latency_key, ms, latency);
            manifest.points += 3;
        }
        summary.points += manifest.points;
        batch.set_cursor(
            SOURCE,
            &format!("reliability/{}/{w}", spec.service),
            manifest_cursor(&manifest),
        );
        store.commit(batch)?;
    }
    Ok(())
}

fn key(name: &str, labels: &[(&str, &str)]) -> Result<SeriesKey, StoreError> {
    SeriesKey::new(name, labels.iter().copied()).map_err(|e| StoreError::Invalid {
        what: format!("series {name}"),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn week_start_is_monday() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        assert_eq!(
            week_start(d),
            NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
        );
        assert_eq!(month_label(month_index(d)), "2026-11");
        assert_eq!(month_label(2026 * 12), "2026-01");
    }
}
