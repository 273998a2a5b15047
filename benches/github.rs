//! GitHub source and DORA benchmark (issue 7). Run: `bash bench/github.sh` (or
//! `cargo bench --bench github`).
//!
//! 1. **Sync**: a full sync of 20 repositories × 2 years (20 800 merged PRs, 10 400 deployments,
//!    1 040 incidents) against the fake GitHub of the tests (wiremock on 127.0.0.1), then a second
//!    sync with nothing new. Prints the requests made next to the fewest possible at 100 per page,
//!    the wall time, and what the second sync sent (the goal: only conditional requests, all 304).
//! 2. **DORA over 1 M stored events** (70 repos: 420 000 PRs, 420 070 commits, 140 000 deployments,
//!    28 000 incidents): the weekly DORA figures of every service, timed as "read from the store"
//!    and "analyse + weekly figures"; then `bench/dora_duckdb.py` computes the same figures in
//!    DuckDB SQL from the same data in the same run, checks that both agree, and times it.
//! 3. **DORA after one new sync page** (issue 21): with the model cached (`DoraCache`), a page of
//!    100 PRs (or 100 deployments) committed to one repository, then `DoraCache::get` timed (the
//!    changed repository read and re-analysed, the model spliced), next to a full rebuild.
//!
//! `BENCH_REPOS` / `BENCH_DORA_REPOS` scale the two parts down for a quick look.

#[path = "../tests/it/fake_github.rs"]
mod fake_github;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use barometer::analysis::dora::{self, DoraSettings};
use barometer::analysis::{Calendar, WEEK_MS};
use barometer::config::{Config, Sources};
use barometer::model::{Change, Commit, DeploySource, DeployState, Deployment, Event, Incident};
use barometer::sources::github::GithubSync;
use barometer::store::{Store, WriteBatch};
use fake_github::{commit_json, first, fixture, pr_json, t, ts, Fake, Pr};

const WEEKS: i64 = 104;
const PRS_PER_REPO: usize = 1040;
const PER_PAGE: usize = 100;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Hours from the fake's epoch (2026-01-05) to two years before now.
fn start_hours() -> f64 {
    let now = Utc::now() - chrono::Duration::weeks(WEEKS);
    (now - t(0.0)).num_seconds() as f64 / 3600.0
}

fn paged(fake: &Fake, path: &str, items: Vec<Value>) -> usize {
    let pages: Vec<&[Value]> = items.chunks(PER_PAGE).collect();
    for (i, chunk) in pages.iter().enumerate() {
        let key = if i == 0 {
            path.to_owned()
        } else {
            format!("{path}#{}", i + 1)
        };
        fake.route(&key, Value::Array(chunk.to_vec()));
    }
    pages.len().max(1)
}

/// Serves one repository: a linear main line of squash-merged PRs, a deployment every second PR
/// (one in ten fails), an incident every tenth deployment. Returns the fewest requests a full
/// sync can make.
fn serve_repo(fake: &Fake, repo: &str, start: f64) -> usize {
    let step = (WEEKS * 168) as f64 / PRS_PER_REPO as f64;
    let base = format!("/repos/{repo}");
    let squash = |i: usize| format!("{repo}-s{i}");
    let root = format!("{repo}-root");
    let mut prs = Vec::new();
    let mut main: Vec<(String, String, f64)> = vec![(root.clone(), String::new(), start - 48.0)];
    for i in 0..PRS_PER_REPO {
        let merged = start + i as f64 * step;
        let (a, b) = (format!("{repo}-p{i}a"), format!("{repo}-p{i}b"));
        fake.route(
            &format!("{base}/pulls/{}/commits", i + 1),
            json!([
                commit_json(&a, &[], merged - 30.0),
                commit_json(&b, &[&a], merged - 20.0)
            ]),
        );
        let parent = main.last().map(|m| m.0.clone()).unwrap_or_default();
        main.push((squash(i), parent, merged));
        prs.push((i, merged));
    }
    // Most recently updated first, as GitHub lists them with sort=updated&direction=desc.
    let sha_of: Vec<String> = (0..PRS_PER_REPO).map(squash).collect();
    let pr_items: Vec<Value> = prs
        .iter()
        .rev()
        .map(|(i, merged)| {
            let sha: &'static str = Box::leak(sha_of[*i].clone().into_boxed_str());
            pr_json(&Pr {
                number: *i as u64 + 1,
                title: "Change",
                head: "branch",
                labels: &[],
                commits: &[],
                opened: merged - 5.0,
                merged: Some(*merged),
                merge_sha: sha,
            })
        })
        .collect();
    let mut minimum = paged(fake, &format!("{base}/pulls"), pr_items) + PRS_PER_REPO;

    let dep_tpl = first(fixture("repos-list-deployments.json"));
    let status_tpl = first(fixture("repos-list-deployment-statuses.json"));
    let commit_of = |k: usize| main[k].clone();
    let mut deployments = Vec::new();
    let mut incidents = Vec::new();
    let mut prev_ok: Option<usize> = None;
    for k in 0..PRS_PER_REPO / 2 {
        let head = 2 * k + 2; // index into `main` (0 is the root)
        let (sha, _, merged) = commit_of(head);
        let at = merged + 2.0;
        let id = 1_000 + k as u64;
        let failed = k % 10 == 3;
        let mut d = dep_tpl.clone();
        d["id"] = json!(id);
        d["sha"] = json!(sha);
        d["environment"] = json!("production");
        d["created_at"] = json!(ts(at - 0.2));
        deployments.push(d);
        let mut s = status_tpl.clone();
        s["state"] = json!(if failed { "failure" } else { "success" });
        s["created_at"] = json!(ts(at));
        fake.route(&format!("{base}/deployments/{id}/statuses"), json!([s]));
        let chain = |from: usize, to: usize| -> Vec<Value> {
            (from..=to)
                .map(|j| {
                    let (s, p, h) = commit_of(j);
                    if p.is_empty() {
                        commit_json(&s, &[], h)
                    } else {
                        commit_json(&s, &[&p], h)
                    }
                })
                .collect()
        };
        match prev_ok {
            None => {
                let mut commits = chain(0, head);
                commits.reverse();
                fake.route(&format!("{base}/commits"), Value::Array(commits));
            }
            Some(p) => {
                let (psha, _, _) = commit_of(p);
                fake.route(
                    &format!("{base}/compare/{psha}...{sha}"),
                    json!({"status": "ahead", "ahead_by": head - p, "behind_by": 0,
                           "total_commits": head - p, "merge_base_commit": commit_json(&psha, &[], 0.0),
                           "commits": chain(p + 1, head)}),
                );
            }
        }
        if !failed {
            prev_ok = Some(head);
        }
        if k % 10 == 7 {
            let mut i = first(fixture("issues-list-for-repo.json"));
            i["number"] = json!(5_000 + k);
            i["title"] = json!("Errors after a deployment");
            i["body"] = json!("Customers see errors.");
            i["pull_request"] = Value::Null;
            // The sync keeps only issues that carry the incident label (the fixture's has "bug").
            if let Some(label) = i["labels"].get_mut(0) {
                label["name"] = json!("incident");
            }
            i["created_at"] = json!(ts(at + 1.0));
            i["updated_at"] = json!(ts(at + 3.0));
            i["closed_at"] = json!(ts(at + 3.0));
            incidents.push(i);
        }
    }
    deployments.reverse();
    incidents.reverse();
    // Pages of deployments and incidents, one status request and one graph request (compare, or
    // the first deployment's commit list) per deployment.
    minimum += paged(fake, &format!("{base}/deployments"), deployments);
    minimum += 2 * (PRS_PER_REPO / 2);
    // The incident listing, then the bug listing of the same path (the fake does not filter by
    // label; 52 incidents a repo fit one page, so the bug listing is one request too).
    minimum += 2 * paged(fake, &format!("{base}/issues"), incidents);
    minimum
}

fn config(extra: &str) -> Config {
    let dir = std::env::temp_dir().join(format!("barometer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok();
    let path = dir.join("bench.toml");
    std::fs::write(&path, extra).ok();
    let mut env = BTreeMap::new();
    env.insert("BENCH_GH_TOKEN".to_owned(), "bench-token".to_owned());
    Config::load(&Sources {
        file: Some(path),
        env: Some(env),
        ..Default::default()
    })
    .expect("bench config")
}

async fn sync_bench() {
    let repos = env_usize("BENCH_REPOS", 20);
    let (server, fake) = Fake::start().await;
    // More than one rate-limit window's worth: against github.com (5 000 an hour) the sync would
    // pause at the floor until each reset, which is covered by the tests, not timed here.
    fake.0.lock().map(|mut s| s.remaining = 10_000_000).ok();
    let start = start_hours();
    let built = Instant::now();
    let names: Vec<String> = (0..repos).map(|r| format!("bench/repo{r:02}")).collect();
    let minimum: usize = names.iter().map(|n| serve_repo(&fake, n, start)).sum();
    eprintln!("fake GitHub ready in {:?}", built.elapsed());
    let list = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let config = config(&format!(
        "[github]\napi_url = \"{}\"\ntoken_env = \"BENCH_GH_TOKEN\"\nrepos = [{list}]\nbackfill_since = \"{}d\"\n",
        server.uri(),
        WEEKS * 7 + 14
    ));
    std::env::set_var("BENCH_GH_TOKEN", "bench-token");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("store")).expect("store");
    let t0 = Instant::now();
    let first = GithubSync::new(&config.github, &store, None, false)
        .expect("client")
        .run(None)
        .await
        .expect("first sync");
    let full = t0.elapsed();
    fake.log();
    let t1 = Instant::now();
    let second = GithubSync::new(&config.github, &store, None, false)
        .expect("client")
        .run(None)
        .await
        .expect("second sync");
    let again = t1.elapsed();
    let log = fake.log();
    let all_304 = log
        .iter()
        .all(|(_, conditional, s)| *conditional && *s == 304);
    let counts = store.event_counts();
    println!("## GitHub sync: {repos} repos × {WEEKS} weeks against the fake GitHub");
    println!(
        "stored: {} PRs, {} deployments, {} commits, {} incidents",
        counts.get("change").unwrap_or(&0),
        counts.get("deployment").unwrap_or(&0),
        counts.get("commit").unwrap_or(&0),
        counts.get("incident").unwrap_or(&0)
    );
    println!(
        "full sync: {} requests (fewest possible at {PER_PAGE} per page: {minimum}; ratio {:.3}), {:.1} s, {:.0} requests/s",
        first.requests,
        first.requests as f64 / minimum as f64,
        full.as_secs_f64(),
        first.requests as f64 / full.as_secs_f64()
    );
    println!(
        "second sync, nothing new: {} requests, {} conditional, {} answered 304 (all 304: {all_304}), {:.0} ms",
        second.requests,
        second.conditional,
        second.not_modified,
        again.as_secs_f64() * 1000.0
    );
    // The same full sync by the `barometer` binary on its own, so that its peak RSS is the
    // daemon's alone (this process holds the fake's canned answers and is far larger).
    let own = tempfile::tempdir().expect("tempdir");
    let cfg = own.path().join("sync.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\npath = \"{}\"\n\n[github]\napi_url = \"{}\"\ntoken_env = \"BENCH_GH_TOKEN\"\nrepos = [{list}]\nbackfill_since = \"{}d\"\n",
            own.path().join("store").display(),
            server.uri(),
            WEEKS * 7 + 14
        ),
    )
    .expect("sync config");
    let t2 = Instant::now();
    let bin = env!("CARGO_BIN_EXE_barometer");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("/usr/bin/time")
            .args(["-f", "peak_rss_kb=%M"])
            .arg(bin)
            .args(["sync", "--source", "github", "--config"])
            .arg(&cfg)
            .env("BENCH_GH_TOKEN", "bench-token")
            .output()
    })
    .await
    .expect("the child's waiter")
    .expect("/usr/bin/time runs barometer sync");
    let alone = t2.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss_kb: Option<u64> = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_kb="))
        .and_then(|v| v.trim().parse().ok());
    let same = out.status.success()
        && Store::open(&own.path().join("store"))
            .map(|s| s.event_counts() == counts)
            .unwrap_or(false);
    match (out.status.success(), rss_kb) {
        (true, Some(kb)) => println!(
            "full sync by `barometer sync` in its own process: {:.1} s, peak RSS {:.0} MB (goal < 300 MB); same events stored: {same}",
            alone.as_secs_f64(),
            kb as f64 / 1024.0
        ),
        _ => println!(
            "`barometer sync` in its own process failed ({}): {}",
            out.status,
            stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        ),
    }
    drop(server);
}

/// The DORA part's "now": a fixed Wednesday (the tests' pinned business time), so that its first
/// week is cut the same way every run; from the wall clock, a run on a Sunday left one day of data
/// in the first week, where the two computations' edge handling differs.
fn dora_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The commit `{repo}-s{i}` on `parent`, at `merged` (ms); with `coding` (ms), the PR `i + 1`
/// squash-merged as that commit, opened 3 h before and coded for `coding` before that.
fn squash_merge(
    batch: &mut WriteBatch,
    repo: &str,
    i: usize,
    parent: &str,
    merged: i64,
    coding: Option<i64>,
) {
    let hour = 3_600_000_i64;
    let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let sha = format!("{repo}-s{i}");
    batch.upsert_event(&Commit {
        repo: repo.to_owned(),
        sha: sha.clone(),
        parents: vec![parent.to_owned()],
        authored_at: at(merged),
        committed_at: at(merged),
        pulls: None,
        files: None,
    });
    let Some(coding) = coding else { return };
    batch.upsert_event(&Change {
        repo: repo.to_owned(),
        number: i as u64 + 1,
        title: format!("Change {i}"),
        head_ref: format!("branch-{i}"),
        base_ref: "main".into(),
        labels: vec![],
        files: vec![],
        created_at: at(merged - 3 * hour),
        merged_at: at(merged),
        merge_commit_sha: sha,
        commits: vec![format!("{repo}-p{i}")],
        first_commit_at: at(merged - 3 * hour - coding),
        body: String::new(),
    });
}

/// Writes 1 M delivery events: per repo 6 000 squash-merged PRs, a deployment every third PR
/// (one in ten fails), an incident every fifth deployment, 1–40 h after it.
fn seed_dora(store: &Store, repos: usize) -> usize {
    let start = (dora_now() - chrono::Duration::weeks(WEEKS)).timestamp_millis();
    let hour = 3_600_000_i64;
    let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let prs = 6_000usize;
    let step = WEEKS * 168 * hour / prs as i64;
    let mut n = 0;
    for r in 0..repos {
        let repo = format!("org/svc{r:03}");
        let service = format!("svc{r:03}");
        let mut batch = WriteBatch::new();
        let mut entries = 0;
        let flush = |batch: &mut WriteBatch, entries: &mut usize| {
            if *entries >= 400 {
                store.commit(std::mem::take(batch)).expect("commit");
                *entries = 0;
            }
        };
        let root = format!("{repo}-root");
        batch.upsert_event(&Commit {
            repo: repo.clone(),
            sha: root.clone(),
            parents: vec![],
            authored_at: at(start - 48 * hour),
            committed_at: at(start - 48 * hour),
            pulls: None,
            files: None,
        });
        n += 1;
        let mut parent = root;
        // Deterministic variety in lead times: coding 2–40 h before the PR opens.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ r as u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..prs {
            let merged = start + i as i64 * step;
            let sha = format!("{repo}-s{i}");
            let coding = (2 + next() % 39) as i64 * hour;
            squash_merge(&mut batch, &repo, i, &parent, merged, Some(coding));
            n += 2;
            entries += 2;
            parent = sha.clone();
            if i % 3 == 2 {
                let k = i / 3;
                // 1–3 h after the merge: deployments never overtake each other (PRs merge every
                // ~2.9 h and every third one is deployed), so none is a rollback.
                let deployed = merged + (60 + (next() % 120) as i64) * 60_000;
                let state = if k % 10 == 4 {
                    DeployState::Failure
                } else {
                    DeployState::Success
                };
                batch.upsert_event(&Deployment {
                    repo: repo.clone(),
                    service: service.clone(),
                    environment: "production".into(),
                    id: k as u64 + 1,
                    source: DeploySource::DeploymentsApi,
                    sha,
                    git_ref: "main".into(),
                    created_at: at(deployed - hour / 6),
                    state,
                    finished_at: Some(at(deployed)),
                });
                n += 1;
                entries += 1;
                if k % 5 == 1 {
                    let opened = deployed + (1 + (next() % 40) as i64) * hour;
                    batch.upsert_event(&Incident {
                        repo: repo.clone(),
                        number: 100_000 + k as u64,
                        title: "Elevated errors".into(),
                        body: "Customers report errors.".into(),
                        labels: vec!["incident".into()],
                        created_at: at(opened),
                        closed_at: Some(at(opened + 2 * hour)),
                    });
                    n += 1;
                    entries += 1;
                }
            }
            flush(&mut batch, &mut entries);
        }
        store.commit(batch).expect("commit");
    }
    n
}

fn all<E: Event>(store: &Store) -> Vec<E> {
    store.events::<E>().map(|e| e.expect("event")).collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn dora_bench() {
    let repos = env_usize("BENCH_DORA_REPOS", 70);
    // Business time too: the settings resolve `github.backfill_since` (730 days before now) from
    // it, and from the wall clock that horizon cut the first week's change sets short.
    barometer::clock::pin(dora_now());
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("store")).expect("store");
    let seeded = Instant::now();
    let events = seed_dora(&store, repos);
    eprintln!("seeded {events} events in {:?}", seeded.elapsed());
    let config = config("");
    let settings = barometer::query::Settings::new(&config).expect("settings");
    let bands = DoraSettings::default().bands;
    // Every week with data, the current one included (DuckDB's answer has it too).
    let last = Calendar::UTC.week_start(dora_now().timestamp_millis());
    let weeks: Vec<i64> = (0..WEEKS + 2).rev().map(|i| last - i * WEEK_MS).collect();

    let (mut reads, mut analyses, mut weeklies) = (Vec::new(), Vec::new(), Vec::new());
    let mut result = Vec::new();
    for _ in 0..3 {
        let t0 = Instant::now();
        let events = barometer::query::views::DeliveryEvents::read(&store).expect("events");
        reads.push(t0.elapsed());
        let t1 = Instant::now();
        let services = barometer::query::views::services(&settings, &events.deployments);
        let model = dora::analyse(events.input(), &services, &settings.dora);
        let t2 = Instant::now();
        let scopes: Vec<Option<String>> = services.iter().map(|s| Some(s.name.clone())).collect();
        result = dora::weekly_each(&model, &scopes, &weeks, &bands);
        weeklies.push(t2.elapsed());
        analyses.push(t1.elapsed());
    }
    let (read, analyse, weekly) = (median(reads), median(analyses), median(weeklies));

    // The same data for DuckDB, and Barometer's answer to check it against.
    let out = dir.path();
    let csv = |name: &str, header: &str, rows: &mut dyn Iterator<Item = String>| {
        let mut s = String::from(header);
        s.push('\n');
        for r in rows {
            s.push_str(&r);
            s.push('\n');
        }
        std::fs::write(out.join(name), s).expect("write csv");
    };
    let ms = |t: DateTime<Utc>| t.timestamp_millis();
    csv(
        "deployments.csv",
        "repo,service,id,sha,state,at_ms",
        &mut all::<Deployment>(&store).into_iter().map(|d| {
            format!(
                "{},{},{},{},{},{}",
                d.repo,
                d.service,
                d.id,
                d.sha,
                if d.state == DeployState::Success {
                    "success"
                } else {
                    "failure"
                },
                d.finished_at.map(ms).unwrap_or_default()
            )
        }),
    );
    csv(
        "changes.csv",
        "repo,number,merge_sha,first_commit_ms,created_ms",
        &mut all::<Change>(&store).into_iter().map(|c| {
            format!(
                "{},{},{},{},{}",
                c.repo,
                c.number,
                c.merge_commit_sha,
                ms(c.first_commit_at),
                ms(c.created_at)
            )
        }),
    );
    csv(
        "commits.csv",
        "repo,sha,parent,authored_ms",
        &mut all::<Commit>(&store).into_iter().map(|c| {
            format!(
                "{},{},{},{}",
                c.repo,
                c.sha,
                c.parents.first().cloned().unwrap_or_default(),
                ms(c.authored_at)
            )
        }),
    );
    csv(
        "incidents.csv",
        "repo,number,opened_ms",
        &mut all::<Incident>(&store)
            .into_iter()
            .map(|i| format!("{},{},{}", i.repo, i.number, ms(i.created_at))),
    );
    let mut answer = String::from("service,week_ms,lead_p50_s,cfr\n");
    for series in &result {
        for w in series {
            let f = &w.week;
            if f.attempted == 0 {
                continue;
            }
            let _ = writeln!(
                answer,
                "{},{},{},{}",
                w.service.as_deref().unwrap_or(""),
                w.week_ms,
                f.lead_time
                    .map_or(String::new(), |q| format!("{:.3}", q.p50)),
                f.change_failure_rate
                    .map_or(String::new(), |r| format!("{:.6}", r.value)),
            );
        }
    }
    std::fs::write(out.join("barometer.csv"), answer).expect("write answer");

    println!("\n## DORA over {events} stored events ({repos} repos × {WEEKS} weeks)");
    println!(
        "barometer: read from the store {:.0} ms + analyse and weekly figures {:.0} ms (of which weekly figures {:.0} ms) = {:.0} ms (median of 3)",
        read.as_secs_f64() * 1000.0,
        analyse.as_secs_f64() * 1000.0,
        weekly.as_secs_f64() * 1000.0,
        (read + analyse).as_secs_f64() * 1000.0
    );
    let status = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/dora_duckdb.py"))
        .arg(out)
        .arg(format!("{}", analyse.as_secs_f64()))
        .arg(format!("{}", (read + analyse).as_secs_f64()))
        // The sync's horizon as the settings resolved it (business time moves on after the pin).
        .arg(format!("{}", settings.dora.since_ms.unwrap_or(i64::MIN)))
        .status();
    match status.map(|s| s.code()) {
        Ok(Some(0)) => {}
        Ok(Some(1)) => println!("DuckDB and barometer disagree (see above)"),
        other => println!("DuckDB comparison did not run ({other:?}); pip install duckdb"),
    }
    incremental_bench(&store, repos, &settings);
}

/// One sync page written to repository `r` of [`seed_dora`]'s, continuing its history from PR
/// `from`: with `prs`, 100 squash-merged PRs and their commits, every third deployed (as
/// seeded); else 100 commits pushed without a PR, each deployed.
fn sync_page(store: &Store, r: usize, from: usize, prs: bool) {
    let hour = 3_600_000_i64;
    let start = (dora_now() - chrono::Duration::weeks(WEEKS)).timestamp_millis();
    let step = WEEKS * 168 * hour / 6_000;
    let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let repo = format!("org/svc{r:03}");
    let mut batch = WriteBatch::new();
    for i in from..from + PER_PAGE {
        let merged = start + i as i64 * step;
        let sha = format!("{repo}-s{i}");
        let parent = format!("{repo}-s{}", i - 1);
        squash_merge(
            &mut batch,
            &repo,
            i,
            &parent,
            merged,
            prs.then_some(2 * hour),
        );
        if !prs || i % 3 == 2 {
            batch.upsert_event(&Deployment {
                repo: repo.clone(),
                service: format!("svc{r:03}"),
                environment: "production".into(),
                id: 1_000_000 + i as u64,
                source: DeploySource::DeploymentsApi,
                sha,
                git_ref: "main".into(),
                created_at: at(merged + hour - hour / 6),
                state: DeployState::Success,
                finished_at: Some(at(merged + hour)),
            });
        }
    }
    store.commit(batch).expect("commit");
}

/// "DORA after one new sync page" (issue 21): with the model cached, one page is committed to
/// one repository and the cache brought up to date (the changed repository read, its part
/// re-analysed, the model spliced), next to a rebuild from every event.
fn incremental_bench(store: &Store, repos: usize, settings: &barometer::query::Settings) {
    let cache = barometer::query::DoraCache::default();
    let t0 = Instant::now();
    drop(cache.get(store, settings).expect("model"));
    let full = t0.elapsed();
    let (mut pr_pages, mut deploy_pages) = (Vec::new(), Vec::new());
    let mut next = vec![6_000usize; repos];
    for k in 0..10 {
        let r = (k * 7) % repos;
        let prs = k % 2 == 0;
        sync_page(store, r, next[r], prs);
        next[r] += PER_PAGE;
        let t = Instant::now();
        drop(cache.get(store, settings).expect("model"));
        if prs {
            pr_pages.push(t.elapsed());
        } else {
            deploy_pages.push(t.elapsed());
        }
    }
    let builds = cache.builds();
    assert_eq!((builds.full, builds.incremental), (1, 10), "{builds:?}");
    // The last update is the model rebuilt from every event.
    let t = Instant::now();
    let rebuilt = barometer::query::views::dora_model(store, settings).expect("model");
    let rebuild = t.elapsed();
    assert!(*cache.get(store, settings).expect("model") == rebuilt);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("\n## DORA after one new sync page (one repository of {repos})");
    println!(
        "page of {PER_PAGE} PRs (+ commits, 33 deployments): {:.1} ms; page of {PER_PAGE} deployments (+ commits): {:.1} ms (medians of 5, model cached); rebuilt from every event: {:.0} ms (first cache fill {:.0} ms)",
        ms(median(pr_pages)),
        ms(median(deploy_pages)),
        ms(rebuild),
        ms(full),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing to skip on.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    if std::env::var("BENCH_ONLY").as_deref() != Ok("dora") {
        rt.block_on(sync_bench());
    }
    if std::env::var("BENCH_ONLY").as_deref() != Ok("sync") {
        dora_bench();
    }
}
