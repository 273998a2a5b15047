//! Issue #14, DORA: hand-built commit graphs served by the fake GitHub (payloads built from
//! GitHub's documented examples in `tests/fixtures/github/`), synced, analysed with the
//! configuration's settings, and checked against figures worked out by hand in the comments.

use serde_json::{json, Value};

use crate::fake_github::{commit_json, first, fixture, pr_json, t, ts, Fake, Pr};

use barometer::analysis::dora::{self, DeployFacts, DoraModel, DoraSettings, FailureSignal};
use barometer::analysis::WEEK_MS;
use barometer::config::Config;
use barometer::sources::github::GithubSync;
use barometer::store::Store;

const TOKEN: &str = "ghp_FAKEtoken0123456789abcdefFAKE";
const H: f64 = 3600.0;

fn config(dir: &std::path::Path, url: &str, github: &str) -> Config {
    crate::fake_github::github_config_with(dir, url, TOKEN, github)
}

/// Syncs the fake into a fresh store and analyses it as the daemon does.
async fn sync_and_analyse(fake: &Fake, url: &str, github: &str) -> DoraModel {
    std::env::set_var("BAROMETER_TEST_GH_TOKEN", TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), url, github);
    let store = Store::open(&config.storage.path).unwrap();
    GithubSync::new(&config.github, &store, None, false)
        .unwrap()
        .run(None)
        .await
        .unwrap();
    let log = fake.log();
    assert!(log.iter().all(|(_, _, s)| *s == 200), "{log:?}");
    barometer::query::views::dora_model(
        &store,
        &barometer::query::Settings::new(&config).expect("settings"),
    )
    .unwrap()
}

/// Deployments API: (id, sha, environment, hours of the `success` status), listed newest first.
fn deployments(fake: &Fake, repo: &str, list: &[(u64, &str, &str, f64)]) {
    let dep_tpl = first(fixture("repos-list-deployments.json"));
    let status_tpl = first(fixture("repos-list-deployment-statuses.json"));
    let mut newest_first: Vec<Value> = Vec::new();
    for (id, sha, env, h) in list.iter().rev() {
        let mut d = dep_tpl.clone();
        d["id"] = json!(id);
        d["sha"] = json!(sha);
        d["ref"] = json!("main");
        d["environment"] = json!(env);
        d["original_environment"] = json!(env);
        d["created_at"] = json!(ts(h - 0.1));
        d["updated_at"] = json!(ts(*h));
        newest_first.push(d);
        let mut s = status_tpl.clone();
        s["state"] = json!("success");
        s["created_at"] = json!(ts(*h));
        s["updated_at"] = json!(ts(*h));
        fake.route(
            &format!("/repos/{repo}/deployments/{id}/statuses"),
            json!([s]),
        );
    }
    fake.route(
        &format!("/repos/{repo}/deployments"),
        Value::Array(newest_first),
    );
}

/// A merged PR with its branch commits and, in a monorepo, its files.
fn pull(fake: &Fake, repo: &str, p: &Pr, files: &[&str]) -> Value {
    let commits: Vec<Value> = p
        .commits
        .iter()
        .map(|(sha, h)| commit_json(sha, &[], *h))
        .collect();
    fake.route(
        &format!("/repos/{repo}/pulls/{}/commits", p.number),
        Value::Array(commits),
    );
    let files: Vec<Value> = files
        .iter()
        .map(|f| json!({"filename": f, "status": "modified"}))
        .collect();
    fake.route(
        &format!("/repos/{repo}/pulls/{}/files", p.number),
        Value::Array(files),
    );
    pr_json(p)
}

fn compare(base: Value, commits: Vec<Value>) -> Value {
    json!({
        "url": "", "html_url": "", "status": "ahead",
        "ahead_by": commits.len(), "behind_by": 0, "total_commits": commits.len(),
        "base_commit": base.clone(), "merge_base_commit": base,
        "commits": commits, "files": []
    })
}

fn issue(n: u64, body: &str, labels: &[&str], opened: f64, closed: f64) -> Value {
    let mut i = first(fixture("issues-list-for-repo.json"));
    i["number"] = json!(n);
    i["title"] = json!("Elevated errors");
    i["body"] = json!(body);
    i["labels"] = Value::Array(
        labels
            .iter()
            .map(|l| json!({"id": 1, "name": l, "color": "f00", "default": false, "url": "", "node_id": "", "description": ""}))
            .collect(),
    );
    i["created_at"] = json!(ts(opened));
    i["updated_at"] = json!(ts(closed));
    i["closed_at"] = json!(ts(closed));
    i["state"] = json!("closed");
    i["pull_request"] = Value::Null;
    i
}

fn dep(m: &DoraModel, id: u64) -> &DeployFacts {
    m.deployments.iter().find(|d| d.id == id).unwrap()
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

fn week(m: &DoraModel, service: &str) -> dora::DoraFigures {
    let w = t(0.0).timestamp_millis();
    dora::window(
        m,
        Some(service),
        w,
        w + WEEK_MS,
        &DoraSettings::default().bands,
    )
}

/// A ships X, B rolls back to an ancestor, C ships X again (issue #14, items 1 and 2), in
/// `acme/roll` (one service, `roll`).
///
/// | commit | parents | at (h) | PR                                |
/// |--------|---------|--------|-----------------------------------|
/// | r0     | —       | −10    | direct                            |
/// | x1     | r0      | 2      | #1 squash (branch commit p1, 0 h) |
///
/// | deployment | at (h) | sha | change set          | failure / rework       |
/// |------------|--------|-----|---------------------|------------------------|
/// | 1          | −5     | r0  | window: r0          | — (the Sunday before)  |
/// | 2 (A)      | 4      | x1  | r0..x1: #1, 4 − 0 = 4 h | rolled back by 3   |
/// | 3 (B)      | 6      | r0  | ∅, rollback of 2    | rework (a rollback)    |
/// | 4 (C)      | 10     | x1  | r0..x1: #1, 10 − 0 = 10 h | —                |
///
/// The week: 3 deployments, CFR 1/3, recovery 6 − 4 = 2 h (A → B), rework 1/3, lead median
/// (4 + 10) / 2 = 7 h. The old rule made C a rollback of B: B failed, A recovered at C (6 h),
/// rework 2/3, and C shipped nothing (lead 4 h).
#[tokio::test]
async fn rollback_then_redeploy_of_the_same_sha_through_the_sync() {
    let (server, fake) = Fake::start().await;
    let repo = "acme/roll";
    let r0 = commit_json("r0", &[], -10.0);
    let x1 = commit_json("x1", &["r0"], 2.0);
    deployments(
        &fake,
        repo,
        &[
            (1, "r0", "production", -5.0),
            (2, "x1", "production", 4.0),
            (3, "r0", "production", 6.0),
            (4, "x1", "production", 10.0),
        ],
    );
    let p1 = pull(
        &fake,
        repo,
        &Pr {
            number: 1,
            title: "Feature X",
            head: "x",
            labels: &[],
            commits: &[("p1", 0.0)],
            opened: 1.0,
            merged: Some(2.0),
            merge_sha: "x1",
        },
        &[],
    );
    fake.route(&format!("/repos/{repo}/pulls"), json!([p1]));
    fake.route(&format!("/repos/{repo}/issues"), json!([]));
    // The first deployment's window (`commits?sha=r0&since=…`), then 1 → 2 by the compare API;
    // 3 and 4 deploy commits already stored.
    fake.route(&format!("/repos/{repo}/commits"), json!([r0.clone()]));
    fake.route(
        &format!("/repos/{repo}/compare/r0...x1"),
        compare(r0, vec![x1]),
    );

    let m = sync_and_analyse(&fake, &server.uri(), &format!("repos = [\"{repo}\"]\n")).await;
    assert_eq!(dep(&m, 3).rollback_of, Some(2));
    assert_eq!(dep(&m, 4).rollback_of, None);
    assert_eq!(signals(&m, 2), vec!["rollback 3"]);
    assert!(signals(&m, 3).is_empty() && signals(&m, 4).is_empty());
    let pr_leads = |id: u64| -> Vec<(Option<u64>, f64)> {
        dep(&m, id)
            .changes
            .iter()
            .map(|c| (c.pr, c.lead_ms as f64 / 1000.0 / H))
            .collect()
    };
    assert_eq!(pr_leads(2), vec![(Some(1), 4.0)]);
    assert_eq!(pr_leads(4), vec![(Some(1), 10.0)]);

    let f = week(&m, "roll");
    assert_eq!((f.attempted, f.deployments), (3, 3));
    let cfr = f.change_failure_rate.unwrap();
    assert_eq!((cfr.k, cfr.n), (1, 3));
    let rt = f.recovery_time.unwrap();
    assert_eq!(rt.n, 1);
    assert!((rt.p50 - 2.0 * H).abs() < 1e-6, "{}", rt.p50 / H);
    let rw = f.rework_rate.unwrap();
    assert_eq!((rw.k, rw.n), (1, 3));
    let lt = f.lead_time.unwrap();
    assert_eq!(lt.n, 2);
    assert!((lt.p50 - 7.0 * H).abs() < 1e-6, "{}", lt.p50 / H);
}

/// A monorepo PR shipped by two services, a revert naming it, incidents naming it (item 4), and
/// a direct push owned by its own files (item 3). `acme/mono`, services in configuration order
/// web (`web/**`, environment `production-web`) and api (`api/**`, `production-api`).
///
/// | commit | parents | at (h) | what                                                     |
/// |--------|---------|--------|----------------------------------------------------------|
/// | root   | —       | −10    | first commit                                              |
/// | s20    | root    | 2      | #20 "Shared config" squash: web/cfg.ts, api/cfg.rs        |
/// | v21    | s20     | 5      | #21 `Revert "Shared config"` (revert-20-cfg): same files |
/// | d22    | v21     | 6.2    | pushed without a PR; its files (`GET /commits/d22`): api/fix.rs |
///
/// | deployment | service | at (h) | sha  | ships (lead)              |
/// |------------|---------|--------|------|---------------------------|
/// | 1          | web     | −5     | root | —                         |
/// | 2          | api     | −5     | root | —                         |
/// | 3          | api     | 3      | s20  | #20 (3 − 1 = 2 h)         |
/// | 4          | web     | 6      | s20  | #20 (6 − 1 = 5 h)         |
/// | 5          | api     | 7      | d22  | #21 (7 − 4.5 = 2.5 h), d22 (7 − 6.2 = 0.8 h) |
/// | 6          | web     | 8      | d22  | #21 (8 − 4.5 = 3.5 h); d22 is not web's   |
///
/// - Revert #21 (merged 5 h) marks each service's earliest deployment of #20 before it: api's 3
///   (3 h). Web's 4 (6 h) went out after the revert merged. The old rule looked only at web's
///   4 (first in configuration order), failed the time check, and marked nothing.
/// - Incident #60 (6.5 h, `service:web`, names #20) → web's 4. Incident #61 (6.5 h, no service
///   label, names #20) → the earliest in time of both, api's 3 (the old rule: web's 4).
/// - Recovery: 3 → api's 5 at 7 h, before #61 closed at 9 h: 4 h. 4 → #60 closed at 7.5 h,
///   before web's 6 at 8 h: 1.5 h. Api's week: CFR 1/2 (3 of 3, 5), recovery 4 h; web's: 1/2,
///   1.5 h.
/// - Rework: web's 6 ships only the revert (1 of 2); api's 5 also ships d22, planned (0 of 2).
#[tokio::test]
async fn a_monorepo_pr_shipped_by_two_services_and_reverted_through_the_sync() {
    let (server, fake) = Fake::start().await;
    let repo = "acme/mono";
    let root = commit_json("root", &[], -10.0);
    let s20 = commit_json("s20", &["root"], 2.0);
    let v21 = commit_json("v21", &["s20"], 5.0);
    let d22 = commit_json("d22", &["v21"], 6.2);
    deployments(
        &fake,
        repo,
        &[
            (1, "root", "production-web", -5.0),
            (2, "root", "production-api", -5.0),
            (3, "s20", "production-api", 3.0),
            (4, "s20", "production-web", 6.0),
            (5, "d22", "production-api", 7.0),
            (6, "d22", "production-web", 8.0),
        ],
    );
    let files = &["web/cfg.ts", "api/cfg.rs"];
    let p20 = pull(
        &fake,
        repo,
        &Pr {
            number: 20,
            title: "Shared config",
            head: "cfg",
            labels: &[],
            commits: &[("sx", 1.0)],
            opened: 1.5,
            merged: Some(2.0),
            merge_sha: "s20",
        },
        files,
    );
    let p21 = pull(
        &fake,
        repo,
        &Pr {
            number: 21,
            title: "Revert \"Shared config\"",
            head: "revert-20-cfg",
            labels: &[],
            commits: &[("vx", 4.5)],
            opened: 4.6,
            merged: Some(5.0),
            merge_sha: "v21",
        },
        files,
    );
    fake.route(&format!("/repos/{repo}/pulls"), json!([p21, p20]));
    fake.route(
        &format!("/repos/{repo}/issues"),
        json!([
            issue(61, "Errors since #20", &["incident"], 6.5, 9.0),
            issue(
                60,
                "Pages broke after #20",
                &["incident", "service:web"],
                6.5,
                7.5
            ),
        ]),
    );
    // Graph: web's first deployment reads the window before it; web's 1 → 4 → 6 by compare;
    // api's deployments find their commits stored.
    fake.route(&format!("/repos/{repo}/commits"), json!([root.clone()]));
    fake.route(
        &format!("/repos/{repo}/compare/root...s20"),
        compare(root, vec![s20.clone()]),
    );
    fake.route(
        &format!("/repos/{repo}/compare/s20...d22"),
        compare(s20, vec![v21, d22]),
    );
    // d22 belongs to no PR (GitHub's association says so); its own files decide its services.
    fake.route(&format!("/repos/{repo}/commits/d22/pulls"), json!([]));
    let mut detail = first(fixture("repos-get-commit.json"));
    detail["sha"] = json!("d22");
    detail["files"][0]["filename"] = json!("api/fix.rs");
    fake.route(&format!("/repos/{repo}/commits/d22"), detail);

    let m = sync_and_analyse(
        &fake,
        &server.uri(),
        &format!(
            "[[github.service]]\nname = \"web\"\nrepo = \"{repo}\"\npaths = [\"web/**\"]\nenvironment = \"production-web\"\n\
             [[github.service]]\nname = \"api\"\nrepo = \"{repo}\"\npaths = [\"api/**\"]\nenvironment = \"production-api\"\n"
        ),
    )
    .await;
    let shipped = |id: u64| -> Vec<(String, f64)> {
        dep(&m, id)
            .changes
            .iter()
            .map(|c| {
                let name = c.pr.map_or(c.title.clone(), |n| format!("#{n}"));
                (name, c.lead_ms as f64 / 1000.0 / H)
            })
            .collect()
    };
    assert_eq!(shipped(1), vec![]);
    assert_eq!(shipped(3), vec![("#20".to_owned(), 2.0)]);
    assert_eq!(shipped(4), vec![("#20".to_owned(), 5.0)]);
    assert_eq!(
        shipped(5),
        vec![("#21".to_owned(), 2.5), ("d22".to_owned(), 0.8)]
    );
    assert_eq!(shipped(6), vec![("#21".to_owned(), 3.5)]);

    assert_eq!(signals(&m, 3), vec!["revert 21", "incident 61"]);
    assert_eq!(signals(&m, 4), vec!["incident 60"]);
    let inc = |n: u64| m.incidents.iter().find(|i| i.number == n).unwrap();
    assert_eq!(inc(60).deployments, vec![4]);
    assert_eq!(inc(61).deployments, vec![3]);

    let api = week(&m, "api");
    assert_eq!(api.change_failure_rate.map(|r| (r.k, r.n)), Some((1, 2)));
    assert!((api.recovery_time.unwrap().p50 - 4.0 * H).abs() < 1e-6);
    assert_eq!(api.rework_rate.map(|r| (r.k, r.n)), Some((0, 2)));
    let web = week(&m, "web");
    assert_eq!(web.change_failure_rate.map(|r| (r.k, r.n)), Some((1, 2)));
    assert!((web.recovery_time.unwrap().p50 - 1.5 * H).abs() < 1e-6);
    assert_eq!(web.rework_rate.map(|r| (r.k, r.n)), Some((1, 2)));
}
