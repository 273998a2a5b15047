//! Delivering the digest: files written atomically, a webhook posted with retries, a record in
//! the store of what went out, and the weekly schedule of the daemon.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{build, render, week_for, Digest, DigestError};
use crate::app::App;
use crate::config::{DigestConfig, Secret, WebhookConfig, WebhookFormat};
use crate::health::{DigestOutcomes, Readiness};
use crate::model::Calendar;
use crate::retry::{self, Cancelled, RetryPolicy, Retryable, Verdict};
use crate::store::{Cursor, Store, WriteBatch};

/// The store's cursor source for digests (the cursor names are the targets).
pub const SOURCE: &str = "digest";
/// Retries of a webhook post: four attempts, half a second doubling; a `Retry-After` is honoured
/// up to a minute.
const WEBHOOK_RETRY: RetryPolicy = RetryPolicy {
    attempts: 4,
    base_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(60),
};

/// What a run delivered.
#[derive(Debug, Clone, Default)]
pub struct Delivered {
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Whether the webhook was posted.
    pub webhook: bool,
    /// Whether the webhook was skipped because this week's digest already went out.
    pub webhook_already_sent: bool,
}

/// Writes the configured formats into `dir`; each file appears whole or not at all (written
/// beside and renamed), and a rerun for the same week and data writes the same bytes.
pub fn write_files(
    dir: &Path,
    config: &DigestConfig,
    d: &Digest,
) -> Result<Vec<PathBuf>, DigestError> {
    let io = |path: &Path, source| DigestError::Write {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut out = Vec::new();
    let mut files: Vec<(&str, String)> = Vec::new();
    if config.markdown {
        files.push(("md", render::markdown(d)));
    }
    if config.html {
        files.push(("html", render::html(d)));
    }
    if config.json {
        let json =
            serde_json::to_string_pretty(d).map_err(|e| io(dir, std::io::Error::other(e)))?;
        files.push(("json", json + "\n"));
    }
    for (ext, body) in files {
        let path = dir.join(format!("barometer-digest-{}.{ext}", d.iso_week));
        let tmp = dir.join(format!(".barometer-digest-{}.{ext}.tmp", d.iso_week));
        std::fs::write(&tmp, body).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        out.push(path);
    }
    Ok(out)
}

/// The webhook's URL, from its environment variable.
fn webhook_url(hook: &WebhookConfig) -> Result<(Secret, reqwest::Url), DigestError> {
    let raw = std::env::var(&hook.url_env).map_err(|_| {
        DigestError::WebhookConfig(format!(
            "digest.webhook_url_env names {}, which is not set",
            hook.url_env
        ))
    })?;
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| {
        DigestError::WebhookConfig(format!(
            "the variable {} does not hold a URL ({e})",
            hook.url_env
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DigestError::WebhookConfig(format!(
            "the variable {} holds a {} URL; http or https is needed",
            hook.url_env,
            url.scheme()
        )));
    }
    Ok((Secret::new(raw), url))
}

/// Slack's limit on a `markdown` block's text (docs.slack.dev, "Markdown block").
const SLACK_MARKDOWN_MAX: usize = 12_000;

/// The digest cut to whole sections within `max` characters, saying what was left out.
fn cap_markdown(md: &str, max: usize) -> String {
    if md.chars().count() <= max {
        return md.to_owned();
    }
    const NOTE: &str = "\n_The rest of this digest is in its file and at /api/v1/digest._\n";
    let budget = max.saturating_sub(NOTE.chars().count());
    let mut out = String::new();
    for (i, section) in md.split("\n## ").enumerate() {
        let piece = if i == 0 {
            section.to_owned()
        } else {
            format!("\n## {section}")
        };
        if out.chars().count() + piece.chars().count() > budget {
            break;
        }
        out.push_str(&piece);
    }
    if out.is_empty() {
        out = md.chars().take(budget).collect();
    }
    out + NOTE
}

/// The body a webhook gets.
pub fn payload(format: WebhookFormat, d: &Digest) -> serde_json::Value {
    match format {
        WebhookFormat::Slack => {
            // `text` for chat servers that render Markdown in it (Mattermost, Rocket.Chat) and
            // as Slack's notification fallback; Slack itself renders the `markdown` block
            // (standard Markdown, tables included), which holds at most 12 000 characters.
            let md = render::markdown(d);
            serde_json::json!({
                "text": md,
                "blocks": [{"type": "markdown", "text": cap_markdown(&md, SLACK_MARKDOWN_MAX)}],
            })
        }
        WebhookFormat::Json => serde_json::json!({
            "iso_week": d.iso_week,
            "week": d.week,
            "markdown": render::markdown(d),
            "html": render::html(d),
            "digest": d,
        }),
    }
}

/// Why one post of the webhook failed.
#[derive(Debug)]
enum PostError {
    /// An error status, and the `Retry-After` it came with.
    Status(reqwest::StatusCode, Option<Duration>),
    /// No answer: timeout, connection refused… (without the URL, which may hold the secret).
    Transport(String),
    /// Shutdown came during a wait.
    Cancelled,
}

impl std::fmt::Display for PostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PostError::Status(status, _) => write!(f, "HTTP {status}"),
            PostError::Transport(e) => f.write_str(e),
            PostError::Cancelled => f.write_str("cancelled by shutdown"),
        }
    }
}

impl From<Cancelled> for PostError {
    fn from(_: Cancelled) -> Self {
        PostError::Cancelled
    }
}

/// A 429 or 5xx may pass; any other 4xx will not, however often it is sent.
impl Retryable for PostError {
    fn verdict(&self) -> Verdict {
        match self {
            PostError::Status(s, after) if s.as_u16() == 429 || s.is_server_error() => {
                after.map_or(Verdict::Backoff, Verdict::After)
            }
            PostError::Status(..) | PostError::Cancelled => Verdict::Fail,
            PostError::Transport(_) => Verdict::Backoff,
        }
    }
}

/// Posts the digest; retries timeouts, transport errors, 429 and 5xx with exponential backoff
/// and jitter (honouring `Retry-After` up to a minute); a 4xx other than 429 fails at once.
pub async fn post_webhook(hook: &WebhookConfig, d: &Digest) -> Result<(), DigestError> {
    let (_secret, url) = webhook_url(hook)?;
    let host = url.host_str().unwrap_or("?").to_owned();
    let fail = |reason: String| DigestError::Webhook {
        host: host.clone(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(hook.timeout)
        .user_agent(concat!("barometer/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(e.without_url().to_string()))?;
    let body = payload(hook.format, d);
    let post = || async {
        // `without_url`: the URL may hold the webhook's secret.
        let r = client
            .post(url.clone())
            .json(&body)
            .send()
            .await
            .map_err(|e| PostError::Transport(e.without_url().to_string()))?;
        let status = r.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = r
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Err(PostError::Status(status, retry_after))
    };
    // The daemon's schedule drops this future on shutdown, which ends any wait with it.
    let mut backoff = WEBHOOK_RETRY.backoff();
    retry::retry(&mut backoff, &CancellationToken::new(), &host, post)
        .await
        .map_err(|e| match e.verdict() {
            Verdict::Fail => fail(e.to_string()),
            _ => fail(format!("{e} after {} attempts", backoff.attempt())),
        })
}

/// The ISO week a target last received, from the store.
fn last_sent(store: &Store, target: &str) -> Result<Option<String>, DigestError> {
    Ok(store.cursor(SOURCE, target)?.and_then(|c| c.position))
}

fn mark(store: &Store, target: &str, iso_week: &str) -> Result<(), DigestError> {
    let mut batch = WriteBatch::new();
    batch.set_cursor(
        SOURCE,
        target,
        Cursor {
            position: Some(iso_week.to_owned()),
            updated_at: Some(Utc::now()),
            ..Cursor::default()
        },
    );
    store.commit(batch)?;
    Ok(())
}

/// Everything a run needs.
#[derive(Clone)]
pub struct DigestJob {
    /// The application: configuration, store and the shared weekly view.
    pub app: App,
    /// Where outcomes are counted (read by `/metrics`).
    pub outcomes: Arc<DigestOutcomes>,
}

impl DigestJob {
    /// Builds the digest of `week_ms`, writes its files and posts the webhook — unless the
    /// webhook already got this week's digest and `resend` is false. Records what went out.
    pub async fn run(&self, week_ms: i64, resend: bool) -> Result<Delivered, DigestError> {
        let job = self.clone();
        let built = tokio::task::spawn_blocking(move || build(&job.app, week_ms))
            .await
            .map_err(|e| DigestError::Task(e.to_string()))?;
        let outcome = self.deliver(built, resend).await;
        match &outcome {
            Ok(_) => self.outcomes.succeeded(Utc::now()),
            // Nothing stored for the week yet (a new install): nothing has failed.
            Err(e @ (DigestError::Empty | DigestError::NoWeek(..))) => {
                tracing::info!(reason = %e, week = %super::day(self.app.calendar(), week_ms), "no weekly digest yet");
            }
            Err(e) => {
                self.outcomes.failed();
                tracing::error!(error = %e, week = %super::day(self.app.calendar(), week_ms), "weekly digest failed");
            }
        }
        outcome
    }

    async fn deliver(
        &self,
        built: Result<Digest, DigestError>,
        resend: bool,
    ) -> Result<Delivered, DigestError> {
        let d = built?;
        let mut done = Delivered {
            files: write_files(&self.app.config.digest.out_dir, &self.app.config.digest, &d)?,
            ..Delivered::default()
        };
        mark(&self.app.store, "files", &d.iso_week)?;
        if let Some(hook) = &self.app.config.digest.webhook {
            if !resend && last_sent(&self.app.store, "webhook")?.as_deref() == Some(&d.iso_week) {
                done.webhook_already_sent = true;
            } else {
                post_webhook(hook, &d).await?;
                mark(&self.app.store, "webhook", &d.iso_week)?;
                done.webhook = true;
            }
        }
        tracing::info!(
            week = %d.iso_week,
            files = done.files.len(),
            webhook = done.webhook,
            "weekly digest delivered"
        );
        Ok(done)
    }

    /// Whether this week's digest is due at `now` and not yet delivered everywhere.
    fn due(&self, now: DateTime<Utc>) -> Result<Option<i64>, DigestError> {
        let cal = self.app.calendar();
        let week = week_for(cal, now.timestamp_millis());
        let iso = super::iso_week(cal, week);
        if now < due_at(&self.app.config.digest, cal, now) {
            return Ok(None);
        }
        let files_done = last_sent(&self.app.store, "files")?.is_some_and(|w| w >= iso);
        let hook_done = self.app.config.digest.webhook.is_none()
            || last_sent(&self.app.store, "webhook")?.is_some_and(|w| w >= iso);
        Ok((!files_done || !hook_done).then_some(week))
    }
}

/// When the digest of the week before `now`'s is due: `weekday` at `hour` of `now`'s week, in
/// the analysis time zone.
pub fn due_at(config: &DigestConfig, calendar: Calendar, now: DateTime<Utc>) -> DateTime<Utc> {
    let week = calendar.week_start(now.timestamp_millis());
    let due = week
        + i64::from(config.weekday.num_days_from_monday()) * crate::analysis::DAY_MS
        + i64::from(config.hour) * 3_600_000;
    DateTime::from_timestamp_millis(due).unwrap_or(now)
}

/// The daemon's digest schedule: checks every few minutes whether the last complete week's
/// digest is due and not yet delivered (so a daemon that was down catches up when it starts),
/// retries a failure at the next check, and stops when `shutdown` is cancelled.
pub async fn schedule(
    job: DigestJob,
    mut ready: tokio::sync::watch::Receiver<Readiness>,
    shutdown: CancellationToken,
) {
    const CHECK: Duration = Duration::from_secs(300);
    // Wait for the data (the demo seeding) before the first check.
    loop {
        if *ready.borrow() == Readiness::Ready {
            break;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = ready.changed() => if changed.is_err() { return },
        }
    }
    loop {
        match job.due(crate::clock::now()) {
            Ok(Some(week)) => {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = job.run(week, false) => {}
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot check the digest schedule"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(CHECK) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{cap_markdown, PostError, Retryable, Verdict};
    use std::time::Duration;

    #[test]
    fn only_429_5xx_and_transport_errors_are_retried() {
        let status = |code| reqwest::StatusCode::from_u16(code).expect("valid status");
        let after = Duration::from_secs(7);
        assert_eq!(
            PostError::Status(status(429), Some(after)).verdict(),
            Verdict::After(after)
        );
        assert_eq!(
            PostError::Status(status(503), None).verdict(),
            Verdict::Backoff
        );
        assert_eq!(
            PostError::Transport("timed out".into()).verdict(),
            Verdict::Backoff
        );
        for code in [400, 401, 404, 410] {
            assert_eq!(
                PostError::Status(status(code), None).verdict(),
                Verdict::Fail
            );
        }
        assert_eq!(PostError::Cancelled.verdict(), Verdict::Fail);
    }

    #[test]
    fn a_long_digest_is_cut_at_a_section_within_the_limit() {
        let md = format!(
            "# Digest\n\n## A\n{}\n## B\n{}\n",
            "a".repeat(50),
            "b".repeat(100)
        );
        assert_eq!(cap_markdown(&md, 1_000), md);
        let cut = cap_markdown(&md, 150);
        assert!(cut.chars().count() <= 150, "{}", cut.len());
        assert!(cut.contains("## A") && !cut.contains("## B"), "{cut}");
        assert!(cut.ends_with("at /api/v1/digest._\n"));
    }
}
