//! Known answers for the exactness rules of issue #14: a hand-built commit graph per case, the
//! expected figure worked out in the comment above it.

use super::*;

fn week_figures(m: &DoraModel, service: Option<&str>, settings: &DoraSettings) -> DoraFigures {
    let week = t(0.0).timestamp_millis();
    window(
        m,
        service,
        week,
        week + crate::analysis::WEEK_MS,
        &settings.bands,
    )
}

fn signals(m: &DoraModel, id: u64) -> Vec<String> {
    dep(m, id)
        .failures
        .iter()
        .map(|f| match f {
            FailureSignal::Status { .. } => "status".to_owned(),
            FailureSignal::Incident { number, .. } => format!("incident {number}"),
            FailureSignal::Revert { by, .. } => format!("revert {by}"),
            FailureSignal::RolledBack { by } => format!("rollback {by}"),
        })
        .collect()
}

fn hours(ms: i64) -> f64 {
    ms as f64 / 3_600_000.0
}

/// A ships X, B rolls back to an ancestor, C ships X again (items 1 and 2).
///
/// | commit | parents | at (h) | PR                         |
/// |--------|---------|--------|----------------------------|
/// | r0     | —       | −10    | direct                     |
/// | x1     | r0      | 2      | #1 squash (branch p1, 0 h) |
///
/// | deployment | at  | sha | previous successful | change set         | rollback of |
/// |------------|-----|-----|---------------------|--------------------|-------------|
/// | D0 (1)     | −5  | r0  | —                   | window: r0         | —           |
/// | A  (2)     | 4   | x1  | D0 (r0)             | r0..x1 = {x1}: #1  | —           |
/// | B  (3)     | 6   | r0  | A (x1)              | x1..r0 = ∅         | A: r0 is a proper ancestor of x1 |
/// | C  (4)     | 10  | x1  | B (r0)              | r0..x1 = {x1}: #1  | — (x1 is not an ancestor of r0) |
///
/// Week of Monday 0 h (D0 is the Sunday before): attempted = successful = 3 (A, B, C).
/// - Change failure rate: A (rolled back by B) → 1/3.
/// - Recovery: A → B, the next healthy deployment: 6 − 4 = 2 h (the old rule: C, 6 h).
/// - Rework: B only (a rollback) → 1/3 (the old rule: 2/3, C taken as a rollback of B).
/// - Lead time, per PR: #1 shipped by A, 4 − 0 = 4 h, and again by C, 10 − 0 = 10 h →
///   median (4 + 10) / 2 = 7 h (the old rule: C shipped nothing, 4 h).
#[test]
fn redeploying_after_a_rollback_is_not_a_rollback_and_ships_again() {
    let mut w = World::default();
    w.commit(R, "r0", &[], -10.0);
    w.commit(R, "x1", &["r0"], 2.0);
    w.pr(
        R,
        1,
        "Feature X",
        "x",
        &[],
        &["src/x.rs"],
        &[("p1", 0.0)],
        1.0,
        2.0,
        "x1",
    );
    w.deploy(R, "app", 1, "r0", -5.0, DeployState::Success);
    w.deploy(R, "app", 2, "x1", 4.0, DeployState::Success);
    w.deploy(R, "app", 3, "r0", 6.0, DeployState::Success);
    w.deploy(R, "app", 4, "x1", 10.0, DeployState::Success);
    let settings = DoraSettings::default();
    let m = w.analyse(&[service("app", R, &[])], &settings);

    assert_eq!(dep(&m, 3).rollback_of, Some(2));
    assert_eq!(dep(&m, 3).change_set, ChangeSet::Empty);
    assert_eq!(dep(&m, 4).rollback_of, None);
    assert_eq!(dep(&m, 4).change_set, ChangeSet::Exact);
    assert_eq!(prs(dep(&m, 4)), vec![1]);
    assert_eq!(dep(&m, 4).changes[0].commits, vec!["x1"]);
    assert_eq!(hours(dep(&m, 4).changes[0].lead_ms), 10.0);
    assert_eq!(signals(&m, 2), vec!["rollback 3"]);
    assert!(signals(&m, 3).is_empty() && signals(&m, 4).is_empty());
    let r = dep(&m, 2).recovery.as_ref().expect("A recovered");
    assert_eq!((hours(r.duration_ms), r.by.as_str()), (2.0, "deployment 3"));
    assert_eq!(
        dep(&m, 3).unplanned.as_deref(),
        Some("rollback of deployment 2")
    );
    assert_eq!(dep(&m, 4).unplanned, None);

    let f = week_figures(&m, Some("app"), &settings);
    assert_eq!((f.attempted, f.deployments), (3, 3));
    let cfr = f.change_failure_rate.expect("cfr");
    assert_eq!((cfr.k, cfr.n), (1, 3));
    let rt = f.recovery_time.expect("recovery");
    assert_eq!(rt.n, 1);
    assert!((rt.p50 - 2.0 * H).abs() < 1e-6);
    let rw = f.rework_rate.expect("rework");
    assert_eq!((rw.k, rw.n), (1, 3));
    let lt = f.lead_time.expect("lead time");
    assert_eq!(lt.n, 2);
    assert!((lt.p50 - 7.0 * H).abs() < 1e-6);
}

/// A change set is `git rev-list prev..head`, not "commits never shipped before": after a
/// rollback to an ancestor, a forward deployment on a new commit ships the rolled-back changes
/// again (item 2).
///
/// | commit | parents | at (h) | PR        |
/// |--------|---------|--------|-----------|
/// | r0     | —       | −10    | direct    |
/// | a1     | r0      | 1      | #1 squash (branch 0 h) |
/// | b2     | a1      | 3      | #2 squash (branch 2 h) |
/// | c3     | b2      | 8      | #3 squash (branch 7 h) |
///
/// D0 r0 (−5 h), D1 b2 (4 h): #1, #2. D2 r0 (5 h): rollback of D1. D3 c3 (9 h): previous
/// successful D2 (r0), so r0..c3 = {a1, b2, c3}: #1 (9 − 0 = 9 h), #2 (9 − 2 = 7 h), #3
/// (9 − 7 = 2 h). The old rule shipped only #3.
#[test]
fn forward_deployment_after_a_rollback_ships_the_rolled_back_changes() {
    let mut w = World::default();
    w.commit(R, "r0", &[], -10.0);
    for (n, sha, parent, branch, at) in [
        (1, "a1", "r0", 0.0, 1.0),
        (2, "b2", "a1", 2.0, 3.0),
        (3, "c3", "b2", 7.0, 8.0),
    ] {
        w.commit(R, sha, &[parent], at);
        w.pr(
            R,
            n,
            "Feature",
            "f",
            &[],
            &["src/f.rs"],
            &[("branch", branch)],
            branch,
            at,
            sha,
        );
    }
    w.deploy(R, "app", 1, "r0", -5.0, DeployState::Success);
    w.deploy(R, "app", 2, "b2", 4.0, DeployState::Success);
    w.deploy(R, "app", 3, "r0", 5.0, DeployState::Success);
    w.deploy(R, "app", 4, "c3", 9.0, DeployState::Success);
    let m = w.analyse(&[service("app", R, &[])], &DoraSettings::default());
    assert_eq!(prs(dep(&m, 2)), vec![1, 2]);
    assert_eq!(dep(&m, 3).rollback_of, Some(2));
    let d3 = dep(&m, 4);
    assert_eq!(d3.rollback_of, None);
    assert_eq!(prs(d3), vec![1, 2, 3]);
    let leads: Vec<f64> = d3.changes.iter().map(|c| hours(c.lead_ms)).collect();
    assert_eq!(leads, vec![9.0, 7.0, 2.0]);
}

/// A monorepo PR shipped by two services, reverted, and named by incidents (item 4). Services in
/// configuration order: web (`web/**`), api (`api/**`).
///
/// | commit | parents | at (h) | PR                                                   |
/// |--------|---------|--------|------------------------------------------------------|
/// | root   | —       | −10    | direct, files unknown: neither service               |
/// | s20    | root    | 2      | #20 "Shared config", web/cfg.ts + api/cfg.rs         |
/// | v21    | s20     | 5      | #21 `Revert "Shared config"` (branch revert-20-…)    |
///
/// | deployment | service | at  | sha  | ships |
/// |------------|---------|-----|------|-------|
/// | 1          | web     | −5  | root | —     |
/// | 2          | api     | −5  | root | —     |
/// | 3          | api     | 3   | s20  | #20   |
/// | 4          | web     | 6   | s20  | #20   |
/// | 5          | api     | 7   | v21  | #21   |
/// | 6          | web     | 8   | v21  | #21   |
///
/// - The revert #21, merged at 5 h, marks each service's earliest deployment of #20 that went
///   out before it: api's 3 (3 h ≤ 5 h); web's 4 (6 h) came after the revert merged, so it is
///   not marked. The old rule took web's 4 (first in configuration order), failed the time
///   check, and marked nothing.
/// - Incident #60 (6.5 h, `service:web`, names #20): web's earliest deployment of #20, 4.
/// - Incident #61 (6.5 h, no service label, names #20): the earliest in time of both services,
///   api's 3 (3 h), not web's 4 (6 h; the old rule, by configuration order).
/// - Recovery: 3 → api's next healthy deployment 5 at 7 h, or #61 closed at 9 h: 7 − 3 = 4 h.
///   4 → web's 6 at 8 h, or #60 closed at 7.5 h: 7.5 − 6 = 1.5 h.
/// - Rework: 5 and 6 ship only the revert.
#[test]
fn a_pr_shipped_by_two_services_is_attributed_per_service_by_time() {
    const M: &str = "o/mono";
    let mut w = World::default();
    w.commit(M, "root", &[], -10.0);
    w.commit(M, "s20", &["root"], 2.0);
    w.commit(M, "v21", &["s20"], 5.0);
    let files = &["web/cfg.ts", "api/cfg.rs"];
    w.pr(
        M,
        20,
        "Shared config",
        "cfg",
        &[],
        files,
        &[("sx", 1.0)],
        1.5,
        2.0,
        "s20",
    );
    w.pr(
        M,
        21,
        "Revert \"Shared config\"",
        "revert-20-cfg",
        &[],
        files,
        &[("vx", 4.5)],
        4.6,
        5.0,
        "v21",
    );
    w.deploy(M, "web", 1, "root", -5.0, DeployState::Success);
    w.deploy(M, "api", 2, "root", -5.0, DeployState::Success);
    w.deploy(M, "api", 3, "s20", 3.0, DeployState::Success);
    w.deploy(M, "web", 4, "s20", 6.0, DeployState::Success);
    w.deploy(M, "api", 5, "v21", 7.0, DeployState::Success);
    w.deploy(M, "web", 6, "v21", 8.0, DeployState::Success);
    w.incident(
        M,
        60,
        "Pages broke after #20",
        &["incident", "service:web"],
        6.5,
        Some(7.5),
    );
    w.incident(M, 61, "Errors since #20", &["incident"], 6.5, Some(9.0));
    let services = [
        service("web", M, &["web/**"]),
        service("api", M, &["api/**"]),
    ];
    let m = w.analyse(&services, &DoraSettings::default());
    assert_eq!(prs(dep(&m, 3)), vec![20]);
    assert_eq!(prs(dep(&m, 4)), vec![20]);
    assert_eq!(signals(&m, 3), vec!["revert 21", "incident 61"]);
    assert_eq!(signals(&m, 4), vec!["incident 60"]);
    assert!(signals(&m, 5).is_empty() && signals(&m, 6).is_empty());
    let inc = |n: u64| {
        m.incidents
            .iter()
            .find(|i| i.number == n)
            .expect("incident")
    };
    assert_eq!(inc(60).deployments, vec![4]);
    assert_eq!(inc(61).deployments, vec![3]);
    let rec = |id: u64| dep(&m, id).recovery.as_ref().map(|r| hours(r.duration_ms));
    assert_eq!(rec(3), Some(4.0));
    assert_eq!(rec(4), Some(1.5));
    assert_eq!(dep(&m, 5).unplanned.as_deref(), Some("only revert"));
    assert_eq!(dep(&m, 6).unplanned.as_deref(), Some("only revert"));
}

/// A commit pushed without a pull request, in a monorepo, belongs to the services its own files
/// match (item 3). Services: web (`web/**`), api (`api/**`).
///
/// | commit | parents | at (h) | files                    | owned by      |
/// |--------|---------|--------|--------------------------|---------------|
/// | root   | —       | −10    | not read                 | —             |
/// | d1     | root    | 1      | api/main.rs              | api           |
/// | d2     | d1      | 2      | web/app.ts, docs/x.md    | web           |
/// | d3     | d2      | 3      | not read                 | — (not guessed) |
/// | d4     | d3      | 3.5    | README.md                | —             |
///
/// web deploys d4 at 5 h (id 3): root..d4 holds d1 … d4; web ships d2, lead 5 − 2 = 3 h.
/// api deploys d4 at 6 h (id 4): api ships d1, lead 6 − 1 = 5 h. The old rule shipped nothing
/// in either: only PR files decided ownership.
#[test]
fn a_direct_push_in_a_monorepo_belongs_to_the_services_of_its_files() {
    const M: &str = "o/mono";
    let mut w = World::default();
    w.commit(M, "root", &[], -10.0);
    w.commit(M, "d1", &["root"], 1.0);
    w.commit(M, "d2", &["d1"], 2.0);
    w.commit(M, "d3", &["d2"], 3.0);
    w.commit(M, "d4", &["d3"], 3.5);
    for (sha, files) in [
        ("d1", vec!["api/main.rs"]),
        ("d2", vec!["web/app.ts", "docs/x.md"]),
        ("d4", vec!["README.md"]),
    ] {
        if let Some(c) = w.commits.iter_mut().find(|c| c.sha == sha) {
            c.files = Some(files.into_iter().map(str::to_owned).collect());
        }
    }
    w.deploy(M, "web", 1, "root", -5.0, DeployState::Success);
    w.deploy(M, "api", 2, "root", -5.0, DeployState::Success);
    w.deploy(M, "web", 3, "d4", 5.0, DeployState::Success);
    w.deploy(M, "api", 4, "d4", 6.0, DeployState::Success);
    let services = [
        service("web", M, &["web/**"]),
        service("api", M, &["api/**"]),
    ];
    let m = w.analyse(&services, &DoraSettings::default());
    let shipped = |id: u64| -> Vec<(String, f64)> {
        dep(&m, id)
            .changes
            .iter()
            .map(|c| (c.title.clone(), hours(c.lead_ms)))
            .collect()
    };
    assert_eq!(shipped(1), vec![]);
    assert_eq!(shipped(3), vec![("d2".to_owned(), 3.0)]);
    assert_eq!(shipped(4), vec![("d1".to_owned(), 5.0)]);
}

/// `lead_time_unit = "commit"` on the week of [`scenario`] (item 6): each non-merge commit of a
/// successful deployment's change set, deployment − its own author time.
///
/// | deployment | at  | commits (author h)                 | leads (h)  |
/// |------------|-----|------------------------------------|------------|
/// | D1 (2)     | 10  | s1 (5), b1 (1), b2 (4); m2 merge   | 5, 9, 6    |
/// | D3 (4)     | 23  | c1x (14), c2x (14), h4 (22)        | 9, 9, 1    |
/// | D4 (5)     | 33  | f5 (32)                            | 1          |
/// | D5 (6)     | 38  | r6 (36.5)                          | 1.5        |
/// | D6 (7)     | 44  | g7 (42)                            | 2          |
///
/// D2 failed, D7 shipped nothing. Sorted: 1 1 1.5 2 5 6 9 9 9 → n = 9, median 5 h; p90 at rank
/// 0.9 · 8 = 7.2 → 9 + 0.2 · (9 − 9) = 9 h. Per PR (the default) the median is 4 h.
#[test]
fn lead_time_per_commit_starts_at_each_commits_author_time() {
    let w = scenario();
    let settings = DoraSettings {
        lead_time_unit: LeadTimeUnit::Commit,
        ..DoraSettings::default()
    };
    let m = w.analyse(&[service("app", R, &[])], &settings);
    let lt = week_figures(&m, Some("app"), &settings)
        .lead_time
        .expect("lead time");
    assert_eq!(lt.n, 9);
    assert!((lt.p50 - 5.0 * H).abs() < 1e-6, "{}", lt.p50 / H);
    assert!((lt.p90 - 9.0 * H).abs() < 1e-6, "{}", lt.p90 / H);
    // The PR view is unchanged: D1 still ships #1 and #2 with their first-commit lead times.
    assert_eq!(prs(dep(&m, 2)), vec![1, 2]);
    assert_eq!(
        dep(&m, 2).changes[0].commit_leads_ms,
        Some(vec![5 * 3_600_000])
    );
}

/// `recovery_end = "deployment"` on [`scenario`] (item 6): D4 (33 h) no longer recovers when
/// incident #100 closes (37 h, 4 h) but at the next healthy deployment D5 (38 h): 5 h. The
/// others end at a deployment either way: D1 → D3 13 h, D2 → D3 3 h, D6 → D7 2 h. Sorted
/// 2 3 5 13 → median 4 h (with the default, 2 3 4 13 → 3.5 h).
#[test]
fn recovery_can_end_only_at_the_next_healthy_deployment() {
    let w = scenario();
    let settings = DoraSettings {
        recovery_end: RecoveryEnd::Deployment,
        ..DoraSettings::default()
    };
    let m = w.analyse(&[service("app", R, &[])], &settings);
    let r = dep(&m, 5).recovery.as_ref().expect("recovered");
    assert_eq!((hours(r.duration_ms), r.by.as_str()), (5.0, "deployment 6"));
    let rt = week_figures(&m, Some("app"), &settings)
        .recovery_time
        .expect("recovery");
    assert_eq!(rt.n, 4);
    assert!((rt.p50 - 4.0 * H).abs() < 1e-6);
}
