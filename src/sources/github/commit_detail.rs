//! Two reads of the commit graph beyond the compare API: the commits of a time window before the
//! first deployment seen of a service, and the files of a commit pushed without a pull request
//! (in a monorepo, a direct push belongs to the services whose paths its own files match).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use super::client::{Client, Fetched};
use super::{payload, GithubError};

/// Most pages of the first deployment's window (100 commits each): a guard against a busy
/// repository and a long `first_deploy_lookback`.
const MAX_WINDOW_PAGES: usize = 10;

/// `GET /repos/{o}/{r}/commits/{ref}`: only the files are read.
#[derive(Debug, Deserialize)]
struct WithFiles {
    #[serde(default)]
    files: Vec<payload::File>,
}

/// The commits reachable from `sha` committed at or after `since`, newest first
/// (`GET /repos/{o}/{r}/commits?sha=&since=`).
pub(super) async fn window(
    client: &Client,
    repo: &str,
    sha: &str,
    since: DateTime<Utc>,
) -> Result<Vec<payload::Commit>, GithubError> {
    let since = since.to_rfc3339_opts(SecondsFormat::Secs, true);
    let url = format!("/repos/{repo}/commits?sha={sha}&since={since}&per_page=100");
    let pages =
        super::listing::all_pages::<Vec<payload::Commit>>(client, url, MAX_WINDOW_PAGES).await?;
    Ok(pages.into_iter().flatten().collect())
}

/// The paths a commit touched (`GET /repos/{o}/{r}/commits/{sha}`; GitHub lists the first 300
/// files there, enough to tell a direct push's services apart).
pub(super) async fn files(
    client: &Client,
    repo: &str,
    sha: &str,
) -> Result<Vec<String>, GithubError> {
    match client
        .get::<WithFiles>(&format!("/repos/{repo}/commits/{sha}"), None)
        .await?
    {
        Fetched::Fresh { body, .. } => Ok(body.files.into_iter().map(|f| f.filename).collect()),
        Fetched::NotModified => Ok(Vec::new()),
    }
}
