//! A repository's `CODEOWNERS`, read where GitHub looks for it — `.github/CODEOWNERS`, then
//! `CODEOWNERS`, then `docs/CODEOWNERS`, the first found being used (GitHub docs, "About code
//! owners") — through the contents API, and stored as text for the read side to derive team
//! ownership from.
//!
//! The file found last time is asked for first, conditionally with its `ETag`: an unchanged file
//! costs one `304`, which GitHub does not count against the rate limit. Only when it is gone (a
//! `404`) are the three places searched again; a file found in none of them removes the stored
//! one. Read only when a team derives its services from `CODEOWNERS` (`with_codeowners`).

use base64::Engine as _;
use serde::Deserialize;

use super::client::Fetched;
use super::{GithubError, GithubSync, SOURCE};
use crate::model::CodeOwnersFile;
use crate::store::{Cursor, WriteBatch};

/// GitHub's search order.
pub const PLACES: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// GitHub ignores a `CODEOWNERS` over 3 MB ("About code owners"); so does the sync.
const MAX_BYTES: usize = 3 * 1024 * 1024;

/// The contents API's answer for a file.
#[derive(Debug, Deserialize)]
struct Contents {
    #[serde(default)]
    encoding: String,
    #[serde(default)]
    content: String,
}

impl GithubSync<'_> {
    pub(super) async fn codeowners(&mut self, repo: &str) -> Result<(), GithubError> {
        let name = format!("{repo}/codeowners");
        let cursor = self.store.cursor(SOURCE, &name)?.unwrap_or_default();
        // The place found last time first (conditionally), then the others in GitHub's order.
        let known = cursor.position.clone();
        let mut order: Vec<&str> = known.iter().map(String::as_str).collect();
        order.extend(PLACES.iter().filter(|p| known.as_deref() != Some(**p)));
        for path in order {
            let etag = (known.as_deref() == Some(path))
                .then_some(cursor.etag.as_deref())
                .flatten();
            let url = format!("/repos/{repo}/contents/{path}");
            let (body, etag) = match self.client.get::<Contents>(&url, etag).await {
                Ok(Fetched::NotModified) => return Ok(()),
                Ok(Fetched::Fresh { body, etag, .. }) => (body, etag),
                Err(GithubError::Status { status: 404, .. }) => continue,
                Err(e) => return Err(e),
            };
            let text = decode(&body).map_err(|message| GithubError::Malformed {
                endpoint: url.clone(),
                message,
            })?;
            let mut batch = WriteBatch::new();
            batch.upsert_event(&CodeOwnersFile {
                repo: repo.to_owned(),
                path: path.to_owned(),
                text,
            });
            batch.set_cursor(SOURCE, &name, found(path, etag));
            self.commit(batch)?;
            return Ok(());
        }
        // In none of the places: a file stored before was removed.
        let mut batch = WriteBatch::new();
        if self.store.event::<CodeOwnersFile>(repo)?.is_some() {
            tracing::info!(%repo, "CODEOWNERS removed: its derived ownership is dropped");
            batch.delete_event::<CodeOwnersFile>(repo);
        }
        if known.is_some() {
            batch.set_cursor(SOURCE, &name, Cursor::default());
        }
        self.commit(batch)
    }
}

fn found(path: &str, etag: Option<String>) -> Cursor {
    Cursor {
        position: Some(path.to_owned()),
        etag,
        last_modified: None,
        updated_at: Some(crate::clock::now()),
    }
}

/// The file's text from the contents API's base64 (wrapped at 60 columns), bounded.
fn decode(c: &Contents) -> Result<String, String> {
    if c.encoding != "base64" {
        // GitHub answers `"encoding": "none"` for a file over 1 MB.
        return Err(format!(
            "CODEOWNERS content encoded as {:?}, not base64 (over 1 MB?)",
            c.encoding
        ));
    }
    let compact: String = c.content.split_whitespace().collect();
    if compact.len() / 4 * 3 > MAX_BYTES {
        return Err(format!(
            "CODEOWNERS over {MAX_BYTES} bytes, which GitHub ignores"
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| format!("CODEOWNERS content is not base64: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("CODEOWNERS is not UTF-8: {e}"))
}
