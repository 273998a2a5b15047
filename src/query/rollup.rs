//! Views kept in the store across restarts (issue 21): a restarted daemon answers its first
//! request for a view from what it computed before, as long as neither the stored data nor
//! what the view depends on changed since; and, labelled as older, while it computes the
//! current one after the data changed ([`get_kept`]).
//!
//! A rollup is stamped with the store's data generation (any commit of points or events makes
//! it stale) and a fingerprint of everything else its bytes depend on: this build (the rollup
//! format, the crate version, the executable), the configuration (minus what cannot change a
//! figure: the listen address, logging, the store's path) and whatever the caller adds (the
//! business week, the resolved settings, the system model). The caller reads the generation
//! before it computes, so that a commit landing meanwhile leaves the rollup unwritten rather
//! than wrongly stamped.

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::store::{KeptRollup, Store, StoreError};

/// Bump when what a rollup holds, or how it is computed, changes without a new crate version.
const FORMAT: u32 = 1;

/// Bytes of each half of a [`Fingerprint`] (a SHA-256).
const HALF: usize = 32;

/// What a rollup's bytes depend on besides the stored data, hashed: the settings (the
/// configuration and what the caller adds), then the build (the rollup format, the crate
/// version, this executable), each a SHA-256, so that a view kept by another build with the same
/// settings can be told apart from one of other settings ([`get_kept`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<u8>);

impl Fingerprint {
    /// The fingerprint of `config` and `extra` (anything else the view depends on, written
    /// deterministically, e.g. with `Debug` of ordered types).
    pub fn new(config: &Config, extra: &str) -> Self {
        let mut h = Sha256::new();
        // Serialized as JSON (redacted secrets, ordered maps), without the sections that change
        // where the daemon listens, logs or keeps the store, not what it computes.
        match serde_json::to_value(config) {
            Ok(mut v) => {
                if let Some(o) = v.as_object_mut() {
                    for volatile in ["server", "log", "storage"] {
                        o.remove(volatile);
                    }
                }
                h.update(v.to_string().as_bytes());
            }
            // Never expected (the configuration is plain data); a fingerprint that matches
            // nothing then makes every rollup a miss rather than a wrong answer.
            Err(e) => {
                tracing::warn!(error = %e, "the configuration does not serialize: rollups unused");
                h.update(std::process::id().to_be_bytes());
                h.update(format!("{:?}", std::time::Instant::now()).as_bytes());
            }
        }
        h.update([0]);
        h.update(extra.as_bytes());
        Self::with_settings(h)
    }

    /// The fingerprint of `extra` alone, for a rollup whose bytes depend on no setting besides
    /// what `extra` says (and this build).
    pub fn of(extra: &str) -> Self {
        let mut h = Sha256::new();
        h.update(extra.as_bytes());
        Self::with_settings(h)
    }

    /// The settings' half as hashed, then this build's.
    fn with_settings(settings: Sha256) -> Self {
        let mut build = Sha256::new();
        build.update(FORMAT.to_be_bytes());
        build.update(env!("CARGO_PKG_VERSION").as_bytes());
        build.update([0]);
        build.update(build_id().as_bytes());
        let mut both = settings.finalize().to_vec();
        both.extend_from_slice(&build.finalize());
        Self(both)
    }

    /// The settings' half.
    fn settings(&self) -> &[u8] {
        // `new` makes both halves.
        &self.0[..HALF]
    }
}

/// This executable, as its size and modification time: a rebuild without a new crate version
/// or rollup format (a developer's, or a patched package) renders pages with other code, so
/// what an earlier build kept is not handed to it as current. Read once.
pub(crate) fn build_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let meta = std::env::current_exe().and_then(std::fs::metadata);
        match meta {
            Ok(m) => match m.modified() {
                Ok(t) => format!("{} {t:?}", m.len()),
                // The size alone then (a platform without modification times).
                Err(e) => {
                    tracing::debug!(error = %e, "no modification time for this executable");
                    m.len().to_string()
                }
            },
            // Without it every start is another build: nothing kept is reused, nothing is
            // wrongly reused.
            Err(e) => {
                tracing::warn!(error = %e, "cannot read this executable's metadata: rollups unused");
                format!("{:?}", std::time::SystemTime::now())
            }
        }
    })
}

/// The rollup `name`, when it is current for the stored data and `fingerprint`.
pub fn get(
    store: &Store,
    name: &str,
    fingerprint: &Fingerprint,
) -> Result<Option<Vec<u8>>, StoreError> {
    store.rollup(name, &fingerprint.0)
}

/// The rollup `name` as last kept with the settings of `fingerprint`, current or not (see
/// [`Store::kept_rollup`]), by this build or another one ([`Kept::same_build`]).
pub fn get_kept(
    store: &Store,
    name: &str,
    fingerprint: &Fingerprint,
) -> Result<Option<Kept>, StoreError> {
    let settings = fingerprint.settings();
    let kept = store.kept_rollup_where(name, |stamped| {
        stamped.len() == 2 * HALF && &stamped[..HALF] == settings
    })?;
    Ok(kept.map(|rollup| Kept {
        same_build: rollup.fingerprint == fingerprint.0,
        rollup,
    }))
}

/// A rollup kept with the same settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// As kept.
    pub rollup: KeptRollup,
    /// Whether this build kept it: another one (an upgrade, a rebuild) may have rendered it
    /// otherwise, so it is never current, only older.
    pub same_build: bool,
}

/// Keeps `payload` as the rollup `name`, computed from the data of `generation` (read before
/// computing it); `Ok(false)` when a commit landed meanwhile (then nothing is kept).
pub fn put(
    store: &Store,
    name: &str,
    generation: u64,
    fingerprint: &Fingerprint,
    payload: &[u8],
) -> Result<bool, StoreError> {
    store.put_rollup(name, generation, &fingerprint.0, payload)
}
