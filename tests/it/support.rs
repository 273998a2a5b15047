//! Support tickets and business metrics: known answers for each ticket layout (Zendesk,
//! Intercom, Jira Service Management) and the metrics layout, the revenue imports' bad-input
//! cases, atomicity and idempotence, and the HTTP import and watched folder.

use barometer::config::RevenueConfig;
use barometer::query::business;
use barometer::sources::revenue_import::{self, ImportError, ImportOptions};
use barometer::sources::set_import::{self, SetOptions, SetSummary};
use barometer::store::Store;

use crate::revenue::revenue_config;

/// 2026-11-25T12:00:00Z, the pinned test time.
const NOW: i64 = 1_795_608_000_000;

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/support")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn settings() -> barometer::query::Settings {
    let config = barometer::config::Config::load(&barometer::config::Sources {
        env: Some(Default::default()),
        ..Default::default()
    })
    .unwrap();
    barometer::query::Settings::new(&config).unwrap()
}

fn tickets(
    store: &Store,
    config: &RevenueConfig,
    name: &str,
    source: &str,
) -> Result<SetSummary, ImportError> {
    set_import::import_tickets(
        store,
        config,
        name,
        &fixture(name),
        &SetOptions::new(source),
        |_| {},
    )
}

/// cus_a pays 100,000 MRR (1.2 M ARR), cus_b 10,000 (120 k); free_9 is not in the revenue data.
/// cus_a grows from 80,000 in 2026-06.
fn revenue(store: &Store, config: &RevenueConfig) {
    let csv = "customer_id,month,mrr\n\
        cus_a,2026-06,80000\ncus_b,2026-06,10000\n\
        cus_a,2026-07,90000\ncus_b,2026-07,10000\n\
        cus_a,2026-08,95000\ncus_b,2026-08,10000\n\
        cus_a,2026-09,100000\ncus_b,2026-09,10000\n\
        cus_a,2026-10,100000\ncus_b,2026-10,10000\n\
        cus_a,2026-11,100000\ncus_b,2026-11,10000\n";
    revenue_import::import(
        store,
        config,
        "mrr.csv",
        csv.as_bytes(),
        &ImportOptions::new("billing"),
        |_| {},
    )
    .unwrap();
}

#[test]
fn each_ticket_layout_gives_the_same_weekly_figures() {
    for (file, layout, top, first_response) in [
        (
            "zendesk_tickets.csv",
            "zendesk",
            "checkout_latency",
            Some(1.0),
        ),
        (
            "intercom_conversations.csv",
            "intercom",
            "checkout latency",
            Some(1.0),
        ),
        // The JSM export carries no first-reply column; its components come first.
        ("jsm_issues.csv", "jsm", "checkout", None),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let config = revenue_config("");
        revenue(&store, &config);
        let summary = tickets(&store, &config, file, "help").unwrap();
        assert_eq!(
            (summary.layout.as_str(), summary.rows, summary.outcome),
            (layout, 4, "applied"),
            "{file}"
        );

        let r = business::support_report(&store, &settings(), NOW)
            .unwrap()
            .unwrap();
        // Weeks of 2026-11-09, -16 and -23 (the current one).
        assert_eq!(r.weeks.len(), 3, "{file}");
        let w = &r.weeks[0];
        // 4 opened; 101/102/104 solved (12 h, 24 h, 6 h → median 12 h); 1 open.
        assert_eq!((w.opened, w.solved, w.backlog), (4, 3, 1), "{file}");
        assert_eq!(w.resolution_median_h, Some(12.0), "{file}");
        // First replies 30, 90, 60 minutes → median 1 h.
        assert_eq!(w.first_response_median_h, first_response, "{file}");
        // 4 tickets / 2 paying customers × 100.
        assert_eq!(w.per_100_customers, Some(200.0), "{file}");
        // (1.2/1.32 × 2 + 0.12/1.32) × 100 = 190.909…
        let weighted = w.revenue_weighted.unwrap();
        assert!(
            (weighted - 2.52 / 1.32 * 100.0).abs() < 1e-9,
            "{file}: {weighted}"
        );
        assert_eq!(
            r.weeks[2].backlog, 1,
            "the open ticket stays in the backlog"
        );

        // The top pain: cus_a's checkout tickets, 1.2 M ARR at stake.
        let p = &r.pains[0];
        assert_eq!(
            (p.topic.as_str(), p.tickets, p.customers, p.arr_at_stake),
            (top, 2, 1, 1_200_000.0),
            "{file}"
        );
        // free_9 is listed, not dropped.
        assert_eq!(r.unknown_customers.len(), 1, "{file}");
        assert_eq!(
            (
                r.unknown_customers[0].customer.as_str(),
                r.unknown_customers[0].tickets
            ),
            ("free_9", 1)
        );
    }
}

#[test]
fn bad_tickets_are_named_by_line_and_column_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = revenue_config("");
    tickets(&store, &config, "zendesk_tickets.csv", "help").unwrap();

    let err = tickets(&store, &config, "bad_tickets.csv", "help").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad_tickets.csv: 3 problems, nothing imported:\n  \
         bad_tickets.csv: line 2, column Solved at (solved), value \"2026-11-08 09:00:00\": is before the ticket was created (1440 minutes earlier)\n  \
         bad_tickets.csv: line 3, column Created at (created), value \"not a time\": is not a time (RFC 3339, YYYY-MM-DD HH:MM:SS, dd/Mon/yy h:mm AM or YYYY-MM-DD)\n  \
         bad_tickets.csv: line 4, column First reply time in minutes (first_reply_minutes), value \"-5\": is not a number of minutes (0 or more)"
    );
    // Atomic: the set is still the Zendesk file's; idempotent: the same file writes nothing.
    assert_eq!(business::tickets(&store).unwrap().len(), 4);
    let again = tickets(&store, &config, "zendesk_tickets.csv", "help").unwrap();
    assert_eq!(again.outcome, "unchanged");
    let history: Vec<(String, String)> = barometer::query::revenue::history(&store)
        .unwrap()
        .into_iter()
        .map(|r| (r.layout, r.outcome))
        .collect();
    assert_eq!(
        history,
        [
            ("tickets:zendesk".to_owned(), "applied".to_owned()),
            ("?".to_owned(), "rejected".to_owned()),
        ]
    );
}

/// A file of several chunks is staged while it is read: a row refused after chunks were
/// staged deletes them, every later occurrence of an id is named with the first one's line,
/// and a valid file replaces the set whole (its old chunk deleted), once.
#[test]
fn a_file_refused_after_staging_leaves_nothing_and_names_every_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = revenue_config("");
    tickets(&store, &config, "zendesk_tickets.csv", "help").unwrap();
    let chunks = |store: &Store| store.event_counts().get("ticket_chunk").copied();
    assert_eq!(chunks(&store), Some(1));

    let mut csv = String::from("Id,Created at,Organization,Tags\n");
    for i in 0..45_000 {
        csv += &format!("{},2026-11-09 10:00:00,cus_a,billing\n", 100_000 + i);
    }
    let good = csv.clone();
    csv += "100000,2026-11-10 10:00:00,cus_b,sso\n\
            100001,yesterday,cus_b,sso\n\
            100000,2026-11-10 11:00:00,cus_b,sso\n";
    let import = |bytes: &[u8]| {
        set_import::import_tickets(
            &store,
            &config,
            "big.csv",
            bytes,
            &SetOptions::new("help"),
            |_| {},
        )
    };
    let err = import(csv.as_bytes()).unwrap_err().to_string();
    let lines: Vec<&str> = err.lines().skip(1).map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "big.csv: line 45002, column Id (ticket_id), value \"100000\": duplicate ticket 100000 (first on line 2)",
            "big.csv: line 45003, column Created at (created), value \"yesterday\": is not a time (RFC 3339, YYYY-MM-DD HH:MM:SS, dd/Mon/yy h:mm AM or YYYY-MM-DD)",
            "big.csv: line 45004, column Id (ticket_id), value \"100000\": duplicate ticket 100000 (first on line 2)",
        ],
        "{err}"
    );
    // Ids that are not plain numbers are compared as text (`007` is not `7`).
    let keys = "Id,Created at,Organization,Tags\n\
        PROJ-1,2026-11-09 10:00:00,a,x\n\
        007,2026-11-09 10:00:00,a,x\n\
        7,2026-11-09 10:00:00,a,x\n\
        PROJ-1,2026-11-09 10:00:00,a,x\n\
        007,2026-11-09 10:00:00,a,x\n";
    let err = import(keys.as_bytes()).unwrap_err().to_string();
    assert!(
        err.contains("line 5, column Id (ticket_id), value \"PROJ-1\": duplicate ticket PROJ-1 (first on line 2)")
            && err.contains("line 6, column Id (ticket_id), value \"007\": duplicate ticket 007 (first on line 3)")
            && err.starts_with("big.csv: 2 problems"),
        "{err}"
    );
    assert_eq!(chunks(&store), Some(1), "the staged chunks are deleted");
    assert_eq!(business::tickets(&store).unwrap().len(), 4);

    let applied = import(good.as_bytes()).unwrap();
    assert_eq!((applied.outcome, applied.rows), ("applied", 45_000));
    assert_eq!(
        chunks(&store),
        Some(3),
        "20 000 a chunk; the old one deleted"
    );
    let back = business::tickets(&store).unwrap();
    assert_eq!(back.len(), 45_000);
    assert_eq!(
        (back[44_999].id.as_str(), back[44_999].tags.as_slice()),
        ("144999", ["billing".to_owned()].as_slice())
    );
    assert_eq!(import(good.as_bytes()).unwrap().outcome, "unchanged");
    assert_eq!(chunks(&store), Some(3));
}

/// A big file is read in two parts at once; its tickets are stored as one reading stores them:
/// in order, every chunk number below the count present (a first part of blank lines fills
/// fewer chunks than its lines could: those are stored empty), and a split that a quote in an
/// unquoted field misplaces falls back to one reading.
#[test]
fn a_file_read_in_two_parts_is_stored_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = revenue_config("");
    let chunks = |store: &Store| store.event_counts().get("ticket_chunk").copied();
    let import = |bytes: &[u8], source: &str| {
        set_import::import_tickets(
            &store,
            &config,
            "big.csv",
            bytes,
            &SetOptions::new(source),
            |_| {},
        )
    };
    let rows = |csv: &mut String, n: usize| {
        for i in 0..n {
            *csv += &format!("{},2026-11-09 10:00:00,cus_a,billing\n", 100_000 + i);
        }
    };

    // 25 000 blank lines, then 45 000 tickets: the first part ends at line 40 001 with 15 000
    // tickets, one chunk where its lines could fill two.
    let mut csv = String::from("Id,Created at,Organization,Tags\n");
    csv += &"\n".repeat(25_000);
    rows(&mut csv, 45_000);
    let applied = import(csv.as_bytes(), "blank").unwrap();
    assert_eq!((applied.outcome, applied.rows), ("applied", 45_000));
    assert_eq!(chunks(&store), Some(4), "15 000, empty, 20 000, 10 000");
    let ids: Vec<String> = business::tickets(&store)
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    let expected: Vec<String> = (0..45_000).map(|i| (100_000 + i).to_string()).collect();
    assert!(ids == expected, "{} tickets, in file order", ids.len());

    // A subject of 100 lines across the middle, and a quote inside an unquoted subject before
    // it (taken literally): counting quotes puts the split inside the subject, no row starts
    // there, and the file is read in one part.
    let mut csv = String::from("Id,Subject,Created at,Organization,Tags\n");
    for i in 0..40_000 {
        let subject = match i {
            5 => "a 5\" screen".to_owned(),
            19_900 => format!("\"{}\"", "a line\n".repeat(100)),
            _ => "hello".to_owned(),
        };
        csv += &format!("T-{i},{subject},2026-11-09 10:00:00,cus_a,billing\n");
    }
    let applied = import(csv.as_bytes(), "quoted").unwrap();
    assert_eq!((applied.outcome, applied.rows), ("applied", 40_000));
    assert_eq!(chunks(&store), Some(6), "4, and 20 000 + 20 000");
    let ids: Vec<String> = business::tickets(&store)
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .filter(|id| id.starts_with("T-"))
        .collect();
    let expected: Vec<String> = (0..40_000).map(|i| format!("T-{i}")).collect();
    assert!(ids == expected, "{} tickets, in file order", ids.len());
}

#[test]
fn the_revenue_imports_bad_input_cases_hold_for_tickets_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = revenue_config("[revenue]\nmax_field_bytes = 64\n");
    let t = |bytes: &[u8]| {
        set_import::import_tickets(
            &store,
            &config,
            "t.csv",
            bytes,
            &SetOptions::new("x"),
            |_| {},
        )
        .unwrap_err()
        .to_string()
    };
    let m = |bytes: &[u8]| {
        set_import::import_metrics(&store, &config, "m.csv", bytes, &SetOptions::new("x"))
            .unwrap_err()
            .to_string()
    };
    for check in [&t as &dyn Fn(&[u8]) -> String, &m] {
        assert!(check(b"").contains("line 1: the file is empty"));
        assert!(check(b"\xff\xfe").contains("invalid UTF-8"));
    }
    assert!(t(b"Id,Created at,Organization,Tags\n")
        .contains("line 2: the file has a header but no data rows"));
    assert!(t(b"Id,Created at,Organization,Tags\n1,2026-11-09,a\n")
        .contains("line 2: has 3 fields, the header has 4"));
    let long = format!(
        "Id,Created at,Organization,Tags\n1,2026-11-09,{},x\n",
        "a".repeat(65)
    );
    assert!(t(long.as_bytes()).contains("one field is at most revenue.max_field_bytes (64)"));
    // An unrecognised header names the closest known names and the nearest column.
    let e = t(b"Ticket,Opened,Org,Tags\n1,2026-11-09,a,b\n");
    assert!(
        e.contains("a tickets file needs a column for ticket_id"),
        "{e}"
    );
    assert!(e.contains("closest known names:"), "{e}");
    assert!(
        e.contains("a tickets file needs a column for customer_id"),
        "{e}"
    );
    let e = m(b"when,metric,value\n2026-09,cloud_cost,1\n");
    assert!(
        e.contains("a metrics file needs a column for date, week or month"),
        "{e}"
    );
    // The bad metrics fixture: every row named.
    let e = set_import::import_metrics(
        &store,
        &config,
        "bad_metrics.csv",
        &fixture("bad_metrics.csv"),
        &SetOptions::new("x"),
    )
    .unwrap_err()
    .to_string();
    for needle in [
        "line 2, column value, value \"-1\": cloud_cost cannot be negative",
        "line 3, column value, value \"172%\": a margin ratio is at most 1",
        "line 4, column month, value \"2026-13\"",
        "line 5, column metric, value \"bad name\": is not a metric name",
        "line 6, column labels, value \"provider\"",
        "line 7, column value, value \"abc\": is not an amount",
        "line 9, column metric, value \"nps\": duplicate value of nps for 2026-09 with the same labels (first on line 8)",
    ] {
        assert!(e.contains(needle), "{needle}\n{e}");
    }
    assert!(
        e.starts_with("bad_metrics.csv: 7 problems, nothing imported:"),
        "{e}"
    );
    assert!(business::metrics(&store).unwrap().is_empty());
}

#[test]
fn metrics_give_cost_share_revenue_per_engineer_and_the_rule_of_40() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = revenue_config("");
    revenue(&store, &config);
    let s = set_import::import_metrics(
        &store,
        &config,
        "metrics.csv",
        &fixture("metrics.csv"),
        &SetOptions::new("finance"),
    )
    .unwrap();
    assert_eq!((s.layout.as_str(), s.rows), ("metrics", 12));
    let r = business::cost_report(&store, &settings()).unwrap().unwrap();
    let sep = r
        .months
        .iter()
        .find(|m| m.month.to_string() == "2026-09")
        .unwrap();
    // Cloud cost 52,000 + 13,000 = 65,000; MRR 110,000 → share 0.5909…
    assert_eq!(sep.cloud_cost, Some(65_000.0));
    assert_eq!(sep.mrr, Some(110_000.0));
    assert!((sep.cost_share.unwrap() - 65.0 / 110.0).abs() < 1e-12);
    // ARR 1,320,000 / 42 engineers = 31,428.57…
    assert!((sep.revenue_per_engineer.unwrap() - 1_320_000.0 / 42.0).abs() < 1e-6);
    // MRR 90,000 (2026-06) → 110,000: +22.2 % over 3 months; no 12 months back, so annualised:
    // (110/90)^4 − 1 = 123.15 %; operating margin −8 % → Rule of 40 = 115.15.
    let rule = sep.rule_of_40.as_ref().unwrap();
    assert_eq!(rule.growth_basis, "3 months annualised");
    let growth = ((110.0f64 / 90.0).powi(4) - 1.0) * 100.0;
    assert!((rule.growth_pct - growth).abs() < 1e-9);
    assert!((rule.margin_pct + 8.0).abs() < 1e-9);
    assert!((rule.score - (growth - 8.0)).abs() < 1e-9 && rule.passes);
    // Cost growth needs cost three months back: none in the file.
    assert_eq!(sep.cost_growth_3m, None);
    // Another name is stored and listed.
    let nps = r.metrics.iter().find(|m| m.metric == "nps").unwrap();
    assert!(!nps.known);
    assert_eq!(nps.points.len(), 1);
}

mod daemon {

    #[tokio::test(flavor = "multi_thread")]
    async fn tickets_and_metrics_go_through_http_and_the_watched_folder() {
        let dir = tempfile::tempdir().unwrap();
        let (inbox, config) = crate::revenue::daemon::watched_inbox(dir.path());
        let daemon = crate::helpers::spawn_app(&dir.path().join("store"), Some(config), &[]).await;
        let client = reqwest::Client::new();

        let r = client
            .post(daemon.url("/api/v1/imports/tickets?name=z.csv&source=zendesk"))
            .header("content-type", "text/csv")
            .body(super::fixture("zendesk_tickets.csv"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let bad = client
            .post(daemon.url("/api/v1/imports/tickets?name=bad.csv"))
            .header("content-type", "text/csv")
            .body(super::fixture("bad_tickets.csv"))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 422);
        let body: serde_json::Value = bad.json().await.unwrap();
        assert_eq!(body["error"]["problems"][0]["line"], 2);

        std::fs::create_dir_all(inbox.join("metrics")).unwrap();
        std::fs::write(inbox.join("metrics/m.csv"), super::fixture("metrics.csv")).unwrap();
        crate::helpers::wait_for_files(&[inbox.join("metrics/done/m.csv")]).await;
        let report = std::fs::read_to_string(inbox.join("metrics/done/m.csv.report.txt")).unwrap();
        assert_eq!(
            report,
            "m.csv: applied (metrics layout, 12 metrics, 2026-08..2026-09)\n"
        );

        let layouts = crate::helpers::import_layouts(&client, daemon.url("/api/v1/imports")).await;
        assert_eq!(layouts, ["tickets:zendesk", "?", "metrics:metrics"]);
        let support = crate::helpers::get_json(&client, daemon.url("/api/v1/support")).await;
        assert_eq!(support["support"]["tickets"], 4);
        let cost = crate::helpers::get_json(&client, daemon.url("/api/v1/cost")).await;
        assert_eq!(cost["cost"]["months"][1]["cloud_cost"], 65000.0);
        daemon.stop().await;
    }
}

/// The demo's story: support floods after the shift, and cost grows faster than revenue for a
/// while once strain builds (while growing, revenue outgrows cost).
#[test]
fn the_demo_support_flood_and_cost_squeeze_follow_the_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    barometer::sources::demo::seed(&store, 7, end, &Default::default()).unwrap();
    let r = business::support_report(&store, &settings(), NOW)
        .unwrap()
        .unwrap();
    // Weeks 0..104 end with the current (empty) week; the shift is at week 62 of 104.
    let weeks: Vec<_> = r.weeks.iter().filter(|w| w.opened > 0).collect();
    let mean = |ws: &[&barometer::analysis::support::SupportWeek]| {
        ws.iter().map(|w| w.opened as f64).sum::<f64>() / ws.len() as f64
    };
    let (before, after) = (mean(&weeks[40..56]), mean(&weeks[weeks.len() - 16..]));
    assert!(
        after > 1.8 * before,
        "support flood: {before:.1} → {after:.1} tickets a week"
    );
    let reply = |ws: &[&barometer::analysis::support::SupportWeek]| {
        ws.iter()
            .filter_map(|w| w.first_response_median_h)
            .sum::<f64>()
            / ws.len() as f64
    };
    assert!(
        reply(&weeks[weeks.len() - 16..]) > 2.0 * reply(&weeks[40..56]),
        "slower replies"
    );
    assert!(
        ["checkout", "api"].contains(&r.pains[0].topic.as_str()),
        "checkout and the API hurt the most revenue after the shift: {:?}",
        r.pains[0]
    );

    let c = business::cost_report(&store, &settings()).unwrap().unwrap();
    let squeeze: Vec<String> = c
        .months
        .iter()
        .filter(|m| m.cost_outgrows_revenue == Some(true))
        .map(|m| m.month.to_string())
        .collect();
    assert!(squeeze.len() >= 6, "{squeeze:?}");
    assert!(
        squeeze.iter().all(|m| m.as_str() >= "2026-01"),
        "only under strain: {squeeze:?}"
    );
}

/// `[business] rule_of_40_margin` picks the margin; a bad value is named with its key.
#[test]
fn the_rule_of_40_margin_is_configured() {
    let load = |toml: &str| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.toml");
        std::fs::write(&path, toml).unwrap();
        barometer::config::Config::load(&barometer::config::Sources {
            file: Some(path),
            env: Some(Default::default()),
            ..Default::default()
        })
    };
    let err = load("[business]\nrule_of_40_margin = \"net\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("business.rule_of_40_margin"), "{err}");
    let config = load("[business]\nrule_of_40_margin = \"gross\"\n").unwrap();
    let settings = barometer::query::Settings::new(&config).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let rc = revenue_config("");
    revenue(&store, &rc);
    set_import::import_metrics(
        &store,
        &rc,
        "metrics.csv",
        &fixture("metrics.csv"),
        &SetOptions::new("f"),
    )
    .unwrap();
    let r = business::cost_report(&store, &settings).unwrap().unwrap();
    let rule = r.months[1].rule_of_40.clone().unwrap();
    // Gross margin 0.70 in 2026-09 → 70 %.
    assert!((rule.margin_pct - 70.0).abs() < 1e-9);
    assert_eq!(rule.margin.metric(), "gross_margin_ratio");
}
