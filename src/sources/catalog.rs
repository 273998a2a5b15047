//! Backstage catalog files as a source of the system model.
//!
//! A file holds one or many YAML documents, each one entity (the Backstage descriptor format,
//! <https://backstage.io/docs/features/software-catalog/descriptor-format>). Read here:
//!
//! | entity | becomes |
//! |---|---|
//! | `Component` | a component: `frontend` when `spec.type` is `website`, else `service` |
//! | `Resource` | a `queue` when `spec.type` names a queue, topic or stream, else a `database` |
//! | `API` | an edge from each consumer to its provider; an `external_api` component when no entity of the catalog provides it |
//! | `System` | the component's product (`spec.system`) |
//! | `Group` | the component's team (`spec.owner`) |
//!
//! Other kinds (`User`, `Domain`, `Location`, `Template`) say nothing about the map and are
//! skipped. References follow Backstage's `[kind:][namespace/]name`; the namespace is dropped
//! (the map has one). A reference to an entity that is in none of the files (nor among
//! `[[system.component]]`), a name given twice and a dependency cycle are errors that name the
//! file, the entity and the reference. The DORA/SLO service a component maps to is its
//! `barometer.io/service` annotation, else its name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::SystemConfig;
use crate::model::{Component, ComponentKind, SystemModel, SystemProblem};

/// The annotation that maps an entity to the DORA/SLO service whose figures it shows.
pub const SERVICE_ANNOTATION: &str = "barometer.io/service";

/// The annotation that sets an entity's latency objective (a positive number, in the latency
/// query's unit), like `latency_objective` of `[[system.component]]`.
pub const LATENCY_ANNOTATION: &str = "barometer.io/latency-objective";

/// Why the catalog could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A file cannot be read.
    #[error("cannot read catalog file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A document is not YAML, or not an entity.
    #[error("catalog file {path}, document {document}: {source}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The document's number in the file, from 1.
        document: usize,
        /// The parse error (with its line and column).
        source: serde_yaml_ng::Error,
    },
    /// Unknown references, duplicate names or cycles.
    #[error("the system model has {} problem(s):\n  - {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  - "))]
    Invalid(Vec<SystemProblem>),
}

#[derive(Debug, Deserialize)]
struct Entity {
    kind: String,
    metadata: Metadata,
    #[serde(default)]
    spec: Spec,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    name: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    #[serde(rename = "type")]
    type_: Option<String>,
    owner: Option<String>,
    system: Option<String>,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default)]
    provides_apis: Vec<String>,
    #[serde(default)]
    consumes_apis: Vec<String>,
}

/// One entity and where it was written.
struct Located {
    entity: Entity,
    origin: String,
}

/// The system model of the configuration: `[[system.component]]` and the catalog files
/// together; `None` when neither is configured.
pub fn system_model(config: &SystemConfig) -> Result<Option<SystemModel>, CatalogError> {
    if config.catalog_paths.is_empty() && config.components.is_empty() {
        return Ok(None);
    }
    let mut entities = Vec::new();
    for path in &config.catalog_paths {
        entities.extend(read_file(path)?);
    }
    build(entities, config.components.clone()).map(Some)
}

/// Every entity of one file, in order.
fn read_file(path: &Path) -> Result<Vec<Located>, CatalogError> {
    let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

fn parse(path: &Path, text: &str) -> Result<Vec<Located>, CatalogError> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let yaml_error = |source| CatalogError::Yaml {
            path: path.to_owned(),
            document: i + 1,
            source,
        };
        // An empty document (a trailing `---`) holds no entity.
        let value = serde_yaml_ng::Value::deserialize(doc).map_err(yaml_error)?;
        if value.is_null() {
            continue;
        }
        let entity: Entity = serde_yaml_ng::from_value(value).map_err(yaml_error)?;
        out.push(Located {
            origin: format!("{} (document {})", path.display(), i + 1),
            entity,
        });
    }
    Ok(out)
}

/// `[kind:][namespace/]name` → (kind in lower case, or the default; name).
fn reference(r: &str, default_kind: &str) -> (String, String) {
    let (kind, rest) = match r.split_once(':') {
        Some((k, rest)) => (k.trim().to_ascii_lowercase(), rest),
        None => (default_kind.to_owned(), r),
    };
    let name = rest.rsplit_once('/').map_or(rest, |(_, n)| n);
    (kind, name.trim().to_owned())
}

/// Queue-like resource types; any other resource stores data.
const QUEUE_TYPES: &[&str] = &["queue", "topic", "stream", "kafka", "sqs", "pubsub"];

fn build(entities: Vec<Located>, configured: Vec<Component>) -> Result<SystemModel, CatalogError> {
    let mut problems = Vec::new();
    let named = |kind: &str| -> BTreeSet<String> {
        entities
            .iter()
            .filter(|l| l.entity.kind.eq_ignore_ascii_case(kind))
            .map(|l| l.entity.metadata.name.clone())
            .collect()
    };
    let (groups, systems, apis) = (named("group"), named("system"), named("api"));
    // Which component provides each API (the first that says so).
    let mut provider: BTreeMap<String, String> = BTreeMap::new();
    for l in &entities {
        if l.entity.kind.eq_ignore_ascii_case("component") {
            for api in &l.entity.spec.provides_apis {
                let (_, name) = reference(api, "api");
                provider
                    .entry(name)
                    .or_insert_with(|| l.entity.metadata.name.clone());
            }
        }
    }
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut components = configured;
    for l in &entities {
        let (e, origin) = (&l.entity, &l.origin);
        let kind_lc = e.kind.to_ascii_lowercase();
        if !matches!(
            kind_lc.as_str(),
            "component" | "resource" | "api" | "system" | "group"
        ) {
            continue;
        }
        if let Some(first) = seen.insert((kind_lc.clone(), e.metadata.name.clone()), origin.clone())
        {
            problems.push(SystemProblem {
                origin: origin.clone(),
                entity: format!("{}:{}", kind_lc, e.metadata.name),
                reference: None,
                message: format!("duplicate name: already defined in {first}"),
            });
            continue;
        }
        let mut bad = |reference: &str, message: &str| {
            problems.push(SystemProblem {
                origin: origin.clone(),
                entity: format!("{}:{}", kind_lc, e.metadata.name),
                reference: Some(reference.to_owned()),
                message: message.to_owned(),
            })
        };
        let team = e.spec.owner.as_deref().map(|o| {
            let (k, name) = reference(o, "group");
            if k == "group" && !groups.contains(&name) {
                bad(o, "owner is not a Group of the catalog");
            }
            // A `user:` owner is a person, not a team: the component counts as owned.
            name
        });
        let product = e.spec.system.as_deref().map(|s| {
            let (_, name) = reference(s, "system");
            if !systems.contains(&name) {
                bad(s, "system is not a System of the catalog");
            }
            name
        });
        let mut depends_on = Vec::new();
        for d in &e.spec.depends_on {
            let (k, name) = reference(d, "component");
            if !matches!(k.as_str(), "component" | "resource") {
                bad(d, "dependsOn names a Component or a Resource");
            }
            depends_on.push(name);
        }
        for api in &e.spec.consumes_apis {
            let (_, name) = reference(api, "api");
            if !apis.contains(&name) {
                bad(api, "consumesApis names an API that is not in the catalog");
                continue;
            }
            let target = provider.get(&name).cloned().unwrap_or(name);
            if target != e.metadata.name && !depends_on.contains(&target) {
                depends_on.push(target);
            }
        }
        for api in &e.spec.provides_apis {
            let (_, name) = reference(api, "api");
            if !apis.contains(&name) {
                bad(api, "providesApis names an API that is not in the catalog");
            }
        }
        let spec_type = e.spec.type_.as_deref().unwrap_or("").to_ascii_lowercase();
        let kind = match kind_lc.as_str() {
            "component" if spec_type == "website" => ComponentKind::Frontend,
            "component" => ComponentKind::Service,
            "resource" if QUEUE_TYPES.iter().any(|q| spec_type.contains(q)) => ComponentKind::Queue,
            "resource" => ComponentKind::Database,
            // Provided inside the catalog: an edge to its provider, not a node of its own.
            "api" if provider.contains_key(&e.metadata.name) => continue,
            "api" => ComponentKind::ExternalApi,
            _ => continue,
        };
        let latency_objective = match e.metadata.annotations.get(LATENCY_ANNOTATION) {
            None => None,
            Some(v) => match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && x > 0.0 => Some(x),
                _ => {
                    bad(
                        &crate::quote::excerpt(v),
                        &format!("{LATENCY_ANNOTATION} must be a positive number, e.g. \"0.4\""),
                    );
                    None
                }
            },
        };
        components.push(Component {
            name: e.metadata.name.clone(),
            kind,
            team,
            product,
            service: e
                .metadata
                .annotations
                .get(SERVICE_ANNOTATION)
                .cloned()
                .unwrap_or_else(|| e.metadata.name.clone()),
            depends_on,
            latency_objective,
            origin: origin.clone(),
        });
    }
    if !problems.is_empty() {
        return Err(CatalogError::Invalid(problems));
    }
    SystemModel::new(components).map_err(CatalogError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_drop_namespace_and_default_their_kind() {
        assert_eq!(
            reference("resource:default/db", "component"),
            ("resource".into(), "db".into())
        );
        assert_eq!(reference("web", "group"), ("group".into(), "web".into()));
        assert_eq!(
            reference("Group:team-a", "x"),
            ("group".into(), "team-a".into())
        );
    }

    #[test]
    fn an_empty_trailing_document_holds_no_entity() {
        let got = parse(
            Path::new("c.yaml"),
            "kind: Group\nmetadata:\n  name: a\n---\n",
        )
        .expect("parses");
        assert_eq!(got.len(), 1);
    }
}
