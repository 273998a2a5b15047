//! Team ownership derived from a repository's `CODEOWNERS` (#16): read from the fake GitHub where
//! GitHub looks for it, kept with its `ETag` (a second sync is a `304`), and combined with the
//! configured teams — the configuration wins, a service two teams' owners claim is a conflict
//! naming both, and a service no rule gives to a team stays listed as unowned.

use barometer::sources::github::GithubSync;
use barometer::store::Store;
use serde_json::json;

use crate::fake_github::{contents_json, github_config_with, Fake};
use crate::helpers::{barometer, get_json, spawn_app};

/// Last matching rule wins (GitHub's rule): `*` gives everything to platform, then web/ (which
/// the configuration already gives to team web), billing/ to @carol (team payments), search/ to
/// two teams at once, and docs/ to no one.
const CODEOWNERS: &str = "\
# Owners of acme/mono
*           @acme/platform
/web/       @acme/platform
/billing/   @Carol
/search/    @acme/web @acme/platform
/docs/
";

const GITHUB: &str = "\
[[github.service]]\nname = \"web\"\nrepo = \"acme/mono\"\npaths = [\"web/**\"]\n\
[[github.service]]\nname = \"api\"\nrepo = \"acme/mono\"\npaths = [\"api/**\"]\n\
[[github.service]]\nname = \"billing\"\nrepo = \"acme/mono\"\npaths = [\"billing/**\"]\n\
[[github.service]]\nname = \"search\"\nrepo = \"acme/mono\"\npaths = [\"search/**\"]\n\
[[github.service]]\nname = \"docs\"\nrepo = \"acme/mono\"\npaths = [\"docs/**\"]\n\
\n[[teams]]\nname = \"web\"\nservices = [\"web\"]\ngithub_teams = [\"acme/web\"]\n\
[[teams]]\nname = \"platform\"\ngithub_teams = [\"acme/platform\"]\n\
[[teams]]\nname = \"payments\"\ncodeowners = [\"@carol\"]\n";

#[tokio::test(flavor = "multi_thread")]
async fn codeowners_derive_ownership_config_wins_and_a_second_sync_is_304() {
    std::env::set_var("BAROMETER_TEST_GH_TOKEN", "ghp_test_token_codeowners");
    let (server, fake) = Fake::start().await;
    for path in ["pulls", "deployments", "issues", "commits"] {
        fake.route(&format!("/repos/acme/mono/{path}"), json!([]));
    }
    // Only docs/CODEOWNERS exists: .github/ and the root are asked first, in GitHub's order.
    fake.route(
        "/repos/acme/mono/contents/docs/CODEOWNERS",
        contents_json("acme/mono", "docs/CODEOWNERS", CODEOWNERS),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = github_config_with(
        dir.path(),
        &server.uri(),
        "ghp_test_token_codeowners",
        &format!("repos = [\"acme/mono\"]\n{GITHUB}"),
    );
    let store = Store::open(&config.storage.path).unwrap();
    let sync = || async {
        GithubSync::new(&config.github, &store, None, false)
            .unwrap()
            .with_codeowners(config.derives_ownership())
            .run(None)
            .await
            .unwrap()
    };

    sync().await;
    let asked: Vec<(String, u16)> = fake
        .log()
        .into_iter()
        .filter(|(k, _, _)| k.contains("CODEOWNERS"))
        .map(|(k, _, s)| (k, s))
        .collect();
    assert_eq!(
        asked,
        [
            (
                "/repos/acme/mono/contents/.github/CODEOWNERS".to_owned(),
                404
            ),
            ("/repos/acme/mono/contents/CODEOWNERS".to_owned(), 404),
            ("/repos/acme/mono/contents/docs/CODEOWNERS".to_owned(), 200),
        ]
    );

    // A second sync asks for the file found, conditionally: 304, like every other listing.
    let second = sync().await;
    let log = fake.log();
    assert!(
        log.iter()
            .all(|(_, conditional, s)| *conditional && *s == 304),
        "{log:?}"
    );
    assert!(log
        .iter()
        .any(|(k, _, _)| k == "/repos/acme/mono/contents/docs/CODEOWNERS"));
    assert_eq!(second.not_modified, second.requests);
    drop(store);

    // The read side: configured ownership first, then CODEOWNERS.
    let app = barometer::app::App::build(config.clone()).unwrap();
    let teams = app.teams().unwrap();
    let owner = |s: &str| teams.owner_of(s).map(|t| t.name.clone());
    assert_eq!(
        owner("web").as_deref(),
        Some("web"),
        "config wins over /web/"
    );
    assert_eq!(owner("api").as_deref(), Some("platform"), "the catch-all");
    assert_eq!(
        owner("billing").as_deref(),
        Some("payments"),
        "@Carol = @carol"
    );
    assert_eq!(owner("search"), None, "claimed by two teams: neither");
    assert_eq!(owner("docs"), None, "a rule without owners");
    assert_eq!(
        teams
            .conflicts()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "service \"search\" is owned by both \"web\" and \"platform\" \
          (CODEOWNERS of acme/mono, line 5: /search/ @acme/web @acme/platform)"
        ]
    );
    drop(app);

    // Every face reads the combined ownership; the CLI's teams view shows it.
    let file = dir.path().join("barometer.toml");
    let out = barometer(&config.storage.path)
        .env("BAROMETER_TEST_GH_TOKEN", "ghp_test_token_codeowners")
        .args([
            "--config",
            file.to_str().unwrap(),
            "teams",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let team = |name: &str| {
        view["teams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(team("platform")["services"], json!(["api"]));
    assert_eq!(team("platform")["derived_from_codeowners"], json!(["api"]));
    assert_eq!(team("payments")["services"], json!(["billing"]));
    assert_eq!(team("web")["derived_from_codeowners"], json!([]));
    assert_eq!(view["unowned"], json!(["search", "docs"]));
    assert_eq!(view["conflicts"][0]["service"], "search");
    assert_eq!(view["conflicts"][0]["teams"], json!(["web", "platform"]));
    let out = barometer(&config.storage.path)
        .args([
            "--config",
            file.to_str().unwrap(),
            "dora",
            "--team",
            "payments",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("team payments: billing"), "{text}");

    // The daemon's faces: the API's ?team= and teams view, the team label in /metrics, the
    // dashboard's teams table.
    let daemon = spawn_app(
        &config.storage.path,
        Some(file),
        &[("BAROMETER_TEST_GH_TOKEN", "ghp_test_token_codeowners")],
    )
    .await;
    daemon.wait_ready().await;
    let client = reqwest::Client::new();
    let dora = get_json(&client, daemon.url("/api/v1/dora?team=payments")).await;
    let series = dora["series"].as_array().unwrap();
    assert_eq!(series[0]["team"], "payments", "{dora}");
    assert_eq!(series[1]["service"], "billing", "{dora}");
    assert_eq!(series.len(), 2, "{dora}");
    let teams = get_json(&client, daemon.url("/api/v1/teams")).await;
    assert_eq!(
        teams["view"]["conflicts"][0]["service"], "search",
        "{teams}"
    );
    assert_eq!(
        teams["view"]["unowned"],
        json!(["search", "docs"]),
        "{teams}"
    );
    let text = daemon
        .metrics_when(20, |t| {
            t.contains("barometer_dora_deployments_per_week{repo=\"acme/mono\",service=\"billing\",team=\"payments\"}")
        })
        .await;
    assert!(
        text.contains(
            "barometer_dora_deployments_per_week{repo=\"acme/mono\",service=\"search\",team=\"\"}"
        ),
        "{text}"
    );
    let html = client
        .get(daemon.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("billing <small>(CODEOWNERS)</small>"),
        "{html}"
    );
    assert!(
        html.contains("Ownership conflict: service &quot;search&quot; is owned by both"),
        "{html}"
    );
    daemon.stop().await;
}
