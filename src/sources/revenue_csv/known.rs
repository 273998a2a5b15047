//! The header names revenue files use: the fields, the names common exports give them, and the
//! columns that give a ChartMogul export away. `docs/revenue.md` lists the same names; a test
//! keeps the two in step.

/// The fields a file can have, in the order of `Header::idx`.
pub(super) const FIELDS: [&str; 16] = [
    "customer_id",
    "month",
    "date",
    "mrr",
    "currency",
    "plan",
    "segment",
    "type",
    "amount",
    "arr",
    "nrr",
    "grr",
    "customers",
    "name",
    "country",
    "first_month",
];

/// The attributes an attributes file may carry besides `customer_id`.
pub(super) const ATTRIBUTES: [&str; 6] = [
    "name",
    "segment",
    "plan",
    "currency",
    "country",
    "first_month",
];

/// Header names that common exports use for each field, in order of preference (after the
/// configured ones), written as the exports write them: the column names of ChartMogul's MRR and
/// CMRR movements datasets (as in `tests/fixtures/revenue/chartmogul_mrr_movements.csv`), and
/// the names spreadsheets and billing reports commonly give these fields ("Customer ID",
/// "Account", "Period", "Monthly Recurring Revenue", "MRR (USD)"). Each name means one field
/// only (a test checks).
pub(super) const KNOWN: [(&str, &[&str]); 16] = [
    (
        "customer_id",
        &[
            "customer_id",
            "customer",
            "customer_external_id",
            "customer_uuid",
            "Account",
            "Account ID",
            "Client ID",
            "Subscriber ID",
            "Stripe Customer ID",
        ],
    ),
    (
        "month",
        &[
            "month",
            "Period",
            "Billing Month",
            "Billing Period",
            "Month Start",
            "Period Start",
            "Reporting Month",
        ],
    ),
    (
        "date",
        &[
            "date",
            "effective_date",
            "event_date",
            "Movement Date",
            "Activity Date",
            "Transaction Date",
        ],
    ),
    (
        "mrr",
        &[
            "mrr",
            "Monthly Recurring Revenue",
            "MRR Amount",
            "Current MRR",
            "Ending MRR",
        ],
    ),
    ("currency", &["currency", "currency_code", "Currency ISO"]),
    (
        "plan",
        &[
            "plan",
            "plan_external_id",
            "plan_uuid",
            "Plan Name",
            "Plan ID",
            "Pricing Plan",
        ],
    ),
    (
        "segment",
        &[
            "segment",
            "Customer Segment",
            "Market Segment",
            "Tier",
            "Customer Tier",
        ],
    ),
    (
        "type",
        &[
            "type",
            "movement_type",
            "Movement",
            "Event Type",
            "Change Type",
            "Activity Type",
        ],
    ),
    (
        "amount",
        &[
            "amount",
            "mrr_movement",
            "cmrr_movement",
            "MRR Change",
            "MRR Delta",
            "Change in MRR",
            "Movement Amount",
        ],
    ),
    (
        "arr",
        &["arr", "Annual Recurring Revenue", "Total ARR", "Ending ARR"],
    ),
    (
        "nrr",
        &[
            "nrr",
            "Net Revenue Retention",
            "Net Retention",
            "NDR",
            "Net Dollar Retention",
            "Net MRR Retention",
        ],
    ),
    (
        "grr",
        &[
            "grr",
            "Gross Revenue Retention",
            "Gross Retention",
            "GDR",
            "Gross Dollar Retention",
            "Gross MRR Retention",
        ],
    ),
    (
        "customers",
        &[
            "customers",
            "customer_count",
            "Paying Customers",
            "Active Customers",
            "Number of Customers",
            "Total Customers",
        ],
    ),
    (
        "name",
        &[
            "name",
            "Customer Name",
            "Account Name",
            "Company",
            "Company Name",
            "Client Name",
        ],
    ),
    (
        "country",
        &[
            "country",
            "country_code",
            "Billing Country",
            "Customer Country",
        ],
    ),
    (
        "first_month",
        &[
            "first_month",
            "Customer Since",
            "Start Month",
            "First Payment Month",
            "First Paid Month",
            "Cohort",
            "Cohort Month",
            "Signup Month",
        ],
    ),
];

/// ChartMogul's own column names beside its amount: with one of them and an amount column named
/// `MRR_MOVEMENT` or `CMRR_MOVEMENT`, the file is a ChartMogul export, whose amounts are cents.
pub(super) const CHARTMOGUL_MARKERS: [&str; 3] =
    ["customeruuid", "billingconnectoruuid", "cmrrmovementuuid"];
pub(super) const CHARTMOGUL_AMOUNTS: [&str; 2] = ["mrrmovement", "cmrrmovement"];

#[cfg(test)]
mod tests {
    use super::super::header::normalize;
    use super::*;

    #[test]
    fn no_built_in_name_means_two_fields() {
        let mut seen: Vec<(String, &str)> = Vec::new();
        for (field, names) in KNOWN {
            for n in names {
                let key = normalize(n).0;
                if let Some((_, other)) = seen.iter().find(|(k, _)| *k == key) {
                    panic!("{n:?} means both {other} and {field}");
                }
                seen.push((key, field));
            }
        }
        assert_eq!(
            KNOWN.map(|(f, _)| f),
            FIELDS,
            "one entry per field, in order"
        );
    }

    #[test]
    fn the_documentation_lists_exactly_these_names() {
        let doc = include_str!("../../../docs/revenue.md");
        for (field, names) in KNOWN {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| `{field}`")))
                .unwrap_or_else(|| panic!("docs/revenue.md has no row for {field}"));
            let listed: Vec<&str> = row
                .split('|')
                .nth(2)
                .map(|cell| cell.trim().split(", ").collect())
                .unwrap_or_default();
            assert_eq!(listed, names.to_vec(), "docs/revenue.md, {field}");
        }
    }
}
