//! The deployment files are valid for the tools that read them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn deploy_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(rel)
}

/// The Grafana dashboard (`deploy/grafana/dashboards/barometer.json`).
pub(crate) fn grafana_dashboard() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(deploy_file("grafana/dashboards/barometer.json")).unwrap(),
    )
    .unwrap()
}

/// The Grafana-managed alert rules (`deploy/grafana/provisioning/alerting/barometer.yaml`).
pub(crate) fn grafana_alert_rules() -> Value {
    serde_yaml_ng::from_str(
        &std::fs::read_to_string(deploy_file("grafana/provisioning/alerting/barometer.yaml"))
            .unwrap(),
    )
    .unwrap()
}

/// Every PromQL query Grafana sends for Barometer, with where it is: panel targets, annotations,
/// the selectors inside the template variables' `label_values(...)`, and the alert rules' queries.
/// Dashboard variables are still in (`$shard`); [`with_variables_filled`] replaces them.
pub(crate) fn grafana_queries() -> Vec<(String, String)> {
    let dashboard = grafana_dashboard();
    let mut out = Vec::new();
    let mut panels: Vec<&Value> = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        panels.push(p);
        panels.extend(p["panels"].as_array().into_iter().flatten());
    }
    for p in panels {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap();
            out.push((format!("panel {} {}", p["id"], t["refId"]), expr.to_owned()));
        }
    }
    for a in dashboard["annotations"]["list"].as_array().unwrap() {
        if let Some(expr) = a["expr"].as_str() {
            out.push((format!("annotation {}", a["name"]), expr.to_owned()));
        }
    }
    for v in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = v["query"]["query"].as_str() {
            // label_values(SELECTOR, label): the selector is PromQL, the wrapper is Grafana's.
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|r| r.rsplit_once(','))
                .map(|(sel, _)| sel)
                .unwrap_or_else(|| panic!("variable {}: not label_values(...): {q}", v["name"]));
            out.push((format!("variable {}", v["name"]), inner.to_owned()));
        }
    }
    for g in grafana_alert_rules()["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            for d in r["data"].as_array().unwrap() {
                if let Some(expr) = d["model"]["expr"].as_str() {
                    out.push((
                        format!("alert {} {}", r["title"], d["refId"]),
                        expr.to_owned(),
                    ));
                }
            }
        }
    }
    out
}

/// The metric families Grafana queries (histogram series `_bucket`/`_count`/`_sum` by their
/// family), each with the first place that queries it.
pub(crate) fn grafana_metric_families() -> std::collections::BTreeMap<String, String> {
    let mut families = std::collections::BTreeMap::new();
    for (place, expr) in grafana_queries() {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("barometer_") {
                let family = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| word.strip_suffix(s))
                    .unwrap_or(word);
                families
                    .entry(family.to_owned())
                    .or_insert_with(|| format!("{place}: {expr:?}"));
            }
        }
    }
    families
}

/// The metric families an exposition text declares (`# TYPE name kind`).
pub(crate) fn exported_families(text: &str) -> std::collections::BTreeSet<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

/// A query with the dashboard's variables as they are when "All" is picked: `.*` for the label
/// filters (which also matches a missing `shard` label), the URL for `barometer_url`.
pub(crate) fn with_variables_filled(expr: &str) -> String {
    ["shard", "service", "team", "product"]
        .iter()
        .fold(expr.to_owned(), |e, v| e.replace(&format!("${v}"), ".*"))
}

/// `promtool check KIND FILE` succeeds; skipped when promtool is not installed (`.ci/run`
/// installs it). `shown` is added to a failure's message.
fn promtool_check(kind: &str, file: &Path, shown: &str) {
    match Command::new("promtool")
        .args(["check", kind])
        .arg(file)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool check {kind} {}: {}{}\n{shown}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("promtool not installed: skipped (.ci/run installs it)"),
    }
}

#[test]
fn prometheus_config_passes_promtool() {
    promtool_check("config", &deploy_file("prometheus/prometheus.yml"), "");
}

#[test]
fn prometheus_rules_pass_promtool_and_name_exported_metrics() {
    let file = deploy_file("prometheus/rules.yml");
    promtool_check("rules", &file, "");
    let rules = std::fs::read_to_string(&file).unwrap();
    for metric in [
        "barometer_slo_burn_rate",
        "barometer_slo_error_budget_remaining_ratio",
        "barometer_source_up",
        "barometer_source_last_success_timestamp_seconds",
    ] {
        assert!(rules.contains(metric), "{metric}");
    }
}

#[test]
fn grafana_queries_parse_as_promql() {
    // promtool parses every query: written as recording rules, one per query.
    let queries = grafana_queries();
    assert!(queries.len() >= 40, "{} queries", queries.len());
    let mut rules = String::from("groups:\n  - name: grafana-queries\n    rules:\n");
    for (i, (place, expr)) in queries.iter().enumerate() {
        let filled = with_variables_filled(expr);
        assert!(
            !filled.contains('$'),
            "{place}: an unknown variable in {expr:?}"
        );
        // The comment names the query in promtool's error, which quotes the rule's line.
        rules.push_str(&format!(
            "      # {place}\n      - record: grafana_query_{i}\n        expr: {}\n",
            serde_json::to_string(&filled).unwrap()
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grafana-queries.yml");
    std::fs::write(&file, &rules).unwrap();
    promtool_check("rules", &file, &rules);
}

#[test]
fn grafana_dashboard_filters_every_query_by_shard_and_uses_the_datasource_variable() {
    let dashboard = grafana_dashboard();
    let names: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "datasource",
            "shard",
            "service",
            "team",
            "product",
            "barometer_url"
        ]
    );
    for (place, expr) in grafana_queries() {
        if place.starts_with("alert") || place == "variable \"shard\"" {
            continue;
        }
        // Every selector in the query carries the shard filter; `=~".*"` (All) keeps series
        // without a shard label, as a single daemon exports them.
        let selectors = expr.matches('{').count();
        assert_eq!(
            expr.matches(r#"shard=~"$shard""#).count(),
            selectors,
            "{place}: {expr}"
        );
        assert!(selectors > 0, "{place}: {expr}");
    }
    let mut panels = 0;
    for p in dashboard["panels"].as_array().unwrap() {
        if p["type"] == "row" {
            continue;
        }
        panels += 1;
        assert_eq!(p["datasource"]["uid"], "${datasource}", "panel {}", p["id"]);
        for t in p["targets"].as_array().unwrap() {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "panel {}", p["id"]);
        }
        let links = p["links"].as_array().unwrap();
        assert!(!links.is_empty(), "panel {} links nowhere", p["id"]);
        for l in links {
            assert!(
                l["url"].as_str().unwrap().starts_with("${barometer_url}/"),
                "panel {}: {l}",
                p["id"]
            );
        }
    }
    assert!(panels >= 19, "{panels} panels");
}

#[test]
fn grafana_alert_rules_are_well_formed_and_mirror_prometheus_rules() {
    let prometheus_rules = std::fs::read_to_string(deploy_file("prometheus/rules.yml")).unwrap();
    let datasources = std::fs::read_to_string(deploy_file(
        "grafana/provisioning/datasources/barometer.yml",
    ))
    .unwrap();
    assert!(datasources.contains("uid: prometheus"));
    let file = grafana_alert_rules();
    assert_eq!(file["apiVersion"], 1);
    let mut titles = Vec::new();
    let mut uids = std::collections::BTreeSet::new();
    for g in file["groups"].as_array().unwrap() {
        assert!(g["folder"].is_string() && g["name"].is_string() && g["interval"].is_string());
        for r in g["rules"].as_array().unwrap() {
            let title = r["title"].as_str().unwrap();
            assert!(
                uids.insert(r["uid"].as_str().unwrap().to_owned()),
                "{title}: uid twice"
            );
            assert!(
                prometheus_rules.contains(&format!("- alert: {title}\n")),
                "{title} mirrors no alert in deploy/prometheus/rules.yml"
            );
            let refs: Vec<&str> = r["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    assert_eq!(d["refId"], d["model"]["refId"], "{title}");
                    match d["datasourceUid"].as_str().unwrap() {
                        "__expr__" => assert!(
                            ["math", "threshold", "reduce"]
                                .contains(&d["model"]["type"].as_str().unwrap()),
                            "{title}"
                        ),
                        "prometheus" => {
                            assert!(
                                d["relativeTimeRange"]["from"].as_u64().unwrap() > 0,
                                "{title}"
                            );
                            assert_eq!(d["model"]["instant"], true, "{title}");
                        }
                        other => panic!("{title}: data source {other} is not provisioned"),
                    }
                    d["refId"].as_str().unwrap()
                })
                .collect();
            assert!(refs.contains(&r["condition"].as_str().unwrap()), "{title}");
            assert!(
                r["for"].is_string() && r["labels"]["severity"].is_string(),
                "{title}"
            );
            assert!(r["annotations"]["summary"].is_string(), "{title}");
            // Grafana expands ${VAR} in provisioned annotations from the environment.
            assert!(!r["annotations"].to_string().contains("${"), "{title}");
            titles.push(title.to_owned());
        }
    }
    for important in [
        "BarometerRegimeResilience",
        "BarometerErrorBudgetExhausted",
        "BarometerSourceDown",
        "BarometerDigestFailing",
    ] {
        assert!(titles.iter().any(|t| t == important), "{important}");
    }
}

#[test]
fn systemd_unit_is_hardened_and_uses_a_state_directory() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/systemd/barometer.service"),
    )
    .unwrap();
    for line in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=barometer",
        "NoNewPrivileges=yes",
        "Environment=BAROMETER__STORAGE__PATH=/var/lib/barometer/store",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }
}
