//! The deployment files are valid for the tools that read them.

use std::path::Path;
use std::process::Command;

#[test]
fn prometheus_config_passes_promtool() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/prometheus.yml");
    match Command::new("promtool")
        .args(["check", "config"])
        .arg(&file)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool check config: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("promtool not installed: skipped (.ci/run installs it)"),
    }
}

#[test]
fn prometheus_rules_pass_promtool_and_name_exported_metrics() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/rules.yml");
    if let Ok(out) = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
    {
        assert!(
            out.status.success(),
            "promtool check rules: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
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
