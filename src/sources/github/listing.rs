//! The one walker over GitHub's paginated listings.
//!
//! A listing (deployments, workflow runs, releases, pull requests, incident issues) is read newest
//! first, `per_page=100`, following `Link: rel="next"` (which [`Client::get`] keeps on the API
//! host). A walk first finishes an interrupted walk (the cursor's `resume` page), then reads from
//! page 1 down to where the previous complete walk ended (its high-water mark, less an overlap for
//! items that change after they are created). Page 1 from the head is asked conditionally with the
//! `ETag` of the last complete walk, so an unchanged listing costs one `304`, which GitHub does
//! not count against the rate limit. Each page's data and the listing's cursor are one atomic
//! batch, so an interrupted sync resumes at the next page and rewrites nothing.
//!
//! The caller only maps items:
//! ```text
//! let mut list = Listing::open(store, name, head_url, since, overlap, bar)?;
//! while let Some(items) = list.next::<Vec<payload::Release>>(client).await? {
//!     let mut batch = WriteBatch::new();
//!     for item in items { /* map into the batch */ }
//!     list.commit(store, batch)?;
//! }
//! ```

use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::client::{Client, Fetched};
use super::{GithubError, SOURCE};
use crate::store::{Cursor, Store, StoreError, WriteBatch};

/// An item of a newest-first listing, with the time the listing is sorted by.
pub(super) trait Stamped {
    /// The sort key: the walk stops once a page reaches below the high-water mark.
    fn stamp(&self) -> DateTime<Utc>;
}

/// The body of one page of a listing.
pub(super) trait Page: DeserializeOwned {
    /// What the page lists.
    type Item: Stamped;
    /// The page's items, in the listing's order.
    fn into_items(self) -> Vec<Self::Item>;
}

impl<T: Stamped + DeserializeOwned> Page for Vec<T> {
    type Item = T;
    fn into_items(self) -> Vec<T> {
        self
    }
}

/// Where a listing walk stands; stored as JSON in the cursor's position.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ListState {
    /// The next page of an unfinished walk.
    resume: Option<String>,
    /// Newest item stamp of the last complete walk: the next walk stops there.
    high_water: Option<DateTime<Utc>>,
    /// Newest stamp seen by the unfinished walk.
    pending_high: Option<DateTime<Utc>>,
}

/// A walk over one listing, page by page.
pub(super) struct Listing {
    name: String,
    head_url: String,
    url: Option<String>,
    /// `ETag` to send with the first page (only for a walk from the head).
    etag: Option<String>,
    head: bool,
    first_etag: Option<String>,
    state: ListState,
    since: DateTime<Utc>,
    overlap: Duration,
    pages: u64,
    /// The stamps and `next` link of the page handed out, for its [`Listing::commit`].
    stamps: Vec<DateTime<Utc>>,
    next: Option<String>,
    bar: indicatif::ProgressBar,
}

impl Listing {
    /// Opens the listing `name` (its cursor) at `head_url`; items older than `since` end a walk.
    pub(super) fn open(
        store: &Store,
        name: String,
        head_url: String,
        since: DateTime<Utc>,
        overlap: Duration,
        bar: indicatif::ProgressBar,
    ) -> Result<Self, StoreError> {
        let cursor = store.cursor(SOURCE, &name)?.unwrap_or_default();
        // A position this version cannot read starts the listing over, which the upserts by
        // natural key make harmless.
        let state: ListState = cursor
            .position
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        let (url, etag, head) = match &state.resume {
            Some(r) => (r.clone(), None, false),
            None => (head_url.clone(), cursor.etag.clone(), true),
        };
        Ok(Self {
            name,
            head_url,
            url: Some(url),
            etag,
            head,
            first_etag: None,
            state,
            since,
            overlap,
            pages: 0,
            stamps: Vec::new(),
            next: None,
            bar,
        })
    }

    /// The next page's items, or `None` when the walk is over (or page 1 did not change). Each
    /// page handed out must be [`commit`](Listing::commit)ted before the next is asked for.
    pub(super) async fn next<P: Page>(
        &mut self,
        client: &Client,
    ) -> Result<Option<Vec<P::Item>>, GithubError> {
        let Some(url) = self.url.take() else {
            self.bar.finish();
            return Ok(None);
        };
        let etag = if self.pages == 0 {
            self.etag.take()
        } else {
            None
        };
        self.pages += 1;
        match client.get::<P>(&url, etag.as_deref()).await? {
            Fetched::NotModified => {
                self.bar.finish();
                Ok(None)
            }
            Fetched::Fresh { body, etag, next } => {
                if self.pages == 1 && self.head {
                    self.first_etag = etag;
                }
                let items = body.into_items();
                self.stamps = items.iter().map(Stamped::stamp).collect();
                self.next = next;
                self.bar.inc(items.len() as u64);
                Ok(Some(items))
            }
        }
    }

    /// Writes `batch`, the data of the page last handed out, together with the listing's cursor
    /// after that page, and decides whether the walk goes on.
    pub(super) fn commit(
        &mut self,
        store: &Store,
        mut batch: WriteBatch,
    ) -> Result<(), StoreError> {
        let stamps = std::mem::take(&mut self.stamps);
        let next = self.next.take();
        let cursor = self.cursor_after(&stamps, next);
        batch.set_cursor(SOURCE, &self.name, cursor);
        store.commit(batch)?;
        if self.url.is_none() && !self.head {
            // The interrupted walk is finished; what is new since then is read from the head
            // (unconditionally: the old page-1 ETag was dropped when the walk was interrupted).
            self.head = true;
            self.url = Some(self.head_url.clone());
            self.pages = 0;
        }
        Ok(())
    }

    fn cursor_after(&mut self, stamps: &[DateTime<Utc>], next: Option<String>) -> Cursor {
        let newest = stamps.iter().max().copied();
        self.state.pending_high = self.state.pending_high.max(newest);
        let cutoff = self
            .state
            .high_water
            .map(|h| h - self.overlap)
            .map_or(self.since, |h| h.max(self.since));
        let go_on = next.is_some() && stamps.iter().min().is_some_and(|m| *m >= cutoff);
        let etag = if go_on {
            self.url = next.clone();
            self.state.resume = next;
            None
        } else {
            self.url = None;
            self.state.resume = None;
            self.state.high_water = self.state.high_water.max(self.state.pending_high.take());
            // Page 1's ETag is kept only when a walk from the head is complete: a 304 then
            // means there is truly nothing new.
            if self.head {
                self.first_etag.clone()
            } else {
                None
            }
        };
        Cursor {
            // Options of strings and dates: serializing cannot fail.
            position: serde_json::to_string(&self.state).ok(),
            etag,
            last_modified: None,
            updated_at: Some(Utc::now()),
        }
    }
}

/// Every page of a listing read whole each time, with no cursor (a PR's commits or files, a
/// comparison), at most `max_pages` of them.
pub(super) async fn all_pages<P: DeserializeOwned>(
    client: &Client,
    url: String,
    max_pages: usize,
) -> Result<Vec<P>, GithubError> {
    let mut out = Vec::new();
    let mut next = Some(url);
    while let Some(u) = next.take() {
        if let Fetched::Fresh { body, next: n, .. } = client.get::<P>(&u, None).await? {
            out.push(body);
            next = n.filter(|_| out.len() < max_pages);
        }
    }
    Ok(out)
}
