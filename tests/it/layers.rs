//! The module dependency rule, read from the `crate::…` paths under `src/`: data flows one way
//! (sources → store → query → faces), and an arrow that runs back up fails here, naming the file
//! and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The modules each top-level module may use (`model` and itself are always allowed).
const ALLOWED: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("clock", &[]),
    ("redact", &[]),
    ("quote", &[]),
    ("retry", &["redact"]),
    ("sheet", &[]),
    ("health", &["redact"]),
    ("config", &["redact", "quote"]),
    ("telemetry", &["config"]),
    ("store", &[]),
    ("analysis", &[]),
    (
        "sources",
        &[
            "store", "config", "clock", "health", "redact", "retry", "quote",
        ],
    ),
    ("query", &["store", "analysis", "config", "clock"]),
    ("app", &["config", "store", "query", "sources"]),
    (
        "digest",
        &[
            "app", "query", "analysis", "config", "store", "health", "clock", "retry",
        ],
    ),
    // The daemon runs the syncs; the digest it serves and schedules comes in through
    // `serve::DigestService`, wired by the CLI, so it never imports `digest`.
    (
        "serve",
        &[
            "app", "query", "analysis", "config", "store", "health", "clock", "sources", "redact",
            "quote", "retry",
        ],
    ),
    (
        "cli",
        &[
            "app",
            "query",
            "analysis",
            "config",
            "store",
            "health",
            "clock",
            "sources",
            "digest",
            "serve",
            "telemetry",
            "sheet",
            "redact",
        ],
    ),
];

/// Arrows that still run against the rule, each with the reason it is tolerated. Shrink this
/// list; never grow it.
const KNOWN: &[(&str, &str)] = &[];

fn module_of(file: &Path, src: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src/") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a line names through `crate::`: `crate::a::…` and `crate::{a, b::…}`.
fn targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn no_module_uses_one_further_down_the_flow() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut known_used = vec![false; KNOWN.len()];
    for file in &files {
        let Some(module) = module_of(file, &src) else {
            continue;
        };
        let rel = file.strip_prefix(root).expect("under the root");
        let rel_str = rel.to_string_lossy().replace('\\', "/");
        let Some(may) = allowed.get(module.as_str()) else {
            wrong.push(format!(
                "{rel_str}: module `{module}` is missing from the table in tests/it/layers.rs"
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for target in targets(code) {
                if target == module || target == "model" || may.contains(&target.as_str()) {
                    continue;
                }
                if let Some(k) = KNOWN
                    .iter()
                    .position(|(f, t)| *f == rel_str && *t == target)
                {
                    known_used[k] = true;
                    continue;
                }
                wrong.push(format!(
                    "{rel_str}:{}: `{module}` uses `crate::{target}` ({})",
                    n + 1,
                    code.trim()
                ));
            }
        }
    }
    for (k, used) in KNOWN.iter().zip(&known_used) {
        if !used {
            wrong.push(format!(
                "{}: no longer uses `{}`; remove it from KNOWN in tests/it/layers.rs",
                k.0, k.1
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows against the data flow:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_reader_finds_grouped_and_inline_paths() {
    assert_eq!(
        targets("use crate::{query::SloDef, store::Store};"),
        ["query", "store"]
    );
    assert_eq!(
        targets("let x = crate::clock::now_ms() + crate::analysis::DAY_MS;"),
        ["clock", "analysis"]
    );
}
