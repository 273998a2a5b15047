//! Stage one and the driver: merge the layers, deserialize every value into the raw structs
//! (collecting wrong types instead of stopping), then hand them to the validator.

use config::{Environment, File, FileFormat, Map, Source, Value, ValueKind};

use super::raw::RawConfig;
use super::validate::{origin_of, Validator};
use super::{Config, ConfigError, Problem, Sources, DEFAULT_TOML};

impl Config {
    /// Loads and validates the configuration from its layers.
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let mut builder =
            config::Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(path) = &sources.file {
            if !path.exists() {
                return Err(ConfigError::Missing(path.clone()));
            }
            builder = builder.add_source(File::from(path.as_path()).format(FileFormat::Toml));
        }
        let mut env = Environment::with_prefix("BAROMETER")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("github.repos");
        if let Some(vars) = &sources.env {
            env = env.source(Some(
                vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ));
        }
        builder = builder.add_source(env);
        for (key, value) in &sources.overrides {
            builder = builder
                .set_override(key.as_str(), value.as_str())
                .map_err(|e| ConfigError::Load(e.to_string()))?;
        }
        let merged = builder
            .build()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        let root = merged
            .collect()
            .map_err(|e| ConfigError::Load(e.to_string()))?;

        let file = sources.file.as_deref();
        let (raw, mut unknown, type_problems) = deserialize_all(&root, file)?;

        // The merged table is a hash map: sort so that the report is stable.
        unknown.sort();
        let mut v = Validator {
            root: &root,
            file,
            problems: unknown
                .into_iter()
                .map(|key| Problem {
                    origin: origin_of(&root, &key, file),
                    key,
                    message: "unknown key".into(),
                })
                .chain(type_problems)
                .collect(),
        };
        let config = v.validate(raw);
        if v.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(v.problems))
        }
    }

    /// The effective configuration as TOML, with secrets redacted (tokens, and the user
    /// information of every URL).
    pub fn to_redacted_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self).map(|t| crate::redact::urls_in(&t).into_owned())
    }
}

/// Most wrong types reported in one go; past that, the file is likely not a Barometer file.
const MAX_TYPE_PROBLEMS: usize = 100;

/// Deserializes the merged table into the raw structs, collecting every value of the wrong type
/// instead of stopping at the first: each one is reported, replaced by its built-in default (or
/// dropped where it has none), and deserialization runs again. serde itself stops at the first
/// error, hence the loop.
#[allow(clippy::type_complexity)]
fn deserialize_all(
    root: &Map<String, Value>,
    file: Option<&std::path::Path>,
) -> Result<(RawConfig, Vec<String>, Vec<Problem>), ConfigError> {
    let defaults = config::Config::builder()
        .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
        .build()
        .and_then(|c| c.collect())
        .map_err(|e| ConfigError::Load(e.to_string()))?;
    let mut table = root.clone();
    let mut problems: Vec<Problem> = Vec::new();
    loop {
        let mut unknown = Vec::new();
        let result =
            serde_ignored::deserialize(Value::new(None, ValueKind::Table(table.clone())), |path| {
                unknown.push(path.to_string())
            });
        match result {
            Ok(raw) => {
                // Which wrong value serde meets first depends on the hash map's order.
                problems.sort_by(|a, b| a.key.cmp(&b.key));
                return Ok((raw, unknown, problems));
            }
            Err(e) if keyed(&e).is_some() => {
                let (key, message) = keyed(&e).unwrap_or_default();
                problems.push(Problem {
                    origin: origin_of(root, &key, file),
                    message,
                    key: key.clone(),
                });
                if problems.len() >= MAX_TYPE_PROBLEMS
                    || !replace_with_default(&mut table, &defaults, &key)
                {
                    return Err(ConfigError::Invalid(problems));
                }
            }
            Err(other) if !problems.is_empty() => {
                // Dropping a value without a default can leave a required key missing: report
                // what was found rather than that consequence.
                tracing::debug!(error = %other, "config: stopped after type errors");
                problems.sort_by(|a, b| a.key.cmp(&b.key));
                return Err(ConfigError::Invalid(problems));
            }
            Err(other) => return Err(ConfigError::Load(other.to_string())),
        }
    }
}

/// The key and the message of a wrong value: the `config` crate reports a wrong scalar as `Type`
/// and a wrong shape (a number where a list belongs) as `At` around its cause.
fn keyed(e: &config::ConfigError) -> Option<(String, String)> {
    match e {
        config::ConfigError::Type {
            unexpected,
            expected,
            key: Some(key),
            ..
        } => Some((
            key.clone(),
            format!("invalid type: {unexpected}, expected {expected}"),
        )),
        config::ConfigError::At {
            error,
            key: Some(key),
            ..
        } => Some((
            key.clone(),
            keyed(error).map_or_else(|| error.to_string(), |(_, m)| m),
        )),
        _ => None,
    }
}

/// Puts the built-in default at `key` in `table` (or removes the key where the defaults have
/// none). Returns whether `table` changed.
fn replace_with_default(
    table: &mut Map<String, Value>,
    defaults: &Map<String, Value>,
    key: &str,
) -> bool {
    let parts = super::validate::key_parts(key);
    let default = super::validate::lookup(defaults, key).cloned();
    let mut root = ValueKind::Table(std::mem::take(table));
    let changed = set_at(&mut root, &parts, default);
    if let ValueKind::Table(t) = root {
        *table = t;
    }
    changed
}

/// Sets (or with `None` removes) the value at `parts` under `kind`; numeric parts index arrays.
fn set_at(kind: &mut ValueKind, parts: &[&str], value: Option<Value>) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return false;
    };
    match kind {
        ValueKind::Table(t) if rest.is_empty() => match value {
            Some(v) => t.insert((*first).to_owned(), v).is_some(),
            None => t.remove(*first).is_some(),
        },
        ValueKind::Table(t) => t
            .get_mut(*first)
            .is_some_and(|v| set_at(&mut v.kind, rest, value)),
        ValueKind::Array(a) => {
            let Some(item) = first.parse::<usize>().ok().and_then(|i| a.get_mut(i)) else {
                return false;
            };
            match (rest.is_empty(), value) {
                (true, Some(v)) => {
                    *item = v;
                    true
                }
                (true, None) => false,
                (false, value) => set_at(&mut item.kind, rest, value),
            }
        }
        _ => false,
    }
}
