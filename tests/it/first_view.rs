//! The first `GET /` of a restarted daemon (issue 21): the default dashboard page is kept in the
//! store, answered from there while the stored data and the configuration are as they were, and
//! computed again — to the same bytes — when either changed.

use std::path::Path;

use barometer::app::App;
use barometer::store::{Cursor, WriteBatch};

use crate::helpers::{app_config, get_text, now, seeded_demo_with, spawn_app};

/// The application `spawn_app` builds for `store` and `config` (the same configuration, so the
/// same fingerprint), without serving.
fn app(store: &Path, config: &Path) -> App {
    barometer::clock::pin(now());
    App::build(app_config(store, Some(config.to_owned()), &[])).expect("the store opens")
}

fn kept(store: &Path, config: &Path) -> Option<String> {
    barometer::serve::dashboard::kept_page(&app(store, config)).expect("the store reads")
}

/// Starts the daemon, takes its first `/`, stops it.
async fn first_page(store: &Path, config: &Path) -> String {
    let daemon = spawn_app(store, Some(config.to_owned()), &[]).await;
    let page = get_text(&reqwest::Client::new(), daemon.url("/")).await;
    daemon.stop().await;
    page
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_answers_the_kept_page_until_the_data_or_the_configuration_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = seeded_demo_with(dir.path(), "");
    assert_eq!(kept(&store, &config), None, "nothing computed yet");

    // Arrange: a first start computes the page and keeps it.
    let first = first_page(&store, &config).await;
    assert!(first.contains("<svg"), "{first}");
    assert_eq!(kept(&store, &config).as_deref(), Some(first.as_str()));

    // A restart answers it as kept.
    assert_eq!(first_page(&store, &config).await, first);

    // Another configuration (a team more) has its own page: the kept one is not current for
    // it, and it is kept in turn.
    let other = dir.path().join("other.toml");
    std::fs::write(&other, "[[teams]]\nname = \"solo\"\nservices = [\"api\"]\n").unwrap();
    assert_eq!(kept(&store, &other), None);
    let with_team = first_page(&store, &other).await;
    assert_ne!(with_team, first);
    assert!(with_team.contains("solo"), "{with_team}");
    assert_eq!(kept(&store, &other).as_deref(), Some(with_team.as_str()));
    assert_eq!(
        kept(&store, &config),
        None,
        "one page is kept, the last computed"
    );

    // Any commit makes it stale: a cursor, as a sync that found nothing new writes one.
    let first_again = first_page(&store, &config).await;
    assert_eq!(first_again, first);
    {
        let app = app(&store, &config);
        let mut batch = WriteBatch::new();
        batch.set_cursor("test", "touch", Cursor::default());
        app.store.commit(batch).unwrap();
        assert_eq!(barometer::serve::dashboard::kept_page(&app).unwrap(), None);
    }
    // Computed again from the store, to the same page (the cursor changed no figure).
    assert_eq!(first_page(&store, &config).await, first);
    assert_eq!(kept(&store, &config).as_deref(), Some(first.as_str()));
}
