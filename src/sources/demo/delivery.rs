//! The demo repositories: main-line commits, merged pull requests, deployments and the incidents
//! that failed deployments cause, one repo-week per atomic batch.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

use super::{
    manifest_cursor, poisson, strain, utc, ChunkManifest, RepoSpec, Summary, SOURCE, WEEKS,
};
use crate::model::{Change, Commit, DeploySource, DeployState, Deployment, Incident};
use crate::store::{Store, StoreError, WriteBatch};

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

struct RepoState {
    next_number: u64,
    next_deploy_id: u64,
    head: String,
    last_deploy: DateTime<Utc>,
    /// PRs merged since the last deployment.
    pending_fix: Option<(u64, String, String)>,
    release: (u32, u32),
}

pub(super) fn github_repo(
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
