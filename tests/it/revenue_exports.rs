//! Revenue files as billing tools export them: other header names, a messy spreadsheet export,
//! and ChartMogul's cents (customer attributes: `revenue_attributes.rs`, same fixtures).
//!
//! The fixtures (tests/fixtures/revenue/) hold one story, 5 customers over 2024-01 … 2025-01:
//!
//! | customer | MRR                                           | attributes segment |
//! |----------|-----------------------------------------------|--------------------|
//! | A        | 1,200, expands to 1,500 in 2025-01            | enterprise         |
//! | B        | 2,000, contracts to 1,750 in 2025-01          | enterprise         |
//! | C        | 500, churns in 2024-07                        | smb                |
//! | D        | new in 2024-04 at 300                         | smb                |
//! | E        | 800 throughout                                | smb                |
//!
//! 2025-01, trailing-12-month cohort = the customers paying in 2024-01 (A B C E, 4,500):
//!   NRR = (1,500 + 1,750 + 0 + 800) / 4,500 = 4,050 / 4,500 = 0.9;
//!   GRR = (min(1,500, 1,200) + 1,750 + 0 + 800) / 4,500 = 3,750 / 4,500.
//! 2025-01, monthly movements: start = MRR of 2024-12 = 1,200 + 2,000 + 300 + 800 = 4,300;
//!   expansion 300 (A), contraction 250 (B): NRR = 4,350 / 4,300, GRR = 4,050 / 4,300.
//! Per segment, 2025-01 cohort: enterprise (A B, 3,200): NRR 3,250 / 3,200, GRR 2,950 / 3,200;
//!   smb (C E, 1,300): NRR = GRR = 800 / 1,300.

use barometer::analysis::revenue::{monthly, MonthRevenue, RevenueSettings};
use barometer::config::RevenueConfig;
use barometer::sources::revenue_csv::Layout;
use barometer::sources::revenue_import::{self, ImportError, ImportOptions, ImportSummary};
use barometer::store::Store;

use crate::revenue::revenue_config;

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/revenue")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn import_with(
    store: &Store,
    config: &RevenueConfig,
    file: &str,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<ImportSummary, ImportError> {
    revenue_import::import(store, config, file, bytes, options, |_| {})
}

pub(crate) fn import(store: &Store, file: &str) -> ImportSummary {
    import_with(
        store,
        &revenue_config(""),
        file,
        &fixture(file),
        &ImportOptions::new("billing"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn figures(store: &Store, segment: Option<&str>) -> Vec<MonthRevenue> {
    monthly(
        &barometer::query::revenue::snapshots(store).unwrap(),
        RevenueSettings::default(),
        segment,
    )
}

pub(crate) fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-12)
}

pub(crate) fn check_story(m: &[MonthRevenue]) {
    assert_eq!(m.len(), 13);
    assert_eq!(m[12].month.to_string(), "2025-01");
    assert_eq!(m[12].mrr, 4350.0);
    assert_eq!(m[0].mrr, 4500.0);
    assert!(close(m[12].nrr_cohort_12m, 4050.0 / 4500.0));
    assert!(close(m[12].grr_cohort_12m, 3750.0 / 4500.0));
    assert!(close(m[12].nrr_monthly, 4350.0 / 4300.0));
    assert!(close(m[12].grr_monthly, 4050.0 / 4300.0));
}

#[test]
fn a_messy_export_gives_the_clean_files_figures() {
    // Arrange: the same story, once clean and once as a spreadsheet saves it (BOM, CRLF, "Period"
    // with dates, "Account", "MRR (USD)" with "$1,200.00", an extra column, newest rows first).
    let (clean_dir, messy_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let clean = Store::open(clean_dir.path()).unwrap();
    let messy = Store::open(messy_dir.path()).unwrap();
    let messy_bytes = fixture("messy_snapshots.csv");
    assert!(messy_bytes.starts_with(b"\xEF\xBB\xBFPeriod,") && messy_bytes.ends_with(b"\r\n"));

    // Act
    let a = import(&clean, "clean_snapshots.csv");
    let b = import(&messy, "messy_snapshots.csv");

    // Assert
    assert_eq!((a.layout, b.layout), (Layout::Snapshots, Layout::Snapshots));
    assert_eq!((a.rows, b.rows), (55, 55));
    let (clean, messy) = (figures(&clean, None), figures(&messy, None));
    check_story(&clean);
    assert_eq!(clean, messy, "every figure of every month");
    let latest = b
        .latest
        .clone()
        .expect("the report names the last month's MRR");
    assert_eq!(
        (latest.month.to_string(), latest.mrr),
        ("2025-01".into(), 4350.0)
    );
    assert!(
        b.to_string().ends_with("; MRR 4350.00 USD in 2025-01"),
        "{b}"
    );
}

#[test]
fn headers_as_exports_write_them_are_recognised_and_config_still_adds_names() {
    let config = revenue_config("");
    let layout = |csv: &str, config: &RevenueConfig| {
        barometer::sources::revenue_csv::parse(
            "h.csv",
            csv.as_bytes(),
            &Default::default(),
            config,
            |_| {},
        )
        .map(|p| p.layout())
        .map_err(|e| e.to_string())
    };
    for (csv, want) in [
        (
            "Customer ID,Month,Monthly Recurring Revenue\nA,2025-01,10\n",
            Layout::Snapshots,
        ),
        (
            "ACCOUNT,PERIOD,MRR (USD)\nA,2025-01,10\n",
            Layout::Snapshots,
        ),
        (
            "customer-id , month , mrr_amount\nA,2025-01,10\n",
            Layout::Snapshots,
        ),
        (
            "Movement Date,Account ID,Movement Type,MRR Change\n2025-01-02,A,new,10\n",
            Layout::Movements,
        ),
        (
            "Period,Annual Recurring Revenue,Net Revenue Retention\n2025-01,120,1.1\n",
            Layout::Totals,
        ),
        (
            "Customer ID,Customer Name,Customer Segment\nA,Acme,smb\n",
            Layout::Attributes,
        ),
    ] {
        assert_eq!(layout(csv, &config), Ok(want), "{csv}");
    }
    let german = revenue_config(
        "[revenue.columns]\ncustomer_id = [\"Kundennummer\"]\nmrr = [\"Umsatz_monatlich\"]\n",
    );
    assert_eq!(
        layout(
            "kundennummer,Monat,Umsatz Monatlich\nA,2025-01,10\n",
            &german
        ),
        Err(
            "h.csv: 2 problems, nothing imported:\n  h.csv: line 1: unrecognised header \
             [kundennummer, Monat, Umsatz Monatlich]: expected snapshots (customer_id, month, mrr), \
             movements (date, customer_id, type, amount), totals (month, arr) or attributes \
             (customer_id, segment, ...); column names are set in [revenue.columns]\n  h.csv: \
             line 1: the snapshots layout needs a column for month or date; closest known names: \
             \"month\", \"Month Start\", \"Movement Date\"; the header's \"Monat\" is nearest: \
             rename it or add it to revenue.columns.month"
                .into()
        ),
        "configured names are added to the built-in ones, which still apply"
    );
}

#[test]
fn an_unrecognised_header_names_the_closest_known_names_per_missing_field() {
    let config = revenue_config("");
    let err = barometer::sources::revenue_csv::parse(
        "u.csv",
        b"Cust ID,Month,Monthly Rev\nA,2025-01,10\n",
        &Default::default(),
        &config,
        |_| {},
    )
    .unwrap_err();
    // Snapshots is the closest layout (month present, customer_id and mrr missing).
    let reasons: Vec<&str> = err.errors.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:#?}");
    assert!(reasons[0].starts_with("unrecognised header [Cust ID, Month, Monthly Rev]"));
    assert_eq!(
        reasons[1],
        "the snapshots layout needs a column for customer_id; closest known names: \"customer_id\", \
         \"customer\", \"Account ID\"; the header's \"Cust ID\" is nearest: rename it \
         or add it to revenue.columns.customer_id"
    );
    assert_eq!(
        reasons[2],
        "the snapshots layout needs a column for mrr; closest known names: \"Monthly Recurring \
         Revenue\", \"Current MRR\", \"mrr\"; the header's \"Monthly Rev\" is nearest: rename it or \
         add it to revenue.columns.mrr"
    );
}

#[test]
fn a_bad_value_names_the_exports_column_and_the_field_it_was_read_as() {
    let err = barometer::sources::revenue_csv::parse(
        "x.csv",
        b"Account,Period,Monthly Recurring Revenue\nA,2025-13,12x\n",
        &Default::default(),
        &revenue_config(""),
        |_| {},
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "x.csv: 2 problems, nothing imported:\n  \
         x.csv: line 2, column Period (month), value \"2025-13\": is not a month (YYYY-MM), a date \
         (YYYY-MM-DD) or an RFC 3339 time\n  \
         x.csv: line 2, column Monthly Recurring Revenue (mrr), value \"12x\": is not an amount \
         (e.g. 1234.50, 1,234.50, $1,234.50 or (120.00))"
    );
    assert_eq!(err.errors[1].field.as_deref(), Some("mrr"));
}

#[test]
fn a_currency_in_a_column_name_must_be_the_configured_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = import_with(
        &store,
        &revenue_config(""),
        "eur.csv",
        b"customer_id,month,MRR (EUR)\nA,2025-01,10\n",
        &ImportOptions::new("billing"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "eur.csv: 1 problem, nothing imported:\n  eur.csv: line 1, column MRR (EUR): states amounts \
         in EUR, revenue.currency is USD; convert the file first (no exchange rates are guessed)"
    );
}

#[test]
fn chartmogul_cents_are_refused_at_scale_1_until_a_scale_is_stated() {
    // The fixture's movements in cents: A new 1,200.00 (2025-01), +300.00 (2025-02); C new 500.00
    // (2025-01), churned 2025-03. MRR: 1,700, 2,000, 1,500 (150,000 if read as dollars).
    let bytes = fixture("chartmogul_mrr_movements.csv");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = revenue_config("");
    let err =
        import_with(&store, &config, "cm.csv", &bytes, &ImportOptions::new("cm")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cm.csv: 1 problem, nothing imported:\n  cm.csv: line 1, column MRR_MOVEMENT: is a ChartMogul \
         export, whose amounts are in cents, and revenue.amount_scale is 1: it would be stored 100 \
         times too large (MRR in 2025-03: 150000.00 USD as is, 1500.00 USD in cents); set \
         revenue.amount_scale = 0.01, or give this import amount scale 0.01 (--amount-scale 0.01, \
         ?amount_scale=0.01; a dry run shows the resulting MRR), or amount scale 1 if its amounts \
         are already in USD"
    );
    assert!(barometer::query::revenue::snapshots(&store)
        .unwrap()
        .is_empty());

    // A dry run at 0.01 shows the resulting MRR and writes nothing.
    let cents = ImportOptions {
        amount_scale: Some(0.01),
        ..ImportOptions::new("cm")
    };
    let dry = import_with(
        &store,
        &config,
        "cm.csv",
        &bytes,
        &ImportOptions {
            dry_run: true,
            ..cents.clone()
        },
    )
    .unwrap();
    assert_eq!(dry.outcome, "dry-run");
    assert!(
        dry.to_string().ends_with("; MRR 1500.00 USD in 2025-03"),
        "{dry}"
    );
    assert!(barometer::query::revenue::snapshots(&store)
        .unwrap()
        .is_empty());

    // Stated as 1 it is imported as it is (the user's word); at 0.01 the same bytes are other
    // data, so they replace those months rather than count as unchanged.
    let ones = ImportOptions {
        amount_scale: Some(1.0),
        ..ImportOptions::new("cm")
    };
    import_with(&store, &config, "cm.csv", &bytes, &ones).unwrap();
    assert_eq!(figures(&store, None)[2].mrr, 150_000.0);
    let fixed = import_with(&store, &config, "cm.csv", &bytes, &cents).unwrap();
    assert_eq!((fixed.outcome, fixed.months_changed.len()), ("applied", 3));
    let m = figures(&store, None);
    assert_eq!(
        m.iter().map(|r| r.mrr).collect::<Vec<_>>(),
        [1700.0, 2000.0, 1500.0]
    );

    // revenue.amount_scale = 0.01 in the configuration passes the check too.
    let configured = revenue_config("[revenue]\namount_scale = 0.01\n");
    let s = import_with(
        &store,
        &configured,
        "cm.csv",
        &bytes,
        &ImportOptions::new("cm"),
    )
    .unwrap();
    assert_eq!(
        s.outcome, "unchanged",
        "same bytes, same scale: same import"
    );
}
