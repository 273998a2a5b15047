//! Configuration: defaults, the user file, environment overrides, and the exact errors.

use std::collections::BTreeMap;
use std::path::PathBuf;

use barometer::config::{Config, ConfigError, LogFormat, Sources};

fn env(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn with_file(toml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("barometer.toml");
    std::fs::write(&path, toml).unwrap();
    (dir, path)
}

fn load(file: Option<PathBuf>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(&Sources {
        file,
        env: env(vars),
        ..Default::default()
    })
}

#[test]
fn defaults_apply_without_a_file() {
    let c = load(None, &[]).unwrap();
    assert_eq!(c.storage.path, PathBuf::from("data/barometer"));
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:9750");
    assert_eq!(c.log.format, LogFormat::Pretty);
    assert!(c.server.api_token.is_none());
    assert!(c.prometheus.url.is_none());
    assert_eq!(c.analysis.min_points, 12);
}

#[test]
fn a_missing_file_is_named() {
    let err = load(Some(PathBuf::from("/nonexistent/barometer.toml")), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "configuration file /nonexistent/barometer.toml does not exist"
    );
}

#[test]
fn unknown_keys_and_bad_values_are_all_reported_with_their_file() {
    let (_dir, path) = with_file(
        "[server]\nlisen = \"127.0.0.1:1\"\nlisten = \"localhost\"\n\n[storage]\npath = \"x\"\n\
         colour = \"blue\"\n\n[log]\nformat = \"xml\"\n",
    );
    let err = load(Some(path.clone()), &[]).unwrap_err();
    let p = path.display();
    assert_eq!(
        err.to_string(),
        format!(
            "configuration has 4 problems:\n  \
             - server.lisen (from {p}): unknown key\n  \
             - storage.colour (from {p}): unknown key\n  \
             - server.listen (from {p}): \"localhost\" is not a socket address (host:port, e.g. 127.0.0.1:9750)\n  \
             - log.format (from {p}): \"xml\" is not one of \"pretty\", \"json\""
        )
    );
}

#[test]
fn a_value_of_the_wrong_type_names_key_and_file() {
    let (_dir, path) = with_file("[analysis]\nmin_points = \"many\"\n");
    let err = load(Some(path.clone()), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "configuration has 1 problem:\n  - analysis.min_points (from {}): invalid type: \
             string \"many\", expected an integer",
            path.display()
        )
    );
}

#[test]
fn environment_overrides_the_file_and_is_named_when_wrong() {
    let (_dir, path) = with_file("[server]\nlisten = \"127.0.0.1:1111\"\n");
    let c = load(
        Some(path.clone()),
        &[
            ("BAROMETER__SERVER__LISTEN", "127.0.0.1:2222"),
            ("BAROMETER__GITHUB__REPOS", "acme/api,acme/web"),
            ("BAROMETER__LOG__FORMAT", "json"),
        ],
    )
    .unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:2222");
    assert_eq!(c.github.repos, vec!["acme/api", "acme/web"]);
    assert_eq!(c.log.format, LogFormat::Json);

    let err = load(Some(path), &[("BAROMETER__GITHUB__INTERVAL", "often")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "configuration has 1 problem:\n  - github.interval (from the environment): \"often\" is \
         not a duration like \"15m\" (expected number at 0)"
    );
}

#[test]
fn secrets_are_redacted_everywhere() {
    let token = "s3cr3t-token-0123456789";
    let c = load(None, &[("BAROMETER__SERVER__API_TOKEN", token)]).unwrap();
    assert_eq!(c.server.api_token.as_ref().map(|t| t.expose()), Some(token));
    let shown = c.to_redacted_toml().unwrap();
    assert!(shown.contains("api_token = \"[redacted]\""), "{shown}");
    assert!(!shown.contains(token));
    assert!(!format!("{c:?}").contains(token));
}

#[test]
fn config_check_exits_non_zero_and_names_the_key() {
    let (dir, path) = with_file("[server]\nlisten = \"nowhere\"\n");
    let out = crate::helpers::barometer(&dir.path().join("store"))
        .args(["--config"])
        .arg(&path)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "server.listen (from {}): \"nowhere\" is not a socket address",
            path.display()
        )),
        "{stderr}"
    );

    let ok = crate::helpers::barometer(&dir.path().join("store"))
        .env("BAROMETER__SERVER__API_TOKEN", "abcdefghijklmnopqrstuvwxyz")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(ok.status.success());
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(stdout.contains("listen = \"127.0.0.1:9750\""), "{stdout}");
    assert!(stdout.contains("[redacted]") && !stdout.contains("abcdefghijklmnop"));
}

#[test]
fn the_printed_configuration_writes_values_as_a_file_would() {
    let (_dir, path) = with_file(
        "[prometheus]\nurl = \"http://127.0.0.1:9090\"\nbackfill_since = \"2024-01-01\"\n\
         [[prometheus.slo]]\nname = \"api\"\nservice = \"api\"\nerror_ratio_query = \"x\"\n\
         target = 0.999\nwindow = \"28d\"\n",
    );
    let c = load(Some(path), &[]).unwrap();
    let shown = c.to_redacted_toml().unwrap();
    for line in [
        "backfill_since = \"730d\"",
        "backfill_since = \"2024-01-01\"",
        "window = \"28d\"",
        "retention_window = \"12m\"",
        "shutdown_grace = \"10s\"",
    ] {
        assert!(
            shown.lines().any(|l| l == line),
            "{line} missing from:\n{shown}"
        );
    }
}

#[test]
fn every_wrong_type_is_reported_at_once_beside_the_other_problems() {
    let (_dir, path) = with_file(
        "[server]\nlisten = \"nowhere\"\n\n[github]\nrepos = 5\nrate_limit_floor = \"x\"\n\n\
         [revenue]\nmax_reported_errors = \"y\"\n\n[analysis]\nmin_points = \"many\"\n\n[storage]\nfoo = 1\n",
    );
    let err = load(Some(path.clone()), &[]).unwrap_err();
    let p = path.display();
    // Unknown keys, then the wrong types sorted by key, then the values that do not validate;
    // the same report on every run, whatever the order serde met them in.
    assert_eq!(
        err.to_string(),
        format!(
            "configuration has 6 problems:\n  \
             - storage.foo (from {p}): unknown key\n  \
             - analysis.min_points (from {p}): invalid type: string \"many\", expected an integer\n  \
             - github.rate_limit_floor (from {p}): invalid type: string \"x\", expected an integer\n  \
             - github.repos (from {p}): invalid type: integer `5`, expected a sequence\n  \
             - revenue.max_reported_errors (from {p}): invalid type: string \"y\", expected an integer\n  \
             - server.listen (from {p}): \"nowhere\" is not a socket address (host:port, e.g. 127.0.0.1:9750)"
        )
    );
}

#[test]
fn unknown_sections_and_keys_in_lists_name_where_they_came_from() {
    let (_dir, path) = with_file(
        "[colours]\nsky = \"blue\"\n\n[[github.service]]\nname = \"api\"\nrepo = \"acme/api\"\nbogus = 1\n",
    );
    let err = load(Some(path.clone()), &[("BAROMETER__WEATHER__TODAY", "rain")]).unwrap_err();
    let p = path.display();
    assert_eq!(
        err.to_string(),
        format!(
            "configuration has 3 problems:\n  \
             - colours (from {p}): unknown key\n  \
             - github.service.0.bogus (from {p}): unknown key\n  \
             - weather (from the environment): unknown key"
        )
    );
}

#[test]
fn passwords_inside_urls_are_redacted_in_the_printed_configuration() {
    let c = load(
        None,
        &[(
            "BAROMETER__PROMETHEUS__URL",
            "http://ops:hunter2-pw@127.0.0.1:9090",
        )],
    )
    .unwrap();
    let shown = c.to_redacted_toml().unwrap();
    assert!(
        shown.contains("url = \"http://[redacted]@127.0.0.1:9090\""),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"));
}

#[test]
fn teams_own_services_once_and_name_every_conflict() {
    let (_dir, path) = with_file(
        "[github]\nrepos = [\"acme/api\", \"acme/web\", \"acme/billing\"]\n\n\
         [[teams]]\nname = \"platform\"\nservices = [\"api\"]\ngithub_teams = [\"acme/platform\"]\n\n\
         [[teams]]\nname = \"web\"\nservices = [\"web\", \"api\", \"serch\"]\n\n\
         [[teams]]\nname = \"platform\"\ngithub_teams = [\"platform\"]\n",
    );
    let err = load(Some(path.clone()), &[]).unwrap_err().to_string();
    // The second claim on "api" names both teams; the typo names the services it could be; the
    // duplicate name and the slug without an organisation are named too.
    assert!(
        err.contains("teams[1].services[1]")
            && err.contains("\"api\" is owned by both \"platform\" and \"web\""),
        "{err}"
    );
    assert!(
        err.contains("teams[1].services[2]")
            && err.contains("\"serch\" is not a service")
            && err.contains("api, billing, web"),
        "{err}"
    );
    assert!(err.contains("teams[2].name"), "{err}");
    assert!(err.contains("teams[2].github_teams[0]"), "{err}");

    let (_dir, path) = with_file(
        "[github]\nrepos = [\"acme/api\", \"acme/web\", \"acme/billing\"]\n\n\
         [[teams]]\nname = \"platform\"\nservices = [\"api\", \"billing\"]\n",
    );
    let c = load(Some(path), &[]).unwrap();
    assert_eq!(c.teams.len(), 1);
    assert_eq!(c.teams[0].services, ["api", "billing"]);
}

#[test]
fn a_segment_or_plan_belongs_to_one_product() {
    let (_dir, path) = with_file(
        "[github]\nrepos = [\"acme/api\", \"acme/billing\"]\n\n\
         [[products]]\nname = \"shop\"\nservices = [\"api\"]\nsegments = [\"smb\"]\n\n\
         [[products]]\nname = \"invoicing\"\nservices = [\"billing\", \"biling\"]\nsegments = [\"smb\"]\n",
    );
    let err = load(Some(path), &[]).unwrap_err().to_string();
    assert!(
        err.contains("products[1].segments[0]")
            && err.contains("\"smb\" belongs to both \"shop\" and \"invoicing\""),
        "{err}"
    );
    assert!(
        err.contains("products[1].services[1]") && err.contains("\"biling\" is not a service"),
        "{err}"
    );
}

#[test]
fn remote_write_receivers_and_the_shard_are_checked_key_by_key() {
    let (_dir, path) = with_file(
        "[metrics]\nshard = \"eu west\"\n\n\
         [[remote_write]]\nurl = \"https://user:hunter2@mimir.example/api/v1/push\"\n\
         bearer_token_env = \"MIMIR TOKEN\"\nbasic_auth_user = \"u\"\n\
         headers = { \"Content-Type\" = \"text/plain\", \"Authorization\" = \"Bearer x\" }\n\
         timestamps = \"yesterday\"\nqueue_capacity = 0\ninterval = \"10ms\"\n\n\
         [[remote_write]]\nurl = \"ftp://mimir.example\"\nname = \"mimir.example\"\n",
    );
    let err = load(Some(path), &[]).unwrap_err().to_string();
    for (key, why) in [
        ("metrics.shard", "\"eu west\" is not a shard name"),
        ("remote_write[0].url", "must not carry credentials"),
        ("remote_write[0].bearer_token_env", "not both"),
        (
            "remote_write[0].headers.Content-Type",
            "set by the remote-write protocol",
        ),
        (
            "remote_write[0].headers.Authorization",
            "use bearer_token_env or basic auth",
        ),
        (
            "remote_write[0].timestamps",
            "\"yesterday\" is not \"now\" or \"week\"",
        ),
        (
            "remote_write[0].queue_capacity",
            "0 is not between 1 and 10000",
        ),
        ("remote_write[0].interval", "must be at least 1s"),
        ("remote_write[1].url", "is not an http:// or https:// URL"),
        ("remote_write[1].name", "names two receivers"),
    ] {
        assert!(
            err.lines().any(|l| l.contains(key) && l.contains(why)),
            "{key}: {why}\n{err}"
        );
    }
    assert!(!err.contains("hunter2"), "the password never shows: {err}");

    let (_dir, path) = with_file(
        "[metrics]\nshard = \"eu-west\"\n\n\
         [[remote_write]]\nurl = \"http://127.0.0.1:9090/api/v1/write/\"\ntenant = \"acme\"\n\
         basic_auth_user = \"barometer\"\nbasic_auth_password_env = \"RW_PASSWORD\"\n",
    );
    let c = load(Some(path), &[]).unwrap();
    assert_eq!(c.metrics.shard.as_deref(), Some("eu-west"));
    let r = &c.remote_write[0];
    assert_eq!(
        (r.name.as_str(), r.url.as_str()),
        ("127.0.0.1:9090", "http://127.0.0.1:9090/api/v1/write")
    );
    assert_eq!(r.queue_capacity, 64);
    assert_eq!(r.timestamps, barometer::config::Stamping::Now);
}

#[test]
fn codeowners_owners_are_checked_and_one_stands_for_one_team() {
    let (_dir, path) = with_file(
        "[github]\nrepos = [\"acme/api\"]\n\n\
         [[teams]]\nname = \"platform\"\ngithub_teams = [\"acme/platform\"]\n\
         codeowners = [\"@alice\", \"ops@acme.example\"]\n\n\
         [[teams]]\nname = \"web\"\ngithub_teams = [\"Acme/Platform\"]\n\
         codeowners = [\"alice\", \"@ALICE\"]\n",
    );
    let err = load(Some(path), &[]).unwrap_err().to_string();
    // Two teams that name one CODEOWNERS owner would claim the same services: an error naming
    // both (handles are case-insensitive, as on GitHub).
    assert!(
        err.contains("teams[1].github_teams[0]")
            && err.contains("\"@Acme/Platform\" stands for both \"platform\" and \"web\""),
        "{err}"
    );
    assert!(
        err.contains("teams[1].codeowners[1]") && err.contains("\"@ALICE\" stands for both"),
        "{err}"
    );
    // Neither @user, @org/team nor an e-mail.
    assert!(
        err.contains("teams[1].codeowners[0]")
            && err.contains("\"alice\" is not a CODEOWNERS owner"),
        "{err}"
    );
    assert!(!err.contains("- teams[0]"), "{err}");
}
