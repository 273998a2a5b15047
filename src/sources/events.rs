//! Deployments and incidents pushed by any CD or incident tool (`POST /webhooks/events`,
//! docs/webhooks.md): a body is validated field by field and mapped to the same
//! [`Deployment`] and [`Incident`] records the GitHub source writes, so they feed the same DORA
//! model. A deployment with a SHA of a configured repository gets its change set from GitHub's
//! commit graph; an incident names a deployment or a SHA (and is then attributed to it) or is
//! attributed to the latest deployment of its service, as a GitHub incident issue is.
//!
//! Three shapes are read: Barometer's own (`{"type": "deployment" | "incident", …}`, which an
//! Argo CD notification template or a Jenkins `curl` writes), PagerDuty's V3 webhook
//! (`{"event": {"event_type": "incident.*", "data": …}}`) and Opsgenie's webhook integration
//! (`{"action": …, "alert": …}`).

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::GithubConfig;
use crate::model::{DeploySource, DeployState, Deployment, Incident};

/// The source name under which per-service freshness is kept.
pub const SOURCE: &str = "events-webhook";

/// One bad field of a pushed body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, as a JSON path (`service`, `event.data.created_at`).
    pub field: String,
    /// Why.
    pub reason: String,
}

/// What a pushed body says.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushed {
    /// A deployment (new, or a later state of one sent before with the same id).
    Deployment(Deployment),
    /// An incident (opened, or resolved later under the same id).
    Incident(Incident),
}

impl Pushed {
    /// The service it concerns.
    pub fn service(&self) -> &str {
        match self {
            Pushed::Deployment(d) => &d.service,
            Pushed::Incident(i) => i
                .labels
                .iter()
                .find_map(|l| l.strip_prefix("service:"))
                .unwrap_or_default(),
        }
    }
}

/// A stable numeric id for a sender's own id (DORA records are numbered): the first 53 bits
/// of its SHA-256, exact in every JSON reader.
pub fn numeric_id(kind: &str, id: &str) -> u64 {
    let h = Sha256::digest(format!("{kind}\0{id}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    u64::from_be_bytes(b) & ((1 << 53) - 1)
}

/// Reads fields of one JSON object, collecting every problem with its path.
struct Fields<'a> {
    value: &'a Value,
    prefix: &'a str,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    fn new(value: &'a Value, prefix: &'a str) -> Self {
        Self {
            value,
            prefix,
            errors: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn fail(&mut self, name: &str, reason: impl Into<String>) {
        let field = self.path(name);
        self.errors.push(FieldError {
            field,
            reason: reason.into(),
        });
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        let mut v = self.value;
        for part in name.split('.') {
            v = v.get(part)?;
        }
        (!v.is_null()).then_some(v)
    }

    /// An optional non-empty string (at most 200 bytes: names, ids and versions are short).
    fn text(&mut self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(s) if !s.trim().is_empty() && s.len() <= 200 => Some(s.trim().to_owned()),
            Value::String(s) if s.len() > 200 => {
                self.fail(name, format!("is {} bytes long; at most 200", s.len()));
                None
            }
            Value::Number(n) => Some(n.to_string()),
            other => {
                self.fail(
                    name,
                    format!("must be a non-empty string, not {}", kind_of(other)),
                );
                None
            }
        }
    }

    fn required_text(&mut self, name: &str) -> Option<String> {
        let v = self.text(name);
        if v.is_none() && self.get(name).is_none() {
            self.fail(name, "is required");
        }
        v
    }

    /// An optional time: RFC 3339, or (`millis`) milliseconds since the epoch as Opsgenie sends.
    fn time(&mut self, name: &str) -> Option<DateTime<Utc>> {
        match self.get(name)? {
            Value::String(s) => match DateTime::parse_from_rfc3339(s) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(e) => {
                    let shown = crate::quote::excerpt(s);
                    self.fail(
                        name,
                        format!(
                            "{shown:?} is not an RFC 3339 time like 2026-11-25T12:00:00Z ({e})"
                        ),
                    );
                    None
                }
            },
            Value::Number(n) => match n
                .as_i64()
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
            {
                Some(t) => Some(t),
                None => {
                    self.fail(
                        name,
                        format!("{n} is not a time in milliseconds since 1970"),
                    );
                    None
                }
            },
            other => {
                self.fail(
                    name,
                    format!("must be an RFC 3339 time, not {}", kind_of(other)),
                );
                None
            }
        }
    }

    fn required_time(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let v = self.time(name);
        if v.is_none() && self.get(name).is_none() {
            self.fail(name, "is required");
        }
        v
    }

    /// An optional commit SHA: 7 to 40 hexadecimal digits.
    fn sha(&mut self, name: &str) -> Option<String> {
        let s = self.text(name)?.to_ascii_lowercase();
        if (7..=40).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit()) {
            Some(s)
        } else {
            let shown = crate::quote::excerpt(&s);
            self.fail(
                name,
                format!("{shown:?} is not a commit SHA (7 to 40 hexadecimal digits)"),
            );
            None
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// How pushed names meet the configuration.
pub struct Context<'a> {
    /// The GitHub section: services, their repositories, the incident label.
    pub github: &'a GithubConfig,
    /// The service named on the URL (`?service=`), for senders whose body names none in
    /// Barometer's terms (PagerDuty, Opsgenie).
    pub service: Option<&'a str>,
}

impl Context<'_> {
    /// The repository of `service`, checking it is configured (when any service is).
    fn repo_of(&self, service: &str, fields: &mut Fields<'_>, field: &str) -> String {
        let services = &self.github.services;
        match services.iter().find(|s| s.name == service) {
            Some(s) => s.repo.clone(),
            None if services.is_empty() => String::new(),
            None => {
                let known: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
                let shown = crate::quote::excerpt(service);
                fields.fail(
                    field,
                    format!(
                        "{shown:?} is not a configured service; known: {}",
                        known.join(", ")
                    ),
                );
                String::new()
            }
        }
    }
}

/// Reads a pushed body: which shape it is, then every field, naming each bad one.
pub fn parse(body: &[u8], ctx: &Context<'_>) -> Result<Pushed, Vec<FieldError>> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        vec![FieldError {
            field: "(body)".into(),
            reason: format!("not JSON: {e}"),
        }]
    })?;
    if !value.is_object() {
        return Err(vec![FieldError {
            field: "(body)".into(),
            reason: format!("must be a JSON object, not {}", kind_of(&value)),
        }]);
    }
    if value.get("event").is_some_and(Value::is_object) {
        return pagerduty(&value, ctx);
    }
    if value.get("alert").is_some_and(Value::is_object) {
        return opsgenie(&value, ctx);
    }
    let mut f = Fields::new(&value, "");
    match f.text("type").as_deref() {
        Some("deployment") => deployment(f, ctx),
        Some("incident") => incident(f, ctx),
        Some(other) => {
            let shown = crate::quote::excerpt(other);
            f.fail(
                "type",
                format!("{shown:?} is not \"deployment\" or \"incident\""),
            );
            Err(f.errors)
        }
        None => {
            f.fail("type", "is required: \"deployment\" or \"incident\" (or send PagerDuty's or Opsgenie's own webhook body)");
            Err(f.errors)
        }
    }
}

fn deployment(mut f: Fields<'_>, ctx: &Context<'_>) -> Result<Pushed, Vec<FieldError>> {
    let service = f.required_text("service");
    let environment = f.text("environment").unwrap_or_else(|| "production".into());
    let sha = f.sha("sha");
    let version = f.text("version");
    if sha.is_none() && version.is_none() && f.get("sha").is_none() {
        f.fail(
            "sha",
            "give the deployed commit (sha) or the version (version)",
        );
    }
    let state = match f.required_text("status").as_deref() {
        Some("success" | "succeeded" | "healthy") => Some(DeployState::Success),
        Some("failure" | "failed") => Some(DeployState::Failure),
        Some("error" | "degraded") => Some(DeployState::Error),
        Some("pending" | "in_progress" | "queued" | "running" | "progressing") => {
            Some(DeployState::Pending)
        }
        Some(other) => {
            let shown = crate::quote::excerpt(other);
            f.fail(
                "status",
                format!("{shown:?} is not one of success, failure, error, pending"),
            );
            None
        }
        None => None,
    };
    let time = f.required_time("time");
    let started = f.time("started");
    let own_id = f.text("id");
    let repo = service
        .as_deref()
        .map(|s| ctx.repo_of(s, &mut f, "service"))
        .unwrap_or_default();
    let (Some(service), Some(state), Some(time)) = (service, state, time) else {
        return Err(f.errors);
    };
    if !f.errors.is_empty() {
        return Err(f.errors);
    }
    let git_ref = version.clone().or_else(|| sha.clone()).unwrap_or_default();
    // Without an id of its own, a deployment is what was deployed where, and when.
    let own_id = own_id
        .unwrap_or_else(|| format!("{service}\0{environment}\0{git_ref}\0{}", time.to_rfc3339()));
    Ok(Pushed::Deployment(Deployment {
        repo,
        service,
        environment,
        id: numeric_id("deployment", &own_id),
        source: DeploySource::Pushed,
        sha: sha.unwrap_or_default(),
        git_ref,
        created_at: started.unwrap_or(time).min(time),
        state,
        finished_at: (state != DeployState::Pending).then_some(time),
    }))
}

/// The fields every incident shape must have, once all were read: the service's repository
/// (checked against the configuration, reported under `service_field`) and the required values.
fn required_incident(
    mut f: Fields<'_>,
    ctx: &Context<'_>,
    service_field: &str,
    (own_id, service, opened): (Option<String>, Option<String>, Option<DateTime<Utc>>),
) -> Result<(String, String, String, DateTime<Utc>), Vec<FieldError>> {
    let repo = service
        .as_deref()
        .map(|s| ctx.repo_of(s, &mut f, service_field))
        .unwrap_or_default();
    match (own_id, service, opened) {
        (Some(id), Some(service), Some(opened)) if f.errors.is_empty() => {
            Ok((repo, id, service, opened))
        }
        _ => Err(f.errors),
    }
}

/// The incident record every shape ends in.
#[allow(clippy::too_many_arguments)]
fn incident_record(
    ctx: &Context<'_>,
    repo: String,
    service: &str,
    own_id: &str,
    title: Option<String>,
    severity: Option<String>,
    names: (Option<String>, Option<String>),
    opened: DateTime<Utc>,
    resolved: Option<DateTime<Utc>>,
) -> Pushed {
    // The text the attribution reads (`deployment N`, a SHA), as in a GitHub incident's body.
    let mut body = Vec::new();
    if let Some(d) = names.0 {
        body.push(format!("Names deployment {}", numeric_id("deployment", &d)));
    }
    if let Some(sha) = names.1 {
        body.push(format!("Names commit {sha}"));
    }
    let mut labels = vec![
        ctx.github.incident_label.clone(),
        format!("service:{service}"),
    ];
    if let Some(s) = severity {
        labels.push(format!("severity:{s}"));
    }
    Pushed::Incident(Incident {
        repo,
        number: numeric_id("incident", own_id),
        title: title.unwrap_or_else(|| format!("Incident {own_id}")),
        body: body.join("\n"),
        labels,
        created_at: opened,
        closed_at: resolved,
    })
}

fn incident(mut f: Fields<'_>, ctx: &Context<'_>) -> Result<Pushed, Vec<FieldError>> {
    let own_id = f.required_text("id");
    let service = f.required_text("service");
    let opened = f.required_time("opened");
    let resolved = f.time("resolved");
    let severity = f.text("severity");
    let title = f.text("title");
    let deployment = f.text("deployment");
    let sha = f.sha("sha");
    if let (Some(o), Some(r)) = (opened, resolved) {
        if r < o {
            f.fail("resolved", "is before opened");
        }
    }
    let (repo, own_id, service, opened) =
        required_incident(f, ctx, "service", (own_id, service, opened))?;
    Ok(incident_record(
        ctx,
        repo,
        &service,
        &own_id,
        title,
        severity,
        (deployment, sha),
        opened,
        resolved,
    ))
}

/// PagerDuty V3 webhooks (PagerDuty developer docs, "V3 Webhooks": `event.event_type`,
/// `event.occurred_at`, `event.data` an incident with `id`, `title`, `created_at`, `service`,
/// `priority`, `urgency`). `incident.resolved` resolves it at `occurred_at`.
fn pagerduty(value: &Value, ctx: &Context<'_>) -> Result<Pushed, Vec<FieldError>> {
    let mut f = Fields::new(&value["event"], "event.");
    let kind = f.required_text("event_type").unwrap_or_default();
    if !kind.starts_with("incident.") {
        f.fail(
            "event_type",
            format!("{kind:?} is not an incident event (incident.triggered, incident.resolved …)"),
        );
    }
    let own_id = f.required_text("data.id");
    let title = f.text("data.title");
    let opened = f.required_time("data.created_at");
    let occurred = f.required_time("occurred_at");
    let severity = f
        .text("data.priority.summary")
        .or_else(|| f.text("data.urgency"));
    let service = match ctx.service {
        Some(s) => Some(s.to_owned()),
        None => f.required_text("data.service.summary"),
    };
    let field = if ctx.service.is_some() {
        "?service"
    } else {
        "data.service.summary"
    };
    let (repo, own_id, service, opened) =
        required_incident(f, ctx, field, (own_id, service, opened))?;
    let resolved = (kind == "incident.resolved").then_some(occurred).flatten();
    Ok(incident_record(
        ctx,
        repo,
        &service,
        &format!("pagerduty:{own_id}"),
        title,
        severity,
        (None, None),
        opened,
        resolved,
    ))
}

/// Opsgenie's webhook integration (Opsgenie docs, "Webhook integration": `action` and an
/// `alert` with `alertId`, `message`, `tags`, `priority`, `createdAt` and `updatedAt` in
/// milliseconds). The service is `?service=` or a `service:<name>` tag; `Close` resolves it.
fn opsgenie(value: &Value, ctx: &Context<'_>) -> Result<Pushed, Vec<FieldError>> {
    let mut f = Fields::new(value, "");
    let action = f.required_text("action").unwrap_or_default();
    let own_id = f.required_text("alert.alertId");
    let title = f.text("alert.message");
    let opened = f.required_time("alert.createdAt");
    let updated = f.time("alert.updatedAt");
    let severity = f.text("alert.priority");
    let tagged = value
        .pointer("/alert/tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|t| t.strip_prefix("service:"))
        .map(str::to_owned);
    let service = ctx.service.map(str::to_owned).or(tagged);
    if service.is_none() {
        f.fail(
            "alert.tags",
            "name the service with a service:<name> tag, or ?service=<name> on the URL",
        );
    }
    let (repo, own_id, service, opened) =
        required_incident(f, ctx, "alert.tags", (own_id, service, opened))?;
    let resolved = (action == "Close").then(|| updated.unwrap_or(opened));
    Ok(incident_record(
        ctx,
        repo,
        &service,
        &format!("opsgenie:{own_id}"),
        title,
        severity,
        (None, None),
        opened,
        resolved,
    ))
}
