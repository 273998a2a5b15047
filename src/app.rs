//! The application: the store opened once and every setting derived from the configuration
//! once, handed to the daemon and to every command.
//!
//! Built like zero-to-production's `Application::build`: whatever a face needs that depends only
//! on the configuration (band table, DORA, pressure and revenue settings, the calendar, the SLO
//! definitions, the compiled GitHub patterns and App credentials) is computed here, so a face never rebuilds it per call.

use std::sync::Arc;

use crate::config::Config;
use crate::model::{Calendar, Product, Products, SystemModel, Team, Teams};
use crate::query::{self, DoraCache, Settings, SloDef};
use crate::sources::{catalog, demo, github};
use crate::store::{Store, StoreError};

/// Why the application cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store cannot be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A setting cannot be derived from the configuration.
    #[error(transparent)]
    Settings(#[from] query::SettingsError),
    /// A GitHub service's deployment pattern does not compile (validation checks them, so this
    /// names a configuration built without it).
    #[error(transparent)]
    Pattern(#[from] github::PatternError),
    /// The system model (`[system]`, Backstage catalog files) cannot be read or is invalid.
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
}

/// Everything a command or the daemon works with.
#[derive(Clone)]
pub struct App {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The store, opened once.
    pub store: Arc<Store>,
    /// The analysis settings derived from the configuration.
    pub settings: Arc<Settings>,
    /// The SLOs whose figures are reported: the configured ones, and the demo organisation's
    /// when the store holds it.
    pub slos: Arc<Vec<SloDef>>,
    /// The analysed delivery history and weekly view, shared by every reader.
    pub dora: Arc<DoraCache>,
    /// Who owns which services: the configured teams (with the services they derive from the
    /// stored `CODEOWNERS`), or the demo organisation's when none are configured and the store
    /// holds it; read through [`App::teams`].
    pub ownership: Arc<query::teams::Ownership>,
    /// What is sold: the configured products, or the demo organisation's when none are
    /// configured and the store holds it.
    pub products: Arc<Products>,
    /// The GitHub services' deployment patterns, compiled once for every sync, and the GitHub
    /// App's installation tokens, kept across syncs and webhook deliveries.
    pub github: github::Shared,
    /// The system map's components: `[system]` (components and catalog files), or the demo
    /// organisation's when none is configured and the store holds it.
    pub system: Arc<SystemModel>,
    /// The last system map built ([`App::system_view`]).
    pub system_cache: Arc<query::system::SystemCache>,
    /// Held while the default dashboard page is computed to be kept: a request and the keeper
    /// after a refresh would otherwise compute the same page side by side.
    pub default_page: Arc<std::sync::Mutex<()>>,
}

impl App {
    /// Opens the store and derives every setting from `config`.
    pub fn build(config: Config) -> Result<Self, AppError> {
        let store = Arc::new(Store::open(&config.storage.path)?);
        let with_demo = demo::is_seeded(&store)?;
        let system = catalog::system_model(&config.system)?.unwrap_or_default();
        let mut app = Self {
            system: Arc::new(system),
            settings: Arc::new(Settings::new(&config)?),
            github: github::Shared::new(&config.github)?,
            config: Arc::new(config),
            store,
            slos: Arc::default(),
            dora: Arc::default(),
            ownership: Arc::new(query::teams::Ownership::new(Vec::new(), &[])),
            products: Arc::default(),
            system_cache: Arc::default(),
            default_page: Arc::default(),
        };
        app.set_slos(with_demo);
        Ok(app)
    }

    /// Reports the demo organisation's SLOs (and teams, unless configured) too (`serve --demo`,
    /// before it is seeded).
    pub fn with_demo_slos(mut self) -> Self {
        self.set_slos(true);
        self
    }

    fn set_slos(&mut self, with_demo: bool) {
        // A map built before is of other SLOs, teams or components.
        self.system_cache = Arc::default();
        let extra = if with_demo { demo::slos() } else { Vec::new() };
        self.slos = Arc::new(query::slo_defs(&self.config, &extra));
        let teams = if !self.config.teams.is_empty() {
            self.config
                .teams
                .iter()
                .map(|t| Team {
                    name: t.name.clone(),
                    services: t.services.clone(),
                    github_teams: t.github_teams.clone(),
                    codeowners: t.codeowners.clone(),
                    derived: Vec::new(),
                })
                .collect()
        } else if with_demo {
            demo::teams()
        } else {
            Vec::new()
        };
        self.ownership = Arc::new(query::teams::Ownership::new(
            teams,
            &self.config.github.services,
        ));
        let products = if !self.config.products.is_empty() {
            self.config
                .products
                .iter()
                .map(|p| Product {
                    name: p.name.clone(),
                    services: p.services.clone(),
                    segments: p.segments.clone(),
                    plans: p.plans.clone(),
                })
                .collect()
        } else if with_demo {
            demo::products()
        } else {
            Vec::new()
        };
        self.products = Arc::new(Products::new(products));
        let system = &self.config.system;
        if system.catalog_paths.is_empty() && system.components.is_empty() {
            self.system = Arc::new(if with_demo {
                demo::system()
            } else {
                SystemModel::default()
            });
        }
    }

    /// Who owns which service as of the store now: configured ownership first, then what the
    /// stored `CODEOWNERS` files derive (docs/teams.md). Every per-team face reads it here.
    pub fn teams(&self) -> Result<Arc<Teams>, StoreError> {
        self.ownership.get(&self.store)
    }

    /// The system map over `weeks` (Mondays, ms, ascending) with this application's model,
    /// SLOs, teams and rules: what `/system`, `/api/v1/system`, the digest and `barometer
    /// system` show.
    /// Built once per store generation, week and selection ([`query::system::SystemCache`]).
    pub fn system_view(&self, weeks: &[i64]) -> Result<Arc<query::system::SystemView>, StoreError> {
        self.system_cache
            .get(&self.store, self.calendar(), weeks, || {
                self.build_system_view(weeks)
            })
    }

    fn build_system_view(&self, weeks: &[i64]) -> Result<query::system::SystemView, StoreError> {
        let dora = &*self.dora.get(&self.store, &self.settings)?;
        let last = weeks.last().copied().unwrap_or(i64::MIN);
        let pressure = query::system::product_pressure(
            &self.dora,
            &self.store,
            &self.settings,
            &self.slos,
            &self.products,
            last,
        )?;
        query::system::system_view(
            &query::system::SystemInputs {
                store: &self.store,
                settings: &self.settings,
                dora,
                slos: &self.slos,
                system: &self.system,
                teams: &*self.teams()?,
                rules: &self.config.system.rules,
                products: &self.products,
                pressure: &pressure,
            },
            weeks,
        )
    }

    /// Weeks, days and months in the analysis time zone.
    pub fn calendar(&self) -> Calendar {
        self.settings.calendar
    }
}
