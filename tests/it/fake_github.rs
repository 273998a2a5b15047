//! A fake GitHub for tests and benchmarks: wiremock on 127.0.0.1 answering from canned routes
//! built from GitHub's documented payloads (`tests/fixtures/github/`), with `Link` pagination,
//! rate-limit headers, `ETag`/304 and one-shot fault answers.
//!
//! Shared by `tests/it/github.rs` and `benches/github.rs` (included there by path).
#![allow(dead_code)] // each user needs a different part

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/github/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn first(v: Value) -> Value {
    match v {
        Value::Array(mut a) => a.remove(0),
        other => other,
    }
}

/// Monday 2026-01-05 plus hours.
pub fn t(hours: f64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
        + chrono::Duration::seconds((hours * 3600.0) as i64)
}

pub fn ts(hours: f64) -> String {
    t(hours).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A canned answer.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Default)]
pub struct FakeState {
    /// "path" or "path#page" → body.
    pub routes: HashMap<String, String>,
    /// One-shot answers served before the route.
    pub faults: HashMap<String, VecDeque<Answer>>,
    /// (key, had If-None-Match, status) of every request.
    pub log: Vec<(String, bool, u16)>,
    pub auth: Vec<Option<String>>,
    pub remaining: i64,
    /// The server's own address, for `Link` URLs (as GitHub writes its own host into them).
    pub base: String,
}

#[derive(Clone)]
pub struct Fake(pub Arc<Mutex<FakeState>>);

fn etag(body: &str) -> String {
    let h = Sha256::digest(body.as_bytes());
    format!("W/\"{:x}\"", h)[..20].to_owned() + "\""
}

fn key_of(req: &Request) -> String {
    let page = req
        .url
        .query_pairs()
        .find(|(k, _)| k == "page")
        .map(|(_, v)| v.into_owned());
    match page {
        Some(p) if p != "1" => format!("{}#{p}", req.url.path()),
        _ => req.url.path().to_owned(),
    }
}

impl Respond for Fake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let key = key_of(req);
        let mut st = self.0.lock().unwrap();
        st.auth.push(
            req.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        );
        let inm = req
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let reset = (Utc::now().timestamp() + 3600).to_string();
        if let Some(a) = st.faults.get_mut(&key).and_then(VecDeque::pop_front) {
            st.log.push((key, inm.is_some(), a.status));
            let mut r = ResponseTemplate::new(a.status).set_body_raw(a.body, "application/json");
            for (k, v) in a.headers {
                r = r.insert_header(k.as_str(), v.as_str());
            }
            return r;
        }
        let Some(body) = st.routes.get(&key).cloned() else {
            st.log.push((key, inm.is_some(), 404));
            return ResponseTemplate::new(404).set_body_raw(
                r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}"#,
                "application/json",
            );
        };
        let tag = etag(&body);
        let not_modified = inm.as_deref() == Some(tag.as_str());
        if !not_modified {
            st.remaining -= 1;
        }
        let status = if not_modified { 304 } else { 200 };
        st.log.push((key.clone(), inm.is_some(), status));
        let mut r = ResponseTemplate::new(status)
            .insert_header("etag", tag.as_str())
            .insert_header("x-ratelimit-limit", "5000")
            .insert_header("x-ratelimit-remaining", st.remaining.to_string().as_str())
            .insert_header("x-ratelimit-reset", reset.as_str());
        if !not_modified {
            r = r.set_body_raw(body, "application/json");
        }
        // Pagination: "path#2" exists → Link to page 2, and so on.
        let (path, page) = match key.split_once('#') {
            Some((p, n)) => (p.to_owned(), n.parse::<u32>().unwrap_or(1)),
            None => (key.clone(), 1),
        };
        if st.routes.contains_key(&format!("{path}#{}", page + 1)) {
            let mut next = req.url.clone();
            let own: url::Url = st.base.parse().unwrap();
            next.set_host(own.host_str()).unwrap();
            next.set_port(own.port()).unwrap();
            let query: Vec<(String, String)> = req
                .url
                .query_pairs()
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            next.query_pairs_mut().clear();
            for (k, v) in &query {
                next.query_pairs_mut().append_pair(k, v);
            }
            next.query_pairs_mut()
                .append_pair("page", &(page + 1).to_string());
            let link = format!("<{next}>; rel=\"next\"");
            r = r.insert_header("link", link.as_str());
        }
        r
    }
}

impl Fake {
    pub fn route(&self, key: &str, body: Value) {
        self.0
            .lock()
            .unwrap()
            .routes
            .insert(key.to_owned(), body.to_string());
    }
    pub fn fault(&self, key: &str, status: u16, headers: &[(&str, String)], body: &str) {
        self.0
            .lock()
            .unwrap()
            .faults
            .entry(key.to_owned())
            .or_default()
            .push_back(Answer {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
                body: body.to_owned(),
            });
    }
    pub fn log(&self) -> Vec<(String, bool, u16)> {
        std::mem::take(&mut self.0.lock().unwrap().log)
    }
}

pub fn commit_json(sha: &str, parents: &[&str], hours: f64) -> Value {
    let mut c = first(fixture("pulls-list-commits.json"));
    c["sha"] = json!(sha);
    c["commit"]["author"]["date"] = json!(ts(hours));
    c["commit"]["committer"]["date"] = json!(ts(hours));
    c["parents"] = Value::Array(
        parents
            .iter()
            .map(|p| json!({"url": "", "sha": p}))
            .collect(),
    );
    c
}

pub struct Pr {
    pub number: u64,
    pub title: &'static str,
    pub head: &'static str,
    pub labels: &'static [&'static str],
    pub commits: &'static [(&'static str, f64)],
    pub opened: f64,
    pub merged: Option<f64>,
    pub merge_sha: &'static str,
}

pub fn pr_json(p: &Pr) -> Value {
    let mut v = first(fixture("pulls-list.json"));
    let label = v["labels"][0].clone();
    v["number"] = json!(p.number);
    v["title"] = json!(p.title);
    v["body"] = json!(format!("Change {}", p.number));
    v["state"] = json!("closed");
    v["labels"] = Value::Array(
        p.labels
            .iter()
            .map(|l| {
                let mut x = label.clone();
                x["name"] = json!(l);
                x
            })
            .collect(),
    );
    v["created_at"] = json!(ts(p.opened));
    let done = p.merged.unwrap_or(p.opened + 1.0);
    v["updated_at"] = json!(ts(done));
    v["closed_at"] = json!(ts(done));
    v["merged_at"] = p.merged.map_or(Value::Null, |m| json!(ts(m)));
    v["merge_commit_sha"] = json!(p.merge_sha);
    v["head"]["ref"] = json!(p.head);
    v["base"]["ref"] = json!("main");
    v
}

impl Fake {
    /// A fake on a free loopback port, with a full rate-limit window and no routes yet.
    pub async fn start() -> (MockServer, Fake) {
        let server = MockServer::start().await;
        let fake = Fake(Arc::new(Mutex::new(FakeState {
            remaining: 5000,
            base: server.uri(),
            ..FakeState::default()
        })));
        Mock::given(wiremock::matchers::any())
            .respond_with(fake.clone())
            .mount(&server)
            .await;
        (server, fake)
    }
}

/// A configuration reading the fake at `url` with the token in `BAROMETER_TEST_GH_TOKEN`,
/// backfilling from 2025-06-01, with `github` (TOML after `[github]`'s own keys: repositories,
/// services) appended; the store is `dir/store`.
pub fn github_config_with(
    dir: &std::path::Path,
    url: &str,
    token: &str,
    github: &str,
) -> barometer::config::Config {
    let path = dir.join("barometer.toml");
    std::fs::write(
        &path,
        format!(
            "[storage]\npath = \"{}\"\n\n[github]\napi_url = \"{url}\"\ntoken_env = \"BAROMETER_TEST_GH_TOKEN\"\n\
             backfill_since = \"2025-06-01\"\nrequest_timeout = \"5s\"\n{github}",
            dir.join("store").display()
        ),
    )
    .unwrap();
    let env = [("BAROMETER_TEST_GH_TOKEN".to_owned(), token.to_owned())].into();
    barometer::config::Config::load(&barometer::config::Sources {
        file: Some(path),
        env: Some(env),
        ..Default::default()
    })
    .unwrap()
}

/// The contents API's answer for a file (`GET /repos/{o}/{r}/contents/{path}`, GitHub REST docs
/// "Get repository content"): its text base64-encoded in lines of 60 characters, as GitHub sends
/// it.
pub fn contents_json(repo: &str, path: &str, text: &str) -> Value {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let wrapped: Vec<String> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    json!({
        "type": "file",
        "encoding": "base64",
        "size": text.len(),
        "name": path.rsplit('/').next().unwrap_or(path),
        "path": path,
        "content": wrapped.join("\n") + "\n",
        "sha": "3d21ec53a331a6f037a91c368710b99387d012c1",
        "url": format!("https://api.github.com/repos/{repo}/contents/{path}"),
        "git_url": null,
        "html_url": null,
        "download_url": null,
        "_links": {}
    })
}
