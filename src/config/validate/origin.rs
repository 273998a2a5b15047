//! Where a value came from: a dotted key looked up in the merged table, and the origin the
//! `config` crate recorded for it, for error messages.

use std::path::Path;

use config::{Map, Value, ValueKind};

/// The origin of a dotted key's value, for error messages. The `config` crate records files by a
/// path relative to the working directory; the user file is shown as the user named it.
pub(in crate::config) fn origin_of(
    root: &Map<String, Value>,
    key: &str,
    file: Option<&Path>,
) -> String {
    let value = lookup(root, key);
    // A table (a whole unknown section) has no origin of its own: its leaves say where it came
    // from.
    match (value.and_then(leaf_origin), file) {
        (Some(ENV_ORIGIN), _) => ENV_ORIGIN.to_owned(),
        (Some(_), Some(file)) => file.display().to_string(),
        (Some(o), None) => o.to_owned(),
        (None, _) => "built-in defaults".to_owned(),
    }
}

/// The value at a dotted key; numeric parts index arrays (`github.service.0.name`, as
/// `serde_ignored` writes paths) and `name[0]` parts too (as the `config` crate does).
pub(in crate::config) fn lookup<'a>(root: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let mut parts = key_parts(key).into_iter();
    let mut value = root.get(parts.next()?)?;
    for part in parts {
        value = match &value.kind {
            ValueKind::Table(t) => t.get(part)?,
            ValueKind::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// `a.b[2].c` → `["a", "b", "2", "c"]`.
pub(in crate::config) fn key_parts(key: &str) -> Vec<&str> {
    key.split(['.', '[', ']'])
        .filter(|p| !p.is_empty())
        .collect()
}

/// The origin of a value, or of the first leaf under it that has one.
fn leaf_origin(v: &Value) -> Option<&str> {
    if let Some(o) = v.origin() {
        return Some(o);
    }
    match &v.kind {
        ValueKind::Table(t) => {
            // Sorted, so the answer does not depend on the hash map's order.
            let mut keys: Vec<&String> = t.keys().collect();
            keys.sort();
            keys.into_iter().find_map(|k| leaf_origin(&t[k]))
        }
        ValueKind::Array(a) => a.iter().find_map(leaf_origin),
        _ => None,
    }
}

/// How the `config` crate names values that came from environment variables.
const ENV_ORIGIN: &str = "the environment";
