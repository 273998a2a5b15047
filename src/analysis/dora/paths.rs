//! A monorepo service's path globs, compiled once with the settings instead of per analysis.

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Serialize, Serializer};

/// The path globs that say which changes of a monorepo belong to a service; none means the
/// whole repository. Compared and serialised as the patterns the configuration gave.
#[derive(Debug, Clone, Default)]
pub struct ServicePaths {
    patterns: Vec<String>,
    set: Option<GlobSet>,
}

impl ServicePaths {
    /// Compiles `patterns`; the configuration validates them, so an error names a hand-built
    /// specification rather than one to skip silently.
    pub fn new(patterns: Vec<String>) -> Result<Self, globset::Error> {
        if patterns.is_empty() {
            return Ok(Self::default());
        }
        let mut b = GlobSetBuilder::new();
        for p in &patterns {
            b.add(Glob::new(p)?);
        }
        Ok(Self {
            set: Some(b.build()?),
            patterns,
        })
    }

    /// The patterns as configured.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether no globs are given: every change of the repository is the service's.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The compiled globs; `None` for the whole repository.
    pub fn globs(&self) -> Option<&GlobSet> {
        self.set.as_ref()
    }
}

impl PartialEq for ServicePaths {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

impl Eq for ServicePaths {}

impl Serialize for ServicePaths {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.patterns.serialize(s)
    }
}
