//! Teams (#16) on the demo organisation with configured owners: the roll-ups pool their
//! services, the services no team owns are listed (never dropped), and every face agrees.

use crate::helpers::{barometer, get_json, seeded_demo_with, spawn_app};

/// Two teams that leave billing and mobile without an owner.
const TEAMS: &str = "[[teams]]\nname = \"web\"\nservices = [\"storefront\"]\n\n\
                     [[teams]]\nname = \"platform\"\nservices = [\"api\"]\n\
                     github_teams = [\"acme/platform\"]\n";

fn deployments(series: &serde_json::Value) -> Vec<u64> {
    series["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["week"]["deployments"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_teams_pool_their_services_and_name_the_unowned_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = seeded_demo_with(dir.path(), TEAMS);
    let daemon = spawn_app(&store, Some(config.clone()), &[]).await;
    daemon.wait_ready().await;
    let client = reqwest::Client::new();

    // The configured teams replace the demo's; billing and mobile are owned by no one, listed
    // as such and pooled as "unowned".
    let teams = get_json(&client, daemon.url("/api/v1/teams")).await;
    let view = &teams["view"];
    let names: Vec<&str> = view["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "platform", "unowned"], "{teams}");
    assert_eq!(view["unowned"], serde_json::json!(["billing", "mobile"]));
    assert_eq!(view["teams"][1]["github_teams"][0], "acme/platform");
    assert_eq!(view["teams"][1]["slos"][0], "api-availability");

    // A one-service team is that service, week by week.
    let web = get_json(&client, daemon.url("/api/v1/dora?team=web")).await;
    let series = web["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "the team, then its service");
    assert_eq!(series[0]["team"], "web");
    assert_eq!(series[1]["service"], "storefront");
    assert_eq!(series[1]["team"], "web");
    assert_eq!(deployments(&series[0]), deployments(&series[1]));

    // The unowned pool is billing + mobile, week by week; the organisation is every pool.
    let all = get_json(&client, daemon.url("/api/v1/dora")).await;
    let by = |key: &str, name: &str| {
        all["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s[key] == name && (key == "team") == s["service"].is_null())
            .map(deployments)
            .unwrap_or_else(|| panic!("{key} {name}: {all}"))
    };
    let sum = |a: Vec<u64>, b: Vec<u64>| a.iter().zip(&b).map(|(x, y)| x + y).collect::<Vec<_>>();
    assert_eq!(
        by("team", "unowned"),
        sum(by("service", "billing"), by("service", "mobile"))
    );
    let org = deployments(&all["series"][0]);
    assert_eq!(
        org,
        sum(
            sum(by("team", "web"), by("team", "platform")),
            by("team", "unowned")
        )
    );

    // Reliability per team: the SLOs of its services, each naming its team.
    let rel = get_json(&client, daemon.url("/api/v1/reliability?team=platform")).await;
    let slos = rel["slos"].as_array().unwrap();
    assert_eq!(slos.len(), 1, "{rel}");
    assert_eq!(slos[0]["slo"], "api-availability");
    assert_eq!(slos[0]["team"], "platform");

    // Wrong names are 404s that say what exists.
    for (query, says) in [
        ("team=nope", "known: web, platform"),
        ("team=web&service=api", "not owned by team"),
    ] {
        let r = client
            .get(daemon.url(&format!("/api/v1/dora?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{query}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{query}: {body}"
        );
    }
    daemon.stop().await;

    // The CLI reads the same teams.
    let out = barometer(&store)
        .args(["--config", config.to_str().unwrap(), "teams"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("platform") && text.contains("owned by no team: billing, mobile"),
        "{text}"
    );
    let out = barometer(&store)
        .args([
            "--config",
            config.to_str().unwrap(),
            "dora",
            "--team",
            "platform",
            "--weeks",
            "1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("team platform: api") && text.contains("api (team platform)"),
        "{text}"
    );
}
