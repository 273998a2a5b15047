//! Teams' pooled DORA figures over 200 services × 5 years (issue #16): 40 teams of five
//! services, every team's weekly figures (week, rolling 4 and 13 weeks) for all 261 weeks, and
//! the teams' 13-week roll-up the API and the dashboard show (`query::teams::teams_view`).
//!
//! The delivery model is built first (synthetic single-service repositories, direct pushes
//! shipped by about three deployments a week each, one in eight failing); timed is the work a
//! request does on the analysed model.
//!
//! Run with `cargo bench --bench teams`.

use std::time::{Duration, Instant};

use barometer::analysis::dora::{
    analyse, weekly_scopes, DoraInput, DoraSettings, Scope, ServicePaths, ServiceSpec,
};
use barometer::model::{Commit, DeploySource, DeployState, Deployment, Team, Teams};
use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SERVICES: usize = 200;
const TEAMS: usize = 40;
const WEEKS: i64 = 261;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2021, 1, 4, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let (mut deployments, mut commits, mut services) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..SERVICES {
        let (repo, name) = (format!("o/svc-{s:03}"), format!("svc-{s:03}"));
        services.push(ServiceSpec {
            name: name.clone(),
            repo: repo.clone(),
            paths: ServicePaths::new(Vec::new()).expect("no globs"),
        });
        let mut parent: Option<String> = None;
        let mut id = (s as u64) * 1_000_000;
        for w in 0..WEEKS {
            for _ in 0..rng.random_range(1..6) {
                let at = start() + Span::weeks(w) + Span::minutes(rng.random_range(0..7 * 24 * 60));
                let sha = format!("{s:03}-{id}");
                commits.push(Commit {
                    repo: repo.clone(),
                    sha: sha.clone(),
                    parents: parent.iter().cloned().collect(),
                    authored_at: at - Span::hours(rng.random_range(1..72)),
                    committed_at: at - Span::hours(1),
                    pulls: None,
                    files: None,
                });
                parent = Some(sha.clone());
                id += 1;
                deployments.push(Deployment {
                    repo: repo.clone(),
                    service: name.clone(),
                    environment: "production".into(),
                    id,
                    source: DeploySource::DeploymentsApi,
                    sha,
                    git_ref: "main".into(),
                    created_at: at,
                    state: if rng.random_bool(0.125) {
                        DeployState::Failure
                    } else {
                        DeployState::Success
                    },
                    finished_at: Some(at + Span::minutes(10)),
                });
            }
        }
    }
    let t = Instant::now();
    let model = analyse(
        DoraInput {
            deployments: &deployments,
            changes: &[],
            commits: &commits,
            incidents: &[],
        },
        &services,
        &DoraSettings::default(),
    );
    println!(
        "{SERVICES} services x {WEEKS} weeks: {} deployments, analysed in {} (not timed below)",
        model.deployments.len(),
        ms(t.elapsed())
    );
    let per = SERVICES / TEAMS;
    let teams = Teams::new(
        (0..TEAMS)
            .map(|i| Team {
                name: format!("team-{i:02}"),
                services: services[i * per..(i + 1) * per]
                    .iter()
                    .map(|s| s.name.clone())
                    .collect(),
                github_teams: Vec::new(),
                codeowners: Vec::new(),
                derived: Vec::new(),
            })
            .collect(),
    );
    let scopes: Vec<Scope> = teams
        .iter()
        .map(|t| Scope::Team {
            name: t.name.clone(),
            services: t.services.clone(),
        })
        .collect();
    let week0 = start().timestamp_millis();
    let weeks: Vec<i64> = (0..WEEKS).map(|i| week0 + i * 7 * 86_400_000).collect();
    let bands = DoraSettings::default().bands;

    let mut full = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        std::hint::black_box(weekly_scopes(&model, &scopes, &weeks, &bands));
        full.push(t.elapsed());
    }
    let mut last = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        std::hint::black_box(weekly_scopes(
            &model,
            &scopes,
            &weeks[weeks.len() - 1..],
            &bands,
        ));
        last.push(t.elapsed());
    }
    println!(
        "{TEAMS} teams x {per} services, pooled: every week (261), median {} (goal < 500 ms); the last week alone (a new week), median {} (goal < 20 ms)",
        ms(median(full)),
        ms(median(last))
    );
}
