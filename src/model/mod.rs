//! The shared vocabulary: series keys and points, and the raw events the sources produce.
//!
//! Every source (GitHub, Prometheus, revenue CSV, and the built-in demo) maps what it reads into
//! these types, and the store keeps them as they are. The demo data set produces exactly these
//! shapes, so whatever runs on the demo runs on real data.

pub mod attributes;
pub mod business;
pub mod calendar;
pub mod coverage;
pub mod dora;
pub mod month;
pub mod products;
pub mod revenue;
pub mod revenue_codes;
pub mod stamp;
pub mod system;
pub mod teams;
pub mod ticket_columns;

pub use attributes::{CustomerAttributes, RevenueAttributes, RevenueAttributesCurrent};
pub use business::{Grain, MetricRow, Ticket};
pub use calendar::Calendar;
pub use coverage::{Coverage, Forced, PressureStatus, ShiftTrigger};
pub use month::Month;
pub use products::{Product, Products};
pub use revenue_codes::{CodedMonthRows, ImportCustomers};
pub use system::{Component, ComponentKind, SystemModel, SystemProblem};
pub use teams::{CodeOwnersFile, Team, Teams};
pub use ticket_columns::{TicketColumns, TicketRef};

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Why a series key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The metric name does not follow the Prometheus data model.
    #[error("metric name {0:?} must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    BadName(String),
    /// A label name does not follow the Prometheus data model.
    #[error("label name {0:?} must match [a-zA-Z_][a-zA-Z0-9_]*")]
    BadLabelName(String),
    /// Label values are free text, but NUL is the key encoding's separator.
    #[error("label {0:?} has a value containing a NUL byte")]
    NulInValue(String),
}

/// A time series identity: a metric name and a sorted label set.
///
/// Names and labels follow the Prometheus data model
/// (<https://prometheus.io/docs/concepts/data_model/>) so a series can be exported as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    name: String,
    labels: BTreeMap<String, String>,
}

fn valid_name(s: &str, allow_colon: bool) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || (allow_colon && c == ':') => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':'))
}

impl SeriesKey {
    /// A validated key; labels are sorted by name whatever their order here.
    pub fn new<I, K, V>(name: &str, labels: I) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        if !valid_name(name, true) {
            return Err(KeyError::BadName(name.to_owned()));
        }
        let mut map = BTreeMap::new();
        for (k, v) in labels {
            let (k, v) = (k.into(), v.into());
            if !valid_name(&k, false) {
                return Err(KeyError::BadLabelName(k));
            }
            if v.contains('\0') {
                return Err(KeyError::NulInValue(k));
            }
            map.insert(k, v);
        }
        Ok(Self {
            name: name.to_owned(),
            labels: map,
        })
    }

    /// The metric name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The labels, sorted by name.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// One label's value.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.labels.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// One sample: a time in milliseconds since the Unix epoch (UTC) and a value.
///
/// Milliseconds match Prometheus's own resolution; `i64` covers any date a business cares about,
/// before 1970 included.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Milliseconds since 1970-01-01T00:00:00Z; negative before.
    pub ts: i64,
    /// The sample value; NaN and infinities are kept as Prometheus sends them.
    pub value: f64,
}

/// A raw event the store keeps by a natural key, so that ingesting it again is an upsert.
pub trait Event: Serialize + DeserializeOwned {
    /// The event family, e.g. `deployment`; part of the store key.
    const KIND: &'static str;
    /// A key that identifies the event in its source, stable across re-ingestion.
    fn natural_key(&self) -> String;
    /// Whether postcard (the store's binary encoding, which is not self-describing) carries
    /// every value of the type back identical: no field skipped when serialised, nothing
    /// flattened, no untagged enum, no `serde_json::Value`. The store then encodes it without
    /// decoding it back to check, which is most of an import's encoding time. Declared for the
    /// bulk kinds only; the store's schema-1 conversion test reads every such kind back.
    const POSTCARD: bool = false;
}

/// Where a deployment was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploySource {
    /// GitHub's Deployments API (`/repos/{o}/{r}/deployments` and their statuses).
    DeploymentsApi,
    /// A successful GitHub Actions workflow run on the default branch.
    WorkflowRun,
    /// A published release or a tag that matches the configured pattern.
    Release,
    /// Reported by a CD tool (Argo CD, Jenkins, Spinnaker …) to `POST /webhooks/events`.
    Pushed,
}

impl DeploySource {
    fn as_str(self) -> &'static str {
        match self {
            DeploySource::DeploymentsApi => "deployments_api",
            DeploySource::WorkflowRun => "workflow_run",
            DeploySource::Release => "release",
            DeploySource::Pushed => "pushed",
        }
    }
}

/// The final state of a deployment, from its latest status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployState {
    /// A `success` status was posted.
    Success,
    /// A `failure` status was posted.
    Failure,
    /// An `error` status was posted.
    Error,
    /// No final status yet.
    Pending,
}

/// A deployment of a service, as the GitHub source records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// `owner/name`.
    pub repo: String,
    /// The service this deployment belongs to (the repo name unless configured).
    pub service: String,
    /// Target environment, e.g. `production`.
    pub environment: String,
    /// GitHub's id of the deployment, workflow run or release.
    pub id: u64,
    /// Where it was observed.
    pub source: DeploySource,
    /// The deployed commit.
    pub sha: String,
    /// The ref that was deployed (branch or tag).
    pub git_ref: String,
    /// When the deployment was created.
    #[serde(with = "stamp")]
    pub created_at: DateTime<Utc>,
    /// Its final state.
    pub state: DeployState,
    /// When the final status was posted. A deployment counts at this time, never at
    /// `updated_at`, which moves whenever anything touches the deployment.
    #[serde(default, with = "stamp::opt")]
    pub finished_at: Option<DateTime<Utc>>,
}

impl Event for Deployment {
    const KIND: &'static str = "deployment";
    const POSTCARD: bool = true;
    fn natural_key(&self) -> String {
        format!("{}/{}/{}", self.repo, self.source.as_str(), self.id)
    }
}

/// A merged pull request with the commits it brought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `owner/name`.
    pub repo: String,
    /// Pull request number.
    pub number: u64,
    /// Title; reverts are recognised from it (`Revert "…"`).
    pub title: String,
    /// Head branch name (`revert-N-…` branches mark reverts).
    pub head_ref: String,
    /// Base branch name.
    pub base_ref: String,
    /// Labels (e.g. `hotfix`).
    pub labels: Vec<String>,
    /// Paths touched, when known (monorepo services are told apart by path globs).
    pub files: Vec<String>,
    /// When the pull request was opened.
    #[serde(with = "stamp")]
    pub created_at: DateTime<Utc>,
    /// When it was merged.
    #[serde(with = "stamp")]
    pub merged_at: DateTime<Utc>,
    /// The commit the merge produced on the base branch (merge, squash or rebase).
    pub merge_commit_sha: String,
    /// The pull request's own commits, oldest first.
    pub commits: Vec<String>,
    /// Author time of the pull request's first commit: where lead time starts.
    #[serde(with = "stamp")]
    pub first_commit_at: DateTime<Utc>,
    /// Description; `Reverts owner/repo#N` and `#N` references to incidents are read from it.
    #[serde(default)]
    pub body: String,
}

impl Event for Change {
    const KIND: &'static str = "change";
    const POSTCARD: bool = true;
    fn natural_key(&self) -> String {
        format!("{}#{}", self.repo, self.number)
    }
}

/// A commit on a deployed branch; kept so that change sets can be computed from the graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    /// `owner/name`.
    pub repo: String,
    /// Full SHA.
    pub sha: String,
    /// Parent SHAs.
    pub parents: Vec<String>,
    /// Author time.
    #[serde(with = "stamp")]
    pub authored_at: DateTime<Utc>,
    /// Committer time.
    #[serde(with = "stamp")]
    pub committed_at: DateTime<Utc>,
    /// Pull requests GitHub associates with the commit (`commits/{sha}/pulls`), when asked;
    /// `None` when not asked. Rebase merges are resolved through it.
    #[serde(default)]
    pub pulls: Option<Vec<u64>>,
    /// Paths the commit touched (`GET /commits/{sha}`), read only for a commit no pull request
    /// claims in a monorepo, where they decide which services a direct push belongs to; `None`
    /// when not read. Written even when `None`: a field left out would keep postcard (the
    /// store's encoding, which is not self-describing) from carrying commits back, and they
    /// would be stored as JSON.
    #[serde(default)]
    pub files: Option<Vec<String>>,
}

impl Event for Commit {
    const KIND: &'static str = "commit";
    const POSTCARD: bool = true;
    fn natural_key(&self) -> String {
        format!("{}@{}", self.repo, self.sha)
    }
}

/// An incident, recorded as a labelled GitHub issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `owner/name`.
    pub repo: String,
    /// Issue number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body text; may name a deployment, a SHA or a pull request.
    pub body: String,
    /// Labels (`incident`, `service:<name>` …).
    pub labels: Vec<String>,
    /// When it was opened.
    #[serde(with = "stamp")]
    pub created_at: DateTime<Utc>,
    /// When it was closed (resolved), if it is.
    #[serde(default, with = "stamp::opt")]
    pub closed_at: Option<DateTime<Utc>>,
}

impl Event for Incident {
    const KIND: &'static str = "incident";
    const POSTCARD: bool = true;
    fn natural_key(&self) -> String {
        format!("{}#{}", self.repo, self.number)
    }
}

/// A bug: a GitHub issue with one of the configured bug labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bug {
    /// `owner/name`.
    pub repo: String,
    /// Issue number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Labels (`bug`, `sev1`, `service:<name>` …).
    pub labels: Vec<String>,
    /// When it was opened.
    #[serde(with = "stamp")]
    pub created_at: DateTime<Utc>,
    /// When it was last closed, if it is closed now.
    #[serde(default, with = "stamp::opt")]
    pub closed_at: Option<DateTime<Utc>>,
    /// When it was seen reopened: a sync that finds open a bug it stored closed records the
    /// issue's `updated_at`; one that finds it closed again at a later time records the earlier
    /// close (the reopen happened after it; GitHub's issue answer does not say when).
    #[serde(default)]
    pub reopened_at: Vec<DateTime<Utc>>,
}

impl Event for Bug {
    const KIND: &'static str = "bug";
    const POSTCARD: bool = true;
    fn natural_key(&self) -> String {
        format!("{}#{}", self.repo, self.number)
    }
}

/// Every paying customer of one month, as one import stated them.
///
/// Kept as one record per (import, month) rather than one per customer: a month is what an
/// import replaces, and a million customer-months are then fifty store entries, not a million.
/// The rows are stored column by column (ids, MRR, and plan/segment as indexes into small
/// lists), which halves the size and the decoding time of a row-per-object layout.
///
/// The demo writes months this way, and so did imports before [`CodedMonthRows`]: imports now
/// list their customers once and write each month with codes into that list; the store reads
/// both (`Store::revenue_month`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevenueMonthRows {
    /// The import that wrote it; only the import active for its (source, month) counts.
    pub import_id: String,
    /// The revenue source (e.g. `billing`, or `demo`); a file is authoritative for the months it
    /// covers within its source.
    pub source: String,
    /// The month (stored as `YYYY-MM`).
    pub month: Month,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// Customer ids.
    pub customers: Vec<String>,
    /// MRR of each customer, as of the end of the month.
    pub mrr: Vec<f64>,
    /// Distinct plan names.
    pub plans: Vec<String>,
    /// Each customer's plan, as 1 + an index into `plans` (0 = unknown).
    pub plan: Vec<u32>,
    /// Distinct segment names.
    pub segments: Vec<String>,
    /// Each customer's segment, as 1 + an index into `segments` (0 = unknown).
    pub segment: Vec<u32>,
}

impl RevenueMonthRows {
    /// An empty month.
    pub fn new(import_id: &str, source: &str, month: Month, currency: &str) -> Self {
        Self {
            import_id: import_id.into(),
            source: source.into(),
            month,
            currency: currency.into(),
            customers: Vec::new(),
            mrr: Vec::new(),
            plans: Vec::new(),
            plan: Vec::new(),
            segments: Vec::new(),
            segment: Vec::new(),
        }
    }

    /// Adds a customer.
    pub fn push(&mut self, customer_id: &str, mrr: f64, plan: Option<&str>, segment: Option<&str>) {
        fn code(names: &mut Vec<String>, v: Option<&str>) -> u32 {
            let Some(v) = v else { return 0 };
            let i = names.iter().position(|n| n == v).unwrap_or_else(|| {
                names.push(v.to_owned());
                names.len() - 1
            });
            u32::try_from(i + 1).unwrap_or(0)
        }
        self.customers.push(customer_id.to_owned());
        self.mrr.push(mrr);
        let p = code(&mut self.plans, plan);
        self.plan.push(p);
        let s = code(&mut self.segments, segment);
        self.segment.push(s);
    }

    /// The rows: (customer id, MRR, plan, segment).
    pub fn rows(&self) -> impl Iterator<Item = (&str, f64, Option<&str>, Option<&str>)> + '_ {
        let name = |names: &'_ [String], code: Option<&u32>| -> Option<usize> {
            code.and_then(|c| c.checked_sub(1))
                .map(|c| c as usize)
                .filter(|c| *c < names.len())
        };
        (0..self.customers.len()).map(move |i| {
            (
                self.customers[i].as_str(),
                self.mrr.get(i).copied().unwrap_or(0.0),
                name(&self.plans, self.plan.get(i)).map(|c| self.plans[c].as_str()),
                name(&self.segments, self.segment.get(i)).map(|c| self.segments[c].as_str()),
            )
        })
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.customers.len()
    }

    /// Whether nobody paid.
    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }
}

impl Event for RevenueMonthRows {
    const KIND: &'static str = "revenue";
    const POSTCARD: bool = true;
    fn natural_key(&self) -> String {
        format!("{}/{}", self.import_id, self.month)
    }
}

/// Organisation-wide totals of one month (the "totals" layout): only what the file states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevenueTotal {
    /// The import that wrote it.
    pub import_id: String,
    /// The revenue source.
    pub source: String,
    /// The month (stored as `YYYY-MM`).
    pub month: Month,
    /// ARR.
    pub arr: f64,
    /// MRR, if stated.
    pub mrr: Option<f64>,
    /// NRR as a ratio (1.12 = 112 %), if stated.
    pub nrr: Option<f64>,
    /// GRR as a ratio, if stated.
    pub grr: Option<f64>,
    /// Paying customers, if stated.
    pub customers: Option<u64>,
    /// ISO 4217 code.
    pub currency: String,
}

impl Event for RevenueTotal {
    const KIND: &'static str = "revenue_total";
    fn natural_key(&self) -> String {
        format!("{}/{}", self.import_id, self.month)
    }
}

/// Which import is authoritative for a (source, month).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueMonth {
    /// The revenue source.
    pub source: String,
    /// The month (stored as `YYYY-MM`).
    pub month: Month,
    /// The import whose rows count.
    pub import_id: String,
    /// `snapshots`, `movements` or `totals`.
    pub layout: String,
}

impl Event for RevenueMonth {
    const KIND: &'static str = "revenue_month";
    fn natural_key(&self) -> String {
        format!("{}/{}", self.source, self.month)
    }
}

/// One import attempt, for `barometer import list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRecord {
    /// Unique per attempt: time and content hash.
    pub id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// File name (or `upload` for the HTTP endpoint).
    pub file: String,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// The revenue source.
    pub source: String,
    /// Detected or forced layout.
    pub layout: String,
    /// Data rows in the file.
    pub rows: u64,
    /// Months covered (stored as `YYYY-MM`).
    pub months: Vec<Month>,
    /// `applied`, `unchanged` or `rejected`.
    pub outcome: String,
    /// Problems found (rejected imports).
    pub errors: u64,
}

impl Event for ImportRecord {
    const KIND: &'static str = "import";
    fn natural_key(&self) -> String {
        self.id.clone()
    }
}

/// Names of the time series the reliability side writes.
///
/// Per SLO and per step, the Prometheus source stores the count of good and of all events over
/// that step (the results of `increase(...)` style queries); ratios are derived from the counts so
/// that weekly availability is Σgood/Σtotal, not an average of hourly ratios.
pub mod series {
    /// Count of all events of an SLO over one step; labels `slo`, `service`.
    pub const SLO_TOTAL: &str = "slo_total_events";
    /// Count of good events of an SLO over one step; labels `slo`, `service`.
    pub const SLO_GOOD: &str = "slo_good_events";
    /// Ratio of bad events over one step (0..1), for SLOs given by an error-ratio query; labels
    /// `slo`, `service`.
    pub const SLO_ERROR_RATIO: &str = "slo_error_ratio";
    /// Minutes of one step whose own error ratio exceeded the SLO's budget (a 1-minute
    /// subquery); labels `slo`, `service`.
    pub const SLO_BAD_MINUTES: &str = "slo_bad_minutes";
    /// Minutes of one step that had data (the rest are unknown); labels `slo`, `service`.
    pub const SLO_KNOWN_MINUTES: &str = "slo_known_minutes";
    /// Good events of one week (so far, for the current week), at the week's start; labels
    /// `slo`, `service`.
    pub const SLO_WEEK_GOOD: &str = "slo_week_good_events";
    /// All events of one week (so far), at the week's start; labels `slo`, `service`.
    pub const SLO_WEEK_TOTAL: &str = "slo_week_total_events";
    /// Good events over the SLO window ending at a week's end (for the current week: at the last
    /// step synced), at the week's start; labels `slo`, `service`.
    pub const SLO_WINDOW_GOOD: &str = "slo_window_good_events";
    /// All events over the SLO window ending at a week's end, at the week's start.
    pub const SLO_WINDOW_TOTAL: &str = "slo_window_total_events";
    /// Error ratio over the SLO window ending at a week's end (error-ratio SLOs), at the week's
    /// start.
    pub const SLO_WINDOW_ERROR_RATIO: &str = "slo_window_error_ratio";
    /// An extra named query's value (e.g. p95 latency); labels `query`, `service`, `unit`.
    pub const QUERY: &str = "query_value";
}
