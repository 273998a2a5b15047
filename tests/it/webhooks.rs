//! `POST /webhooks/github` against the fake GitHub: signed deliveries built from GitHub's
//! documented payloads (`tests/fixtures/github/webhooks/`, from `octokit/webhooks`
//! `payload-examples`) are applied through the polling code, refusals store nothing, and the
//! same history pushed, polled, or pushed with gaps and then polled gives the same figures.

use std::net::SocketAddr;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::fake_github::Fake;
use crate::github::{
    assert_known_answer, fake_github, github_config, load, model, set_token, REPO,
};

use barometer::analysis::dora::{self, DoraSettings};
use barometer::analysis::WEEK_MS;
use barometer::config::Config;
use barometer::health::{DeliveryOutcome, Health};
use barometer::model::{Change, Deployment, Incident};
use barometer::serve::webhooks::{routes, WebhookState};
use barometer::sources::github::GithubSync;
use barometer::store::Store;

/// The secret every test signs with (a test value, in the variable the configuration names).
const SECRET: &str = "test-only-webhook-secret-0123456789";
const SECRET_ENV: &str = "BAROMETER_TEST_GH_HOOK_SECRET";

/// The events token (test value) in the variable `[webhooks]` names.
const EVENTS_TOKEN: &str = "test-only-events-token-0123456789";
const EVENTS_TOKEN_ENV: &str = "BAROMETER_TEST_EVENTS_TOKEN";

fn set_secret() {
    // Every test uses the same values, so setting them from several threads is harmless.
    std::env::set_var(SECRET_ENV, SECRET);
    std::env::set_var(EVENTS_TOKEN_ENV, EVENTS_TOKEN);
}

pub(crate) fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub(crate) fn envelope(event: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/github/webhooks/{event}.payload.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A configuration for the fake at `url`, webhooks signed with [`SECRET`].
fn hook_config(dir: &std::path::Path, url: &str, github: &str) -> Config {
    let repos = if github.is_empty() {
        format!("repos = [\"{REPO}\"]\n")
    } else {
        github.to_owned()
    };
    let mut config = github_config(
        dir,
        url,
        &format!("webhook_secret_env = \"{SECRET_ENV}\"\n{repos}"),
    );
    config.webhooks.events_token_env = EVENTS_TOKEN_ENV.into();
    config
}

struct Hooks {
    addr: SocketAddr,
    app: barometer::app::App,
    health: Arc<Health>,
    client: reqwest::Client,
}

impl Hooks {
    /// The webhook routes alone, on a free loopback port (no syncs run).
    async fn start(config: Config) -> Hooks {
        barometer::clock::pin(crate::helpers::now());
        let app = barometer::app::App::build(config).unwrap();
        let health = Arc::new(Health::default());
        let router = routes(WebhookState {
            app: app.clone(),
            health: health.clone(),
            serial: Arc::default(),
            pruned: Arc::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Hooks {
            addr,
            app,
            health,
            client: reqwest::Client::new(),
        }
    }

    fn store(&self) -> &Store {
        &self.app.store
    }

    async fn send_raw(
        &self,
        event: &str,
        id: &str,
        body: Vec<u8>,
        secret: Option<&str>,
    ) -> (u16, Value) {
        deliver(&self.client, self.addr, event, id, body, secret).await
    }

    /// Posts `body` to `/webhooks/events{query}` with `token` (`None`: no header).
    async fn push(&self, query: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("http://{}/webhooks/events{query}", self.addr))
            .json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, event: &str, id: &str, payload: &Value) -> (u16, Value) {
        self.send_raw(event, id, payload.to_string().into_bytes(), Some(SECRET))
            .await
    }

    fn counted(&self, outcome: DeliveryOutcome, reason: &str) -> u64 {
        self.health
            .deliveries
            .snapshot()
            .get(&("github".to_owned(), outcome, reason.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

/// Sends `body` to `addr` as a delivery of `event` with id `id`, signed with `secret` (`None`:
/// no signature header); the status and the JSON answer.
async fn deliver(
    client: &reqwest::Client,
    addr: SocketAddr,
    event: &str,
    id: &str,
    body: Vec<u8>,
    secret: Option<&str>,
) -> (u16, Value) {
    let mut req = client
        .post(format!("http://{addr}/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", id)
        .header("user-agent", "GitHub-Hookshot/test");
    if let Some(s) = secret {
        req = req.header("x-hub-signature-256", sign(s, &body));
    }
    let r = req.body(body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The scenario of `tests/it/github.rs` as GitHub would push it: one delivery per merged or
/// closed pull request, per deployment (its `deployment_status` event, which carries the
/// deployment) and per issue, in the order they happened. Each item is the very JSON the fake
/// lists, so pushing and polling read the same facts.
fn scenario_deliveries(fake: &Fake) -> Vec<(String, Value, String)> {
    let routes = fake.0.lock().unwrap().routes.clone();
    let listed = |path: &str| -> Vec<Value> {
        let base = format!("/repos/{REPO}/{path}");
        [base.clone(), format!("{base}#2")]
            .iter()
            .filter_map(|k| routes.get(k))
            .flat_map(|b| serde_json::from_str::<Vec<Value>>(b).unwrap())
            .collect()
    };
    let repo = json!({"id": 1, "name": "shop", "full_name": REPO, "private": true,
        "owner": {"login": "acme", "id": 2, "type": "Organization"}, "default_branch": "main"});
    let mut out: Vec<(String, Value, String)> = Vec::new();
    for p in listed("pulls") {
        let mut e = envelope("pull_request");
        e["number"] = p["number"].clone();
        e["pull_request"] = p.clone();
        e["repository"] = repo.clone();
        let at = p["closed_at"].as_str().unwrap().to_owned();
        out.push(("pull_request".into(), e, at));
    }
    for d in listed("deployments") {
        let mut e = envelope("deployment_status");
        let statuses: Vec<Value> = serde_json::from_str(
            &routes[&format!("/repos/{REPO}/deployments/{}/statuses", d["id"])],
        )
        .unwrap();
        e["deployment"] = d.clone();
        e["deployment_status"] = statuses[0].clone();
        e["repository"] = repo.clone();
        let at = d["updated_at"].as_str().unwrap().to_owned();
        out.push(("deployment_status".into(), e, at));
    }
    for i in listed("issues") {
        let mut e = envelope("issues");
        e["action"] = json!(if i["closed_at"].is_null() {
            "opened"
        } else {
            "closed"
        });
        e["issue"] = i.clone();
        e["repository"] = repo.clone();
        let at = i["updated_at"].as_str().unwrap().to_owned();
        out.push(("issues".into(), e, at));
    }
    out.sort_by(|a, b| a.2.cmp(&b.2));
    out
}

/// Every figure of the scenario's week, as JSON (the same type the API serialises).
fn figures(store: &Store) -> Value {
    let m = model(store);
    let week = crate::fake_github::t(0.0).timestamp_millis();
    let f = dora::window(
        &m,
        Some("shop"),
        week,
        week + WEEK_MS,
        &DoraSettings::default().bands,
    );
    serde_json::to_value(f).unwrap()
}

async fn polled_figures(url: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let config = hook_config(dir.path(), url, "");
    let store = Store::open(&config.storage.path).unwrap();
    sync(&config, &store).await;
    figures(&store)
}

/// The scenario's fake GitHub, and the webhook routes over a fresh store reading it.
async fn scenario_hooks() -> (wiremock::MockServer, Fake, tempfile::TempDir, Hooks) {
    set_token();
    set_secret();
    let (server, fake) = fake_github().await;
    let dir = tempfile::tempdir().unwrap();
    let hooks = Hooks::start(hook_config(dir.path(), &server.uri(), "")).await;
    (server, fake, dir, hooks)
}

/// One complete GitHub sync of `store` (polling).
async fn sync(config: &Config, store: &Store) {
    GithubSync::new(&config.github, store, None, false)
        .unwrap()
        .run(None)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_same_history_pushed_or_polled_gives_the_same_figures() {
    let (server, fake, _dir, hooks) = scenario_hooks().await;
    let polled = polled_figures(&server.uri()).await;
    let deliveries = scenario_deliveries(&fake);
    // 8 pull requests, 9 deployments (one in staging), 4 issues (one a pull request).
    assert_eq!(deliveries.len(), 21);
    for (n, (event, payload, _)) in deliveries.iter().enumerate() {
        let (status, body) = hooks.send(event, &format!("d-{n}"), payload).await;
        assert_eq!(status, 200, "{event}: {body}");
        assert_eq!(body["status"], "applied", "{event}: {body}");
    }
    // What polling keeps: 8 production deployments, 7 merged PRs, 3 incidents.
    assert_eq!(load::<Deployment>(hooks.store()).len(), 8);
    assert_eq!(load::<Change>(hooks.store()).len(), 7);
    assert_eq!(load::<Incident>(hooks.store()).len(), 3);
    assert_known_answer(hooks.store());
    assert_eq!(figures(hooks.store()), polled);
    assert_eq!(
        hooks.counted(DeliveryOutcome::Accepted, "deployment_status"),
        9
    );

    // A later sync is reconciliation: it finds everything and counts nothing twice.
    let before = figures(hooks.store());
    sync(&hooks.app.config, hooks.store()).await;
    assert_eq!(load::<Deployment>(hooks.store()).len(), 8);
    assert_eq!(figures(hooks.store()), before);
}

/// As a GitHub App, the details deliveries read from the API carry the installation's token, one
/// token for every delivery (the application keeps it), never the token in the variable.
#[tokio::test]
async fn deliveries_read_github_as_the_app_with_one_token_for_all() {
    set_token();
    set_secret();
    let (server, fake) = fake_github().await;
    let mint = crate::github_app::Mint::new(&[3600]);
    mint.mount(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let hooks = Hooks::start(hook_config(
        dir.path(),
        &server.uri(),
        &format!(
            "repos = [\"{REPO}\"]\n\n[github.app]\nid = {}\nprivate_key_path = \"{}\"\n\
             installation_ids = [7]\n",
            crate::github_app::APP_ID,
            crate::github_app::KEY
        ),
    ))
    .await;
    for (n, (event, payload, _)) in scenario_deliveries(&fake).iter().enumerate() {
        let (status, body) = hooks.send(event, &format!("d-{n}"), payload).await;
        assert_eq!(status, 200, "{event}: {body}");
    }
    assert_known_answer(hooks.store());
    let seen = crate::github_app::auth_by_path(&fake);
    let read: Vec<&String> = seen
        .iter()
        .filter(|(k, _)| k.starts_with("/repos/"))
        .map(|(_, a)| a)
        .collect();
    assert!(read.len() > 10, "{seen:?}");
    assert!(read.iter().all(|a| *a == "Bearer ghs_inst7_1"), "{read:?}");
    assert_eq!(mint.count(7), 1);
}

#[tokio::test]
async fn webhooks_with_gaps_and_one_sync_give_the_same_figures_again() {
    let (server, fake, _dir, hooks) = scenario_hooks().await;
    let polled = polled_figures(&server.uri()).await;
    // GitHub knows which pull request each commit came from (`commits/{sha}/pulls`); with a
    // pull request's delivery lost, the graph step asks for its commits.
    for p in crate::github::PRS.iter().filter(|p| p.merged.is_some()) {
        let pr = crate::fake_github::pr_json(p);
        for sha in p.commits.iter().map(|c| c.0).chain([p.merge_sha]) {
            let key = format!("/repos/{REPO}/commits/{sha}/pulls");
            if !fake.0.lock().unwrap().routes.contains_key(&key) {
                fake.route(&key, json!([pr]));
            }
        }
    }
    // Every other delivery is lost (GitHub gave up, or the daemon was down).
    for (n, (event, payload, _)) in scenario_deliveries(&fake).iter().enumerate() {
        if n % 2 == 1 {
            continue;
        }
        let (status, body) = hooks.send(event, &format!("g-{n}"), payload).await;
        assert_eq!(status, 200, "{event}: {body}");
    }
    assert!(load::<Deployment>(hooks.store()).len() < 8);
    sync(&hooks.app.config, hooks.store()).await;
    assert_eq!(load::<Deployment>(hooks.store()).len(), 8);
    assert_eq!(load::<Change>(hooks.store()).len(), 7);
    assert_eq!(load::<Incident>(hooks.store()).len(), 3);
    assert_known_answer(hooks.store());
    assert_eq!(figures(hooks.store()), polled);
}

#[tokio::test]
async fn refused_deliveries_store_nothing_and_a_redelivery_is_a_no_op() {
    let (_server, fake, _dir, hooks) = scenario_hooks().await;
    let (_, pr, _) = scenario_deliveries(&fake)
        .into_iter()
        .find(|(e, _, _)| e == "pull_request")
        .unwrap();
    let body = pr.to_string().into_bytes();
    let nothing_stored = |hooks: &Hooks| {
        assert!(
            hooks.store().is_empty(),
            "{:?}",
            hooks.store().event_counts()
        );
        assert_eq!(
            hooks.store().delivery("github-webhook", "r-1").unwrap(),
            None
        );
    };

    // Tampered body: signed, then one byte changed.
    let mut tampered = body.clone();
    let sig = sign(SECRET, &tampered);
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    let r = hooks
        .client
        .post(format!("http://{}/webhooks/github", hooks.addr))
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", "r-1")
        .header("x-hub-signature-256", sig)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "bad_signature");
    nothing_stored(&hooks);

    // Wrong secret.
    let (status, err) = hooks
        .send_raw("pull_request", "r-1", body.clone(), Some("not-the-secret"))
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("bad_signature"))
    );
    // No signature header.
    let (status, err) = hooks
        .send_raw("pull_request", "r-1", body.clone(), None)
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("missing_signature"))
    );
    // Malformed JSON, correctly signed: 400 naming the event, nothing stored.
    let (status, err) = hooks
        .send_raw(
            "pull_request",
            "r-1",
            b"{\"pull_request\": [".to_vec(),
            Some(SECRET),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("malformed"))
    );
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("pull_request payload:"));
    // Valid JSON without the object the event documents.
    let (status, err) = hooks
        .send(
            "pull_request",
            "r-1",
            &json!({"action": "closed", "repository": {"full_name": REPO}}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("pull_request"));
    // Oversized: over the 1 MiB default, refused before it is read.
    let big = vec![b' '; 1_048_577];
    let (status, err) = hooks
        .send_raw("pull_request", "r-1", big, Some(SECRET))
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (413, Some("too_large"))
    );
    // No event or delivery header.
    let r = hooks
        .client
        .post(format!("http://{}/webhooks/github", hooks.addr))
        .header("x-hub-signature-256", sign(SECRET, &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    nothing_stored(&hooks);
    assert_eq!(hooks.counted(DeliveryOutcome::Rejected, "bad_signature"), 2);
    assert_eq!(
        hooks.counted(DeliveryOutcome::Rejected, "missing_signature"),
        1
    );
    assert_eq!(hooks.counted(DeliveryOutcome::Rejected, "malformed"), 2);
    assert_eq!(hooks.counted(DeliveryOutcome::Rejected, "too_large"), 1);
    assert_eq!(
        hooks.counted(DeliveryOutcome::Rejected, "missing_headers"),
        1
    );
    // Nothing refused reached GitHub.
    assert!(fake.log().is_empty());

    // Accepted once; the same delivery id again changes nothing and asks GitHub nothing.
    let (status, ok) = hooks
        .send_raw("pull_request", "r-1", body.clone(), Some(SECRET))
        .await;
    assert_eq!((status, ok["status"].as_str()), (200, Some("applied")));
    assert_eq!(load::<Change>(hooks.store()).len(), 1);
    assert!(!fake.log().is_empty());
    let generation = hooks.store().generation();
    let (status, again) = hooks
        .send_raw("pull_request", "r-1", body, Some(SECRET))
        .await;
    assert_eq!((status, again["status"].as_str()), (200, Some("duplicate")));
    assert!(fake.log().is_empty());
    assert_eq!(hooks.store().generation(), generation);
    assert_eq!(hooks.counted(DeliveryOutcome::Duplicate, "pull_request"), 1);
}

#[tokio::test]
async fn an_unset_secret_turns_the_route_off() {
    set_token();
    let (server, _fake) = fake_github().await;
    let dir = tempfile::tempdir().unwrap();
    let config = github_config(
        dir.path(),
        &server.uri(),
        &format!(
            "webhook_secret_env = \"BAROMETER_TEST_UNSET_HOOK_SECRET\"\nrepos = [\"{REPO}\"]\n"
        ),
    );
    let hooks = Hooks::start(config).await;
    let (status, err) = hooks
        .send_raw("push", "u-1", b"{}".to_vec(), Some(SECRET))
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (503, Some("not_configured"))
    );
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("BAROMETER_TEST_UNSET_HOOK_SECRET"));
    assert!(hooks.store().is_empty());
}

/// Every event the route takes, from GitHub's documented examples (repository
/// `Codertocat/Hello-World`, May 2019; the workflow run's `octo-org/octo-repo`, October 2020).
#[tokio::test]
async fn documented_payloads_of_every_event_are_accepted() {
    set_token();
    set_secret();
    let (server, fake) = Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = hook_config(
        dir.path(),
        &server.uri(),
        "bug_labels = [\"bug\"]\n\
         [[github.service]]\nname = \"hello\"\nrepo = \"Codertocat/Hello-World\"\n\
         [[github.service]]\nname = \"hello-releases\"\nrepo = \"Codertocat/Hello-World\"\ndeployments_from = \"releases\"\n\
         [[github.service]]\nname = \"octo\"\nrepo = \"octo-org/octo-repo\"\ndeployments_from = \"workflow_runs\"\nworkflow = \"test\"\n",
    );
    // The documented examples are from 2019 and 2020.
    config.github.backfill_since = barometer::config::Since::Date("2019-01-01".parse().unwrap());
    let hooks = Hooks::start(config).await;
    let repo = "/repos/Codertocat/Hello-World";
    // What GitHub answers for the details the payloads do not carry.
    let status = envelope("deployment_status")["deployment_status"].clone();
    fake.route(
        &format!("{repo}/deployments/145988746/statuses"),
        json!([status]),
    );
    let pr = envelope("pull_request")["pull_request"].clone();
    let sha = pr["head"]["sha"].as_str().unwrap().to_owned();
    let commit = crate::fake_github::commit_json(&sha, &["c0"], 0.0);
    fake.route(&format!("{repo}/pulls/2/commits"), json!([commit]));
    fake.route(&format!("{repo}/commits/0.0.1"), commit.clone());
    fake.route(
        &format!("{repo}/compare/{sha}...{sha}"),
        json!({"status": "identical",
        "merge_base_commit": commit, "commits": []}),
    );
    fake.route(&format!("{repo}/commits"), json!([commit]));

    let mut merged = envelope("pull_request");
    // The documented `closed` example was closed without merging; merged, it is a change.
    merged["pull_request"]["merged_at"] = merged["pull_request"]["closed_at"].clone();
    let cases = [
        ("deployment", envelope("deployment")),
        ("deployment_status", envelope("deployment_status")),
        ("pull_request", envelope("pull_request")),
        ("pull_request", merged),
        ("push", envelope("push")),
        ("issues", envelope("issues")),
        ("workflow_run", envelope("workflow_run")),
        ("release", envelope("release")),
    ];
    for (n, (event, payload)) in cases.iter().enumerate() {
        let (status, body) = hooks.send(event, &format!("doc-{n}"), payload).await;
        assert_eq!(status, 200, "{event}: {body}");
        assert_eq!(body["status"], "applied", "{event}: {body}");
    }
    let deps = load::<Deployment>(hooks.store());
    let mut kinds: Vec<String> = deps
        .iter()
        .map(|d| format!("{}:{}:{:?}", d.service, d.id, d.state))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "hello-releases:17372790:Success",
            "hello:145988746:Success",
            "octo:289782451:Success"
        ]
    );
    assert_eq!(load::<Change>(hooks.store()).len(), 1);
    assert_eq!(load::<barometer::model::Bug>(hooks.store()).len(), 1);
    // A repository that is not configured, and an event that is not used, are accepted and
    // ignored (GitHub would otherwise show failed deliveries).
    let mut other = envelope("push");
    other["repository"]["full_name"] = json!("someone/else");
    let (status, body) = hooks.send("push", "doc-x", &other).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ignored")));
    let (status, body) = hooks.send("star", "doc-y", &envelope("push")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ignored")));
}

/// Deployments from a CD tool and incidents from PagerDuty reach the DORA figures of their
/// service, as GitHub's would.
#[tokio::test]
async fn pushed_deployments_and_incidents_feed_the_same_dora_model() {
    let (_server, fake, _dir, hooks) = scenario_hooks().await;
    sync(&hooks.app.config, hooks.store()).await;
    let before = figures(hooks.store());
    // The worked answer: 7 attempted, 6 succeeded, CFR 4/7 (tests/it/github.rs).
    assert_eq!(
        (before["attempted"].as_u64(), before["deployments"].as_u64()),
        (Some(7), Some(6))
    );

    // Argo CD (notification template of docs/webhooks.md): shop at a new commit, hour 50. The
    // previous successful deployment shipped r6 (hour 46): GitHub compares r6...a7a7a7a.
    let commit = crate::fake_github::commit_json("a7a7a7a", &["g7"], 49.0);
    fake.route(
        &format!("/repos/{REPO}/compare/r6...a7a7a7a"),
        json!({"status": "ahead", "ahead_by": 2, "behind_by": 0, "total_commits": 2,
            "merge_base_commit": crate::fake_github::commit_json("r6", &["f5"], 36.5),
            "commits": [crate::fake_github::commit_json("g7", &["r6"], 42.0), commit]}),
    );
    fake.route(&format!("/repos/{REPO}/commits/a7a7a7a/pulls"), json!([]));
    let argo = json!({"type": "deployment", "id": "argocd/shop/17", "service": "shop",
        "environment": "production", "sha": "a7a7a7a", "status": "success",
        "time": crate::fake_github::ts(50.0)});
    let (status, body) = hooks.push("", &argo, Some(EVENTS_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "deployment");
    assert_eq!(body["change_set_deferred"], Value::Null, "{body}");
    assert!(hooks
        .store()
        .event::<barometer::model::Commit>(&format!("{REPO}@a7a7a7a"))
        .unwrap()
        .is_some());
    let after = figures(hooks.store());
    // One more attempt, one more success, no new failure (the incident of hour 76 is 26 h
    // later, outside the 24 h window): CFR 4/8.
    assert_eq!(
        (after["attempted"].as_u64(), after["deployments"].as_u64()),
        (Some(8), Some(7))
    );
    assert_eq!(after["change_failure_rate"]["k"], 4);
    assert_eq!(after["change_failure_rate"]["n"], 8);

    // PagerDuty V3: triggered an hour later, naming no deployment: the latest deployment of
    // shop within incident_window (24 h) before it is the pushed one, which now failed: 5/8.
    let mut pd = json!({"event": {"id": "01DEN9", "event_type": "incident.triggered",
        "resource_type": "incident", "occurred_at": crate::fake_github::ts(51.0),
        "data": {"id": "PGR0VU2", "type": "incident", "number": 2, "status": "triggered",
            "created_at": crate::fake_github::ts(51.0), "title": "Checkout errors",
            "service": {"id": "PF9KMXH", "summary": "Shop API", "type": "service_reference"},
            "priority": {"id": "PSO75BM", "summary": "P1", "type": "priority_reference"},
            "urgency": "high"}}});
    let (status, body) = hooks.push("?service=shop", &pd, Some(EVENTS_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    let f = figures(hooks.store());
    assert_eq!(f["change_failure_rate"]["k"], 5);
    // Resolved an hour later: the same incident, now closed.
    pd["event"]["event_type"] = json!("incident.resolved");
    pd["event"]["occurred_at"] = json!(crate::fake_github::ts(52.0));
    let (status, body) = hooks.push("?service=shop", &pd, Some(EVENTS_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    let incidents = load::<Incident>(hooks.store());
    assert_eq!(incidents.len(), 4);
    let pushed = incidents
        .iter()
        .find(|i| i.title == "Checkout errors")
        .unwrap();
    assert_eq!(pushed.closed_at, Some(crate::fake_github::t(52.0)));
    assert!(pushed.labels.contains(&"severity:P1".to_owned()));
    assert_eq!(figures(hooks.store())["change_failure_rate"]["k"], 5);

    // A version-only deployment (Jenkins) is stored without a change set.
    let jenkins = json!({"type": "deployment", "service": "shop", "version": "2.4.1",
        "status": "failure", "time": crate::fake_github::ts(70.0)});
    let (status, body) = hooks.push("", &jenkins, Some(EVENTS_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(figures(hooks.store())["attempted"].as_u64(), Some(9));
    assert_eq!(
        hooks.health.deliveries.snapshot().get(&(
            "events".to_owned(),
            DeliveryOutcome::Accepted,
            "deployment".to_owned()
        )),
        Some(&2)
    );
}

#[tokio::test]
async fn bad_pushed_events_are_refused_naming_the_field() {
    let (_server, _fake, _dir, hooks) = scenario_hooks().await;
    let ok = json!({"type": "deployment", "service": "shop", "sha": "abcdef1",
        "status": "success", "time": "2026-01-05T10:00:00Z"});
    // No token, a wrong one: 401.
    assert_eq!(hooks.push("", &ok, None).await.0, 401);
    let (status, err) = hooks.push("", &ok, Some("wrong-token-000000000000")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("bad_token"))
    );
    let field_errors = |body: &Value| -> Vec<String> {
        body["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases: &[(Value, &[&str])] = &[
        (json!({"service": "shop"}), &["type"]),
        (
            json!({"type": "deployment"}),
            &["service", "sha", "status", "time"],
        ),
        (
            json!({"type": "deployment", "service": "nope", "sha": "xyz", "status": "done",
            "time": "yesterday"}),
            &["sha", "status", "time", "service"],
        ),
        (
            json!({"type": "incident", "service": "shop", "opened": "2026-01-05T10:00:00Z",
            "resolved": "2026-01-05T09:00:00Z"}),
            &["id", "resolved"],
        ),
        (
            json!({"event": {"event_type": "incident.triggered", "data": {"id": "P1"}}}),
            &[
                "event.data.created_at",
                "event.occurred_at",
                "event.data.service.summary",
            ],
        ),
        (
            json!({"action": "Create", "alert": {"alertId": "a1", "createdAt": 1767607200000_i64}}),
            &["alert.tags"],
        ),
        (json!([1, 2]), &["(body)"]),
    ];
    for (body, fields) in cases {
        let (status, err) = hooks.push("", body, Some(EVENTS_TOKEN)).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(field_errors(&err), *fields, "{body}: {err}");
    }
    assert!(hooks.store().is_empty());
}

/// The daemon counts deliveries and shows each repository's last event in `/api/v1/sources`
/// and `/metrics`.
#[tokio::test]
async fn freshness_and_delivery_counts_show_in_sources_and_metrics() {
    set_token();
    set_secret();
    let (server, fake) = fake_github().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("barometer.toml");
    // The configuration file the fake's helper writes, read by the daemon itself.
    let _ = hook_config(dir.path(), &server.uri(), "");
    let app = crate::helpers::spawn_app(&dir.path().join("store"), Some(config), &[]).await;
    let client = reqwest::Client::new();
    let (_, dep, _) = scenario_deliveries(&fake)
        .into_iter()
        .find(|(e, _, _)| e == "deployment_status")
        .unwrap();
    let body = dep.to_string().into_bytes();
    // Business time is pinned for the whole test process and runs on from there.
    let before = barometer::clock::now();
    let (status, answer) = deliver(
        &client,
        app.addr,
        "deployment_status",
        "f-1",
        body,
        Some(SECRET),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = deliver(
        &client,
        app.addr,
        "deployment_status",
        "f-2",
        b"{}".to_vec(),
        Some("wrong"),
    )
    .await;
    assert_eq!(status, 401);

    let sources = crate::helpers::get_json(&client, app.url("/api/v1/sources")).await;
    let pushed = sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "github-webhook")
        .unwrap()
        .clone();
    assert_eq!(pushed["configured"], true);
    assert_eq!(pushed["last_events"][0]["scope"], REPO);
    assert_eq!(pushed["last_events"][0]["event"], "deployment_status");
    // The delivery was applied "now", in business time.
    let last: chrono::DateTime<chrono::Utc> =
        pushed["last_event"].as_str().unwrap().parse().unwrap();
    assert!(before <= last && last <= barometer::clock::now(), "{last}");
    let deliveries = pushed["deliveries"].as_array().unwrap();
    assert!(deliveries
        .contains(&json!({"outcome": "accepted", "reason": "deployment_status", "count": 1})));
    assert!(
        deliveries.contains(&json!({"outcome": "rejected", "reason": "bad_signature", "count": 1}))
    );

    let text = app
        .metrics_when(30, |t| {
            t.contains("barometer_webhook_last_event_timestamp_seconds{")
        })
        .await;
    let line = |name: &str, labels: &[&str]| -> Option<String> {
        text.lines()
            .find(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
            .map(str::to_owned)
    };
    let accepted = line(
        "barometer_webhook_deliveries_total{",
        &[
            "outcome=\"accepted\"",
            "reason=\"deployment_status\"",
            "source=\"github\"",
        ],
    )
    .unwrap();
    assert!(accepted.ends_with(" 1"), "{accepted}");
    let rejected = line(
        "barometer_webhook_deliveries_total{",
        &["outcome=\"rejected\"", "reason=\"bad_signature\""],
    )
    .unwrap();
    assert!(rejected.ends_with(" 1"), "{rejected}");
    let fresh = line(
        "barometer_webhook_last_event_timestamp_seconds{",
        &["scope=\"acme/shop\"", "source=\"github-webhook\""],
    )
    .unwrap();
    let seconds: f64 = fresh.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        (seconds - last.timestamp_millis() as f64 / 1000.0).abs() < 0.001,
        "{fresh}"
    );
    app.stop().await;
}

/// `config check` names every bad webhook key, and never quotes what may be a pasted secret.
#[test]
fn bad_webhook_keys_are_named_without_quoting_a_secret() {
    let (_dir, file) = {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("barometer.toml");
        std::fs::write(
            &path,
            "[github]\nwebhook_secret_env = \"whsec-PASTED-SECRET\"\n\n\
             [webhooks]\nmax_body_bytes = 10\nevents_token_env = \"\"\n",
        )
        .unwrap();
        (dir, path)
    };
    let err = Config::load(&barometer::config::Sources {
        file: Some(file),
        env: Some(Default::default()),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("github.webhook_secret_env"), "{err}");
    assert!(err.contains("webhooks.max_body_bytes"), "{err}");
    assert!(err.contains("webhooks.events_token_env"), "{err}");
    assert!(!err.contains("PASTED-SECRET"), "{err}");
}
