//! Configuration: layered raw values, then one validated [`Config`].
//!
//! Stage one merges the built-in `config/default.toml`, the user's file and `BAROMETER__…`
//! environment variables with the `config` crate and deserializes them into raw structs. Stage two
//! checks every value and collects *all* problems, each naming its key and where the value came
//! from, into a single [`ConfigError::Invalid`]. Unknown keys are found with `serde_ignored`
//! instead of `deny_unknown_fields`, because the latter stops at the first one.
//!
//! Layout: `sections` holds the typed, validated sections of [`Config`]; `load` merges the layers
//! and runs both stages; `raw` and `validate` are the two stages; `secret` is the self-redacting
//! [`Secret`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// The built-in defaults; also the documented reference of every key.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// One bad key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, e.g. `server.listen`.
    pub key: String,
    /// Where the value came from: a file path, `the environment` or `built-in defaults`.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {}): {}", self.key, self.origin, self.message)
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The user file does not exist.
    #[error("configuration file {0} does not exist")]
    Missing(PathBuf),
    /// The file does not parse, or a value has the wrong type.
    #[error("configuration error: {0}")]
    Load(String),
    /// One or more keys are wrong.
    #[error("{}", format_problems(.0))]
    Invalid(Vec<Problem>),
}

fn format_problems(problems: &[Problem]) -> String {
    let mut s = format!(
        "configuration has {} problem{}:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        s.push_str("\n  - ");
        s.push_str(&p.to_string());
    }
    s
}

mod load;
mod raw;
mod secret;
mod sections;
mod validate;

pub use secret::{AppKey, Secret};
pub use sections::*;

/// The validated configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// `[storage]`
    pub storage: StorageConfig,
    /// `[server]`
    pub server: ServerConfig,
    /// `[log]`
    pub log: LogConfig,
    /// `[github]`
    pub github: GithubConfig,
    /// `[prometheus]`
    pub prometheus: PrometheusConfig,
    /// `[revenue]`
    pub revenue: RevenueConfig,
    /// `[digest]`
    pub digest: DigestConfig,
    /// `[analysis]`
    pub analysis: AnalysisConfig,
    /// `[[teams]]`
    pub teams: Vec<TeamConfig>,
    /// `[[products]]`
    pub products: Vec<ProductConfig>,
    /// `[system]`
    pub system: SystemConfig,
    /// `[webhooks]`
    pub webhooks: InboundWebhooksConfig,
    /// `[metrics]`
    pub metrics: MetricsConfig,
    /// `[[remote_write]]`
    pub remote_write: Vec<RemoteWriteConfig>,
    /// `[business]`
    pub business: BusinessConfig,
}

/// Where the configuration comes from.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// The user's file (`--config` / `BAROMETER_CONFIG`).
    pub file: Option<PathBuf>,
    /// Environment variables to read `BAROMETER__…` overrides from; `None` = the process's.
    pub env: Option<BTreeMap<String, String>>,
    /// Command-line values, by dotted key (e.g. `server.listen` from `serve --listen`): the
    /// last layer, validated with the rest.
    pub overrides: Vec<(String, String)>,
}

impl Config {
    /// Whether a team derives its services from `CODEOWNERS` (it names GitHub team slugs or
    /// `codeowners` owners), so that the GitHub sync reads each repository's file.
    pub fn derives_ownership(&self) -> bool {
        self.teams
            .iter()
            .any(|t| !t.github_teams.is_empty() || !t.codeowners.is_empty())
    }
}
