//! Products (#16) on the demo organisation: each product's view reads its own revenue
//! (segments), delivery (services) and SLOs; the products partition the organisation when their
//! segments and services do; a product without one side says so.

use crate::helpers::{barometer, get_json, seeded_demo_with, spawn_app};

const PRODUCTS: &str = "[[products]]\nname = \"shop\"\nservices = [\"storefront\", \"api\", \"mobile\"]\n\
                        segments = [\"smb\", \"mid-market\"]\n\n\
                        [[products]]\nname = \"invoicing\"\nservices = [\"billing\"]\nplans = [\"enterprise\"]\n\n\
                        [[products]]\nname = \"labs\"\n";

fn column(weeks: &serde_json::Value, key: &str) -> Vec<f64> {
    weeks
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w[key].as_f64().unwrap_or(0.0))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn products_partition_the_organisation_and_name_what_they_lack() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = seeded_demo_with(dir.path(), PRODUCTS);
    let daemon = spawn_app(&store, Some(config.clone()), &[]).await;
    daemon.wait_ready().await;
    let client = reqwest::Client::new();

    // The demo's customers are smb, mid-market (plans starter, growth) or enterprise (plan
    // enterprise), and its four services are all in a product: week by week, the shop's and
    // invoicing's MRR and deployments add up to the organisation's.
    let range = "from=2026-06-01&to=2026-11-16";
    let weeks = |q: String| {
        let client = client.clone();
        let url = daemon.url(&format!("/api/v1/weeks?{range}{q}"));
        async move { get_json(&client, url).await["weeks"].clone() }
    };
    let org = weeks(String::new()).await;
    let shop = weeks("&product=shop".into()).await;
    let invoicing = weeks("&product=invoicing".into()).await;
    for key in ["mrr", "deployments"] {
        let (o, s, i) = (
            column(&org, key),
            column(&shop, key),
            column(&invoicing, key),
        );
        assert_eq!(o.len(), 25, "{key}");
        for w in 0..o.len() {
            assert!(
                (o[w] - s[w] - i[w]).abs() < 1e-6,
                "{key} week {w}: {} vs {} + {}",
                o[w],
                s[w],
                i[w]
            );
        }
        assert!(
            s.iter().sum::<f64>() > 0.0 && i.iter().sum::<f64>() > 0.0,
            "{key}"
        );
    }

    // A product's bugs pool its services' bugs.
    let bugs = get_json(
        &client,
        daemon.url("/api/v1/bugs?product=shop&from=2026-06-01"),
    )
    .await;
    let series = bugs["series"].as_array().unwrap();
    assert_eq!(series[0]["product"], "shop");
    assert_eq!(series.len(), 4, "the product, then its three services");
    let opened = |s: &serde_json::Value| -> u64 {
        s["weeks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["opened"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        opened(&series[0]),
        series[1..].iter().map(opened).sum::<u64>()
    );
    assert!(opened(&series[0]) > 0);

    // Each product has its own index; the one with neither side says which are missing and has
    // none.
    let products = get_json(&client, daemon.url("/api/v1/products")).await;
    let list = products["products"].as_array().unwrap();
    let names: Vec<&str> = list
        .iter()
        .map(|p| p["product"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop", "invoicing", "labs"]);
    assert!(list[0]["pressure"]["regime"].is_string(), "{products}");
    assert_eq!(list[0]["missing"], serde_json::json!([]));
    let missing = list[2]["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 2, "{products}");
    assert!(missing[0].as_str().unwrap().starts_with("services:"));
    assert!(missing[1].as_str().unwrap().starts_with("revenue:"));
    assert!(list[2]["pressure"]["regime"].is_null());
    let labs = get_json(&client, daemon.url("/api/v1/pressure?product=labs")).await;
    assert_eq!(labs["view"]["product"], "labs");
    assert_eq!(labs["weeks"], serde_json::json!([]));

    // Wrong or conflicting names.
    let r = client
        .get(daemon.url("/api/v1/pressure?product=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("known: shop, invoicing, labs"));
    let r = client
        .get(daemon.url("/api/v1/weeks?product=shop&service=api"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    daemon.stop().await;

    // The CLI: the product's report, and what a product lacks on stderr.
    let out = barometer(&store)
        .args([
            "--config",
            config.to_str().unwrap(),
            "report",
            "--product",
            "shop",
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
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!doc["weeks"].as_array().unwrap().is_empty());
    let out = barometer(&store)
        .args([
            "--config",
            config.to_str().unwrap(),
            "report",
            "--product",
            "labs",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("product labs: services:") && err.contains("product labs: revenue:"),
        "{err}"
    );
}
