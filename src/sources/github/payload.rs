//! The parts of GitHub's REST payloads Barometer reads (API version 2022-11-28). Unknown fields
//! are ignored, so GitHub adding fields never breaks a sync; a missing required field is a
//! malformed answer, reported with the endpoint.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// `GET /repos/{o}/{r}`.
#[derive(Debug, Deserialize)]
pub struct Repo {
    /// The default branch (workflow runs are read on it).
    pub default_branch: String,
}

/// `GET /repos/{o}/{r}/deployments` item.
#[derive(Debug, Deserialize)]
pub struct Deployment {
    /// Id.
    pub id: u64,
    /// Deployed commit.
    pub sha: String,
    /// Ref.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Environment.
    pub environment: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// `GET /repos/{o}/{r}/deployments/{id}/statuses` item.
#[derive(Debug, Deserialize)]
pub struct DeploymentStatus {
    /// `error`, `failure`, `inactive`, `in_progress`, `queued`, `pending` or `success`.
    pub state: String,
    /// When the status was posted.
    pub created_at: DateTime<Utc>,
}

/// A label.
#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    /// Name.
    pub name: String,
}

/// A branch reference of a pull request.
#[derive(Debug, Deserialize)]
pub struct Branch {
    /// Branch name.
    #[serde(rename = "ref")]
    pub git_ref: String,
}

/// `GET /repos/{o}/{r}/pulls` item.
#[derive(Debug, Deserialize)]
pub struct Pull {
    /// Number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// Last change; the listing is walked newest first by it.
    pub updated_at: DateTime<Utc>,
    /// Merged, if it was.
    pub merged_at: Option<DateTime<Utc>>,
    /// The commit the merge made on the base branch.
    pub merge_commit_sha: Option<String>,
    /// Head branch.
    pub head: Branch,
    /// Base branch.
    pub base: Branch,
}

/// A git identity with a date.
#[derive(Debug, Deserialize)]
pub struct GitActor {
    /// When.
    pub date: DateTime<Utc>,
}

/// The git part of a commit.
#[derive(Debug, Deserialize)]
pub struct GitCommit {
    /// Author (date = author time).
    pub author: Option<GitActor>,
    /// Committer.
    pub committer: Option<GitActor>,
}

/// A parent reference.
#[derive(Debug, Deserialize)]
pub struct Parent {
    /// SHA.
    pub sha: String,
}

/// A commit, as `pulls/{n}/commits`, `commits`, `commits/{ref}` and `compare` return it.
#[derive(Debug, Deserialize)]
pub struct Commit {
    /// SHA.
    pub sha: String,
    /// Git data.
    pub commit: GitCommit,
    /// Parents.
    #[serde(default)]
    pub parents: Vec<Parent>,
}

impl Commit {
    /// Author time, else committer time.
    pub fn authored_at(&self) -> Option<DateTime<Utc>> {
        self.commit
            .author
            .as_ref()
            .or(self.commit.committer.as_ref())
            .map(|a| a.date)
    }

    /// Into the model's commit.
    pub fn to_model(&self, repo: &str) -> Option<crate::model::Commit> {
        let authored = self.authored_at()?;
        Some(crate::model::Commit {
            repo: repo.to_owned(),
            sha: self.sha.clone(),
            parents: self.parents.iter().map(|p| p.sha.clone()).collect(),
            authored_at: authored,
            committed_at: self.commit.committer.as_ref().map_or(authored, |c| c.date),
            pulls: None,
            files: None,
        })
    }
}

/// `GET /repos/{o}/{r}/compare/{base}...{head}`.
#[derive(Debug, Deserialize)]
pub struct Compare {
    /// `ahead`, `behind`, `identical` or `diverged`.
    pub status: String,
    /// The merge base (for a rollback: the deployed commit itself).
    pub merge_base_commit: Commit,
    /// Commits reachable from head and not from base, oldest first (at most 250 per page).
    #[serde(default)]
    pub commits: Vec<Commit>,
}

/// `GET /repos/{o}/{r}/pulls/{n}/files` item.
#[derive(Debug, Deserialize)]
pub struct File {
    /// Path.
    pub filename: String,
}

/// `GET /repos/{o}/{r}/commits/{sha}/pulls` item.
#[derive(Debug, Deserialize)]
pub struct PullRef {
    /// Number.
    pub number: u64,
    /// Merged, if it was.
    pub merged_at: Option<DateTime<Utc>>,
}

/// `GET /repos/{o}/{r}/actions/runs`.
#[derive(Debug, Deserialize)]
pub struct WorkflowRuns {
    /// Runs.
    pub workflow_runs: Vec<WorkflowRun>,
}

/// A workflow run.
#[derive(Debug, Deserialize)]
pub struct WorkflowRun {
    /// Id.
    pub id: u64,
    /// Workflow name.
    pub name: Option<String>,
    /// Workflow file path.
    #[serde(default)]
    pub path: String,
    /// Branch.
    pub head_branch: Option<String>,
    /// Commit.
    pub head_sha: String,
    /// `completed` …
    pub status: Option<String>,
    /// `success` …
    pub conclusion: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// For a completed run, when it completed.
    pub updated_at: DateTime<Utc>,
}

/// `GET /repos/{o}/{r}/releases` item.
#[derive(Debug, Deserialize)]
pub struct Release {
    /// Id.
    pub id: u64,
    /// Tag.
    pub tag_name: String,
    /// Draft releases are not deployments.
    #[serde(default)]
    pub draft: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Published.
    pub published_at: Option<DateTime<Utc>>,
}

/// `GET /repos/{o}/{r}/issues` item (pull requests are issues too, with `pull_request` set).
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    /// Number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it is in its state: `completed`, `not_planned`, `reopened` (while open again).
    #[serde(default)]
    pub state_reason: Option<String>,
    /// Set for pull requests.
    pub pull_request: Option<serde_json::Value>,
}
