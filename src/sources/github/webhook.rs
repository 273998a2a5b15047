//! GitHub webhook deliveries applied through the polling code: a delivery names one item
//! (a deployment, a pull request, an issue, a workflow run, a release) and is handed to the same
//! `apply_*` function a listing page hands that item to, so a figure never depends on whether an
//! event was pushed or polled. What a payload does not carry (a deployment's statuses, a pull
//! request's commits, a release's commit, the commit graph) is read from the API exactly as a
//! sync reads it.
//!
//! The HTTP side (signature, body limit, delivery ids, status codes) is `serve::webhooks`; this
//! file only says what a verified delivery changes in the store.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{payload, GithubError, GithubSync};
use crate::store::{Cursor, Delivery, WriteBatch};

/// The source name under which GitHub delivery ids and per-repository freshness are kept.
pub const WEBHOOK_SOURCE: &str = "github-webhook";

/// The events `POST /webhooks/github` applies (GitHub's `X-GitHub-Event` names).
pub const EVENTS: &[&str] = &[
    "deployment",
    "deployment_status",
    "pull_request",
    "push",
    "issues",
    "workflow_run",
    "release",
];

/// Why a verified delivery could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The body is not the JSON GitHub documents for the event.
    #[error("{event} payload: {message}")]
    Malformed {
        /// The event.
        event: String,
        /// The parse error (serde names the field and the position).
        message: String,
    },
    /// Reading the details from GitHub, or the store, failed; nothing of the delivery was kept,
    /// so GitHub's redelivery (or the next sync) applies it.
    #[error(transparent)]
    Github(#[from] GithubError),
}

impl From<crate::store::StoreError> for WebhookError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Github(GithubError::Store(e))
    }
}

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Outcome {
    /// Applied (the store may or may not have changed: an item already stored is an upsert).
    Applied {
        /// The configured repository it concerned.
        repo: String,
        /// Why the change sets of its deployments were left to the next sync (the compare
        /// API failed after the delivery itself was stored).
        #[serde(skip_serializing_if = "Option::is_none")]
        deferred: Option<String>,
    },
    /// Accepted and remembered, but nothing of it counts (why).
    Ignored {
        /// Why.
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
struct Repository {
    full_name: String,
    #[serde(default)]
    default_branch: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    repository: Option<Repository>,
}

#[derive(Debug, Deserialize)]
struct DeploymentEvent {
    deployment: payload::Deployment,
}

#[derive(Debug, Deserialize)]
struct PullRequestEvent {
    pull_request: payload::Pull,
}

#[derive(Debug, Deserialize)]
struct IssuesEvent {
    issue: payload::Issue,
}

#[derive(Debug, Deserialize)]
struct WorkflowRunEvent {
    workflow_run: payload::WorkflowRun,
}

#[derive(Debug, Deserialize)]
struct ReleaseEvent {
    release: payload::Release,
}

fn parse<T: DeserializeOwned>(event: &str, body: &[u8]) -> Result<T, WebhookError> {
    serde_json::from_slice(body).map_err(|e| WebhookError::Malformed {
        event: event.to_owned(),
        message: e.to_string(),
    })
}

impl GithubSync<'_> {
    /// Applies one verified delivery `id` of `event` with `body`, received at `at`: the items it
    /// names go through the polling code, and the delivery id is written in the same batch, so a
    /// redelivery finds it (and changes nothing) and a failure keeps nothing half applied.
    /// Deployments then get their change sets as a sync computes them.
    pub async fn apply_webhook(
        &mut self,
        event: &str,
        id: &str,
        body: &[u8],
        at: DateTime<Utc>,
    ) -> Result<Outcome, WebhookError> {
        let envelope: Envelope = parse(event, body)?;
        let mut batch = WriteBatch::new();
        batch.remember_delivery(
            super::webhook::WEBHOOK_SOURCE,
            id,
            Delivery {
                event: event.to_owned(),
                received_at: at,
            },
        );
        let ignored = |reason: String| Ok(Outcome::Ignored { reason });
        let outcome = match envelope
            .repository
            .as_ref()
            .and_then(|r| self.repo_named(&r.full_name))
        {
            _ if !EVENTS.contains(&event) => ignored(format!("{event} events are not used")),
            None => ignored(match &envelope.repository {
                Some(r) => format!(
                    "repository {:?} is not configured",
                    crate::quote::excerpt(&r.full_name)
                ),
                None => "the payload names no repository".to_owned(),
            }),
            Some(repo) => self
                .apply_event(event, &envelope, &repo, body, &mut batch)
                .await
                .map(|()| Outcome::Applied {
                    repo,
                    deferred: None,
                }),
        }?;
        if let Outcome::Applied { repo, .. } = &outcome {
            // Freshness: when this repository last told us something.
            batch.set_cursor(
                WEBHOOK_SOURCE,
                &format!("{repo}/last_event"),
                Cursor {
                    position: Some(event.to_owned()),
                    updated_at: Some(at),
                    ..Cursor::default()
                },
            );
        }
        self.commit(batch)?;
        let mut outcome = outcome;
        if let Outcome::Applied { repo, deferred } = &mut outcome {
            if matches!(
                event,
                "deployment" | "deployment_status" | "workflow_run" | "release"
            ) {
                // The delivery is stored and remembered; a change set that cannot be read now
                // is read by the next sync's graph step, which looks for exactly that.
                if let Err(e) = self.graph(repo).await {
                    tracing::warn!(error = %e, repo = %repo, "change sets left to the next sync");
                    *deferred = Some(e.to_string());
                }
            }
        }
        Ok(outcome)
    }

    /// Reads the change sets of `repo`'s deployments that have none yet, as a sync's graph step
    /// does: for deployments reported to `POST /webhooks/events` with a SHA.
    pub async fn change_sets(&mut self, repo: &str) -> Result<(), GithubError> {
        self.graph(repo).await
    }

    /// The configured spelling of `full_name` (GitHub treats names case-insensitively).
    fn repo_named(&self, full_name: &str) -> Option<String> {
        self.config
            .repos()
            .into_iter()
            .find(|r| r.eq_ignore_ascii_case(full_name))
            .map(str::to_owned)
    }

    async fn apply_event(
        &mut self,
        event: &str,
        envelope: &Envelope,
        repo: &str,
        body: &[u8],
        batch: &mut WriteBatch,
    ) -> Result<(), WebhookError> {
        match event {
            // `deployment_status` carries its deployment too: either one re-reads the statuses
            // the way a sync does, so the final state is the one polling would store.
            "deployment" | "deployment_status" => {
                let e: DeploymentEvent = parse(event, body)?;
                self.apply_deployment(repo, e.deployment, batch).await?;
            }
            "pull_request" => {
                let e: PullRequestEvent = parse(event, body)?;
                self.apply_pull(repo, e.pull_request, self.with_files(repo), batch)
                    .await?;
            }
            "issues" => {
                if envelope.action.as_deref() == Some("deleted") {
                    return Ok(());
                }
                let e: IssuesEvent = parse(event, body)?;
                self.apply_incident(repo, e.issue.clone(), batch)?;
                let label = self
                    .config
                    .bug_labels
                    .iter()
                    .find(|b| e.issue.labels.iter().any(|l| l.name == **b))
                    .cloned();
                if let Some(label) = label {
                    self.apply_bug(repo, &label, e.issue, batch)?;
                }
            }
            "workflow_run" => {
                let e: WorkflowRunEvent = parse(event, body)?;
                let branch = envelope
                    .repository
                    .as_ref()
                    .and_then(|r| r.default_branch.clone())
                    .ok_or_else(|| WebhookError::Malformed {
                        event: event.to_owned(),
                        message: "repository.default_branch is missing".into(),
                    })?;
                self.apply_workflow_run(repo, &branch, e.workflow_run, batch);
            }
            "release" => {
                let e: ReleaseEvent = parse(event, body)?;
                self.apply_release(repo, e.release, batch).await?;
            }
            // A push lists commits without their parents; the commit graph is read from the
            // compare API when a deployment needs it, so a push only counts as freshness.
            _ => {}
        }
        Ok(())
    }
}
