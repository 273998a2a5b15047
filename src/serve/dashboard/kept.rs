//! The default dashboard page kept in the store (issue 21): a restarted daemon answers `/` from
//! it at once while it is current, and, labelled as older, while its first analysis of changed
//! data runs (seconds on a large store); a keeper keeps it after every metrics refresh, so that
//! a restart after syncs nobody looked at still finds it.

use super::{compute, Selection};
use crate::app::App;
use crate::query::rollup::Fingerprint;
use crate::store::StoreError;

/// The rollup name of the default page.
const DEFAULT_PAGE: &str = "dashboard/default";

/// Seconds between the reloads of a page kept from older data.
const OLDER_RELOAD_S: u32 = 5;

/// The data generation and fingerprint the default page is kept under: read before the page
/// is computed. Besides the stored data and the configuration, the page depends on the week
/// business time is in (the last complete week, the current partial one), the SLOs and
/// products (the demo's are added to the configured ones), the system model, and the sync
/// horizon as resolved (a `backfill_since` of "365d" is a date that moves with time). The
/// horizon is taken by the day: it moves at every start, and within a day it changes a figure
/// only for a first deployment whose lookback window straddles it, years back.
fn stamp(app: &App) -> (u64, Fingerprint) {
    // First: a commit landing while the rest is read leaves the page unkept, not misstamped.
    let generation = app.store.data_generation();
    let week = app.calendar().week_start(crate::clock::now_ms());
    let horizon_day = app
        .settings
        .dora
        .since_ms
        .map(|ms| ms.div_euclid(crate::model::calendar::DAY_MS));
    let extra = format!(
        "week {week}\nhorizon day {horizon_day:?}\n{:?}\n{:?}\n{:?}",
        app.slos, app.products, app.system
    );
    (generation, Fingerprint::new(&app.config, &extra))
}

/// A kept page's text; `None` (logged) when it is not UTF-8, which only a damaged store could
/// hold (this module writes it from a `String`): recomputed rather than trusted.
fn page_text(bytes: Vec<u8>) -> Option<String> {
    match String::from_utf8(bytes) {
        Ok(html) => Some(html),
        Err(e) => {
            tracing::warn!(error = %e, "the kept dashboard page is not UTF-8: recomputed");
            None
        }
    }
}

/// The default dashboard page (`GET /` without a selection) as the store keeps it for `app`,
/// when it is current: what a restarted daemon answers with before computing anything.
#[doc(hidden)]
pub fn kept_page(app: &App) -> Result<Option<String>, StoreError> {
    let (_, fingerprint) = stamp(app);
    Ok(crate::query::rollup::get(&app.store, DEFAULT_PAGE, &fingerprint)?.and_then(page_text))
}

/// The default page as kept, when it is current; else, while this process has not made its
/// first attempt at the weekly view (a restart after data changed, or the first start of an
/// upgraded build: that can take seconds on a large store), the page kept from older data or by
/// another build with the same configuration in the same week, labelled as such and reloading
/// itself, rather than a request left waiting. `None`: compute it.
#[doc(hidden)]
pub fn kept_or_older(app: &App) -> Result<Option<String>, StoreError> {
    let (generation, fingerprint) = stamp(app);
    let Some(kept) = crate::query::rollup::get_kept(&app.store, DEFAULT_PAGE, &fingerprint)? else {
        return Ok(None);
    };
    // A kept generation newer than the one read: kept by the keeper since, from data as of now
    // at least.
    let changes = generation.saturating_sub(kept.rollup.generation);
    let current = kept.same_build && changes == 0;
    if !current && app.dora.warmed() {
        return Ok(None);
    }
    let Some(html) = page_text(kept.rollup.payload) else {
        return Ok(None);
    };
    if current {
        return Ok(Some(html));
    }
    // Debug: an open tab asks again every few seconds until the analysis is done.
    tracing::debug!(
        kept = kept.rollup.generation,
        now = generation,
        same_build = kept.same_build,
        "answering the dashboard page kept earlier while the current one is computed"
    );
    Ok(Some(older(&html, changes, kept.same_build)))
}

/// `html` (a kept page) labelled as computed before the last `changes` commits of data, or by
/// another build of barometer: a banner at the top, and a reload every few seconds until the
/// current page is there.
fn older(html: &str, changes: u64, same_build: bool) -> String {
    let when = match changes {
        0 => "by another build of barometer".to_owned(),
        n => format!(
            "before the last {n} change{} to the stored data{}",
            if n == 1 { "" } else { "s" },
            if same_build {
                ""
            } else {
                ", by another build of barometer"
            }
        ),
    };
    let banner = format!(
        "<p class=\"older\" id=\"older\" role=\"status\">These figures were computed {when}; the \
         current ones are being computed and this page reloads itself every {OLDER_RELOAD_S} s \
         until they are shown.</p>\n",
    );
    let refresh = format!("<meta http-equiv=\"refresh\" content=\"{OLDER_RELOAD_S}\">\n");
    let mut out = String::with_capacity(html.len() + banner.len() + refresh.len());
    match (html.find("</head>"), html.find("<body>\n")) {
        (Some(head), Some(body)) if head < body => {
            let body = body + "<body>\n".len();
            out.push_str(&html[..head]);
            out.push_str(&refresh);
            out.push_str(&html[head..body]);
            out.push_str(&banner);
            out.push_str(&html[body..]);
        }
        // Never expected (this module renders both): the banner alone, first.
        _ => {
            out.push_str(&banner);
            out.push_str(html);
        }
    }
    out
}

/// The current default page, and whether it was computed (and kept) by this call rather than
/// found kept. One computation at a time (`App::default_page`): a request and the keeper
/// arriving together compute it once.
pub(super) fn current(app: &App) -> Result<(String, bool), StoreError> {
    let _one = app.default_page.lock().unwrap_or_else(|p| p.into_inner());
    let (generation, fingerprint) = stamp(app);
    if let Some(html) =
        crate::query::rollup::get(&app.store, DEFAULT_PAGE, &fingerprint)?.and_then(page_text)
    {
        return Ok((html, false));
    }
    // Read after the stamp: teams derive from the stored `CODEOWNERS`.
    let teams = app.teams()?;
    let html = match compute(app, &teams, &Selection::default())? {
        Ok(html) => html,
        // No service is selected: never expected.
        Err(unknown) => {
            return Err(StoreError::Invalid {
                what: "the default dashboard page".into(),
                reason: unknown,
            })
        }
    };
    // Not kept is no reason to withhold the page: the next request computes it again.
    match crate::query::rollup::put(
        &app.store,
        DEFAULT_PAGE,
        generation,
        &fingerprint,
        html.as_bytes(),
    ) {
        Ok(kept) => tracing::debug!(kept, "dashboard page computed"),
        Err(e) => tracing::warn!(error = %e, "cannot keep the dashboard page"),
    }
    Ok((html, true))
}

/// Computes the default page and keeps it, unless the kept one is current; `Ok(true)` when it
/// was computed.
#[doc(hidden)]
pub fn keep_default_page(app: &App) -> Result<bool, StoreError> {
    current(app).map(|(_, computed)| computed)
}

/// Keeps the default page current after each metrics refresh, until `shutdown`. A refresh has
/// brought the delivery model and the weekly view up to date, so this is the page's own reads
/// (bugs, tickets, cost) and its rendering, and only when a commit of data or a new week made
/// the kept page stale.
pub async fn keeper(
    app: App,
    mut refreshed: tokio::sync::watch::Receiver<u64>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    // At a start the page is computed at once, beside the first refresh rather than after it:
    // after a restart with changed data, its teams, bugs, tickets and cost are read while the
    // refresh brings the delivery model and the weekly view up to date, which the two share
    // (issue 21). Nothing is computed when the kept page is current.
    let first = app.clone();
    match tokio::task::spawn_blocking(move || keep_default_page(&first)).await {
        Ok(Ok(kept)) => tracing::debug!(kept, "dashboard page kept at the start"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot keep the dashboard page"),
        Err(e) => tracing::error!(error = %e, "keeping the dashboard page panicked"),
    }
    loop {
        // A refresh that finished as the daemon stops is still kept (the daemon waits for it
        // within its shutdown grace, as for any running work), so that the next start finds
        // the page; then the loop ends.
        let stopping = tokio::select! {
            biased;
            changed = refreshed.changed() => {
                if changed.is_err() {
                    break;
                }
                false
            }
            _ = shutdown.cancelled() => true,
        };
        // The shutdown branch may win while a refresh is being sent (this task descheduled
        // between polling the two branches): what the version says decides.
        if stopping && !matches!(refreshed.has_changed(), Ok(true)) {
            break;
        }
        refreshed.borrow_and_update();
        let app = app.clone();
        match tokio::task::spawn_blocking(move || keep_default_page(&app)).await {
            Ok(Ok(kept)) => tracing::debug!(kept, "dashboard page kept after a refresh"),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot keep the dashboard page"),
            Err(e) => tracing::error!(error = %e, "keeping the dashboard page panicked"),
        }
        if stopping {
            break;
        }
    }
}
