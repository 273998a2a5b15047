//! Views the API, `/metrics` and the CLI share: store reads handed to the pure analysis.

use crate::analysis::dora::{
    self, bands, BandTable, DoraInput, DoraModel, DoraSettings, ServiceSpec,
};
use crate::config::Config;
use crate::model::{Change, Commit, Deployment, Event, Incident};
use crate::store::{Store, StoreError};

fn all<E: Event>(store: &Store) -> Result<Vec<E>, StoreError> {
    store.events::<E>().collect()
}

/// The band table the configuration chose (validated at load).
pub fn band_table(config: &Config) -> BandTable {
    bands::table(config.analysis.dora_report_year).unwrap_or_else(|| DoraSettings::default().bands)
}

/// The DORA settings of the configuration.
pub fn dora_settings(config: &Config) -> DoraSettings {
    DoraSettings {
        incident_window_ms: i64::try_from(config.github.incident_window.as_millis())
            .unwrap_or(i64::MAX),
        first_lookback_commits: config.github.first_deploy_lookback as usize,
        bands: band_table(config),
    }
}

/// The services to report: the configured ones, then any other seen in the stored deployments
/// (the demo organisation's).
pub fn services(config: &Config, deployments: &[Deployment]) -> Vec<ServiceSpec> {
    let mut out: Vec<ServiceSpec> = config
        .github
        .services
        .iter()
        .map(|s| ServiceSpec {
            name: s.name.clone(),
            repo: s.repo.clone(),
            paths: s.paths.clone(),
        })
        .collect();
    for s in dora::services_from(deployments) {
        if !out.iter().any(|o| o.name == s.name) {
            out.push(s);
        }
    }
    out
}

/// Reads every delivery event and analyses it.
pub fn dora_model(store: &Store, config: &Config) -> Result<DoraModel, StoreError> {
    let deployments: Vec<Deployment> = all(store)?;
    let changes: Vec<Change> = all(store)?;
    let commits: Vec<Commit> = all(store)?;
    let incidents: Vec<Incident> = all(store)?;
    let services = services(config, &deployments);
    Ok(dora::analyse(
        DoraInput {
            deployments: &deployments,
            changes: &changes,
            commits: &commits,
            incidents: &incidents,
        },
        &services,
        &dora_settings(config),
    ))
}
