//! Shared helpers: temp stores, the built binary, a spawned daemon.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The `barometer` binary Cargo built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_barometer"))
}

/// Business time of every daemon and command under test (`BAROMETER_NOW`): a Wednesday, so the
/// demo ends on Monday 2026-11-23 and the last complete week starts on 2026-11-16, whatever the
/// day the suite runs.
pub const NOW: &str = "2026-11-25T12:00:00Z";

/// [`NOW`] as an instant.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    NOW.parse().expect("NOW is RFC 3339")
}

/// Runs `cmd`, which must succeed (its stderr is the failure message), and returns its stdout.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// A `barometer` command with a clean environment for configuration: no user file, storage in
/// `store`, and no inherited `BAROMETER__*` overrides.
pub fn barometer(store: &Path) -> Command {
    let mut cmd = Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("BAROMETER") {
            cmd.env_remove(k);
        }
    }
    // Digests of daemons under test go beside their store, not into the working directory.
    cmd.env("BAROMETER__STORAGE__PATH", store)
        .env(
            "BAROMETER__DIGEST__OUT_DIR",
            store.with_extension("digests"),
        )
        .env("BAROMETER_NOW", NOW)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    cmd
}

/// A running daemon, killed on drop if the test did not stop it.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    #[allow(dead_code)] // keeps the log reader alive; tests may read it
    pub logs: mpsc::Receiver<String>,
}

impl Daemon {
    /// Starts `barometer serve <args>` on a free loopback port and waits for its address.
    pub fn start(store: &Path, args: &[&str]) -> Daemon {
        Self::start_with_env(store, args, &mut Vec::new())
    }

    /// Like [`Daemon::start`], with extra environment variables.
    pub fn start_with_env(store: &Path, args: &[&str], env: &mut Vec<(&str, &str)>) -> Daemon {
        let mut child = barometer(store)
            .envs(env.drain(..))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn barometer serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let addr = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(rest) = line.split("addr=").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap_or_default();
                        break addr.parse().expect("listen address in the log line");
                    }
                    seen.push(line);
                }
                Err(_) => panic!("daemon did not report its address; log so far: {seen:#?}"),
            }
        };
        Daemon {
            child,
            addr,
            logs: rx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits (up to 120 s) until `/readyz` says ready; until then it must say "starting".
    pub async fn wait_ready(&self) {
        wait_ready(self.addr).await
    }

    /// Polls `/metrics` until `done` accepts the text (or `secs` pass) and returns it.
    pub async fn metrics_when(&self, secs: u64, done: impl Fn(&str) -> bool) -> String {
        metrics_when(self.addr, secs, done).await
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("daemon did not stop within 30 s of SIGTERM");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (up to 120 s) until `/readyz` at `addr` says ready; until then it must say "starting".
pub async fn wait_ready(addr: SocketAddr) {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let r = client
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["status"], "ready");
            return;
        }
        assert_eq!(r.status(), 503);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["status"], "starting");
        assert!(
            std::time::Instant::now() < deadline,
            "not ready after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// GET `url` and parse the JSON body.
pub async fn get_json(client: &reqwest::Client, url: impl AsRef<str>) -> serde_json::Value {
    client
        .get(url.as_ref())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits (up to 20 s) until every one of `paths` exists: a watched folder's import has moved
/// its files to `done/` or `failed/`.
pub async fn wait_for_files(paths: &[PathBuf]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !paths.iter().all(|p| p.exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "not processed: {paths:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The layouts `/api/v1/imports` lists, oldest first.
pub async fn import_layouts(client: &reqwest::Client, url: impl AsRef<str>) -> Vec<String> {
    get_json(client, url).await["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["layout"].as_str().unwrap().to_owned())
        .collect()
}

/// GET `url` and return the body as text.
pub async fn get_text(client: &reqwest::Client, url: impl AsRef<str>) -> String {
    client
        .get(url.as_ref())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Polls `/metrics` at `addr` until `done` accepts the text (or `secs` pass) and returns it. The
/// exposition is rebuilt shortly after data changes, so tests wait for it.
pub async fn metrics_when(addr: SocketAddr, secs: u64, done: impl Fn(&str) -> bool) -> String {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let r = client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        let text = r.text().await.unwrap();
        if done(&text) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/metrics not as expected after {secs} s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The daemon run in the test's process (zero-to-production's `spawn_app`): port 0, its own
/// store, the `on_listen` hook for the address. Process-level behaviour (signals, exit codes)
/// stays with [`Daemon`].
pub struct TestApp {
    pub addr: SocketAddr,
    shutdown: tokio_util::sync::CancellationToken,
    served: tokio::task::JoinHandle<Result<(), barometer::serve::ServeError>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Polls `/metrics` until `done` accepts the text (or `secs` pass) and returns it.
    pub async fn metrics_when(&self, secs: u64, done: impl Fn(&str) -> bool) -> String {
        metrics_when(self.addr, secs, done).await
    }

    /// Waits (up to 120 s) until `/readyz` says ready; until then it must say "starting".
    pub async fn wait_ready(&self) {
        wait_ready(self.addr).await
    }

    /// Shuts the daemon down as SIGTERM would and waits for it; panics if it failed.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.served
            .await
            .expect("the daemon task did not panic")
            .expect("the daemon stopped cleanly");
    }
}

/// Starts the daemon in-process on a free loopback port, with its store in `store`, the
/// configuration file `config` (if any) and `env` as `BAROMETER__…` variables.
pub async fn spawn_app(store: &Path, config: Option<PathBuf>, env: &[(&str, &str)]) -> TestApp {
    spawn(store, config, env, None).await
}

/// Like `serve --demo`: starts the daemon in-process with the demo organisation seeded into
/// `store` (seed 42, ending this week).
pub async fn spawn_demo_app(store: &Path) -> TestApp {
    let demo = barometer::serve::DemoSeed {
        seed: 42,
        end: now().date_naive(),
    };
    spawn(store, None, &[], Some(demo)).await
}

async fn spawn(
    store: &Path,
    config: Option<PathBuf>,
    env: &[(&str, &str)],
    demo: Option<barometer::serve::DemoSeed>,
) -> TestApp {
    barometer::clock::pin(now());
    let config = app_config(store, config, env);
    let app = barometer::app::App::build(config).expect("the store opens");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let options = barometer::serve::RunOptions {
        demo,
        digest: Some(std::sync::Arc::new(barometer::cli::DaemonDigest)),
    };
    let served = tokio::spawn(barometer::serve::run(
        app,
        options,
        shutdown.clone(),
        move |addr| {
            let _ = tx.send(addr);
        },
    ));
    let addr = rx.await.expect("the daemon listens");
    TestApp {
        addr,
        shutdown,
        served,
    }
}

/// The configuration [`spawn_app`] gives its daemon: the file `config` (if any), `env` as
/// `BAROMETER__…` variables, the store in `store`, digests beside it, a free loopback port.
pub fn app_config(
    store: &Path,
    config: Option<PathBuf>,
    env: &[(&str, &str)],
) -> barometer::config::Config {
    use barometer::config::{Config, Sources};
    let mut vars: std::collections::BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vars.insert(
        "BAROMETER__STORAGE__PATH".into(),
        store.display().to_string(),
    );
    vars.insert(
        "BAROMETER__DIGEST__OUT_DIR".into(),
        store.with_extension("digests").display().to_string(),
    );
    Config::load(&Sources {
        file: config,
        env: Some(vars),
        overrides: vec![("server.listen".into(), "127.0.0.1:0".into())],
    })
    .expect("a valid configuration")
}

/// A demo organisation seeded (seed 7, ending 2026-11-25) into `dir/store`, with `config`
/// written to `dir/barometer.toml`: the store and the configuration file.
pub fn seeded_demo_with(dir: &Path, config: &str) -> (PathBuf, PathBuf) {
    let store = dir.join("store");
    let out = barometer(&store)
        .args(["demo", "--seed", "7", "--end", "2026-11-25"])
        .output()
        .expect("the barometer binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.join("barometer.toml");
    std::fs::write(&file, config).expect("the configuration is written");
    (store, file)
}

/// Opens a store's raw sled database once the store has let go of it (sled releases its lock a
/// moment after the store is dropped), for tests that write what another version would.
pub fn raw_sled(dir: &Path) -> sled::Db {
    (0..40)
        .find_map(|_| {
            sled::open(dir)
                .map_err(|_| std::thread::sleep(Duration::from_millis(25)))
                .ok()
        })
        .expect("sled opens once the store has let go")
}
