//! Bug issues: the issues carrying one of the configured bug labels, one listing per label (the
//! issues API's `labels` filter means "all of these"), kept with the times they were seen
//! reopened.

use chrono::Duration;

use super::{payload, GithubError, GithubSync};
use crate::model::{Bug, Event};
use crate::store::WriteBatch;

/// The bug as stored after this answer: the reopen times stored before are kept, and a reopen
/// seen now is added (see [`Bug::reopened_at`]).
fn merged(repo: &str, i: payload::Issue, stored: Option<&Bug>) -> Bug {
    let mut reopened_at = stored.map(|b| b.reopened_at.clone()).unwrap_or_default();
    match (stored.and_then(|b| b.closed_at), i.closed_at) {
        // Closed before, open now: reopened, at the latest by this update.
        (Some(_), None) => reopened_at.push(i.updated_at),
        // Closed before and closed again later: reopened in between, after the first close.
        (Some(was), Some(now)) if now > was => reopened_at.push(was),
        // First seen open with GitHub saying it was reopened.
        (None, None) if stored.is_none() && i.state_reason.as_deref() == Some("reopened") => {
            reopened_at.push(i.updated_at)
        }
        _ => {}
    }
    reopened_at.sort();
    reopened_at.dedup();
    Bug {
        repo: repo.to_owned(),
        number: i.number,
        title: i.title,
        labels: i.labels.into_iter().map(|l| l.name).collect(),
        created_at: i.created_at,
        closed_at: i.closed_at,
        reopened_at,
    }
}

impl GithubSync<'_> {
    /// One issue carrying the bug label `label` (a listing item, or a webhook's `issues`),
    /// merged with what is stored of it.
    pub(super) fn apply_bug(
        &mut self,
        repo: &str,
        label: &str,
        i: payload::Issue,
        batch: &mut WriteBatch,
    ) -> Result<(), GithubError> {
        // GitHub filters by label already; checking again keeps a proxy or a
        // mirror that ignores the filter from turning every issue into a bug.
        let labelled = i.labels.iter().any(|l| l.name == label);
        if i.pull_request.is_some() || !labelled || i.updated_at < self.since {
            return Ok(());
        }
        let key = format!("{repo}#{}", i.number);
        let stored = self.store.event::<Bug>(&key)?;
        let bug = merged(repo, i, stored.as_ref());
        if stored.as_ref() == Some(&bug) {
            return Ok(());
        }
        debug_assert_eq!(bug.natural_key(), key);
        batch.upsert_event(&bug);
        self.report.bugs += 1;
        Ok(())
    }

    pub(super) async fn bugs(&mut self, repo: &str) -> Result<(), GithubError> {
        for label in self.config.bug_labels.clone() {
            let encoded =
                percent_encoding::utf8_percent_encode(&label, percent_encoding::NON_ALPHANUMERIC);
            let mut list = self.listing(
                repo,
                "bugs",
                &format!("bugs:{label}"),
                format!(
                    "/repos/{repo}/issues?labels={encoded}&state=all&sort=updated&direction=desc&per_page=100"
                ),
                Duration::zero(),
            )?;
            while let Some(page) = list.next::<Vec<payload::Issue>>(&self.client).await? {
                let mut batch = WriteBatch::new();
                for i in page {
                    self.apply_bug(repo, &label, i, &mut batch)?;
                }
                list.commit(self.store, batch)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn issue(closed: Option<&str>, updated: &str, reason: Option<&str>) -> payload::Issue {
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("a time");
        payload::Issue {
            number: 7,
            title: "Checkout fails".into(),
            body: None,
            labels: vec![payload::Label { name: "bug".into() }],
            created_at: at("2026-01-05T00:00:00Z"),
            updated_at: at(updated),
            closed_at: closed.map(at),
            state_reason: reason.map(str::to_owned),
            pull_request: None,
        }
    }

    #[test]
    fn reopens_are_kept_and_added_once() {
        let first = merged(
            "o/r",
            issue(Some("2026-01-06T00:00:00Z"), "2026-01-06T00:00:00Z", None),
            None,
        );
        assert!(first.reopened_at.is_empty());
        // Open again: reopened by this update.
        let open = merged(
            "o/r",
            issue(None, "2026-01-08T00:00:00Z", Some("reopened")),
            Some(&first),
        );
        assert_eq!(open.reopened_at.len(), 1);
        assert_eq!(
            open.reopened_at[0].to_rfc3339(),
            "2026-01-08T00:00:00+00:00"
        );
        // The same answer again changes nothing.
        let again = merged(
            "o/r",
            issue(None, "2026-01-08T00:00:00Z", Some("reopened")),
            Some(&open),
        );
        assert_eq!(again, open);
        // Closed again, then reopened and closed between two syncs: one more reopen, dated by
        // the close it followed.
        let closed = merged(
            "o/r",
            issue(Some("2026-01-09T00:00:00Z"), "2026-01-09T00:00:00Z", None),
            Some(&open),
        );
        assert_eq!(closed.reopened_at.len(), 1);
        let twice = merged(
            "o/r",
            issue(Some("2026-01-12T00:00:00Z"), "2026-01-12T00:00:00Z", None),
            Some(&closed),
        );
        assert_eq!(twice.reopened_at.len(), 2);
        assert_eq!(
            twice.reopened_at[1].to_rfc3339(),
            "2026-01-09T00:00:00+00:00"
        );
        // First seen open, GitHub saying it was reopened.
        let seen = merged(
            "o/r",
            issue(None, "2026-01-10T00:00:00Z", Some("reopened")),
            None,
        );
        assert_eq!(seen.reopened_at.len(), 1);
    }
}
