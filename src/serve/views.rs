//! Views the API, `/metrics` and the CLI share: store reads handed to the pure analysis.

use std::sync::{Arc, Mutex};

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

/// The analysed delivery history shared by `/metrics` and the API: recomputed only when a batch
/// was committed since the last computation, so neither a scrape-side refresh nor an API call
/// re-reads every event of an unchanged store.
#[derive(Default)]
pub struct DoraCache {
    last: Mutex<Option<(u64, Arc<DoraModel>)>>,
}

impl DoraCache {
    /// The model of the store as it is now.
    pub fn get(&self, store: &Store, config: &Config) -> Result<Arc<DoraModel>, StoreError> {
        let generation = store.generation();
        if let Some((g, m)) = &*self.last.lock().unwrap_or_else(|p| p.into_inner()) {
            if *g == generation {
                return Ok(m.clone());
            }
        }
        // Computed outside the lock: a concurrent caller may compute the same model once more,
        // which is cheaper than making every reader wait.
        let model = Arc::new(dora_model(store, config)?);
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((generation, model.clone()));
        Ok(model)
    }
}
