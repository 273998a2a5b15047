//! Revenue imports: known answers in every layout, public export layouts, bad input, properties.

use std::collections::BTreeMap;

use barometer::analysis::revenue::{monthly, MonthRevenue, RetentionWindow, RevenueSettings};
use barometer::config::{Config, RevenueConfig, Sources};
use barometer::model::{RevenueMonth, RevenueMonthRows};
use barometer::sources::revenue_csv::Layout;
use barometer::sources::revenue_import::{self, ImportError, ImportOptions};
use barometer::store::{Store, StoredMonth, WriteBatch};

pub fn revenue_config(extra_toml: &str) -> RevenueConfig {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.toml");
    std::fs::write(&path, extra_toml).unwrap();
    Config::load(&Sources {
        file: Some(path),
        env: Some(BTreeMap::new()),
        ..Default::default()
    })
    .unwrap()
    .revenue
}

/// An import without a progress callback.
fn import(
    store: &Store,
    config: &RevenueConfig,
    file: &str,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<revenue_import::ImportSummary, ImportError> {
    revenue_import::import(store, config, file, bytes, options, |_| {})
}

fn opts(source: &str) -> ImportOptions {
    ImportOptions::new(source)
}

// The hand-built data set: 10 customers over 14 months (2024-01 … 2025-02).
//
// | customer | story                                                      |
// |----------|------------------------------------------------------------|
// | A        | 100, expands to 150 in 2024-06                             |
// | B        | 200, contracts to 120 in 2024-09                           |
// | C        | 300, churns in 2024-04                                     |
// | D        | 50 throughout                                              |
// | E        | new in 2024-03 at 80                                       |
// | F        | 400, churns in 2024-11, reactivates at 400 in 2025-01      |
// | G        | 120 throughout                                             |
// | H        | new in 2024-07 at 60, expands to 90 in 2024-12             |
// | I        | 250, contracts to 200 in 2025-02                           |
// | J        | 75, churns in 2025-02                                      |
//
// MRR by month: 1495, 1495, 1575 (+E), 1275 (−C), 1275, 1325 (+50 A), 1385 (+H), 1385,
// 1305 (−80 B), 1305, 905 (−F), 935 (+30 H), 1335 (F back), 1210 (−50 I, −75 J).
const MRR: [f64; 14] = [
    1495.0, 1495.0, 1575.0, 1275.0, 1275.0, 1325.0, 1385.0, 1385.0, 1305.0, 1305.0, 905.0, 935.0,
    1335.0, 1210.0,
];

fn mrr_of(customer: char, m: usize) -> f64 {
    match customer {
        'A' => {
            if m >= 5 {
                150.0
            } else {
                100.0
            }
        }
        'B' => {
            if m >= 8 {
                120.0
            } else {
                200.0
            }
        }
        'C' => {
            if m < 3 {
                300.0
            } else {
                0.0
            }
        }
        'D' => 50.0,
        'E' => {
            if m >= 2 {
                80.0
            } else {
                0.0
            }
        }
        'F' => {
            if (10..12).contains(&m) {
                0.0
            } else {
                400.0
            }
        }
        'G' => 120.0,
        'H' => match m {
            0..=5 => 0.0,
            6..=10 => 60.0,
            _ => 90.0,
        },
        'I' => {
            if m == 13 {
                200.0
            } else {
                250.0
            }
        }
        'J' => {
            if m == 13 {
                0.0
            } else {
                75.0
            }
        }
        _ => unreachable!(),
    }
}

fn month(m: usize) -> String {
    format!("{}-{:02}", 2024 + m / 12, m % 12 + 1)
}

fn snapshots_csv() -> String {
    let mut s = String::from("customer_id,month,mrr,currency,plan,segment\n");
    for m in 0..14 {
        for c in "ABCDEFGHIJ".chars() {
            let v = mrr_of(c, m);
            if v > 0.0 {
                let seg = if "ABF".contains(c) {
                    "enterprise"
                } else {
                    "smb"
                };
                s.push_str(&format!("{c},{},\"${v:.2}\",USD,pro,{seg}\n", month(m)));
            }
        }
    }
    s
}

const MOVEMENTS_CSV: &str = "date,customer_id,type,amount\n\
2024-01-05,A,new,100\n2024-01-05,B,new,200\n2024-01-05,C,new,300\n2024-01-05,D,new,50\n\
2024-01-05,F,new,400\n2024-01-05,G,new,120\n2024-01-05,I,new,250\n2024-01-05,J,new,75\n\
2024-03-10,E,new,80\n2024-04-02,C,churn,300\n2024-06-15,A,expansion,50\n2024-07-01,H,new,60\n\
2024-09-20,B,contraction,(80.00)\n2024-11-30,F,churn,-400\n2024-12-05,H,expansion,30\n\
2025-01-10,F,reactivation,400\n2025-02-14,I,contraction,50\n2025-02-28T12:00:00Z,J,churn,75\n";

fn derived(store: &Store, settings: RevenueSettings) -> Vec<MonthRevenue> {
    monthly(
        &barometer::query::revenue::snapshots(store).unwrap(),
        settings,
        None,
    )
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

fn check_known_answers(m: &[MonthRevenue]) {
    assert_eq!(m.len(), 14);
    for (i, row) in m.iter().enumerate() {
        assert_eq!(row.month.to_string(), month(i));
        assert_eq!(row.mrr, MRR[i], "{}", row.month);
        assert_eq!(row.arr, 12.0 * MRR[i]);
        let mv = row.movements.clone().unwrap_or_default();
        if i > 0 {
            assert!(
                (mv.net() - (MRR[i] - MRR[i - 1])).abs() < 1e-9,
                "movements sum, {}",
                row.month
            );
        }
    }
    // 2025-01: F comes back: reactivation 400, nothing new.
    let jan = m[12].movements.clone().unwrap();
    assert_eq!((jan.reactivation, jan.new, jan.churn), (400.0, 0.0, 0.0));
    // 2025-02: I contracts by 50, J churns 75; one logo of the 9 paying at the start is lost.
    let feb = m[13].movements.clone().unwrap();
    assert_eq!(
        (feb.contraction, feb.churn, feb.expansion),
        (50.0, 75.0, 0.0)
    );
    assert!(close(m[13].logo_churn, 1.0 / 9.0));
    assert_eq!(m[13].customers, 8);
    // NRR 2025-01, cohort of 2024-01 (A B C D F G I J, 1495):
    //   now A150 B120 C0 D50 F400 G120 I250 J75 = 1165 → 1165 / 1495;
    //   GRR: 100 + 120 + 0 + 50 + 400 + 120 + 250 + 75 = 1115 → 1115 / 1495.
    assert!(close(m[12].nrr_cohort_12m, 1165.0 / 1495.0));
    assert!(close(m[12].grr_cohort_12m, 1115.0 / 1495.0));
    // NRR 2025-02, cohort of 2024-02 (same set): now 150+120+0+50+400+120+200+0 = 1040;
    //   GRR: 100+120+0+50+400+120+200+0 = 990.
    assert!(close(m[13].nrr_cohort_12m, 1040.0 / 1495.0));
    assert!(close(m[13].grr_cohort_12m, 990.0 / 1495.0));
    assert_eq!(
        m[11].nrr_cohort_12m, None,
        "no month 12 months before 2024-12"
    );
    // Monthly movements form: 2025-02 start 1335, −50 −75 → 1210/1335 for both;
    // 2025-01 start 935, reactivation 400 counted as expansion → 1335/935, GRR 1.
    assert!(close(m[13].nrr_monthly, 1210.0 / 1335.0));
    assert!(close(m[13].grr_monthly, 1210.0 / 1335.0));
    assert!(close(m[12].nrr_monthly, 1335.0 / 935.0));
    assert!(close(m[12].grr_monthly, 1.0));
    assert!(close(m[12].yoy_growth, 1335.0 / 1495.0 - 1.0));
    assert!(close(m[13].mom_growth, 1210.0 / 1335.0 - 1.0));
    assert!(m[13]
        .retention_formula
        .starts_with("trailing-12-month cohort"));
}

#[test]
fn snapshots_give_the_worked_out_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = revenue_config("");
    let s = import(
        &store,
        &config,
        "snap.csv",
        snapshots_csv().as_bytes(),
        &opts("billing"),
    )
    .unwrap();
    assert_eq!(
        (s.layout, s.outcome, s.months.len()),
        (Layout::Snapshots, "applied", 14)
    );
    let m = derived(&store, RevenueSettings::default());
    check_known_answers(&m);

    // Reactivation not counted as expansion: F (churned within the window) counts as 0.
    let strict = derived(
        &store,
        RevenueSettings {
            window: RetentionWindow::Monthly,
            reactivation_as_expansion: false,
        },
    );
    assert!(close(strict[12].nrr_cohort_12m, 765.0 / 1495.0));
    assert!(close(strict[12].grr_cohort_12m, 715.0 / 1495.0));
    assert!(
        close(strict[12].nrr, 935.0 / 935.0),
        "monthly headline without reactivation"
    );
    assert!(strict[12]
        .retention_formula
        .starts_with("monthly movements"));

    // Per segment: enterprise = A, B, F.
    let ent = monthly(
        &barometer::query::revenue::snapshots(&store).unwrap(),
        RevenueSettings::default(),
        Some("enterprise"),
    );
    assert_eq!(ent[0].mrr, 700.0);
    assert!(close(ent[12].nrr_cohort_12m, 670.0 / 700.0));
}

#[test]
fn movements_give_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = import(
        &store,
        &revenue_config(""),
        "mv.csv",
        MOVEMENTS_CSV.as_bytes(),
        &opts("billing"),
    )
    .unwrap();
    assert_eq!((s.layout, s.months.len()), (Layout::Movements, 14));
    check_known_answers(&derived(&store, RevenueSettings::default()));
}

#[test]
fn totals_give_arr_and_only_the_retention_the_file_states() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut csv = String::from("month,arr,mrr,nrr,grr,customers\n");
    for (i, mrr) in MRR.iter().enumerate() {
        let (nrr, grr) = if i == 12 {
            ("77.9%", "0.7458")
        } else {
            ("", "")
        };
        csv.push_str(&format!(
            "{},\"{:.2}\",{mrr},{nrr},{grr},9\n",
            month(i),
            12.0 * mrr
        ));
    }
    let s = import(
        &store,
        &revenue_config(""),
        "totals.csv",
        csv.as_bytes(),
        &opts("finance"),
    )
    .unwrap();
    assert_eq!(s.layout, Layout::Totals);
    let totals = barometer::query::revenue::totals(&store).unwrap();
    let m = |s: &str| s.parse::<barometer::model::Month>().unwrap();
    assert_eq!(totals.len(), 14);
    assert_eq!(totals[&m("2025-01")].arr, 12.0 * 1335.0);
    assert_eq!(totals[&m("2025-01")].nrr, Some(0.779));
    assert_eq!(totals[&m("2025-01")].grr, Some(0.7458));
    assert_eq!(totals[&m("2025-02")].nrr, None, "never invented");
    let view = barometer::query::revenue::totals_view(&store).unwrap();
    assert_eq!(view[12].yoy_growth, Some(1335.0 / 1495.0 - 1.0));
    assert_eq!(view[13].mom_growth, Some(1210.0 / 1335.0 - 1.0));
    assert_eq!(view[12].nrr, Some(0.779));
    assert_eq!(view[13].nrr, None);
    assert!(
        barometer::query::revenue::snapshots(&store)
            .unwrap()
            .is_empty(),
        "no customer detail made up"
    );
}

#[test]
fn the_same_file_twice_changes_nothing_and_a_corrected_export_replaces_its_months() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = revenue_config("");
    let csv = snapshots_csv();
    import(&store, &config, "a.csv", csv.as_bytes(), &opts("billing")).unwrap();
    let counts = store.event_counts();
    let again = import(&store, &config, "a.csv", csv.as_bytes(), &opts("billing")).unwrap();
    assert_eq!(again.outcome, "unchanged");
    assert!(again.months_changed.is_empty());
    assert_eq!(store.event_counts(), counts);

    // A corrected re-export of 2025-02 only: D is 55 now, and K appears.
    let fix = "customer_id,month,mrr\nA,2025-02,150\nB,2025-02,120\nD,2025-02,55\nE,2025-02,80\n\
               F,2025-02,400\nG,2025-02,120\nH,2025-02,90\nI,2025-02,200\nK,2025-02,10\n";
    let dry = import(
        &store,
        &config,
        "fix.csv",
        fix.as_bytes(),
        &ImportOptions {
            dry_run: true,
            ..opts("billing")
        },
    )
    .unwrap();
    assert_eq!(
        (dry.outcome, dry.months_changed.clone()),
        ("dry-run", vec!["2025-02".parse().unwrap()])
    );
    assert_eq!(
        derived(&store, RevenueSettings::default())[13].mrr,
        1210.0,
        "dry run wrote nothing"
    );
    import(&store, &config, "fix.csv", fix.as_bytes(), &opts("billing")).unwrap();
    let m = derived(&store, RevenueSettings::default());
    assert_eq!(m[13].mrr, 1210.0 + 5.0 + 10.0);
    assert_eq!(m[12].mrr, 1335.0, "other months untouched");
    let rows: usize = store
        .events::<RevenueMonth>()
        .map(|m| {
            let m = m.unwrap();
            store
                .revenue_month(&m.import_id, m.month)
                .unwrap()
                .unwrap()
                .len()
        })
        .sum();
    let expected: usize = (0..13)
        .map(|m| "ABCDEFGHIJ".chars().filter(|c| mrr_of(*c, m) > 0.0).count())
        .sum::<usize>()
        + 9;
    assert_eq!(rows, expected);
    let counts = store.event_counts();
    assert_eq!(counts["revenue"], 14, "the replaced month's rows are gone");
    assert_eq!(
        counts["revenue_customers"], 2,
        "both imports' customers are in use"
    );
    let history = barometer::query::revenue::history(&store).unwrap();
    assert_eq!(history.iter().filter(|h| h.outcome == "applied").count(), 2);
}

/// Rewrites every stored month of coded customer rows as the previous version stored it (the
/// customer ids in each month, no customer list).
fn store_months_by_name(store: &Store) {
    let mut batch = WriteBatch::new();
    for m in store.events::<RevenueMonth>() {
        let m = m.unwrap();
        let Some(StoredMonth::Coded(coded)) = store.revenue_month(&m.import_id, m.month).unwrap()
        else {
            continue;
        };
        let list = store.revenue_customers(&m.import_id).unwrap().unwrap();
        let mut named = RevenueMonthRows::new(&m.import_id, &m.source, m.month, &coded.currency);
        let name = |names: &[String], code: u32| -> Option<String> {
            names.get(code.checked_sub(1)? as usize).cloned()
        };
        for (i, c) in coded.customers.iter().enumerate() {
            named.push(
                list.get(*c).unwrap(),
                coded.mrr[i],
                name(&coded.plans, coded.plan[i]).as_deref(),
                name(&coded.segments, coded.segment[i]).as_deref(),
            );
        }
        batch.upsert_event(&named);
        batch.delete_revenue_customers(&m.import_id);
    }
    store.commit(batch).unwrap();
}

#[test]
fn months_stored_by_name_by_the_previous_version_read_the_same_and_stay_current() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = revenue_config("");
    let csv = snapshots_csv();
    import(&store, &config, "a.csv", csv.as_bytes(), &opts("billing")).unwrap();
    let coded = format!("{:?}", derived(&store, RevenueSettings::default()));
    store_months_by_name(&store);
    let counts = store.event_counts();
    assert!(!counts.contains_key("revenue_customers"));
    let named = format!("{:?}", derived(&store, RevenueSettings::default()));
    assert_eq!(named, coded);
    check_known_answers(&derived(&store, RevenueSettings::default()));

    // The same file again finds its months current: nothing is rewritten.
    let again = import(&store, &config, "a.csv", csv.as_bytes(), &opts("billing")).unwrap();
    assert_eq!(again.outcome, "unchanged");
    assert_eq!(store.event_counts(), counts);

    // A corrected month is written coded next to the named ones, and reads the same as it
    // does over a coded import.
    let fix = "customer_id,month,mrr\nA,2025-02,150\nB,2025-02,120\nD,2025-02,55\nE,2025-02,80\n\
               F,2025-02,400\nG,2025-02,120\nH,2025-02,90\nI,2025-02,200\nK,2025-02,10\n";
    import(&store, &config, "fix.csv", fix.as_bytes(), &opts("billing")).unwrap();
    let mixed = derived(&store, RevenueSettings::default());
    assert_eq!(mixed[13].mrr, 1210.0 + 5.0 + 10.0);
    let dir2 = tempfile::tempdir().unwrap();
    let fresh = Store::open(dir2.path()).unwrap();
    import(&fresh, &config, "a.csv", csv.as_bytes(), &opts("billing")).unwrap();
    import(&fresh, &config, "fix.csv", fix.as_bytes(), &opts("billing")).unwrap();
    assert_eq!(
        format!("{mixed:?}"),
        format!("{:?}", derived(&fresh, RevenueSettings::default()))
    );
    let counts = store.event_counts();
    assert_eq!((counts["revenue"], counts["revenue_customers"]), (14, 1));

    // Once no month is an import's any more, its customer list goes with its last rows.
    let all_again = snapshots_csv().replace(",pro,", ",team,");
    import(
        &fresh,
        &config,
        "b.csv",
        all_again.as_bytes(),
        &opts("billing"),
    )
    .unwrap();
    let counts = fresh.event_counts();
    assert_eq!((counts["revenue"], counts["revenue_customers"]), (14, 1));
}

fn rejected(csv: &[u8], config: &RevenueConfig, layout: Option<Layout>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = import(
        &store,
        config,
        "in.csv",
        csv,
        &ImportOptions {
            layout,
            ..opts("billing")
        },
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::Invalid(_)), "{err:?}");
    assert!(
        barometer::query::revenue::snapshots(&store)
            .unwrap()
            .is_empty(),
        "nothing stored"
    );
    assert!(
        barometer::query::revenue::totals(&store)
            .unwrap()
            .is_empty(),
        "nothing stored"
    );
    err.to_string()
}

#[test]
fn bad_input_gets_exact_errors_and_nothing_is_stored() {
    let c = revenue_config("");
    assert_eq!(
        rejected(b"name,value\nx,1\n", &c, None),
        "in.csv: 2 problems, nothing imported:\n  in.csv: line 1: unrecognised header [name, value]: \
         expected snapshots (customer_id, month, mrr), movements (date, customer_id, type, amount), \
         totals (month, arr) or attributes (customer_id, segment, ...); column names are set in \
         [revenue.columns]\n  \
         in.csv: line 1: the attributes layout needs a column for customer_id; closest known \
         names: \"Account\", \"customer\", \"Client ID\""
    );
    assert_eq!(
        rejected(b"customer_id,month\nA,2025-01\n", &c, Some(Layout::Snapshots)),
        "in.csv: 1 problem, nothing imported:\n  in.csv: line 1: the snapshots layout needs a column \
         for mrr (header: [customer_id, month]); closest known names: \"mrr\", \
         \"Monthly Recurring Revenue\", \"MRR Amount\""
    );
    assert_eq!(
        rejected(b"customer_id,month,mrr\nA,2025-01,12x\nB,2025-13,5\nA,2025-01,7\n,2025-01,1\n", &c, None),
        "in.csv: 4 problems, nothing imported:\n  \
         in.csv: line 2, column mrr, value \"12x\": is not an amount (e.g. 1234.50, 1,234.50, $1,234.50 or (120.00))\n  \
         in.csv: line 3, column month, value \"2025-13\": is not a month (YYYY-MM), a date (YYYY-MM-DD) or an RFC 3339 time\n  \
         in.csv: line 4, column customer_id, value \"A\": duplicate row for customer A in 2025-01 (first on line 2)\n  \
         in.csv: line 5, column customer_id, value \"\": is empty"
    );
    assert_eq!(
        rejected(b"date,customer_id,type,amount\n2025-01-01,A,upsell,5\n", &c, None),
        "in.csv: 1 problem, nothing imported:\n  in.csv: line 2, column type, value \"upsell\": is not \
         a movement type (new, expansion, contraction, churn, reactivation)"
    );
    assert_eq!(
        rejected(b"", &c, None),
        "in.csv: 1 problem, nothing imported:\n  in.csv: line 1: the file is empty: expected a header row"
    );
    assert_eq!(
        rejected(b"customer_id,month,mrr\nA,2025-01,\xff\xfe\n", &c, None),
        "in.csv: 1 problem, nothing imported:\n  in.csv: line 2: invalid UTF-8 at byte 32 (save the file as UTF-8)"
    );
    assert_eq!(
        rejected(b"customer_id,month,mrr,currency\nA,2025-01,5,EUR\n", &c, None),
        "in.csv: 1 problem, nothing imported:\n  in.csv: line 2, column currency, value \"EUR\": differs \
         from revenue.currency USD; convert the file first (no exchange rates are guessed)"
    );
    // The list is capped, with a count of the rest.
    let many: String = std::iter::once("customer_id,month,mrr\n".to_owned())
        .chain((0..30).map(|i| format!("c{i},2025-01,bad\n")))
        .collect();
    let msg = rejected(
        many.as_bytes(),
        &revenue_config("[revenue]\nmax_reported_errors = 3\n"),
        None,
    );
    assert!(
        msg.starts_with("in.csv: 30 problems, nothing imported:"),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1 + 3 + 1);
    assert!(msg.ends_with("… and 27 more"), "{msg}");
}

#[test]
fn crlf_and_bom_files_import_like_plain_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(snapshots_csv().replace('\n', "\r\n").as_bytes());
    import(
        &store,
        &revenue_config(""),
        "win.csv",
        &bytes,
        &opts("billing"),
    )
    .unwrap();
    check_known_answers(&derived(&store, RevenueSettings::default()));
}

#[test]
fn chartmogul_mrr_movements_export_maps_through_the_columns() {
    // ChartMogul's MRR Movements dataset (docs/revenue.md): amounts in cents, signed.
    let csv = "DATE,CUSTOMER_NAME,MRR_MOVEMENT,MRR,DESCRIPTION,MOVEMENT_TYPE,CURRENCY_CODE,BILLING_CONNECTOR_UUID,CUSTOMER_EXTERNAL_ID,CUSTOMER_UUID,SUBSCRIPTION_EXTERNAL_ID,PLAN_EXTERNAL_ID,ACTIVE_SUBSCRIPTION_QUANTITY,UUID,RANK,PREVIOUS_PLAN_EXTERNAL_ID\n\
2025-01-03 10:00:00,Acme,10000,10000,New,new_biz,USD,ds_1,cus_a,cus_uuid_a,sub_1,pro,1,mv1,1,\n\
2025-01-04 11:00:00,Beta,5000,5000,New,new_biz,USD,ds_1,cus_b,cus_uuid_b,sub_2,pro,1,mv2,1,\n\
2025-02-10 09:00:00,Acme,2500,12500,Upgrade,expansion,USD,ds_1,cus_a,cus_uuid_a,sub_1,pro,2,mv3,1,pro\n\
2025-03-01 00:00:00,Beta,-5000,0,Cancel,churn,USD,ds_1,cus_b,cus_uuid_b,sub_2,pro,0,mv4,1,pro\n";
    let config = revenue_config("[revenue]\namount_scale = 0.01\n[revenue.columns]\ncustomer_id = [\"customer_external_id\"]\n");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = import(
        &store,
        &config,
        "chartmogul.csv",
        csv.as_bytes(),
        &opts("chartmogul"),
    )
    .unwrap();
    assert_eq!((s.layout, s.rows), (Layout::Movements, 4));
    let m = derived(&store, RevenueSettings::default());
    assert_eq!(
        m.iter().map(|r| r.mrr).collect::<Vec<_>>(),
        vec![150.0, 175.0, 125.0]
    );
    assert_eq!(m[2].movements.clone().unwrap().churn, 50.0);

    // The CMRR Movements dataset names its columns differently; the defaults know them.
    let cmrr = "CUSTOMER_UUID,CUSTOMER_NAME,CMRR_MOVEMENT_UUID,ACTIVE_SUBSCRIPTION_QUANTITY,CMRR_MOVEMENT,CURRENT_CMRR,CURRENT_CARR,DESCRIPTION,EFFECTIVE_DATE,EVENT_DATE,MOVEMENT_TYPE,ORDERING_KEY,PLAN_UUID,SUBSCRIPTION_UUID\n\
cus_1,Acme,m1,1,20000,200.0,2400.0,New,2025-01-05 00:00:00,2025-01-05 00:00:00,new_biz,1,pl_1,sub_1\n";
    let config = revenue_config("[revenue]\namount_scale = 0.01\n");
    let s = import(&store, &config, "cmrr.csv", cmrr.as_bytes(), &opts("cmrr")).unwrap();
    assert_eq!(s.layout, Layout::Movements);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn history() -> impl Strategy<Value = Vec<Vec<u32>>> {
        // 2–6 customers × 13–16 months, MRR 0 (not paying) or 10..1000.
        (2usize..6, 13usize..16).prop_flat_map(|(c, m)| {
            proptest::collection::vec(
                proptest::collection::vec(prop_oneof![Just(0u32), 10u32..1000], m),
                c,
            )
        })
    }

    fn to_csv(h: &[Vec<u32>]) -> String {
        let mut s = String::from("customer_id,month,mrr\n");
        for (c, months) in h.iter().enumerate() {
            for (m, v) in months.iter().enumerate() {
                if *v > 0 {
                    s.push_str(&format!("c{c},{},{v}\n", month(m)));
                }
            }
        }
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn retention_and_movements_hold_their_invariants(h in history()) {
            let csv = to_csv(&h);
            prop_assume!(h.iter().all(|c| c.iter().any(|v| *v > 0)));
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            let config = revenue_config("");
            match import(&store, &config, "p.csv", csv.as_bytes(), &opts("p")) {
                Ok(_) => {}
                // A month in which nobody pays leaves a gap: legal, but then skip.
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
            let m = derived(&store, RevenueSettings::default());
            for w in m.windows(2) {
                if let Some(mv) = &w[1].movements {
                    prop_assert!((mv.net() - (w[1].mrr - w[0].mrr)).abs() < 1e-6);
                }
            }
            for r in &m {
                if let (Some(n), Some(g)) = (r.nrr_cohort_12m, r.grr_cohort_12m) {
                    prop_assert!(g <= n + 1e-12 && g <= 1.0 + 1e-12);
                }
                if let (Some(n), Some(g)) = (r.nrr_monthly, r.grr_monthly) {
                    prop_assert!(g <= n + 1e-12 && g <= 1.0 + 1e-12);
                }
            }
            let counts = store.event_counts();
            let again = import(&store, &config, "p.csv", csv.as_bytes(), &opts("p")).unwrap();
            prop_assert_eq!(again.outcome, "unchanged");
            prop_assert_eq!(store.event_counts(), counts);
        }

        #[test]
        fn random_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let config = revenue_config("");
            let _ = barometer::sources::revenue_csv::parse("r.csv", &bytes, &Default::default(), &config, |_| {});
            let mut with_header = b"customer_id,month,mrr\n".to_vec();
            with_header.extend_from_slice(&bytes);
            let _ = barometer::sources::revenue_csv::parse("r.csv", &with_header, &Default::default(), &config, |_| {});
        }
    }
}

pub mod daemon {
    use super::*;
    use crate::helpers::Daemon;
    use std::time::{Duration, Instant};

    const TOKEN: &str = "test-token-0123456789abcdef";

    #[tokio::test(flavor = "multi_thread")]
    async fn the_import_endpoint_needs_the_token_validates_and_limits_size() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("b.toml");
        std::fs::write(&config, "[revenue]\nmax_upload_bytes = 1048576\n").unwrap();
        let daemon = crate::helpers::spawn_app(
            &dir.path().join("store"),
            Some(config.clone()),
            &[("BAROMETER__SERVER__API_TOKEN", TOKEN)],
        )
        .await;
        let client = reqwest::Client::new();
        let url = daemon.url("/api/v1/imports/revenue?source=billing&name=snap.csv");

        let anon = client
            .post(&url)
            .body(snapshots_csv())
            .send()
            .await
            .unwrap();
        assert_eq!(anon.status(), 401);
        let body: serde_json::Value = anon.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
        // The dashboard shows the same data: protected alike; /metrics stays open.
        let page = client.get(daemon.url("/")).send().await.unwrap();
        assert_eq!(page.status(), 401);
        let page = client
            .get(daemon.url("/"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let metrics = client.get(daemon.url("/metrics")).send().await.unwrap();
        assert_eq!(metrics.status(), 200);

        let ok = client
            .post(&url)
            .bearer_auth(TOKEN)
            .header("content-type", "text/csv")
            .body(snapshots_csv())
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        let body: serde_json::Value = ok.json().await.unwrap();
        assert_eq!(body["import"]["outcome"], "applied");
        assert_eq!(body["import"]["months"].as_array().unwrap().len(), 14);

        let bad = client
            .post(&url)
            .bearer_auth(TOKEN)
            .header("content-type", "text/csv")
            .body("customer_id,month,mrr\nA,2025-01,x\n")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 422);
        let body: serde_json::Value = bad.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_csv");
        assert_eq!(body["error"]["problems"][0]["line"], 2);
        assert_eq!(body["error"]["problems"][0]["column"], "mrr");

        let huge = vec![b'x'; 200 << 20];
        let too_big = client
            .post(&url)
            .bearer_auth(TOKEN)
            .header("content-type", "text/csv")
            .header("content-length", huge.len())
            .body(huge)
            .send()
            .await;
        match too_big {
            Ok(r) => {
                assert_eq!(r.status(), 413);
                let body: serde_json::Value = r.json().await.unwrap();
                assert_eq!(body["error"]["code"], "payload_too_large");
            }
            // The server may close the connection before the client has sent 200 MB.
            Err(e) => assert!(e.is_request() || e.is_body(), "{e:?}"),
        }

        let revenue = client
            .get(daemon.url("/api/v1/revenue"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(revenue.status(), 200);
        let body: serde_json::Value = revenue.json().await.unwrap();
        let months = body["months"].as_array().unwrap();
        assert_eq!(months.len(), 14);
        assert_eq!(months[12]["nrr"], serde_json::json!(1165.0 / 1495.0));
        assert!(months[12]["retention_formula"]
            .as_str()
            .unwrap()
            .starts_with("trailing-12-month"));
        let bad_query = client
            .get(daemon.url("/api/v1/revenue?from=2025"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(bad_query.status(), 400);

        // /metrics stays open and shows the latest month.
        let arr = format!("barometer_revenue_arr{{currency=\"USD\"}} {}", 12 * 1210);
        let text = daemon.metrics_when(10, |t| t.contains(&arr)).await;
        assert!(text.contains("barometer_revenue_nrr_ratio{formula=\"cohort_12m\"} 0.695652"));
        daemon.stop().await;
    }

    /// An inbox folder under `dir` and a configuration file that has the daemon watch it every
    /// 100 ms: (inbox, configuration file).
    pub fn watched_inbox(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let inbox = dir.join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        let config = dir.join("b.toml");
        std::fs::write(
            &config,
            format!(
                "[revenue]\nwatch_dir = \"{}\"\nwatch_interval = \"100ms\"\n",
                inbox.display()
            ),
        )
        .unwrap();
        (inbox, config)
    }

    #[test]
    fn files_dropped_in_the_watched_folder_are_imported_and_moved() {
        let dir = tempfile::tempdir().unwrap();
        let (inbox, config) = watched_inbox(dir.path());
        let config_arg = config.display().to_string();
        let daemon = Daemon::start(&dir.path().join("store"), &["--config", &config_arg]);
        std::fs::write(inbox.join("good.csv"), snapshots_csv()).unwrap();
        std::fs::write(
            inbox.join("bad.csv"),
            "customer_id,month,mrr\nA,2025-01,x\n",
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(inbox.join("done/good.csv").exists() && inbox.join("failed/bad.csv").exists()) {
            assert!(Instant::now() < deadline, "files not processed");
            std::thread::sleep(Duration::from_millis(100));
        }
        let ok = std::fs::read_to_string(inbox.join("done/good.csv.report.txt")).unwrap();
        assert!(
            ok.starts_with("good.csv: applied (snapshots layout, 118 rows, 14 months"),
            "{ok}"
        );
        let bad = std::fs::read_to_string(inbox.join("failed/bad.csv.report.txt")).unwrap();
        assert!(
            bad.contains("bad.csv: line 2, column mrr, value \"x\""),
            "{bad}"
        );
        assert!(!inbox.join("good.csv").exists());
        assert_eq!(daemon.terminate().code(), Some(0));
    }
}
