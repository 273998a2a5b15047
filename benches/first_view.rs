//! Store open + first `GET /` of a 5-year, 200-service store (issue 21). Run:
//! `bash bench/first_view.sh` (or `cargo bench --bench first_view`).
//!
//! 1. **The store** (built once, kept in `BENCH_DIR`, default `$TMPDIR/barometer-first-view`):
//!    200 services, each its own repository `org/svcNNN`, over 260 weeks ending on the tests'
//!    pinned week (2026-11-23). Per service and week, through the store's own write path
//!    (`WriteBatch`, one service-quarter per batch): a Poisson number of deployments (the
//!    service's rate is 1, 2, 4, 8 or 12 a week), each shipping 1 + Poisson(0.6) merged pull
//!    requests of 1–4 commits and a merge commit; one deployment in ten fails and two in five of
//!    those open an incident; about one bug issue every two weeks; and the Prometheus-style
//!    hourly samples the demo writes for a service behind an SLO (`slo_total`, `slo_good`, the
//!    `latency_p95` query). Revenue (3 000 customers × 60 monthly snapshots) and support tickets
//!    (a Zendesk export, ~30 000 tickets) go in first, through `barometer import`, as a user
//!    would put them there.
//! 2. **The measurement**: `RUNS` rounds (default 5) of two fresh `barometer serve`s on that
//!    store, configured with the 200 SLOs, the latency query, 20 teams and 3 products, business
//!    time pinned, each stopped with SIGTERM: one after a commit (a point of a series no view
//!    reads: whatever the daemon kept before is stale, "changed"), then one on the
//!    store as that run left it ("restart"). Timed: from spawning the process to a connection
//!    accepted ("open": the store opened, the application built, the listener bound), and from
//!    there to the whole body of the first `GET /` (status 200). After a commit that first page
//!    is the one kept from the data before it, labelled and reloading itself while the daemon
//!    computes the current one: the run then polls `/` as the reloads would, and also prints
//!    the time from spawning to the current page. Prints each run and the medians of each case.
//!
//! `BENCH_TOUCH=deployment` makes the commit a new deployment of one service instead (as a sync
//! of one repository would bring: the delivery model, its figures and the bugs' attribution
//! change, each run another service).
//!
//! `BENCH_LOG=FILE` appends each daemon's debug log (where its time goes) to FILE.
//!
//! `BENCH_SERVICES` / `BENCH_WEEKS` scale the store down for a quick look (a store of another
//! shape is built in its own subdirectory).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, NaiveDate, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use barometer::model::{
    series, Bug, Change, Commit, DeploySource, DeployState, Deployment, Incident, SeriesKey,
};
use barometer::store::{Store, WriteBatch};

/// The tests' pinned business time: the last complete week is the one before 2026-11-23.
const NOW: &str = "2026-11-25T12:00:00Z";
const TEAMS: usize = 20;
/// Bump when the generator changes, so that a cached store of the old shape is rebuilt.
const LAYOUT: u32 = 2;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn end_monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).expect("a date")
}

fn utc(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
}

fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    Poisson::new(mean.max(1e-6))
        .map(|d| d.sample(rng) as u64)
        .unwrap_or(0)
}

fn sha(rng: &mut ChaCha8Rng) -> String {
    (0..20)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
    SeriesKey::new(name, labels.iter().copied()).expect("a series key")
}

fn service(i: usize) -> String {
    format!("svc{i:03}")
}

/// Counts of what was written.
#[derive(Default)]
struct Written {
    deployments: u64,
    changes: u64,
    commits: u64,
    incidents: u64,
    bugs: u64,
    points: u64,
}

/// One service's history, one service-week per committed batch.
fn seed_service(store: &Store, i: usize, weeks: i64, written: &mut Written) {
    let mut rng = ChaCha8Rng::seed_from_u64(0xF1257 ^ i as u64);
    let name = service(i);
    let repo = format!("org/{name}");
    let rate = [1.0, 2.0, 4.0, 8.0, 12.0][i % 5];
    let start = utc(end_monday()) - Span::weeks(weeks);
    let slo = format!("{name}-availability");
    let total_key = key(series::SLO_TOTAL, &[("slo", &slo), ("service", &name)]);
    let good_key = key(series::SLO_GOOD, &[("slo", &slo), ("service", &name)]);
    let latency_key = key(
        series::QUERY,
        &[
            ("query", "latency_p95"),
            ("service", &name),
            ("unit", "seconds"),
        ],
    );
    let base = 2_000.0 + 500.0 * (i % 40) as f64;
    let mut head = sha(&mut rng);
    let mut batch = WriteBatch::new();
    batch.upsert_event(&Commit {
        repo: repo.clone(),
        sha: head.clone(),
        parents: vec![],
        authored_at: start - Span::days(30),
        committed_at: start - Span::days(30),
        pulls: None,
        files: None,
    });
    written.commits += 1;
    let (mut number, mut deploy_id) = (1u64, 1_000_000u64);
    for w in 0..weeks {
        let monday = start + Span::weeks(w);
        let mut times: Vec<DateTime<Utc>> = (0..poisson(&mut rng, rate))
            .map(|_| {
                monday
                    + Span::days(rng.random_range(0..5))
                    + Span::minutes(rng.random_range(9 * 60..18 * 60))
            })
            .collect();
        times.sort();
        let mut outages = Vec::new();
        for t in times {
            for _ in 0..1 + poisson(&mut rng, 0.6) {
                let merged = t - Span::minutes(rng.random_range(10..3 * 24 * 60));
                let opened = merged - Span::minutes(rng.random_range(30..48 * 60));
                let first = opened - Span::minutes(rng.random_range(30..72 * 60));
                let mut parent = head.clone();
                let mut commits = Vec::new();
                let n = rng.random_range(1..=4);
                for c in 0..n {
                    let at = first + (opened - first) * c / n;
                    let s = sha(&mut rng);
                    batch.upsert_event(&Commit {
                        repo: repo.clone(),
                        sha: s.clone(),
                        parents: vec![parent],
                        authored_at: at,
                        committed_at: at,
                        pulls: None,
                        files: None,
                    });
                    commits.push(s.clone());
                    parent = s;
                }
                let merge = sha(&mut rng);
                batch.upsert_event(&Commit {
                    repo: repo.clone(),
                    sha: merge.clone(),
                    parents: vec![head.clone(), parent],
                    authored_at: merged,
                    committed_at: merged,
                    pulls: None,
                    files: None,
                });
                head = merge;
                batch.upsert_event(&Change {
                    repo: repo.clone(),
                    number,
                    title: format!("Change {number}"),
                    head_ref: format!("branch-{number}"),
                    base_ref: "main".into(),
                    labels: vec![],
                    files: vec![format!("src/{name}.rs")],
                    created_at: opened,
                    merged_at: merged,
                    merge_commit_sha: head.clone(),
                    commits,
                    first_commit_at: first,
                    body: String::new(),
                });
                number += 1;
                written.changes += 1;
                written.commits += n as u64 + 1;
            }
            let failed = rng.random_bool(0.1);
            let finished = t + Span::minutes(rng.random_range(3..25));
            batch.upsert_event(&Deployment {
                repo: repo.clone(),
                service: name.clone(),
                environment: "production".into(),
                id: deploy_id,
                source: DeploySource::DeploymentsApi,
                sha: head.clone(),
                git_ref: "main".into(),
                created_at: t,
                state: if failed && rng.random_bool(0.4) {
                    DeployState::Failure
                } else {
                    DeployState::Success
                },
                finished_at: Some(finished),
            });
            deploy_id += 1;
            written.deployments += 1;
            if failed && rng.random_bool(0.4) {
                let opened = finished + Span::minutes(rng.random_range(5..240));
                let closed = opened + Span::minutes(rng.random_range(15..24 * 60));
                batch.upsert_event(&Incident {
                    repo: repo.clone(),
                    number,
                    title: format!("{name}: elevated errors"),
                    body: "Elevated error rate.".into(),
                    labels: vec!["incident".into(), format!("service:{name}")],
                    created_at: opened,
                    closed_at: Some(closed),
                });
                number += 1;
                written.incidents += 1;
                outages.push((opened, closed));
            }
        }
        if rng.random_bool(0.5) {
            let opened = monday + Span::minutes(rng.random_range(0..7 * 24 * 60));
            let closed = opened + Span::hours(rng.random_range(2..30 * 24));
            batch.upsert_event(&Bug {
                repo: repo.clone(),
                number,
                title: "Something is off".into(),
                labels: vec!["bug".into(), format!("service:{name}")],
                created_at: opened,
                closed_at: (closed < utc(end_monday())).then_some(closed),
                reopened_at: vec![],
            });
            number += 1;
            written.bugs += 1;
        }
        for h in 0..7 * 24 {
            let t = monday + Span::hours(h);
            let total = (base * (0.6 + 0.4 * rng.random::<f64>())).round();
            let down = outages
                .iter()
                .any(|(from, to)| t + Span::hours(1) > *from && t < *to);
            let ratio = if down { 0.02 } else { 0.0003 } * (1.0 + rng.random::<f64>());
            let ms = t.timestamp_millis();
            batch.put_point(&total_key, ms, total);
            batch.put_point(&good_key, ms, total - (total * ratio).round());
            batch.put_point(
                &latency_key,
                ms,
                (0.1 + 0.05 * rng.random::<f64>()) * if down { 2.5 } else { 1.0 },
            );
            written.points += 3;
        }
        // A quarter per batch: each commit rewrites the event blocks and day blocks it touches,
        // and sled keeps the old copies until its log is compacted; a week per batch left a
        // 13 GB log for this store (see BENCHMARKS.md).
        if w % 13 == 12 || w == weeks - 1 {
            store.commit(std::mem::take(&mut batch)).expect("commit");
        }
    }
}

fn revenue_csv(path: &Path, months: i64) {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut out = String::from("customer_id,month,mrr,plan,segment\n");
    let first = end_monday() - Span::weeks(months * 52 / 12);
    for c in 0..3_000 {
        let mut mrr: f64 = [99.0, 299.0, 999.0, 2999.0][c % 4];
        let segment = ["smb", "smb", "mid-market", "enterprise"][c % 4];
        let joined = rng.random_range(0..months);
        for m in joined..months {
            if rng.random_bool(0.05) {
                mrr = (mrr * [0.8, 1.25][rng.random_range(0..2)]).round();
            }
            if rng.random_bool(0.005) {
                break;
            }
            let d = first + Span::days(m * 365 / 12);
            let month = d.format("%Y-%m");
            out.push_str(&format!("cus_{c:05},{month},{mrr},pro,{segment}\n"));
        }
    }
    std::fs::write(path, out).expect("revenue csv");
}

fn tickets_csv(path: &Path, weeks: i64) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut out = String::from("Id,Requester,Organization,Subject,Tags,Status,Priority,Ticket type,Created at,Solved at,First reply time in minutes\n");
    let start = utc(end_monday()) - Span::weeks(weeks);
    let mut id = 1;
    for w in 0..weeks {
        for _ in 0..poisson(&mut rng, 115.0) {
            let created = start + Span::weeks(w) + Span::minutes(rng.random_range(0..7 * 1440));
            let solved = created + Span::minutes(rng.random_range(30..5 * 1440));
            let c = rng.random_range(0..3_000);
            let topic = ["checkout_latency", "billing", "login", "export"][rng.random_range(0..4)];
            out.push_str(&format!(
                "{id},u{c}@example.test,cus_{c:05},Help,{topic},solved,normal,question,{},{},{}\n",
                created.format("%Y-%m-%d %H:%M:%S"),
                solved.format("%Y-%m-%d %H:%M:%S"),
                rng.random_range(5..600)
            ));
            id += 1;
        }
    }
    std::fs::write(path, out).expect("tickets csv");
}

fn config(dir: &Path, services: usize) -> PathBuf {
    let mut toml = format!(
        "[storage]\npath = \"{}\"\n\n[prometheus]\nurl = \"\"\n\n[[prometheus.query]]\nname = \"latency_p95\"\nquery = 'histogram_quantile(0.95, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))'\nunit = \"seconds\"\n\n",
        dir.join("store").display()
    );
    for i in 0..services {
        let s = service(i);
        toml.push_str(&format!(
            "[[prometheus.slo]]\nname = \"{s}-availability\"\nservice = \"{s}\"\ngood_query = 'sum(increase(http_requests_total{{job=\"{s}\",code!~\"5..\"}}[${{step}}]))'\ntotal_query = 'sum(increase(http_requests_total{{job=\"{s}\"}}[${{step}}]))'\ntarget = 0.999\nwindow = \"28d\"\n\n"
        ));
    }
    let teams = TEAMS.min(services.max(1));
    for t in 0..teams {
        let mine: Vec<String> = (0..services)
            .filter(|i| i % teams == t)
            .map(|i| format!("\"{}\"", service(i)))
            .collect();
        toml.push_str(&format!(
            "[[teams]]\nname = \"team{t:02}\"\nservices = [{}]\n\n",
            mine.join(", ")
        ));
    }
    for (p, segment) in ["smb", "mid-market", "enterprise"].iter().enumerate() {
        let mine: Vec<String> = (0..services)
            .filter(|i| i % 4 == p)
            .map(|i| format!("\"{}\"", service(i)))
            .collect();
        toml.push_str(&format!(
            "[[products]]\nname = \"product{p}\"\nservices = [{}]\nsegments = [\"{segment}\"]\n\n",
            mine.join(", ")
        ));
    }
    let path = dir.join("first_view.toml");
    std::fs::write(&path, toml).expect("config");
    path
}

fn run(bin: &str, args: &[&str], cfg: &Path) {
    let out = Command::new(bin)
        .args(args)
        .arg("--config")
        .arg(cfg)
        .arg("--now")
        .arg(NOW)
        .env("RUST_LOG", "warn")
        .output()
        .expect("barometer runs");
    assert!(
        out.status.success(),
        "barometer {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn build(dir: &Path, services: usize, weeks: i64, bin: &str, cfg: &Path) {
    let _ = std::fs::remove_dir_all(dir.join("store"));
    let t = Instant::now();
    let months = weeks * 12 / 52;
    revenue_csv(&dir.join("revenue.csv"), months);
    let revenue = dir.join("revenue.csv");
    run(
        bin,
        &["import", "revenue", revenue.to_str().expect("utf-8 path")],
        cfg,
    );
    tickets_csv(&dir.join("tickets.csv"), weeks);
    let tickets = dir.join("tickets.csv");
    run(
        bin,
        &[
            "import",
            "tickets",
            "--source",
            "zendesk",
            tickets.to_str().expect("utf-8 path"),
        ],
        cfg,
    );
    let store = Store::open(&dir.join("store")).expect("store");
    // Two writers, as the machine has two cores; a service's batches stay in order.
    let done = std::sync::atomic::AtomicUsize::new(0);
    let halves: Vec<Written> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|half| {
                let (store, done) = (&store, &done);
                s.spawn(move || {
                    let mut written = Written::default();
                    for i in (half..services).step_by(2) {
                        seed_service(store, i, weeks, &mut written);
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        if n % 20 == 0 {
                            eprintln!("seeded {n} services");
                        }
                    }
                    written
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a seeding thread"))
            .collect()
    });
    let mut written = Written::default();
    for h in halves {
        written.deployments += h.deployments;
        written.changes += h.changes;
        written.commits += h.commits;
        written.incidents += h.incidents;
        written.bugs += h.bugs;
        written.points += h.points;
    }
    store.flush().expect("flush");
    drop(store);
    eprintln!(
        "seeded {services} services × {weeks} weeks in {:.0} s: {} deployments, {} PRs, {} commits, {} incidents, {} bugs, {} points",
        t.elapsed().as_secs_f64(),
        written.deployments,
        written.changes,
        written.commits,
        written.incidents,
        written.bugs,
        written.points
    );
    eprintln!("store built in {:.0} s", t.elapsed().as_secs_f64());
}

/// One `GET /` on a new connection: the whole response.
fn get_root(addr: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut body = Vec::new();
    stream.read_to_end(&mut body).expect("response");
    body
}

/// Whether a response is the page kept from older data (labelled, reloading itself).
fn is_older(response: &[u8]) -> bool {
    String::from_utf8_lossy(response).contains("id=\"older\"")
}

/// One fresh daemon: (spawn → accepting, accepting → first `/` whole, status line, body bytes,
/// whether that page was the older one, and spawn → the current page when it was).
#[allow(clippy::type_complexity)]
fn measure(bin: &str, cfg: &Path) -> (Duration, Duration, String, usize, bool, Option<Duration>) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let t0 = Instant::now();
    // `BENCH_LOG=FILE`: each daemon's debug log (where its time goes) appended to FILE.
    let log = std::env::var_os("BENCH_LOG").map(|path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("the BENCH_LOG file")
    });
    let mut child = Command::new(bin)
        .args(["serve", "--listen", &addr, "--now", NOW, "--config"])
        .arg(cfg)
        .env(
            "RUST_LOG",
            if log.is_some() {
                "barometer=debug"
            } else {
                "warn"
            },
        )
        .stdout(Stdio::null())
        .stderr(log.map_or_else(Stdio::null, Stdio::from))
        .spawn()
        .expect("barometer serve");
    let mut stream = loop {
        match TcpStream::connect(&addr) {
            Ok(s) => break s,
            Err(_) if t0.elapsed() < Duration::from_secs(120) => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("the daemon never listened: {e}"),
        }
    };
    let open = t0.elapsed();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut body = Vec::new();
    stream.read_to_end(&mut body).expect("response");
    let total = t0.elapsed();
    // The older page reloads itself: as a browser would, until the current page is there (which
    // the daemon then keeps for the next start).
    let older = is_older(&body);
    // Every 50 ms: a coarser poll would round the time to the current page up by as much.
    let current = older.then(|| loop {
        std::thread::sleep(Duration::from_millis(50));
        if !is_older(&get_root(&addr)) {
            break t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "no current page after 10 min"
        );
    });
    // Stopped as a service manager would (SIGTERM: the daemon finishes its work, keeps what it
    // computed and flushes the store), so that the next run finds the store as a restart does.
    let pid = rustix::process::Pid::from_child(&child);
    if rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_err() {
        let _ = child.kill();
    }
    let _ = child.wait();
    let text = String::from_utf8_lossy(&body);
    let status = text.lines().next().unwrap_or("").to_owned();
    (open, total - open, status, body.len(), older, current)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let services = env_usize("BENCH_SERVICES", 200);
    let weeks = env_usize("BENCH_WEEKS", 260) as i64;
    let runs = env_usize("RUNS", 5).max(1);
    let root = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("barometer-first-view"));
    let dir = root.join(format!("{services}x{weeks}-v{LAYOUT}"));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let bin = env!("CARGO_BIN_EXE_barometer");
    let cfg = config(&dir, services);
    let marker = dir.join("built");
    if !marker.exists() {
        build(&dir, services, weeks, bin, &cfg);
        std::fs::write(&marker, "").expect("marker");
    }
    let size = Store::open(&dir.join("store"))
        .and_then(|s| s.size_on_disk())
        .unwrap_or(0);
    println!(
        "## Store open + first `/`: {services} services × {weeks} weeks ({}, {:.0} MB on disk)",
        dir.display(),
        size as f64 / 1e6
    );
    // Each round: a commit first (as a sync would make), so that nothing kept from an earlier
    // run is current ("changed"); then a restart on the store as that run left it ("restart").
    let mut times: [(Vec<f64>, Vec<f64>, Vec<f64>); 2] = Default::default();
    let mut currents: Vec<f64> = Vec::new();
    for r in 0..runs {
        for (case, label) in ["changed", "restart"].iter().enumerate() {
            if case == 0 {
                touch(&dir.join("store"), r, services);
            }
            let (open, first, status, bytes, older, current) = measure(bin, &cfg);
            println!(
                "run {} ({label}): open {:.0} ms, first / {:.0} ms, total {:.0} ms ({status}, {bytes} bytes{}){}",
                r + 1,
                open.as_secs_f64() * 1e3,
                first.as_secs_f64() * 1e3,
                (open + first).as_secs_f64() * 1e3,
                if older { ", the older page, labelled" } else { "" },
                current.map_or(String::new(), |c| format!(
                    "; the current page after {:.0} ms",
                    c.as_secs_f64() * 1e3
                ))
            );
            if let Some(c) = current {
                currents.push(c.as_secs_f64());
            }
            assert!(status.contains(" 200 "), "GET / answered {status}");
            let t = &mut times[case];
            t.0.push(open.as_secs_f64() * 1e3);
            t.1.push(first.as_secs_f64() * 1e3);
            t.2.push((open + first).as_secs_f64() * 1e3);
        }
    }
    for ((opens, firsts, totals), label) in times.into_iter().zip(["changed", "restart"]) {
        println!(
            "median of {runs} ({label}): open {:.0} ms, first / {:.0} ms, process start to first / body {:.0} ms (goal < 1000 ms)",
            median(opens),
            median(firsts),
            median(totals)
        );
    }
    if !currents.is_empty() {
        println!(
            "median of {} (changed): process start to the current page {:.0} ms",
            currents.len(),
            median(currents) * 1e3
        );
    }
}

/// A commit of data that changes no figure: one point of a series no view reads (a cursor
/// alone is no data, and leaves the kept page current).
fn touch(store: &Path, run: usize, services: usize) {
    let store = Store::open(store).expect("store");
    let mut batch = WriteBatch::new();
    if std::env::var("BENCH_TOUCH").as_deref() == Ok("deployment") {
        // As a sync of one repository would bring: a deployment the day before business time,
        // which the delivery model, its figures and the bugs' attribution take in.
        // Another deployment each time, also across invocations on the same store.
        let n = store.event_generation() * 1_000 + run as u64;
        let name = service(run % services.max(1));
        let at = utc(NaiveDate::from_ymd_opt(2026, 11, 24).expect("date"))
            + Span::hours(10)
            + Span::minutes(run as i64);
        batch.upsert_event(&Deployment {
            repo: format!("org/{name}"),
            service: name,
            environment: "production".into(),
            id: 9_000_000_000 + n,
            source: DeploySource::DeploymentsApi,
            sha: format!("{:040x}", 0xbe9c_0000_0000_u64 + n),
            git_ref: "main".into(),
            created_at: at,
            state: DeployState::Success,
            finished_at: Some(at + Span::minutes(7)),
        });
    } else {
        batch.put_point(
            &key("bench_touch", &[("bench", "first_view")]),
            1_700_000_000_000 + run as i64 * 60_000,
            run as f64,
        );
    }
    store.commit(batch).expect("touch");
}
