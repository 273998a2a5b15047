//! The pressure index's optional support and cost components and its profitability tag (#17):
//! what each scope can be attributed, and every face saying which components were used, which
//! were missing, and whether the tag holds with its evidence.

use barometer::analysis::dora::{ServicePaths, ServiceSpec};
use barometer::analysis::pressure::Component::{CostVsRevenue, Margin, SupportLoad};
use barometer::model::Product;
use barometer::query::views;
use barometer::sources::revenue_import::{self, ImportOptions};
use barometer::sources::set_import::{self, SetOptions};
use barometer::store::Store;

use crate::helpers::{get_json, get_text, spawn_demo_app};
use crate::revenue::revenue_config;

/// 2026-11-25T12:00:00Z, the pinned test time.
const NOW: i64 = 1_795_608_000_000;

fn settings() -> barometer::query::Settings {
    let config = barometer::config::Config::load(&barometer::config::Sources {
        env: Some(Default::default()),
        ..Default::default()
    })
    .unwrap();
    let mut s = barometer::query::Settings::new(&config).unwrap();
    // Two known services, as a configuration's `github.services` would give them.
    for name in ["storefront", "billing"] {
        s.services.push(ServiceSpec {
            name: name.into(),
            repo: format!("acme/{name}"),
            paths: ServicePaths::default(),
        });
    }
    s
}

fn product(name: &str, services: &[&str], segments: &[&str]) -> Product {
    Product {
        name: name.into(),
        services: services.iter().map(|s| (*s).to_owned()).collect(),
        segments: segments.iter().map(|s| (*s).to_owned()).collect(),
        plans: Vec::new(),
    }
}

/// s1 and s2 (smb) pay 1,000 MRR each, e1 (enterprise) 8,000, every month of 2026; four
/// tickets in the week of 2026-11-09; the cost and margin are labelled for invoicing only.
fn store(dir: &std::path::Path) -> Store {
    let store = Store::open(dir).unwrap();
    let rc = revenue_config("");
    let mut revenue = String::from("customer_id,month,mrr,segment\n");
    for m in 1..=11 {
        for (c, mrr, seg) in [
            ("s1", 1000, "smb"),
            ("s2", 1000, "smb"),
            ("e1", 8000, "enterprise"),
        ] {
            revenue.push_str(&format!("{c},2026-{m:02},{mrr},{seg}\n"));
        }
    }
    revenue_import::import(
        &store,
        &rc,
        "mrr.csv",
        revenue.as_bytes(),
        &ImportOptions::new("billing"),
        |_| {},
    )
    .unwrap();
    let tickets = "ticket_id,created,customer_id,component\n\
        1,2026-11-10 09:00,s1,checkout\n\
        2,2026-11-11 09:00,e1,storefront\n\
        3,2026-11-12 09:00,s2,billing\n\
        4,2026-11-12 10:00,e1,reports\n";
    set_import::import_tickets(
        &store,
        &rc,
        "t.csv",
        tickets.as_bytes(),
        &SetOptions::new("desk"),
        |_| {},
    )
    .unwrap();
    let mut metrics = String::from("month,metric,value,labels\n");
    for (m, cost) in [(7, 1000), (8, 1100), (9, 1200), (10, 1300)] {
        metrics.push_str(&format!(
            "2026-{m:02},cloud_cost,{cost},product=invoicing\n\
             2026-{m:02},operating_margin_ratio,0.2,product=invoicing\n"
        ));
    }
    set_import::import_metrics(
        &store,
        &rc,
        "m.csv",
        metrics.as_bytes(),
        &SetOptions::new("finance"),
    )
    .unwrap();
    store
}

/// A ticket naming a known service belongs to that service's product; one naming none belongs
/// to its customer's product; cost and margin belong to a product only where their rows are
/// labelled for it. What cannot be attributed is missing, and the outputs say so.
#[test]
fn support_and_cost_join_a_product_only_where_they_can_be_attributed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let settings = settings();
    let model = views::dora_model(&store, &settings).unwrap();
    let view = |p: &Product| views::product_weekly(&store, &settings, &model, &[], NOW, p).unwrap();
    let week = |w: &views::Weekly, day: &str| -> usize {
        let ms = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis();
        w.org
            .rows
            .iter()
            .position(|r| r.signals.week_ms == ms)
            .unwrap()
    };
    let shop = view(&product("shop", &["storefront"], &["smb"]));
    let invoicing = view(&product("invoicing", &["billing"], &["enterprise"]));
    let org = views::weekly(&store, &settings, &model, &[], NOW, None).unwrap();

    // The week of 2026-11-09. Shop: ticket 1 (s1, "checkout" is no service: by its customer)
    // and 2 (e1, but about the storefront) — 2 tickets over its 2 customers = 100 per 100; pain
    // s1's 12,000 of the shop's 24,000 ARR = 50 (e1 is no shop customer: no weight).
    // Invoicing: 3 (about billing) and 4 (e1, "reports": by its customer) over 1 customer =
    // 200; pain e1's whole ARR = 100. The organisation: 4 over 3 = 133.3; pain (1,000 + 8,000
    // + 1,000 + 8,000) / 10,000 × 100 = 180.
    let figures = |w: &views::Weekly| {
        let s = &w.org.rows[week(w, "2026-11-09")].signals;
        (s.support_per_100, s.support_pain)
    };
    assert_eq!(figures(&shop), (Some(100.0), Some(50.0)));
    assert_eq!(figures(&invoicing), (Some(200.0), Some(100.0)));
    let (load, pain) = figures(&org);
    assert!((load.unwrap() - 400.0 / 3.0).abs() < 1e-9, "{load:?}");
    assert!((pain.unwrap() - 180.0).abs() < 1e-9, "{pain:?}");
    // Before the first ticket: missing, not zero.
    let early = &shop.org.rows[week(&shop, "2026-10-05")];
    assert_eq!(early.signals.support_per_100, None);
    assert_eq!(
        early.coverage.get("support_per_100"),
        Some(&barometer::model::Coverage::Missing)
    );

    let p = |w: &views::Weekly| w.pressure.weeks[week(w, "2026-11-16")].clone();
    // The shop has tickets but no cost rows of its own: support used, cost and margin missing,
    // no tag either way.
    let s = p(&shop);
    assert!(s.optional_used.contains(&SupportLoad));
    assert!(s.optional_missing.contains(&CostVsRevenue) && s.optional_missing.contains(&Margin));
    assert_eq!(s.profitability, None);
    // Invoicing: cost 1,000 → 1,300 from July to October (+30 %) against flat revenue (0 %),
    // and a Rule of 40 of 0 % growth (3 months annualised) + 20 % margin = 20: two conditions,
    // tagged; the margin, flat at 20 % since July, is at its own baseline (z 0): not falling.
    let i = p(&invoicing);
    assert!(i.optional_used.contains(&CostVsRevenue) && i.optional_used.contains(&Margin));
    let t = i.profitability.expect("invoicing's cost");
    assert!(t.tagged, "{}", t.summary);
    let holds: Vec<Option<bool>> = t.evidence.iter().map(|e| e.holds).collect();
    assert_eq!(holds, [Some(true), Some(false), Some(true)]);
    assert!((t.cost_growth_3m.unwrap() - 0.3).abs() < 1e-9);
    assert_eq!(t.revenue_growth_3m, Some(0.0));
    assert!((t.rule_of_40.unwrap() - 20.0).abs() < 1e-9);
}

/// Every face of the demo's index says which optional components it used and which it missed,
/// and shows the profitability tag with its evidence: the demo's cost squeeze (cost +17 % over
/// 3 months against MRR −4 %, the Rule of 40 at −4) tags its last weeks.
#[tokio::test(flavor = "multi_thread")]
async fn every_face_shows_the_optional_components_and_the_profitability_tag() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_demo_app(&dir.path().join("store")).await;
    app.wait_ready().await;
    let client = reqwest::Client::new();

    let body = get_json(
        &client,
        app.url("/api/v1/pressure?from=2026-11-16&to=2026-11-16"),
    )
    .await;
    let w = &body["weeks"][0];
    let used: Vec<&str> = w["optional_used"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(
        used,
        [
            "bug_inflow",
            "support_load",
            "customer_pain",
            "cost_vs_revenue",
            "margin"
        ]
    );
    assert_eq!(w["optional_missing"], serde_json::json!([]));
    let t = &w["profitability"];
    assert_eq!(t["tagged"], true, "{t}");
    let conditions: Vec<(&str, bool)> = t["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["condition"].as_str().unwrap(), e["holds"] == true))
        .collect();
    assert_eq!(
        conditions,
        [
            ("cost_outgrows_revenue", true),
            ("margin_falling", false),
            ("rule_of_40_under_40", true)
        ]
    );

    // The products: the demo's cost is not labelled by product, so theirs is missing.
    let products = get_json(&client, app.url("/api/v1/products")).await;
    let shop = &products["products"][0]["pressure"];
    assert_eq!(products["products"][0]["product"], "shop");
    assert_eq!(
        shop["optional_missing"],
        serde_json::json!(["cost_vs_revenue", "margin"])
    );
    assert_eq!(shop["profitability"], serde_json::Value::Null);
    assert_eq!(products["organisation"]["profitability"]["tagged"], true);

    let metrics = app
        .metrics_when(60, |t| t.contains("barometer_pressure_profitability "))
        .await;
    for line in [
        "barometer_pressure_profitability 1",
        "barometer_pressure_profitability_condition{condition=\"cost_outgrows_revenue\"} 1",
        "barometer_pressure_profitability_condition{condition=\"margin_falling\"} 0",
        "barometer_pressure_profitability_condition{condition=\"rule_of_40_under_40\"} 1",
        "barometer_pressure_optional_component{component=\"support_load\"} 1",
        "barometer_product_pressure_optional_component{component=\"cost_vs_revenue\",product=\"shop\"} 0",
        "barometer_product_pressure_optional_component{component=\"support_load\",product=\"shop\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from /metrics");
    }
    assert!(metrics.contains(
        "barometer_pressure_component_score{component=\"margin\",side=\"profitability\"}"
    ));
    assert!(!metrics.contains("barometer_product_profitability{"));

    let page = get_text(&client, app.url("/?to=2026-11-16")).await;
    assert!(page.contains("id=\"profitability\">profitability: <strong>tagged</strong>"));
    assert!(page.contains("rule of 40 under 40: holds"));
    assert!(page.contains("Optional components used: bug_inflow, support_load"));

    let digest = get_text(
        &client,
        app.url("/api/v1/digest?week=2026-11-16&format=markdown"),
    )
    .await;
    assert!(digest.contains("**Profitability: tagged.**"), "{digest}");
    assert!(digest.contains("missing (left out, never zero): none."));
    app.stop().await;
}
