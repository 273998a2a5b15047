//! Redaction: a secret string that never prints itself.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// A secret string: never printed by `Debug`, `Display` or `Serialize`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub(super) String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// A GitHub App's private key, parsed once from its PEM file (`github.app.private_key_path`):
/// never printed by `Debug` and never serialized (the effective configuration shows the path only).
#[derive(Clone)]
pub struct AppKey(jsonwebtoken::EncodingKey);

impl AppKey {
    /// Wraps a parsed key.
    pub(super) fn new(key: jsonwebtoken::EncodingKey) -> Self {
        Self(key)
    }
    /// The key, for the one place that signs the App's JWTs.
    pub fn encoding_key(&self) -> &jsonwebtoken::EncodingKey {
        &self.0
    }
}

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
