//! Known-answer scenarios: every expected figure is worked out in the comments.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::model::DeploySource;

/// Monday 2026-01-05 00:00 UTC; scenario times are hours from here.
fn t(hours: f64) -> DateTime<Utc> {
    let t0 = Utc
        .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .single()
        .expect("t0");
    t0 + Duration::seconds((hours * 3600.0) as i64)
}

const H: f64 = 3600.0;

#[derive(Default)]
struct World {
    deployments: Vec<Deployment>,
    changes: Vec<Change>,
    commits: Vec<Commit>,
    incidents: Vec<Incident>,
}

impl World {
    fn commit(&mut self, repo: &str, sha: &str, parents: &[&str], at: f64) {
        self.commits.push(Commit {
            repo: repo.into(),
            sha: sha.into(),
            parents: parents.iter().map(|p| (*p).to_owned()).collect(),
            authored_at: t(at),
            committed_at: t(at),
            pulls: None,
            files: None,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn pr(
        &mut self,
        repo: &str,
        number: u64,
        title: &str,
        head_ref: &str,
        labels: &[&str],
        files: &[&str],
        commits: &[(&str, f64)],
        opened: f64,
        merged: f64,
        merge_sha: &str,
    ) {
        self.changes.push(Change {
            repo: repo.into(),
            number,
            title: title.into(),
            head_ref: head_ref.into(),
            base_ref: "main".into(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            files: files.iter().map(|f| (*f).to_owned()).collect(),
            created_at: t(opened),
            merged_at: t(merged),
            merge_commit_sha: merge_sha.into(),
            commits: commits.iter().map(|(s, _)| (*s).to_owned()).collect(),
            first_commit_at: t(commits.first().map(|c| c.1).unwrap_or(opened)),
            body: String::new(),
        });
    }

    fn deploy(
        &mut self,
        repo: &str,
        service: &str,
        id: u64,
        sha: &str,
        at: f64,
        state: DeployState,
    ) {
        self.deployments.push(Deployment {
            repo: repo.into(),
            service: service.into(),
            environment: "production".into(),
            id,
            source: DeploySource::DeploymentsApi,
            sha: sha.into(),
            git_ref: "main".into(),
            created_at: t(at) - Duration::minutes(5),
            state,
            finished_at: Some(t(at)),
        });
    }

    fn incident(
        &mut self,
        repo: &str,
        number: u64,
        body: &str,
        labels: &[&str],
        opened: f64,
        closed: Option<f64>,
    ) {
        self.incidents.push(Incident {
            repo: repo.into(),
            number,
            title: "Elevated errors".into(),
            body: body.into(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            created_at: t(opened),
            closed_at: closed.map(t),
        });
    }

    /// The model, checked to be the same when analysed repository by repository (`parts`).
    fn analyse(&self, services: &[ServiceSpec], settings: &DoraSettings) -> DoraModel {
        let input = DoraInput {
            deployments: &self.deployments,
            changes: &self.changes,
            commits: &self.commits,
            incidents: &self.incidents,
        };
        let model = analyse(input, services, settings);
        assert_eq!(
            analyse_partitioned(input, services, settings),
            model,
            "analysed part by part"
        );
        model
    }
}

fn service(name: &str, repo: &str, paths: &[&str]) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        repo: repo.into(),
        paths: ServicePaths::new(paths.iter().map(|p| (*p).to_owned()).collect())
            .expect("valid globs"),
    }
}

fn dep(m: &DoraModel, id: u64) -> &DeployFacts {
    m.deployments
        .iter()
        .find(|d| d.id == id)
        .expect("deployment")
}

fn prs(d: &DeployFacts) -> Vec<u64> {
    d.changes.iter().filter_map(|c| c.pr).collect()
}

const R: &str = "o/app";

/// One repository, one week of history (hours from Monday 00:00):
///
/// | deployment | at  | sha | state   | ships            | failure signals                |
/// |------------|-----|-----|---------|------------------|--------------------------------|
/// | D0 (1)     | -50 | r0  | success | r0 (direct)      | —  (previous week)             |
/// | D1 (2)     | 10  | m2  | success | #1 squash, #2 merge commit | incident #102 names "deployment 2" |
/// | D2 (3)     | 20  | c2' | failure | #3 rebase        | status failure                 |
/// | D3 (4)     | 23  | h4  | success | #3, #4 hotfix    | —                              |
/// | D4 (5)     | 33  | f5  | success | #5               | incident #100 (latest in 24 h), revert #6 |
/// | D5 (6)     | 38  | r6  | success | #6 revert        | —                              |
/// | D6 (7)     | 44  | g7  | success | #7               | rolled back by D7              |
/// | D7 (8)     | 46  | r6  | success | nothing (rollback to an ancestor) | —             |
fn scenario() -> World {
    let mut w = World::default();
    w.commit(R, "r0", &[], -100.0);
    w.deploy(R, "app", 1, "r0", -50.0, DeployState::Success);
    // #1, squash-merged: branch commits a1 (0 h) and a2 (2 h) become s1 on main.
    w.commit(R, "a1", &["r0"], 0.0);
    w.commit(R, "a2", &["a1"], 2.0);
    w.commit(R, "s1", &["r0"], 5.0);
    w.pr(
        R,
        1,
        "Feature one",
        "f1",
        &[],
        &["src/a.rs"],
        &[("a1", 0.0), ("a2", 2.0)],
        3.0,
        5.0,
        "s1",
    );
    // #2, merge commit: b1 (1 h), b2 (4 h) merged by m2 (8 h).
    w.commit(R, "b1", &["r0"], 1.0);
    w.commit(R, "b2", &["b1"], 4.0);
    w.commit(R, "m2", &["s1", "b2"], 8.0);
    w.pr(
        R,
        2,
        "Feature two",
        "f2",
        &[],
        &["src/b.rs"],
        &[("b1", 1.0), ("b2", 4.0)],
        6.0,
        8.0,
        "m2",
    );
    w.deploy(R, "app", 2, "m2", 10.0, DeployState::Success);
    // #3, rebase-merged: c1 (11 h), c2 (12 h) rewritten as c1x, c2x on main; GitHub associates
    // c1x with #3 (commits/{sha}/pulls), and c2x is the merge_commit_sha.
    w.commit(R, "c1", &["m2"], 11.0);
    w.commit(R, "c2", &["c1"], 12.0);
    w.commit(R, "c1x", &["m2"], 14.0);
    w.commit(R, "c2x", &["c1x"], 14.0);
    if let Some(c) = w.commits.iter_mut().find(|c| c.sha == "c1x") {
        c.pulls = Some(vec![3]);
    }
    w.pr(
        R,
        3,
        "Feature three",
        "f3",
        &[],
        &["src/c.rs"],
        &[("c1", 11.0), ("c2", 12.0)],
        12.5,
        14.0,
        "c2x",
    );
    w.deploy(R, "app", 3, "c2x", 20.0, DeployState::Failure);
    // #4, a hotfix (21 h), squash h4.
    w.commit(R, "h4", &["c2x"], 22.0);
    w.pr(
        R,
        4,
        "Fix checkout",
        "fix",
        &["hotfix"],
        &["src/c.rs"],
        &[("h1", 21.0)],
        21.5,
        22.0,
        "h4",
    );
    w.deploy(R, "app", 4, "h4", 23.0, DeployState::Success);
    // #5 (30 h), squash f5.
    w.commit(R, "f5", &["h4"], 32.0);
    w.pr(
        R,
        5,
        "Feature five",
        "f5",
        &[],
        &["src/e.rs"],
        &[("e1", 30.0)],
        31.0,
        32.0,
        "f5",
    );
    w.deploy(R, "app", 5, "f5", 33.0, DeployState::Success);
    // Incident #100 at 35 h names nothing: the latest deployment within 24 h is D4 (id 5),
    // not D3 too. Closed at 37 h.
    w.incident(R, 100, "Checkout errors", &["incident"], 35.0, Some(37.0));
    // #6 reverts #5 (36 h), squash r6.
    w.commit(R, "r6", &["f5"], 36.5);
    w.pr(
        R,
        6,
        "Revert \"Feature five\"",
        "revert-5-f5",
        &[],
        &["src/e.rs"],
        &[("rv", 36.0)],
        36.1,
        36.5,
        "r6",
    );
    w.deploy(R, "app", 6, "r6", 38.0, DeployState::Success);
    // #7 (40 h), squash g7, deployed at 44 h, rolled back at 46 h by redeploying r6.
    w.commit(R, "g7", &["r6"], 42.0);
    w.pr(
        R,
        7,
        "Feature seven",
        "f7",
        &[],
        &["src/g.rs"],
        &[("g1", 40.0)],
        41.0,
        42.0,
        "g7",
    );
    w.deploy(R, "app", 7, "g7", 44.0, DeployState::Success);
    w.deploy(R, "app", 8, "r6", 46.0, DeployState::Success);
    // Incident #102 at 47 h names deployment 2 (D1) explicitly: the reference wins over the
    // window. Still open.
    w.incident(
        R,
        102,
        "Started after deployment 2 went out.",
        &["incident"],
        47.0,
        None,
    );
    // Incident #101 at 76 h: the latest deployment (D7, 46 h) is 30 h before, outside 24 h.
    w.incident(R, 101, "Slow pages", &["incident"], 76.0, Some(80.0));
    w
}

#[test]
fn change_sets_are_exact_for_squash_merge_and_rebase() {
    let w = scenario();
    let m = w.analyse(&[service("app", R, &[])], &DoraSettings::default());
    // D0: first deployment, bounded lookback: r0 pushed directly, lead 50 h.
    let d0 = dep(&m, 1);
    assert_eq!(d0.change_set, ChangeSet::Lookback);
    assert_eq!(d0.changes.len(), 1);
    assert_eq!(d0.changes[0].pr, None);
    assert_eq!(d0.changes[0].lead_ms, 50 * 3_600_000);
    // D1 ships #1 (squash: s1; lead from a1 at 0 h = 10 h) and #2 (merge commit m2 plus b1, b2;
    // lead from b1 at 1 h = 9 h), never r0 again.
    let d1 = dep(&m, 2);
    assert_eq!(d1.change_set, ChangeSet::Exact);
    assert_eq!(prs(d1), vec![1, 2]);
    let lead = |d: &DeployFacts, pr: u64| {
        d.changes
            .iter()
            .find(|c| c.pr == Some(pr))
            .map(|c| c.lead_ms as f64 / 1000.0 / H)
    };
    assert_eq!(lead(d1, 1), Some(10.0));
    assert_eq!(lead(d1, 2), Some(9.0));
    // D2 (failed) tried #3, both rebased commits resolved to it.
    let d2 = dep(&m, 3);
    assert_eq!(prs(d2), vec![3]);
    assert_eq!(d2.changes[0].commits.len(), 2);
    // D3: the previous successful deployment is D1, so it ships #3 and #4: leads 23−11 = 12 h and
    // 23−21 = 2 h.
    let d3 = dep(&m, 4);
    assert_eq!(prs(d3), vec![3, 4]);
    assert_eq!(lead(d3, 3), Some(12.0));
    assert_eq!(lead(d3, 4), Some(2.0));
    // D7 redeploys r6, an ancestor of D6's g7: nothing shipped, a rollback of D6.
    let d7 = dep(&m, 8);
    assert_eq!(d7.change_set, ChangeSet::Empty);
    assert_eq!(d7.rollback_of, Some(7));
}

#[test]
fn failure_signals_and_incident_attribution() {
    let w = scenario();
    let m = w.analyse(&[service("app", R, &[])], &DoraSettings::default());
    let kinds = |id: u64| -> Vec<String> {
        dep(&m, id)
            .failures
            .iter()
            .map(|f| match f {
                FailureSignal::Status { .. } => "status".to_owned(),
                FailureSignal::Incident { number, .. } => format!("incident {number}"),
                FailureSignal::Revert { by, .. } => format!("revert {by}"),
                FailureSignal::RolledBack { by } => format!("rollback {by}"),
            })
            .collect()
    };
    assert_eq!(kinds(1), Vec::<String>::new());
    assert_eq!(kinds(2), vec!["incident 102"]);
    assert_eq!(kinds(3), vec!["status"]);
    // Incident #100 marks only the latest deployment in the window (D4), not D3 at 23 h.
    assert_eq!(kinds(4), Vec::<String>::new());
    assert_eq!(kinds(5), vec!["revert 6", "incident 100"]);
    assert_eq!(kinds(6), Vec::<String>::new());
    assert_eq!(kinds(7), vec!["rollback 8"]);
    assert_eq!(kinds(8), Vec::<String>::new());
    let inc = |n: u64| {
        m.incidents
            .iter()
            .find(|i| i.number == n)
            .expect("incident")
    };
    assert_eq!(inc(100).deployments, vec![5]);
    assert_eq!(inc(102).deployments, vec![2]);
    assert!(inc(102).how.contains("names deployment 2"));
    assert!(
        inc(101).deployments.is_empty(),
        "30 h after the last deployment"
    );
}

#[test]
fn weekly_figures_match_the_worked_answer() {
    let w = scenario();
    let settings = DoraSettings::default();
    let m = w.analyse(&[service("app", R, &[])], &settings);
    let week = t(0.0).timestamp_millis();
    let f = window(
        &m,
        Some("app"),
        week,
        week + crate::analysis::WEEK_MS,
        &settings.bands,
    );
    // Attempted: D1–D7 = 7; successful: 6 (D2 failed its status).
    assert_eq!(f.attempted, 7);
    assert_eq!(f.deployments, 6);
    // Deploy days: Monday (D1 10 h, D3 23 h) and Tuesday (D4–D7).
    assert_eq!(f.deploy_days, 2);
    // Failed: D1 (incident 102), D2 (status), D4 (incident, revert), D6 (rollback): 4 / 7.
    let cfr = f.change_failure_rate.expect("cfr");
    assert_eq!((cfr.k, cfr.n), (4, 7));
    assert!(cfr.lo < 4.0 / 7.0 && 4.0 / 7.0 < cfr.hi);
    // Lead times of successful deployments (h): D1 10, 9; D3 12, 2; D4 33−30 = 3; D5 38−36 = 2;
    // D6 44−40 = 4 → sorted 2 2 3 4 9 10 12: median 4 h; p90 at rank 5.4 → 10 + 0.4·2 = 10.8 h.
    let lt = f.lead_time.expect("lead time");
    assert_eq!(lt.n, 7);
    assert!((lt.p50 - 4.0 * H).abs() < 1e-6);
    assert!((lt.p90 - 10.8 * H).abs() < 1e-6);
    // Recovery (h): D1 → D3 (next healthy, incident still open) 13; D2 → D3 3; D4 → incident
    // #100 closed at 37 h (before D5 at 38 h) 4; D6 → D7 2 → sorted 2 3 4 13: median 3.5 h.
    let rt = f.recovery_time.expect("recovery");
    assert_eq!(rt.n, 4);
    assert!((rt.p50 - 3.5 * H).abs() < 1e-6);
    assert_eq!(
        dep(&m, 5).recovery.as_ref().map(|r| r.by.as_str()),
        Some("incident #100 closed")
    );
    // Rework: D5 (only a revert) and D7 (a rollback) of 6 successful. D3 ships #3 with the
    // hotfix #4, so it is planned work.
    let rw = f.rework_rate.expect("rework");
    assert_eq!((rw.k, rw.n), (2, 6));
    // Incidents opened this week: 100, 101, 102; two attributed.
    assert_eq!(f.incidents, 3);
    assert_eq!(f.coverage.incidents_attributed, Some(2.0 / 3.0));
    // Review of #1: opened 3 h, merged 5 h; coding 3 h. Medians over the 7 PR changes:
    // coding (opened − first commit): #1 3, #2 5, #3 1.5, #4 0.5, #5 1, #6 0.1, #7 1 → median 1 h.
    let coding = f.coding_time.expect("coding");
    assert!((coding.p50 - 1.0 * H).abs() < 1e-6);
    // Bands (2023): 6 deployments a week is high (< 7); lead 4 h elite; CFR 57 % low; recovery
    // 3.5 h high.
    assert_eq!(f.bands.get(&Metric::DeploymentFrequency), Some(&Band::High));
    assert_eq!(f.bands.get(&Metric::LeadTime), Some(&Band::Elite));
    assert_eq!(f.bands.get(&Metric::ChangeFailureRate), Some(&Band::Low));
    assert_eq!(f.bands.get(&Metric::RecoveryTime), Some(&Band::High));
}

#[test]
fn monorepo_services_keep_their_own_changes_and_incidents() {
    const M: &str = "o/mono";
    let mut w = World::default();
    w.commit(M, "root", &[], -10.0);
    w.deploy(M, "web", 1, "root", -5.0, DeployState::Success);
    w.deploy(M, "api", 2, "root", -5.0, DeployState::Success);
    w.commit(M, "w1", &["root"], 2.0);
    w.pr(
        M,
        10,
        "Web page",
        "w",
        &[],
        &["web/index.ts"],
        &[("wx", 1.0)],
        1.5,
        2.0,
        "w1",
    );
    w.commit(M, "a1", &["w1"], 4.0);
    w.pr(
        M,
        11,
        "Api route",
        "a",
        &[],
        &["api/route.rs"],
        &[("ax", 3.0)],
        3.5,
        4.0,
        "a1",
    );
    // Both services deploy a1; each ships only its own PR.
    w.deploy(M, "web", 3, "a1", 6.0, DeployState::Success);
    w.deploy(M, "api", 4, "a1", 5.0, DeployState::Success);
    // An api incident after both: only api's latest deployment is marked, though web's is later.
    w.incident(
        M,
        50,
        "Timeouts",
        &["incident", "service:api"],
        7.0,
        Some(8.0),
    );
    let services = [
        service("web", M, &["web/**"]),
        service("api", M, &["api/**"]),
    ];
    let m = w.analyse(&services, &DoraSettings::default());
    assert_eq!(prs(dep(&m, 3)), vec![10]);
    assert_eq!(prs(dep(&m, 4)), vec![11]);
    assert!(dep(&m, 3).failures.is_empty());
    assert_eq!(dep(&m, 4).failures.len(), 1);
    let inc = &m.incidents[0];
    assert_eq!(inc.service.as_deref(), Some("api"));
    assert_eq!(inc.deployments, vec![4]);
}

/// The first deployment takes the commits of a time window before it, never before the sync's
/// horizon (issue #14, item 5). A chain c0 … c9, committed at 0 … 9 h; D1 deploys c9 at 12 h.
///
/// | settings                        | window start           | commits  | leads (h)      |
/// |---------------------------------|------------------------|----------|----------------|
/// | lookback 5 h                    | 12 − 5 = 7 h           | c7 c8 c9 | 5 4 3          |
/// | lookback 10 h, since 4 h        | max(12 − 10, 4) = 4 h  | c4 … c9  | 8 7 6 5 4 3    |
/// | default (30 days)               | 12 h − 30 d            | c0 … c9  | 12 … 3         |
///
/// A count of commits (the old rule) would reach back past any horizon in a quiet repository.
#[test]
fn first_deployment_takes_a_bounded_time_window() {
    let mut w = World::default();
    let mut parent: Option<String> = None;
    for i in 0..10 {
        let sha = format!("c{i}");
        let parents: Vec<&str> = parent.iter().map(String::as_str).collect();
        w.commit(R, &sha, &parents, f64::from(i));
        parent = Some(sha);
    }
    w.deploy(R, "app", 1, "c9", 12.0, DeployState::Success);
    let leads = |settings: &DoraSettings| -> Vec<i64> {
        let m = w.analyse(&[service("app", R, &[])], settings);
        let d = dep(&m, 1);
        assert_eq!(d.change_set, ChangeSet::Lookback);
        d.changes.iter().map(|c| c.lead_ms / 3_600_000).collect()
    };
    let hours = |h: i64| h * 3_600_000;
    let short = DoraSettings {
        first_lookback_ms: hours(5),
        ..DoraSettings::default()
    };
    assert_eq!(leads(&short), vec![5, 4, 3]);
    let horizon = DoraSettings {
        first_lookback_ms: hours(10),
        since_ms: Some(t(4.0).timestamp_millis()),
        ..DoraSettings::default()
    };
    assert_eq!(leads(&horizon), vec![8, 7, 6, 5, 4, 3]);
    assert_eq!(
        leads(&DoraSettings::default()),
        vec![12, 11, 10, 9, 8, 7, 6, 5, 4, 3]
    );
}

#[test]
fn unknown_sha_is_unresolved_and_counted_in_coverage() {
    let mut w = World::default();
    w.commit(R, "x", &[], 0.0);
    w.deploy(R, "app", 1, "x", 1.0, DeployState::Success);
    w.deploy(R, "app", 2, "not-in-graph", 2.0, DeployState::Success);
    let settings = DoraSettings::default();
    let m = w.analyse(&[service("app", R, &[])], &settings);
    assert_eq!(dep(&m, 2).change_set, ChangeSet::Unresolved);
    let week = t(0.0).timestamp_millis();
    let f = window(
        &m,
        None,
        week,
        week + crate::analysis::WEEK_MS,
        &settings.bands,
    );
    assert_eq!(f.coverage.change_sets_resolved, Some(0.5));
}

#[test]
fn wilson_interval_matches_a_worked_value() {
    // k = 4, n = 7, z = 1.96: p = 0.5714; centre = (0.5714 + 1.9208/7) / (1 + 3.8416/7)
    // = 0.8458 / 1.5488 = 0.5461; half = 1.96·sqrt(0.5714·0.4286/7 + 3.8416/196) / 1.5488
    // = 1.96·sqrt(0.034985 + 0.019600)/1.5488 = 1.96·0.23364/1.5488 = 0.29567.
    let r = Ratio::new(4, 7).expect("ratio");
    assert!((r.lo - 0.2504).abs() < 1e-3, "{}", r.lo);
    assert!((r.hi - 0.8418).abs() < 1e-3, "{}", r.hi);
    assert!(Ratio::new(0, 0).is_none());
    assert!(Ratio::new(1, 3).expect("ratio").low_n);
}

/// The quantiles by selection equal those of the sorted values, bit for bit, on sizes 1 to 40
/// with repeated values (ranks that fall on a tie and between two values), e.g. for
/// [3000, 1000, 2000, 4000] ms: the median's rank h = 3 × 0.5 = 1.5 lies between 2 s and 3 s,
/// 2 + 0.5 × (3 − 2) = 2.5 s; the 90th's h = 2.7, 3 + 0.7 × (4 − 3) = 3.7 s.
#[test]
fn quantiles_by_selection_equal_those_of_the_sorted_values() {
    let mut worked = vec![3000, 1000, 2000, 4000];
    assert_eq!(figures::selected_quantile(&mut worked, 0.5), 2.5);
    assert!((figures::selected_quantile(&mut worked, 0.9) - 3.7).abs() < 1e-12);
    for n in 1..=40usize {
        // A fixed, scrambled sequence with repeats (multiplicative hashing mod 17).
        let values: Vec<i64> = (0..n as i64)
            .map(|i| (i * 7919 % 17) * 1_000 + i % 3)
            .collect();
        let mut sorted: Vec<f64> = values.iter().map(|v| *v as f64 / 1000.0).collect();
        sorted.sort_by(f64::total_cmp);
        for q in [0.5, 0.9] {
            let mut scratch = values.clone();
            assert_eq!(
                figures::selected_quantile(&mut scratch, q).to_bits(),
                quantile(&sorted, q).to_bits(),
                "n = {n}, q = {q}"
            );
        }
    }
}

mod exact;
mod parts;
mod teams;
