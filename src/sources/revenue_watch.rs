//! The watched revenue folder: CSV files dropped there are imported, then moved to `done/` or
//! `failed/` beside a report file. Files in its `tickets/` and `metrics/` subfolders are
//! imported as support tickets and business metrics, into the source `default`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::revenue_import::{self, ImportOptions};
use super::set_import::{self, SetOptions};
use crate::config::Config;
use crate::store::Store;

/// Looks at the folder every `revenue.watch_interval` until `shutdown`.
///
/// A file is imported once its size has not changed between two looks, so a file still being
/// copied in is left alone.
pub async fn watch(config: Arc<Config>, store: Arc<Store>, shutdown: CancellationToken) {
    let Some(dir) = config.revenue.watch_dir.clone() else {
        return;
    };
    let mut sizes: HashMap<PathBuf, u64> = HashMap::new();
    loop {
        let (c, s, d) = (config.clone(), store.clone(), dir.clone());
        let previous = std::mem::take(&mut sizes);
        let scan_all = move || {
            let mut next = HashMap::new();
            for kind in [Kind::Revenue, Kind::Tickets, Kind::Metrics] {
                let dir = match kind {
                    Kind::Revenue => d.clone(),
                    Kind::Tickets => d.join("tickets"),
                    Kind::Metrics => d.join("metrics"),
                };
                if kind != Kind::Revenue && !dir.is_dir() {
                    continue;
                }
                next.extend(scan(&c, &s, &dir, &previous, kind));
            }
            next
        };
        match tokio::task::spawn_blocking(scan_all).await {
            Ok(next) => sizes = next,
            Err(e) => tracing::error!(error = %e, "revenue folder scan panicked"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(config.revenue.watch_interval) => {}
        }
    }
}

/// What a folder's files are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Revenue,
    Tickets,
    Metrics,
}

fn scan(
    config: &Config,
    store: &Store,
    dir: &Path,
    previous: &HashMap<PathBuf, u64>,
    kind: Kind,
) -> HashMap<PathBuf, u64> {
    let mut sizes = HashMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read revenue.watch_dir");
            return sizes;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let Ok(meta) = entry.metadata() else { continue };
        if !is_csv || !meta.is_file() {
            continue;
        }
        if previous.get(&path) != Some(&meta.len()) {
            sizes.insert(path, meta.len());
            continue;
        }
        process(config, store, dir, &path, kind);
    }
    sizes
}

fn process(config: &Config, store: &Store, dir: &Path, path: &Path, kind: Kind) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let config = &config.revenue;
    let outcome = std::fs::read(path)
        .map_err(|e| format!("{name}: cannot read: {e}"))
        .and_then(|bytes| {
            let result = match kind {
                Kind::Revenue => {
                    let options = ImportOptions::new("default");
                    revenue_import::import(store, config, &name, &bytes, &options, |_| {})
                        .map(|s| s.to_string())
                }
                Kind::Tickets => {
                    let options = SetOptions::new("default");
                    set_import::import_tickets(store, config, &name, &bytes, &options, |_| {})
                        .map(|s| s.to_string())
                }
                Kind::Metrics => {
                    let options = SetOptions::new("default");
                    set_import::import_metrics(store, config, &name, &bytes, &options)
                        .map(|s| s.to_string())
                }
            };
            result.map_err(|e| e.to_string())
        });
    let (sub, report) = match &outcome {
        Ok(summary) => {
            tracing::info!(file = %name, summary = %summary, "imported from the watched folder");
            ("done", format!("{summary}\n"))
        }
        Err(e) => {
            tracing::error!(file = %name, error = %e, "import from the watched folder failed");
            ("failed", format!("{e}\n"))
        }
    };
    let target = dir.join(sub);
    let moved = std::fs::create_dir_all(&target)
        .and_then(|()| std::fs::write(target.join(format!("{name}.report.txt")), report))
        .and_then(|()| std::fs::rename(path, target.join(&name)));
    if let Err(e) = moved {
        tracing::error!(file = %name, error = %e, "cannot move the imported file");
    }
}
