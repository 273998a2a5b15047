//! The built-in demo organisation: a seeded, deterministic data set with a story.
//!
//! Two years of a SaaS company with four repositories, two services behind SLOs and ~300
//! customers. For the first ~60 weeks it grows: frequent, mostly healthy deployments, a quiet
//! error budget, rising ARR and NRR above 110 %. Then strain builds: change failures and incidents
//! rise, recoveries take longer, the error budget burns, and — two months behind engineering —
//! churn and contraction rise until NRR falls below 100 %.
//!
//! The generator produces exactly the records the real sources write (deployments with their final
//! status time, merged pull requests with their commits, the main-line commit graph, incident
//! issues, monthly revenue snapshots, hourly SLO event counts), so every feature that runs on real
//! data runs on this. Each chunk (a repo-week, a service-week, a revenue month) is one atomic batch
//! together with a `demo` cursor that records what the chunk holds, as real sources do.

//!
//! Layout: this file holds the shared shape (repositories, SLOs, manifests, the strain curve) and
//! the `seed` driver; `delivery` writes the repositories, `revenue` the monthly snapshots, `slo`
//! the hourly SLO samples and `bugs` the bug issues.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};
use serde::{Deserialize, Serialize};

use tokio_util::sync::CancellationToken;

use crate::model::DeploySource;
use crate::store::{Cursor, Store, StoreError, WriteBatch};

mod bugs;
mod business;
mod delivery;
mod revenue;
mod slo;
mod system;

pub use system::system;

use delivery::github_repo;
use revenue::revenue;
use slo::reliability;

/// The source name under which demo cursors are stored.
pub const SOURCE: &str = "demo";
/// Weeks of history.
pub const WEEKS: i64 = 104;
/// The week (0-based from the start) around which strain begins.
pub const SHIFT_WEEK: i64 = 62;

/// A demo repository.
struct RepoSpec {
    repo: &'static str,
    service: &'static str,
    /// Deployments per week in the growth phase.
    deploys_per_week: f64,
    source: DeploySource,
    /// Whether the service has an availability SLO (and hourly samples).
    slo: bool,
}

const REPOS: &[RepoSpec] = &[
    RepoSpec {
        repo: "acme/storefront",
        service: "storefront",
        deploys_per_week: 11.0,
        source: DeploySource::DeploymentsApi,
        slo: true,
    },
    RepoSpec {
        repo: "acme/api",
        service: "api",
        deploys_per_week: 8.0,
        source: DeploySource::DeploymentsApi,
        slo: true,
    },
    RepoSpec {
        repo: "acme/billing",
        service: "billing",
        deploys_per_week: 3.0,
        source: DeploySource::WorkflowRun,
        slo: false,
    },
    RepoSpec {
        repo: "acme/mobile",
        service: "mobile",
        deploys_per_week: 1.0,
        source: DeploySource::Release,
        slo: false,
    },
];

/// The demo SLOs: (name, service).
pub const SLOS: &[(&str, &str)] = &[
    ("storefront-availability", "storefront"),
    ("api-availability", "api"),
];

/// Availability target of the demo SLOs (99.9 % over 28 days).
pub const SLO_TARGET: f64 = 0.999;

/// The demo SLOs as (name, service, target): what the read side adds to the configured SLOs
/// when the demo organisation is in the store.
pub fn slos() -> Vec<(&'static str, &'static str, f64)> {
    SLOS.iter().map(|(n, s)| (*n, *s, SLO_TARGET)).collect()
}

/// The demo organisation's three teams: web (the storefront and the mobile app), platform (the
/// API) and payments (billing). Reported when no team is configured and the demo is in the store.
pub fn teams() -> Vec<crate::model::Team> {
    let team = |name: &str, services: &[&str], slug: &str| crate::model::Team {
        name: name.to_owned(),
        services: services.iter().map(|s| (*s).to_owned()).collect(),
        github_teams: vec![slug.to_owned()],
        codeowners: Vec::new(),
        derived: Vec::new(),
    };
    vec![
        team("web", &["storefront", "mobile"], "acme/web"),
        team("platform", &["api"], "acme/platform"),
        team("payments", &["billing"], "acme/payments"),
    ]
}

/// The demo organisation's two products: the shop (storefront, API and mobile app, sold to small
/// and mid-market customers) and invoicing (the billing service, sold to enterprises).
pub fn products() -> Vec<crate::model::Product> {
    let product = |name: &str, services: &[&str], segments: &[&str]| crate::model::Product {
        name: name.to_owned(),
        services: services.iter().map(|s| (*s).to_owned()).collect(),
        segments: segments.iter().map(|s| (*s).to_owned()).collect(),
        plans: Vec::new(),
    };
    vec![
        product(
            "shop",
            &["storefront", "api", "mobile"],
            &["smb", "mid-market"],
        ),
        product("invoicing", &["billing"], &["enterprise"]),
    ]
}

/// What a demo chunk holds; stored as the chunk's cursor position so that anyone can check that
/// a batch landed whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkManifest {
    /// Points written.
    pub points: u64,
    /// Deployments written.
    pub deployments: u64,
    /// Revenue rows written.
    pub revenue_rows: u64,
}

/// What `seed` wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// First day of the data (a Monday).
    pub start: NaiveDate,
    /// Day after the data (a Monday).
    pub end: NaiveDate,
    /// Deployments.
    pub deployments: u64,
    /// Merged pull requests.
    pub changes: u64,
    /// Incident issues.
    pub incidents: u64,
    /// Bug issues.
    pub bugs: u64,
    /// Customers that ever paid.
    pub customers: u64,
    /// Revenue rows.
    pub revenue_rows: u64,
    /// Points.
    pub points: u64,
    /// Whether every chunk was written.
    pub complete: bool,
}

/// Monday 00:00 UTC of the ISO week that contains `day`.
pub fn week_start(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

fn utc(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// Strain on engineering in week `w`: 0 while growing, ramping to 1 over eight weeks around
/// [`SHIFT_WEEK`].
fn strain(w: f64) -> f64 {
    ((w - (SHIFT_WEEK as f64 - 4.0)) / 8.0).clamp(0.0, 1.0)
}

fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    Poisson::new(mean.max(1e-6))
        .map(|d| d.sample(rng) as u64)
        .unwrap_or(0)
}

/// Whether `serve --demo` should seed: the store is empty, or an earlier seeding was interrupted
/// (its first chunk is there, its completion marker is not).
pub fn needs_seeding(store: &Store) -> Result<bool, StoreError> {
    let first_chunk = format!("github/{}/0", REPOS[0].repo);
    Ok(store.cursor(SOURCE, COMPLETE)?.is_none()
        && (store.is_empty() || store.cursor(SOURCE, &first_chunk)?.is_some()))
}

/// Whether the store holds a completely seeded demo organisation.
pub fn is_seeded(store: &Store) -> Result<bool, StoreError> {
    Ok(store.cursor(SOURCE, COMPLETE)?.is_some())
}

/// Cursor name written after the last chunk.
pub const COMPLETE: &str = "complete";

/// Seeds the demo organisation into `store`, with weeks ending just before `end` (a Monday).
///
/// Deterministic in `(seed, end)`; seeding twice writes the same records (an idempotent upsert).
/// Stops between chunks when `cancel` fires; the summary then says `complete: false`.
pub fn seed(
    store: &Store,
    seed: u64,
    end: NaiveDate,
    cancel: &CancellationToken,
) -> Result<Summary, StoreError> {
    let end = week_start(end);
    let start = end - Duration::weeks(WEEKS);
    let mut summary = Summary {
        start,
        end,
        ..Summary::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut outages: Vec<(String, DateTime<Utc>, DateTime<Utc>, f64)> = Vec::new();
    let mut incident_weeks = vec![0u32; WEEKS as usize];

    for spec in REPOS {
        let repo_seed = rng.random::<u64>();
        if cancel.is_cancelled() {
            return Ok(summary);
        }
        github_repo(
            store,
            spec,
            start,
            &mut ChaCha8Rng::seed_from_u64(repo_seed),
            &mut summary,
            &mut outages,
            &mut incident_weeks,
        )?;
    }
    revenue(
        store,
        start,
        end,
        &incident_weeks,
        &mut ChaCha8Rng::seed_from_u64(rng.random()),
        &mut summary,
    )?;
    for spec in REPOS.iter().filter(|s| s.slo) {
        if cancel.is_cancelled() {
            return Ok(summary);
        }
        let mine: Vec<_> = outages
            .iter()
            .filter(|o| o.0 == spec.service)
            .map(|o| (o.1, o.2, o.3))
            .collect();
        reliability(
            store,
            spec,
            start,
            &mine,
            &mut ChaCha8Rng::seed_from_u64(rng.random()),
            &mut summary,
        )?;
    }
    // The latency-only services draw from an RNG of their own too, added after the rest.
    let mut latency_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1A7E_1A7E_1A7E_1A7E);
    for &(service, base, rise) in slo::LATENCY_ONLY {
        if cancel.is_cancelled() {
            return Ok(summary);
        }
        let mine: Vec<_> = outages
            .iter()
            .filter(|o| o.0 == service)
            .map(|o| (o.1, o.2, o.3))
            .collect();
        slo::latency_only(
            store,
            (service, base, rise),
            start,
            &mine,
            &mut latency_rng,
            &mut summary,
        )?;
    }
    // The bugs draw from an RNG of their own, so that they changed none of the records above.
    bugs::bugs(
        store,
        start,
        end,
        &mut ChaCha8Rng::seed_from_u64(seed ^ 0xB065_B065_B065_B065),
        &mut summary,
        cancel,
    )?;
    if cancel.is_cancelled() {
        return Ok(summary);
    }
    // Tickets and business metrics, also from an RNG of their own.
    business::business(
        store,
        start,
        end,
        &mut ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_71C4_E7C0_5700),
    )?;
    let mut done = WriteBatch::new();
    pushed_freshness(store, &mut done)?;
    done.set_cursor(
        SOURCE,
        COMPLETE,
        Cursor {
            position: serde_json::to_string(&(seed, end)).ok(),
            updated_at: Some(Utc::now()),
            ..Cursor::default()
        },
    );
    store.commit(done)?;
    summary.complete = true;
    Ok(summary)
}

/// The demo organisation's repositories push their events (docs/webhooks.md): the freshness
/// `/api/v1/sources` and `/metrics` show is the time of each repository's last deployment, as
/// its webhook delivery would have left it.
fn pushed_freshness(store: &Store, batch: &mut WriteBatch) -> Result<(), StoreError> {
    for spec in REPOS {
        let mut last: Option<(DateTime<Utc>, DeploySource)> = None;
        for d in store.events_with_prefix::<crate::model::Deployment>(&format!("{}/", spec.repo)) {
            let d = d?;
            let at = d.finished_at.unwrap_or(d.created_at);
            if last.is_none_or(|(l, _)| at > l) {
                last = Some((at, d.source));
            }
        }
        let Some((at, source)) = last else {
            continue;
        };
        let event = match source {
            DeploySource::WorkflowRun => "workflow_run",
            DeploySource::Release => "release",
            _ => "deployment_status",
        };
        batch.set_cursor(
            crate::sources::github::webhook::WEBHOOK_SOURCE,
            &format!("{}/last_event", spec.repo),
            Cursor {
                position: Some(event.to_owned()),
                updated_at: Some(at),
                ..Cursor::default()
            },
        );
    }
    Ok(())
}

fn manifest_cursor(m: &ChunkManifest) -> Cursor {
    Cursor {
        position: serde_json::to_string(m).ok(),
        ..Cursor::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn week_start_is_monday() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        assert_eq!(
            week_start(d),
            NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
        );
    }
}
