//! Every analysis setting derived from the configuration, built once (by `App::build`) and
//! shared by every reader, instead of being rebuilt from the configuration at each call.

use crate::analysis::bugs::BugSettings;
use crate::analysis::dora::{bands, BandTable, DoraSettings, ServicePaths, ServiceSpec};
use crate::analysis::pressure::{Component, PressureSettings};
use crate::analysis::revenue::RevenueSettings;
use crate::analysis::weekly::ViewSettings;
use crate::config::Config;
use crate::model::Calendar;

/// The analysis settings of one configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Weeks, days and months in the analysis time zone.
    pub calendar: Calendar,
    /// The DORA band table the configuration chose.
    pub bands: BandTable,
    /// DORA settings (band table and calendar included).
    pub dora: DoraSettings,
    /// The weekly view's settings (pressure index included).
    pub view: ViewSettings,
    /// Revenue settings.
    pub revenue: RevenueSettings,
    /// The configured services, in configuration order.
    pub services: Vec<ServiceSpec>,
    /// The currency revenue is reported in.
    pub currency: String,
    /// How bugs are read: severities and the escape window.
    pub bugs: BugSettings,
    /// The margin the Rule of 40 adds to ARR growth.
    pub rule_of_40_margin: crate::analysis::cost::MarginKind,
}

/// A configured service's path globs do not compile (validation checks them, so only a
/// configuration built without it gets here).
#[derive(Debug, thiserror::Error)]
#[error("github service {service:?}: paths: {source}")]
pub struct SettingsError {
    /// The service.
    pub service: String,
    /// Why its globs do not compile.
    #[source]
    pub source: globset::Error,
}

/// One day, milliseconds.
const DAY_MS: i64 = 86_400_000;

impl Settings {
    /// Derives every setting from a validated configuration, compiling the services' path globs
    /// once.
    pub fn new(config: &Config) -> Result<Self, SettingsError> {
        let calendar = Calendar::with_offset_s(config.analysis.utc_offset_s);
        // Validated at load; the default table is only a fallback for a hand-built Config.
        let bands = bands::table(config.analysis.dora_report_year)
            .unwrap_or_else(|| DoraSettings::default().bands);
        let dora = DoraSettings {
            incident_window_ms: i64::try_from(config.github.incident_window.as_millis())
                .unwrap_or(i64::MAX),
            first_lookback_ms: i64::try_from(config.github.first_deploy_lookback.as_millis())
                .unwrap_or(i64::MAX),
            // From the start of its UTC day: a span ("730d") moves with the clock, and a
            // horizon to the millisecond would make a model computed a moment earlier (the
            // one a restarted daemon kept in the store, issue 21) one of other settings.
            since_ms: Some(
                config
                    .github
                    .backfill_since
                    .resolve(crate::clock::now())
                    .timestamp_millis()
                    .div_euclid(DAY_MS)
                    * DAY_MS,
            ),
            lead_time_unit: config.analysis.lead_time_unit,
            recovery_end: config.analysis.recovery_end,
            bands: bands.clone(),
            calendar,
        };
        let mut pressure = PressureSettings::with_bands(bands.clone());
        pressure.growth_plan = config.analysis.growth_plan;
        pressure.min_points = config.analysis.min_points as usize;
        pressure.calendar = calendar;
        for c in Component::ALL {
            if let Some(w) = config.analysis.weights.get(c.as_str()) {
                pressure.weights.insert(c, *w);
            }
        }
        let view = ViewSettings {
            pressure,
            min_months: config.analysis.min_points as usize * 2,
        };
        let revenue = RevenueSettings {
            window: config.revenue.retention_window,
            reactivation_as_expansion: config.revenue.reactivation_as_expansion,
        };
        let services = config
            .github
            .services
            .iter()
            .map(|s| {
                let paths = ServicePaths::new(s.paths.clone()).map_err(|source| SettingsError {
                    service: s.name.clone(),
                    source,
                })?;
                Ok(ServiceSpec {
                    name: s.name.clone(),
                    repo: s.repo.clone(),
                    paths,
                })
            })
            .collect::<Result<_, SettingsError>>()?;
        Ok(Self {
            calendar,
            bands,
            dora,
            view,
            revenue,
            services,
            currency: config.revenue.currency.clone(),
            bugs: BugSettings {
                severity: config
                    .github
                    .bug_severity
                    .iter()
                    .map(|(s, labels)| (s.clone(), labels.clone()))
                    .collect(),
                escaped_window_ms: i64::try_from(config.github.escaped_bug_window.as_millis())
                    .unwrap_or(i64::MAX),
            },
            rule_of_40_margin: config.business.rule_of_40_margin,
        })
    }
}
