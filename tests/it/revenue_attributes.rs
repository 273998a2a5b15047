//! Customer attributes files: imported like the monthly files, joined to their source's MRR rows
//! when reading, through the CLI path, HTTP and the watched folder. The story and its hand-worked
//! figures are in the docs of `revenue_exports.rs`.

use barometer::analysis::revenue::segments;
use barometer::sources::revenue_csv::Layout;
use barometer::sources::revenue_import::ImportOptions;
use barometer::store::Store;

use crate::revenue::revenue_config;
use crate::revenue_exports::{check_story, close, figures, import, import_with};

#[test]
fn attributes_give_their_segments_to_rows_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Attributes first or last: the join happens when reading.
    let attrs = import(&store, "customers.csv");
    assert_eq!(
        (attrs.layout, attrs.rows, attrs.outcome),
        (Layout::Attributes, 6, "applied")
    );
    assert_eq!(
        attrs.to_string(),
        "customers.csv: applied (attributes layout, 6 customers)"
    );
    import(&store, "clean_snapshots.csv");

    let all = figures(&store, None);
    check_story(&all);
    let snapshots = barometer::query::revenue::snapshots(&store).unwrap();
    assert_eq!(
        segments(&snapshots).into_iter().collect::<Vec<_>>(),
        ["enterprise", "smb"],
        "F has attributes but no MRR: no row is made up for it"
    );
    let ent = figures(&store, Some("enterprise"));
    assert_eq!(ent[12].mrr, 1500.0 + 1750.0);
    assert!(close(ent[12].nrr_cohort_12m, 3250.0 / 3200.0));
    assert!(close(ent[12].grr_cohort_12m, 2950.0 / 3200.0));
    let smb = figures(&store, Some("smb"));
    assert_eq!(smb[12].mrr, 300.0 + 800.0);
    assert!(close(smb[12].nrr_cohort_12m, 800.0 / 1300.0));
    assert!(close(smb[12].grr_cohort_12m, 800.0 / 1300.0));

    // The same file again writes nothing; the history lists it once as applied.
    let counts = store.event_counts();
    let again = import(&store, "customers.csv");
    assert_eq!(again.outcome, "unchanged");
    assert_eq!(store.event_counts(), counts);
    let history = barometer::query::revenue::history(&store).unwrap();
    let listed: Vec<(&str, &str, &str, u64)> = history
        .iter()
        .map(|h| {
            (
                h.file.as_str(),
                h.layout.as_str(),
                h.outcome.as_str(),
                h.rows,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("customers.csv", "attributes", "applied", 6),
            ("clean_snapshots.csv", "snapshots", "applied", 55)
        ]
    );
    let stored = barometer::query::revenue::attributes(&store).unwrap();
    let b = &stored["billing"]["B"];
    assert_eq!(
        (
            b.name.as_deref(),
            b.currency.as_deref(),
            b.first_month.map(|m| m.to_string())
        ),
        (Some("Beta GmbH"), Some("EUR"), Some("2023-06".to_owned()))
    );
    assert_eq!(stored["billing"]["E"].plan, None);

    // A new export replaces the whole set: C moves to enterprise, and the old chunk is gone.
    let moved = "customer_id,segment\nA,enterprise\nB,enterprise\nC,enterprise\nD,smb\nE,smb\n";
    let config = revenue_config("");
    let r = import_with(
        &store,
        &config,
        "c2.csv",
        moved.as_bytes(),
        &ImportOptions::new("billing"),
    )
    .unwrap();
    assert_eq!(r.outcome, "applied");
    assert_eq!(store.event_counts()["revenue_attributes"], 1);
    // enterprise cohort now A B C (3,700): now 1,500 + 1,750 + 0 = 3,250.
    let ent = figures(&store, Some("enterprise"));
    assert!(close(ent[12].nrr_cohort_12m, 3250.0 / 3700.0));

    // Another source's attributes do not reach this source's customers.
    let other = "customer_id,segment\nA,public-sector\n";
    import_with(
        &store,
        &config,
        "o.csv",
        other.as_bytes(),
        &ImportOptions::new("crm"),
    )
    .unwrap();
    assert_eq!(
        figures(&store, Some("public-sector"))
            .iter()
            .map(|m| m.mrr)
            .sum::<f64>(),
        0.0
    );
}

#[test]
fn a_rows_own_segment_wins_and_movements_take_the_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = revenue_config("");
    let opts = ImportOptions::new("billing");
    import_with(
        &store,
        &config,
        "a.csv",
        b"customer_id,tier\nA,smb\nB,enterprise\n",
        &opts,
    )
    .unwrap();
    // Movements carry no segment: A (100 → 150) and B (40, churned in February) take theirs.
    let movements = "date,customer_id,type,amount\n2025-01-02,A,new,100\n2025-01-03,B,new,40\n\
                     2025-02-01,A,expansion,50\n2025-02-10,B,churn,40\n";
    import_with(&store, &config, "m.csv", movements.as_bytes(), &opts).unwrap();
    let smb = figures(&store, Some("smb"));
    assert_eq!(
        smb.iter().map(|m| m.mrr).collect::<Vec<_>>(),
        [100.0, 150.0]
    );
    let ent = figures(&store, Some("enterprise"));
    assert_eq!(ent.iter().map(|m| m.mrr).collect::<Vec<_>>(), [40.0, 0.0]);
    assert_eq!(ent[1].movements.as_ref().map(|m| m.churn), Some(40.0));

    // A snapshots file that states a segment keeps it: A is "growth" there, not "smb".
    let snap = "customer_id,month,mrr,segment\nA,2025-03,150,growth\nB,2025-03,0,\n";
    import_with(
        &store,
        &config,
        "s.csv",
        snap.as_bytes(),
        &ImportOptions::new("billing"),
    )
    .unwrap();
    let growth = figures(&store, Some("growth"));
    assert_eq!(growth.last().map(|m| m.mrr), Some(150.0));
}

#[test]
fn a_stated_first_month_makes_a_later_first_row_a_reactivation() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = revenue_config("");
    let opts = ImportOptions::new("billing");
    // A pays from 2025-01; X (paid from 2024-06 says the billing tool) and Y (from 2025-02)
    // both first appear in 2025-02.
    let movements = "date,customer_id,type,amount\n2025-01-02,A,new,100\n\
                     2025-02-03,X,new,50\n2025-02-04,Y,new,20\n";
    import_with(&store, &config, "m.csv", movements.as_bytes(), &opts).unwrap();
    let before = figures(&store, None)[1].movements.clone().unwrap();
    assert_eq!(
        (before.new, before.reactivation, before.new_customers),
        (70.0, 0.0, 2)
    );

    let attrs = "Customer ID,First Payment Month\nX,2024-06\nY,2025-02\nA,2025-01\n";
    import_with(&store, &config, "a.csv", attrs.as_bytes(), &opts).unwrap();
    // February: X comes back (50), Y is new (20); the sum of movements is unchanged.
    let after = figures(&store, None)[1].movements.clone().unwrap();
    assert_eq!(
        (after.new, after.reactivation, after.new_customers),
        (20.0, 50.0, 1)
    );
    assert_eq!(after.net(), before.net());
}

#[test]
fn every_bad_attributes_row_is_named_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let long = "x".repeat(300);
    let csv = format!(
        "customer_id,segment,currency,first_month\nA,smb,USD,2024-01\nA,smb,USD,2024-01\n\
         B,smb,dollars,2024-13\n,smb,,\nC,{long},US$,\n"
    );
    let err = import_with(
        &store,
        &revenue_config("[revenue]\nmax_field_bytes = 256\n"),
        "attrs.csv",
        csv.as_bytes(),
        &ImportOptions::new("billing"),
    )
    .unwrap_err();
    let text = err.to_string();
    assert_eq!(
        text.lines().collect::<Vec<_>>()[..6],
        [
            "attrs.csv: 5 problems, nothing imported:",
            "  attrs.csv: line 3, column customer_id, value \"A\": duplicate row for customer A (first on line 2)",
            "  attrs.csv: line 4, column currency, value \"dollars\": is not an ISO 4217 currency code (three letters, e.g. USD)",
            "  attrs.csv: line 4, column first_month, value \"2024-13\": is not a month (YYYY-MM), a date (YYYY-MM-DD) or an RFC 3339 time",
            "  attrs.csv: line 5, column customer_id, value \"\": is empty",
            &format!(
                "  attrs.csv: line 6, column segment, value \"{}… (100 more bytes)\": is 300 bytes long; one field is at most revenue.max_field_bytes (256)",
                "x".repeat(200)
            ),
        ]
    );
    assert!(barometer::query::revenue::attributes(&store)
        .unwrap()
        .is_empty());
    let history = barometer::query::revenue::history(&store).unwrap();
    assert_eq!(
        (history[0].outcome.as_str(), history[0].errors),
        ("rejected", 5)
    );
}

mod daemon {
    use crate::revenue_exports::fixture;

    #[tokio::test(flavor = "multi_thread")]
    async fn attributes_and_scales_go_through_http_and_the_watched_folder() {
        // Arrange: a daemon watching an inbox.
        let dir = tempfile::tempdir().unwrap();
        let (inbox, config) = crate::revenue::daemon::watched_inbox(dir.path());
        let daemon = crate::helpers::spawn_app(&dir.path().join("store"), Some(config), &[]).await;
        let client = reqwest::Client::new();
        let post = |query: &str, body: Vec<u8>| {
            client
                .post(daemon.url(&format!("/api/v1/imports/revenue?{query}")))
                .header("content-type", "text/csv")
                .body(body)
                .send()
        };

        // Act: MRR over HTTP, the attributes through the folder.
        let r = post("name=clean.csv", fixture("clean_snapshots.csv"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        std::fs::write(inbox.join("customers.csv"), fixture("customers.csv")).unwrap();
        crate::helpers::wait_for_files(&[inbox.join("done/customers.csv")]).await;

        // Assert: the report, the history, and the segment breakdown with the joined segments.
        let report = std::fs::read_to_string(inbox.join("done/customers.csv.report.txt")).unwrap();
        assert_eq!(
            report,
            "customers.csv: applied (attributes layout, 6 customers)\n"
        );
        let layouts = crate::helpers::import_layouts(&client, daemon.url("/api/v1/imports")).await;
        assert_eq!(layouts, ["snapshots", "attributes"]);
        let ent = crate::helpers::get_json(
            &client,
            daemon.url("/api/v1/revenue?segment=enterprise&from=2025-01"),
        )
        .await;
        // Enterprise (A, B) in 2025-01: NRR 3,250 / 3,200 (module docs).
        assert_eq!(ent["months"][0]["nrr"], serde_json::json!(3250.0 / 3200.0));
        assert_eq!(ent["segments"], serde_json::json!(["enterprise", "smb"]));

        // ChartMogul's cents: refused at scale 1 with the figures; a dry run at 0.01 shows MRR.
        let cm = fixture("chartmogul_mrr_movements.csv");
        let refused = post("source=cm&name=cm.csv", cm.clone()).await.unwrap();
        assert_eq!(refused.status(), 422);
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["problems"][0]["column"], "MRR_MOVEMENT");
        let dry = post(
            "source=cm&name=cm.csv&amount_scale=0.01&dry_run=true",
            cm.clone(),
        )
        .await
        .unwrap();
        assert_eq!(dry.status(), 200);
        let body: serde_json::Value = dry.json().await.unwrap();
        assert_eq!(body["import"]["outcome"], "dry-run");
        assert_eq!(
            body["import"]["latest"],
            serde_json::json!({"month": "2025-03", "mrr": 1500.0, "currency": "USD"})
        );
        let bad = post("name=cm.csv&amount_scale=-1", cm).await.unwrap();
        assert_eq!(bad.status(), 400);
        daemon.stop().await;
    }
}
