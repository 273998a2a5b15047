//! GitHub App authentication against the fake GitHub (`fake_github.rs`): the App's JWT is signed
//! with its key and names the App; installation tokens are minted, kept, renewed before they
//! expire and replaced when refused; with several installations each repository goes through
//! the one on its owner; a revoked installation and a wrong key are reported clearly. The key
//! file is checked by the configuration, and the key is never quoted in an error or a log.
//!
//! Token lifetimes are set relative to the system clock, which is the clock GitHub's
//! `expires_at` is compared with (business time plays no part in it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use barometer::config::Config;
use barometer::sources::github::client::{Client, Fetched};
use barometer::sources::github::{GithubError, GithubSync, Shared};
use barometer::sources::pull::RetryPolicy;
use barometer::store::Store;
use serde_json::{json, Value};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::fake_github::Fake;
use crate::github::{assert_known_answer, fake_github, set_token, REPO, TOKEN};

pub(crate) const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/github/app-test-key.pem"
);
const PUBLIC: &str = include_str!("../fixtures/github/app-test-key.pub.pem");
pub(crate) const APP_ID: u64 = 4242;

/// Every line of the key file's body: none may ever appear in an error or a log.
fn key_lines() -> Vec<String> {
    std::fs::read_to_string(KEY)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_owned)
        .collect()
}

fn assert_no_key(text: &str) {
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    for line in key_lines() {
        assert!(!text.contains(&line), "a line of the key leaked: {text}");
    }
}

/// `POST /app/installations/{id}/access_tokens` (GitHub REST docs, "Create an installation
/// access token for an app"): checks that the JWT is signed with the App's key (RS256) and
/// issued by the App (GitHub docs, "Generating a JSON Web Token (JWT) for a GitHub App"), and
/// answers `ghs_inst{id}_{n}` for the installation's n-th token. The k-th token of an
/// installation is valid for `valid_s[k]` seconds (the last one repeats; negative: already
/// expired when it arrives).
#[derive(Clone)]
pub(crate) struct Mint {
    valid_s: Vec<i64>,
    minted: Arc<Mutex<HashMap<u64, usize>>>,
    /// The JWTs it was sent.
    jwts: Arc<Mutex<Vec<String>>>,
}

impl Mint {
    pub(crate) fn new(valid_s: &[i64]) -> Self {
        Self {
            valid_s: valid_s.to_vec(),
            minted: Arc::default(),
            jwts: Arc::default(),
        }
    }

    pub(crate) fn count(&self, installation: u64) -> usize {
        self.minted
            .lock()
            .unwrap()
            .get(&installation)
            .copied()
            .unwrap_or(0)
    }

    /// Serves the route on `server`, before the fake's catch-all.
    pub(crate) async fn mount(&self, server: &MockServer) {
        Mock::given(method("POST"))
            .and(path_regex(r"^/app/installations/[0-9]+/access_tokens$"))
            .respond_with(self.clone())
            .with_priority(1)
            .mount(server)
            .await;
    }
}

impl Respond for Mint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let jwt = req.headers["authorization"]
            .to_str()
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap();
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        // `iss` is checked below: octocrab writes the id as a number, which GitHub takes and
        // jsonwebtoken's own issuer check (strings only) would not.
        validation.set_required_spec_claims(&["exp", "iat"]);
        let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
            .expect("a JWT signed with the App's key")
            .claims;
        assert_eq!(claims["iss"], json!(APP_ID), "{claims}");
        self.jwts.lock().unwrap().push(jwt.to_owned());
        let installation: u64 = req.url.path().split('/').nth(3).unwrap().parse().unwrap();
        let n = {
            let mut minted = self.minted.lock().unwrap();
            let n = minted.entry(installation).or_default();
            *n += 1;
            *n
        };
        let valid = self.valid_s[(n - 1).min(self.valid_s.len() - 1)];
        let expires = chrono::Utc::now() + chrono::Duration::seconds(valid);
        ResponseTemplate::new(201).set_body_json(json!({
            "token": format!("ghs_inst{installation}_{n}"),
            "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "permissions": {"issues": "read", "contents": "read", "deployments": "read"},
            "repository_selection": "all"
        }))
    }
}

/// A configuration reading the fake at `url` as App 4242 (`installations`: TOML after the App's
/// own keys), the token variable set too; the store is `dir/store`.
fn app_config(dir: &std::path::Path, url: &str, repos: &str, installations: &str) -> Config {
    set_token();
    crate::fake_github::github_config_with(
        dir,
        url,
        TOKEN,
        &format!(
            "repos = {repos}\n\n[github.app]\nid = {APP_ID}\nprivate_key_path = \"{KEY}\"\n\
             {installations}"
        ),
    )
}

/// The scenario's repository read from `url` as App 4242 through installation 7: the directory
/// (configuration and store), the configuration and the store.
fn scenario_as_app(url: &str) -> (tempfile::TempDir, Config, Store) {
    let dir = tempfile::tempdir().unwrap();
    let config = app_config(
        dir.path(),
        url,
        &format!("[\"{REPO}\"]"),
        "installation_ids = [7]\n",
    );
    let store = Store::open(&config.storage.path).unwrap();
    (dir, config, store)
}

/// A client of the fake at `server` as App 4242 (see [`app_config`]), and the directory holding
/// its configuration.
fn app_client(
    server: &MockServer,
    repos: &str,
    installations: &str,
) -> (tempfile::TempDir, Client) {
    let dir = tempfile::tempdir().unwrap();
    let config = app_config(dir.path(), &server.uri(), repos, installations);
    (
        dir,
        Client::new(&config.github, RetryPolicy::default()).unwrap(),
    )
}

/// The path and `Authorization` header of every request the fake answered since the last call.
pub(crate) fn auth_by_path(fake: &Fake) -> Vec<(String, String)> {
    let mut st = fake.0.lock().unwrap();
    let log = std::mem::take(&mut st.log);
    let auth = std::mem::take(&mut st.auth);
    log.into_iter()
        .zip(auth)
        .map(|((k, _, _), a)| (k, a.unwrap_or_default()))
        .collect()
}

async fn get(client: &Client, path: &str) -> Result<(), GithubError> {
    match client.get::<Value>(path, None).await? {
        Fetched::Fresh { .. } => Ok(()),
        Fetched::NotModified => panic!("no ETag was sent"),
    }
}

/// The tokens the fake saw, in order, on requests other than the App's own.
fn tokens_sent(fake: &Fake) -> Vec<String> {
    auth_by_path(fake)
        .into_iter()
        .filter(|(k, _)| k.starts_with("/repos/"))
        .map(|(_, a)| a)
        .collect()
}

#[tokio::test]
async fn a_whole_sync_goes_through_one_token_kept_across_syncs_and_the_app_wins_over_the_token() {
    let (server, fake) = fake_github().await;
    let mint = Mint::new(&[3600]);
    mint.mount(&server).await;
    let (_dir, config, store) = scenario_as_app(&server.uri());
    // Prepared once, as `App::build` does: the token outlives the sync.
    let shared = Shared::new(&config.github).unwrap();
    let report = GithubSync::with_shared(&config.github, &shared, &store, None, false)
        .unwrap()
        .run(None)
        .await
        .unwrap();
    assert!(report.requests > 10, "{report:?}");
    assert_known_answer(&store);
    let sent = tokens_sent(&fake);
    assert_eq!(sent.len() as u64, report.requests);
    // Every request carried the installation's token, never the one in the token variable.
    assert!(sent.iter().all(|a| a == "Bearer ghs_inst7_1"), "{sent:?}");
    assert_eq!(mint.count(7), 1);
    // A second sync (nothing new: every answer a 304) keeps the same token.
    GithubSync::with_shared(&config.github, &shared, &store, None, false)
        .unwrap()
        .run(None)
        .await
        .unwrap();
    let sent = tokens_sent(&fake);
    assert!(!sent.is_empty() && sent.iter().all(|a| a == "Bearer ghs_inst7_1"));
    assert_eq!(mint.count(7), 1, "no second token for a second sync");
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires_and_replaced_when_refused() {
    let (server, fake) = Fake::start().await;
    fake.route("/repos/acme/api/pulls", json!([]));
    // The first token has expired when it arrives, the second has less than the minute a token
    // must have left, the third an hour.
    let mint = Mint::new(&[-10, 30, 3600]);
    mint.mount(&server).await;
    let (_dir, client) = app_client(&server, "[\"acme/api\"]", "installation_ids = [7]\n");
    for _ in 0..4 {
        get(&client, "/repos/acme/api/pulls").await.unwrap();
    }
    assert_eq!(
        tokens_sent(&fake),
        [
            "Bearer ghs_inst7_1",
            "Bearer ghs_inst7_2",
            "Bearer ghs_inst7_3",
            "Bearer ghs_inst7_3"
        ]
    );
    assert_eq!(mint.count(7), 3);
    // GitHub refuses the kept token (revoked before its hour): the request is retried with a
    // new one, and succeeds.
    fake.fault(
        "/repos/acme/api/pulls",
        401,
        &[],
        r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#,
    );
    get(&client, "/repos/acme/api/pulls").await.unwrap();
    assert_eq!(
        tokens_sent(&fake),
        ["Bearer ghs_inst7_3", "Bearer ghs_inst7_4"]
    );
    assert_eq!(mint.count(7), 4);
}

#[tokio::test]
async fn each_repository_goes_through_the_installation_on_its_owner() {
    let (server, fake) = Fake::start().await;
    // GitHub REST docs, "List installations for the authenticated app" (trimmed to the fields
    // the client reads and a few beside them), over two pages.
    let installation = |id: u64, account: Value| {
        json!({
            "id": id,
            "account": account,
            "app_id": APP_ID,
            "target_type": "Organization",
            "permissions": {"issues": "read", "contents": "read"},
            "events": ["deployment"],
            "repository_selection": "all"
        })
    };
    let org = |login: &str, id: u64| json!({"login": login, "id": id, "type": "Organization"});
    fake.route(
        "/app/installations",
        json!([installation(7, org("Acme", 70))]),
    );
    fake.route(
        "/app/installations#2",
        json!([
            installation(8, org("globex", 80)),
            // An enterprise installation has an account without a login.
            installation(9, json!({"slug": "megacorp", "id": 90}))
        ]),
    );
    for repo in ["acme/api", "globex/web", "ACME/api"] {
        fake.route(&format!("/repos/{repo}/pulls"), json!([]));
    }
    let mint = Mint::new(&[3600]);
    mint.mount(&server).await;
    let (_dir, client) = app_client(&server, "[\"acme/api\", \"globex/web\"]", "");
    get(&client, "/repos/acme/api/pulls").await.unwrap();
    get(&client, "/repos/globex/web/pulls").await.unwrap();
    // A full URL on the API host, as a `Link` header gives it, and the owner in another case.
    get(&client, &format!("{}/repos/ACME/api/pulls", server.uri()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let err = get(&client, "/repos/initech/erp/pulls").await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, GithubError::NotInstalled { owner, .. } if owner == "initech"),
        "{err:?}"
    );
    assert!(
        msg.contains("no installation covers \"initech\" (installed on: acme, globex)")
            && msg.contains("install the App on initech"),
        "{msg}"
    );
    let seen = auth_by_path(&fake);
    let listings: Vec<&(String, String)> = seen
        .iter()
        .filter(|(k, _)| k.starts_with("/app/installations"))
        .collect();
    // Listed once, both pages, as the App (its JWT), not as an installation.
    assert_eq!(listings.len(), 2, "{seen:?}");
    assert!(
        listings.iter().all(|(_, a)| a.starts_with("Bearer ey")),
        "{listings:?}"
    );
    let repos: Vec<(&str, &str)> = seen
        .iter()
        .filter(|(k, _)| k.starts_with("/repos/"))
        .map(|(k, a)| (k.as_str(), a.as_str()))
        .collect();
    assert_eq!(
        repos,
        [
            ("/repos/acme/api/pulls", "Bearer ghs_inst7_1"),
            ("/repos/globex/web/pulls", "Bearer ghs_inst8_1"),
            ("/repos/ACME/api/pulls", "Bearer ghs_inst7_1"),
        ]
    );

    // Listed installations narrow to the configured ones.
    let (_dir, client) = app_client(&server, "[\"globex/web\"]", "installation_ids = [8, 99]\n");
    get(&client, "/repos/globex/web/pulls").await.unwrap();
    let err = get(&client, "/repos/acme/api/pulls").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("no installation covers \"acme\" (installed on: globex)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_revoked_installation_or_a_refused_key_is_named_with_what_to_do() {
    let (server, fake) = fake_github().await;
    let (_dir, config, store) = scenario_as_app(&server.uri());
    let sync = || async {
        GithubSync::new(&config.github, &store, None, false)
            .unwrap()
            .run(None)
            .await
            .unwrap_err()
    };

    // Uninstalled: GitHub answers 404 for the installation.
    fake.fault(
        "/app/installations/7/access_tokens",
        404,
        &[],
        r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"}"#,
    );
    let err = sync().await;
    assert!(
        matches!(
            err,
            GithubError::AppRefused {
                installation: Some(7),
                status: 404,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("installation 7 not found")
            && msg.contains("uninstalled")
            && msg.contains("install the App again")
            && msg.contains("github.app.installation_ids"),
        "{msg}"
    );
    assert_no_key(&msg);
    assert_no_key(&format!("{err:?}"));
    // Refused at once, not retried, and nothing about the repository was asked or stored.
    let log = fake.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(store
        .events::<barometer::model::Deployment>()
        .next()
        .is_none());

    // A wrong key (or App id): GitHub refuses the JWT with 401.
    fake.fault(
        "/app/installations/7/access_tokens",
        401,
        &[],
        r#"{"message":"A JSON web token could not be decoded","documentation_url":"https://docs.github.com/rest"}"#,
    );
    let msg = sync().await.to_string();
    assert!(
        msg.contains("GitHub refused the App's JWT for installation 7")
            && msg.contains("github.app.id")
            && msg.contains("github.app.private_key_path"),
        "{msg}"
    );
    assert_no_key(&msg);

    // Suspended: 403. A 403 that is a rate limit is waited out first, not taken for it.
    let tokens = "/app/installations/7/access_tokens";
    fake.log();
    fake.fault(
        tokens,
        403,
        &[("x-ratelimit-remaining", "0".to_owned())],
        r#"{"message":"API rate limit exceeded"}"#,
    );
    fake.fault(
        tokens,
        403,
        &[],
        r#"{"message":"This installation has been suspended"}"#,
    );
    let msg = sync().await.to_string();
    assert!(
        msg.contains(
            "installation 7 refused a token (HTTP 403: This installation has been suspended)"
        ) && msg.contains("unsuspend"),
        "{msg}"
    );
    let log = fake.log();
    assert_eq!(
        log.iter().filter(|(k, _, _)| k == tokens).count(),
        2,
        "{log:?}"
    );

    // The same when listing the installations (no installation configured).
    fake.fault(
        "/app/installations",
        401,
        &[],
        r#"{"message":"'Expiration time' claim ('exp') is too far in the future"}"#,
    );
    let (_dir, client) = app_client(&server, &format!("[\"{REPO}\"]"), "");
    let err = get(&client, &format!("/repos/{REPO}/pulls"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GithubError::AppRefused {
                installation: None,
                status: 401,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("GitHub refused the App's JWT (HTTP 401"),
        "{err}"
    );
}

/// Runs `cmd`: its exit status, stdout and stderr, neither of which holds a line of the key.
fn run_without_key(cmd: &mut std::process::Command) -> (std::process::ExitStatus, String, String) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_no_key(&stdout);
    assert_no_key(&stderr);
    (out.status, stdout, stderr)
}

/// `barometer sync` as an App, with every log on: the key, the JWT's signature and the tokens
/// appear in no output; `config check` shows the key's path, not the key.
#[test]
fn the_cli_syncs_as_the_app_and_no_output_holds_the_key_or_a_token() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, fake) = rt.block_on(fake_github());
    let mint = Mint::new(&[3600]);
    rt.block_on(mint.mount(&server));
    let dir = tempfile::tempdir().unwrap();
    let _ = app_config(
        dir.path(),
        &server.uri(),
        &format!("[\"{REPO}\"]"),
        "installation_ids = [7]\n",
    );
    let cfg = dir.path().join("barometer.toml");
    let signatures = || -> Vec<String> {
        let jwts = mint.jwts.lock().unwrap();
        jwts.iter()
            .map(|j| j.rsplit('.').next().unwrap().to_owned())
            .collect()
    };
    let run = |args: &[&str]| {
        let (status, stdout, stderr) = run_without_key(
            crate::helpers::barometer(&dir.path().join("store"))
                .args(["--config", cfg.to_str().unwrap()])
                .args(args)
                .env("BAROMETER_TEST_GH_TOKEN", TOKEN)
                .env("RUST_LOG", "trace"),
        );
        // Nor a token, nor a JWT's signature (its header and claims are public; the signature
        // is what the key made).
        for secret in signatures()
            .into_iter()
            .chain(["ghs_inst".to_owned(), TOKEN.to_owned()])
        {
            assert!(!stdout.contains(&secret) && !stderr.contains(&secret));
        }
        (status, stdout, stderr)
    };
    let (status, stdout, stderr) = run(&["sync", "--source", "github"]);
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("github:"), "{stdout}");
    assert!(
        stderr.contains("GitHub App installation token minted"),
        "{stderr}"
    );
    assert!(
        stderr.contains("GitHub App configured: the token in the variable is not used"),
        "{stderr}"
    );
    let auth = auth_by_path(&fake);
    assert!(auth
        .iter()
        .all(|(k, a)| !k.starts_with("/repos/") || a == "Bearer ghs_inst7_1"));
    assert_eq!(mint.count(7), 1);
    assert_eq!(signatures().len(), 1);
    let (status, stdout, stderr) = run(&["config", "check"]);
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("app-test-key.pem"), "{stdout}");
    drop(server);
}

/// Runs `barometer config check` on a `[github.app]` table; its exit code and stderr.
fn config_check(dir: &std::path::Path, app: &str) -> (Option<i32>, String) {
    let file = dir.join("barometer.toml");
    std::fs::write(&file, format!("[github.app]\n{app}")).unwrap();
    let (status, _, stderr) =
        run_without_key(crate::helpers::barometer(&dir.join("store")).args([
            "--config",
            file.to_str().unwrap(),
            "config",
            "check",
        ]));
    (status.code(), stderr)
}

#[test]
fn config_check_reads_the_key_file_and_never_quotes_it() {
    let dir = tempfile::tempdir().unwrap();
    let key_error = |file: &std::path::Path, why: &str| {
        let (code, err) = config_check(
            dir.path(),
            &format!("id = {APP_ID}\nprivate_key_path = \"{}\"\n", file.display()),
        );
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("github.app.private_key_path")
                && err.contains(&file.display().to_string())
                && err.contains(why),
            "{err}"
        );
        err
    };
    // Missing.
    key_error(&dir.path().join("absent.pem"), "cannot read");
    // Unreadable (a directory: tests may run as root, whom file modes do not stop).
    let sub = dir.path().join("keys");
    std::fs::create_dir(&sub).unwrap();
    key_error(&sub, "cannot read");
    // Not a PEM at all, or armour around something that is not a key.
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "TOPSECRET not a key\n").unwrap();
    let err = key_error(&garbage, "does not hold an RSA private key in PEM format");
    assert!(!err.contains("TOPSECRET"), "{err}");
    std::fs::write(
        &garbage,
        "-----BEGIN RSA PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END RSA PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = key_error(&garbage, "does not hold an RSA private key");
    assert!(!err.contains("TOPSECRET"), "{err}");
    // The real key with its body damaged: parsed or not, not one of its lines is quoted.
    let damaged = dir.path().join("damaged.pem");
    let mut lines: Vec<String> = std::fs::read_to_string(KEY)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines[10].replace_range(10..18, "AAAAAAAA");
    std::fs::write(&damaged, lines.join("\n") + "\n").unwrap();
    key_error(&damaged, "does not hold an RSA private key");
    // The App's public key, which a PEM parser accepts as an RSA key: it cannot sign.
    let public = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/github/app-test-key.pub.pem"
    ));
    key_error(public, "does not hold an RSA private key");

    // Every problem of the table at once.
    let (code, err) = config_check(
        dir.path(),
        &format!(
            "id = 0\nprivate_key_path = \"{}\"\ninstallation_ids = [7, 7, -1]\n",
            garbage.display()
        ),
    );
    assert_eq!(code, Some(2), "{err}");
    for key in [
        "github.app.id",
        "github.app.private_key_path",
        "github.app.installation_ids[1]",
        "github.app.installation_ids[2]",
    ] {
        assert!(err.contains(key), "{key}: {err}");
    }
    // The good key passes.
    let (code, err) = config_check(
        dir.path(),
        &format!("id = {APP_ID}\nprivate_key_path = \"{KEY}\"\n"),
    );
    assert_eq!(code, Some(0), "{err}");
}
