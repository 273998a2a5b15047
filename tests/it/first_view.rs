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

    // A cursor alone (a sync that found nothing new) is no data: the page stays current. Any
    // commit of data makes it stale: a point of a series no view reads.
    let first_again = first_page(&store, &config).await;
    assert_eq!(first_again, first);
    {
        let app = app(&store, &config);
        let mut batch = WriteBatch::new();
        batch.set_cursor("test", "touch", Cursor::default());
        app.store.commit(batch).unwrap();
        assert_eq!(
            barometer::serve::dashboard::kept_page(&app)
                .unwrap()
                .as_deref(),
            Some(first.as_str())
        );
        app.store.commit(unread_point(1)).unwrap();
        assert_eq!(barometer::serve::dashboard::kept_page(&app).unwrap(), None);
    }
    // The first `/` after it: the kept page labelled as older while the daemon computes (or,
    // when its first computation won the race, the current page); then the current page, which
    // the point left as it was, kept again.
    let daemon = spawn_app(&store, Some(config.clone()), &[]).await;
    let client = reqwest::Client::new();
    let answer = get_text(&client, daemon.url("/")).await;
    if answer != first {
        assert_eq!(unlabelled(&answer), first, "the older page, labelled");
    }
    let current = poll_until_current(&client, &daemon.url("/")).await;
    assert_eq!(
        current, first,
        "computed again from the store, to the same page"
    );
    daemon.stop().await;
    assert_eq!(kept(&store, &config).as_deref(), Some(first.as_str()));
}

/// A batch of one point of a series no view reads: data changed, no figure did.
fn unread_point(i: i64) -> WriteBatch {
    let key = barometer::model::SeriesKey::new("test_touch", [("run", "x")]).unwrap();
    let mut batch = WriteBatch::new();
    batch.put_point(&key, 1_700_000_000_000 + i * 60_000, i as f64);
    batch
}

/// Takes the label of a page kept from older data off: its reload and its banner.
fn unlabelled(page: &str) -> String {
    assert!(page.contains("id=\"older\""), "{page}");
    let mut out: Vec<&str> = Vec::new();
    for line in page.split_inclusive('\n') {
        if line.starts_with("<meta http-equiv=\"refresh\"")
            || line.starts_with("<p class=\"older\"")
        {
            continue;
        }
        out.push(line);
    }
    out.concat()
}

/// GETs `url` until the page is not labelled as older (60 s at most).
async fn poll_until_current(client: &reqwest::Client, url: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let page = get_text(client, url).await;
        if !page.contains("id=\"older\"") {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still the older page after 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// What a daemon that has computed nothing yet answers first: the kept page while current;
/// after a commit, the kept page labelled as older (computing the current one can take seconds
/// on a large store); once it has computed its weekly view, nothing kept (it computes pages).
#[test]
fn before_its_first_computation_a_daemon_answers_the_older_page_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = seeded_demo_with(dir.path(), "");
    let app = app(&store, &config);
    let answer = barometer::serve::dashboard::kept_or_older;
    assert_eq!(answer(&app).unwrap(), None, "nothing kept: computed");

    // Kept without any request (as the daemon's keeper does after each refresh), once.
    assert!(barometer::serve::dashboard::keep_default_page(&app).unwrap());
    assert!(!barometer::serve::dashboard::keep_default_page(&app).unwrap());
    let page = barometer::serve::dashboard::kept_page(&app)
        .unwrap()
        .expect("kept");
    assert!(page.contains("<svg"), "{page}");
    assert_eq!(answer(&app).unwrap().as_deref(), Some(page.as_str()));
    drop(app);

    // A commit: a daemon that has not computed yet answers the older page, labelled.
    let app = self::app(&store, &config);
    for i in 0..2 {
        app.store.commit(unread_point(i)).unwrap();
    }
    let older = answer(&app).unwrap().expect("the older page");
    assert!(
        older.contains("computed before the last 2 changes to the stored data"),
        "{older}"
    );
    assert!(older.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    assert_eq!(unlabelled(&older), page);

    // Once the weekly view is computed, the daemon computes pages (incrementally) instead.
    app.dora
        .weekly(&app.store, &app.settings, &app.slos)
        .unwrap();
    assert_eq!(answer(&app).unwrap(), None);
    // The keeper then keeps the current page.
    assert!(barometer::serve::dashboard::keep_default_page(&app).unwrap());
    assert_eq!(answer(&app).unwrap().as_deref(), Some(page.as_str()));
}

/// The daemon keeps the default page after its first refresh, with no request for it: a
/// restart after syncs nobody looked at still finds the page current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_keeps_the_page_after_a_refresh_without_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = seeded_demo_with(dir.path(), "");
    let daemon = spawn_app(&store, Some(config.clone()), &[]).await;
    // `/metrics` answers once the first refresh is done; the keeper runs right after it.
    daemon.metrics_when(120, |_| true).await;
    daemon.stop().await;
    let kept = kept(&store, &config).expect("kept by the daemon");
    // The same page a request computes.
    assert_eq!(first_page(&store, &config).await, kept);
}

/// `/metrics` of a daemon still in its first analysis (issue 21: seconds on a large store)
/// answers within the scraper's timeout, with the families already current and
/// `barometer_analysis_complete 0`, leaving out the analysed ones (their initial zeros would
/// show as a drop); once the refresh is done, every family, and a scrape that arrived during
/// it waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_during_the_first_analysis_is_answered_in_time_without_false_zeros() {
    use barometer::health::{DigestOutcomes, Health, Readiness};
    use barometer::serve::http::{router, AppState};
    use barometer::serve::metrics::Metrics;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let (store, config) = seeded_demo_with(dir.path(), "");
    let app = app(&store, &config);
    let metrics = Arc::new(
        Metrics::new(
            app.clone(),
            Arc::new(Health::default()),
            Arc::new(DigestOutcomes::default()),
        )
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let readiness = tokio::sync::watch::channel(Readiness::Ready).1;
    let routes = router(AppState {
        metrics: metrics.clone(),
        readiness,
    });
    let server = tokio::spawn(async move { axum::serve(listener, routes).await });
    let client = reqwest::Client::new();
    let scrape = |timeout: &'static str| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let started = Instant::now();
            let body = client
                .get(&url)
                .header("X-Prometheus-Scrape-Timeout-Seconds", timeout)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            (body, started.elapsed())
        }
    };

    // Rendered before any refresh (as when the metrics are built): the build alone, not the
    // store's figures' initial zeros, and nothing analysed.
    metrics.render();
    // A scraper waiting 0.5 s gets an answer within 0.4 s (four fifths), not a timeout.
    let (early, took) = scrape("0.5").await;
    assert!(took >= Duration::from_millis(350), "waited {took:?}");
    assert!(took < Duration::from_secs(3), "waited {took:?}");
    assert!(
        early.contains("\nbarometer_analysis_complete 0\n"),
        "{early}"
    );
    assert!(early.contains("\nbarometer_build_info{"), "{early}");
    assert!(!early.contains("barometer_store_series"), "{early}");
    for analysed in [
        "barometer_pressure_index",
        "barometer_dora_",
        "barometer_revenue_",
    ] {
        assert!(
            !early.contains(analysed),
            "{analysed} before the analysis: {early}"
        );
    }

    // A scrape arriving during the refresh waits for it (the scraper allows 30 s).
    let waiting = tokio::spawn(scrape("30"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (m, s) = (metrics.clone(), app.store.clone());
    tokio::task::spawn_blocking(move || m.refresh(&s))
        .await
        .unwrap();
    let (done, _) = waiting.await.unwrap();
    assert!(done.contains("\nbarometer_analysis_complete 1\n"), "{done}");
    assert!(done.contains("\nbarometer_pressure_index "), "{done}");
    assert!(done.contains("barometer_revenue_customers "), "{done}");
    server.abort();
}

/// The first start of another build (an upgrade): the page kept by the build before, with the
/// same configuration, is never current for this one (it may render otherwise), but it is
/// answered, labelled, while this build computes its own; then this build's page.
#[test]
fn the_first_start_of_another_build_answers_the_page_it_kept_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = seeded_demo_with(dir.path(), "");
    let app = app(&store, &config);
    assert!(barometer::serve::dashboard::keep_default_page(&app).unwrap());
    let page = barometer::serve::dashboard::kept_page(&app)
        .unwrap()
        .expect("kept");
    drop(app);

    // What another build kept: the same page under the same settings, with the build's half
    // of the fingerprint (its last 32 bytes) not this build's. The value: generation (8
    // bytes), fingerprint length (4), fingerprint (2 × 32), page.
    {
        let db = crate::helpers::raw_sled(&store);
        let key = [&[7u8][..], b"dashboard/default", &[0u8][..]].concat();
        let mut value = db.get(&key).unwrap().expect("kept").to_vec();
        assert_eq!(&value[8..12], &64u32.to_be_bytes()[..]);
        value[12 + 32] ^= 0xff;
        db.insert(&key, value).unwrap();
        db.flush().unwrap();
    }
    let app = self::app(&store, &config);
    assert_eq!(
        barometer::serve::dashboard::kept_page(&app).unwrap(),
        None,
        "never current for this build"
    );
    let older = barometer::serve::dashboard::kept_or_older(&app)
        .unwrap()
        .expect("the other build's page, labelled");
    assert!(
        older.contains("computed by another build of barometer;"),
        "{older}"
    );
    assert_eq!(unlabelled(&older), page);
    // With a change to the data as well, both are said.
    app.store.commit(unread_point(0)).unwrap();
    let older = barometer::serve::dashboard::kept_or_older(&app)
        .unwrap()
        .expect("labelled");
    assert!(
        older.contains(
            "computed before the last 1 change to the stored data, by another build of barometer;"
        ),
        "{older}"
    );
    // Once this build has computed its weekly view it computes the page, and keeps its own.
    app.dora
        .weekly(&app.store, &app.settings, &app.slos)
        .unwrap();
    assert_eq!(
        barometer::serve::dashboard::kept_or_older(&app).unwrap(),
        None
    );
    assert!(barometer::serve::dashboard::keep_default_page(&app).unwrap());
    assert!(barometer::serve::dashboard::kept_page(&app)
        .unwrap()
        .is_some());
}

/// A restarted process takes the delivery model, the weekly delivery figures and the SLO rows
/// its predecessor kept, and its weekly view is the one computed afresh from every event and
/// sample; a point no view reads changes none of them, a deployment recomputes the figures.
#[test]
fn a_restart_takes_the_kept_model_figures_and_slo_rows_to_the_same_view() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = seeded_demo_with(dir.path(), "");
    let fresh = |app: &App| {
        let model = barometer::query::views::dora_model(&app.store, &app.settings).unwrap();
        let w = barometer::query::views::weekly(
            &app.store,
            &app.settings,
            &model,
            &app.slos,
            barometer::clock::now_ms(),
            None,
        )
        .unwrap();
        serde_json::to_string(&w).unwrap()
    };
    let view = |app: &App| {
        let w = app
            .dora
            .weekly(&app.store, &app.settings, &app.slos)
            .unwrap();
        app.dora.settle();
        serde_json::to_string(&*w).unwrap()
    };
    {
        let app = app(&store, &config);
        assert_eq!(view(&app), fresh(&app));
        assert_eq!(app.dora.builds().full, 1);
        assert_eq!(app.dora.delivery_rows_stats(), stats(0, 0, 1));
    }
    for touch in 1..=3 {
        // A point no view reads, then a business metric (stored as events of other kinds than
        // delivery's), written while stopped.
        if touch == 2 {
            let app = app(&store, &config);
            app.store.commit(unread_point(7)).unwrap();
        }
        if touch == 3 {
            let app = app(&store, &config);
            let events = app.store.event_generation();
            barometer::sources::set_import::import_metrics(
                &app.store,
                &app.config.revenue,
                "touch.csv",
                b"date,metric,value\n2026-11-20,bench_touch,1\n",
                &barometer::sources::set_import::SetOptions::new("touch"),
            )
            .unwrap();
            assert!(app.store.event_generation() > events);
        }
        let app = app(&store, &config);
        assert_eq!(view(&app), fresh(&app), "restart {touch}");
        let b = app.dora.builds();
        assert_eq!((b.full, b.kept), (0, 1), "restart {touch}");
        assert_eq!(
            app.dora.delivery_rows_stats(),
            stats(1, 0, 0),
            "restart {touch}"
        );
        let slo = app.dora.slo_rows_stats();
        assert!(slo.loaded > 0 && slo.whole == 0, "restart {touch}: {slo:?}");
    }
    let deploy = |app: &App, k: usize, weeks_back: i64, state| {
        let model = app.dora.get(&app.store, &app.settings).unwrap();
        deploy(app, &model.services[k].name, weeks_back, state);
    };
    use barometer::model::DeployState::{Failure, Success};
    // A deployment: the figures of the organisation and that service brought up to date from
    // the figures of the model before, still the fresh view.
    {
        let app = app(&store, &config);
        deploy(&app, 0, 0, Success);
        assert_eq!(view(&app), fresh(&app), "after a deployment");
        assert_eq!(app.dora.delivery_rows_stats(), stats(0, 1, 0));
    }
    // Deployments written while stopped (a failed one weeks back, then another service's):
    // each restart brings the kept figures up to date, from the model file kept before the
    // first of them (kept again only after many re-analysed parts), still the fresh view.
    for (round, (k, weeks_back, state)) in
        [(1, 8, Failure), (2, 0, Success)].into_iter().enumerate()
    {
        deploy(&app(&store, &config), k, weeks_back, state);
        let app = app(&store, &config);
        assert_eq!(view(&app), fresh(&app), "deployment while stopped {round}");
        let b = app.dora.builds();
        assert_eq!((b.full, b.kept), (0, 1), "deployment while stopped {round}");
        assert_eq!(
            app.dora.delivery_rows_stats(),
            stats(0, 1, 0),
            "deployment while stopped {round}"
        );
    }
}

/// Commits a deployment of `service` `weeks_back` weeks before its last one, in `state`.
fn deploy(app: &App, service: &str, weeks_back: i64, state: barometer::model::DeployState) {
    let model = app.dora.get(&app.store, &app.settings).unwrap();
    let d = model.deployments_of(Some(service)).last().unwrap().clone();
    let at = d.at_ms - weeks_back * barometer::analysis::WEEK_MS + 60_000;
    let mut batch = WriteBatch::new();
    batch.upsert_event(&barometer::model::Deployment {
        repo: d.repo.clone(),
        service: d.service.clone(),
        environment: "production".into(),
        id: d.id + 1_000_000 + weeks_back as u64,
        source: barometer::model::DeploySource::DeploymentsApi,
        sha: d.sha.clone(),
        git_ref: "main".into(),
        created_at: chrono::DateTime::from_timestamp_millis(at).unwrap(),
        state,
        finished_at: chrono::DateTime::from_timestamp_millis(at + 60_000),
    });
    app.store.commit(batch).unwrap();
}

/// The organisation's view and a product's are each brought up to date from their own figures
/// of the model before, to the views computed afresh.
#[test]
fn each_view_brings_its_own_delivery_figures_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = seeded_demo_with(
        dir.path(),
        "[[products]]\nname = \"shop\"\nservices = [\"storefront\", \"api\"]\n",
    );
    let app = app(&store, &config);
    let shop = app.products.get("shop").unwrap().clone();
    let views = |app: &App| {
        let org = app
            .dora
            .weekly(&app.store, &app.settings, &app.slos)
            .unwrap();
        let product = app
            .dora
            .product_weekly(&app.store, &app.settings, &app.slos, &shop)
            .unwrap();
        (
            serde_json::to_string(&*org).unwrap(),
            serde_json::to_string(&*product).unwrap(),
        )
    };
    let fresh = |app: &App| {
        let model = barometer::query::views::dora_model(&app.store, &app.settings).unwrap();
        let now = barometer::clock::now_ms();
        let org = barometer::query::views::weekly(
            &app.store,
            &app.settings,
            &model,
            &app.slos,
            now,
            None,
        )
        .unwrap();
        let product = barometer::query::views::product_weekly(
            &app.store,
            &app.settings,
            &model,
            &app.slos,
            now,
            &shop,
        )
        .unwrap();
        (
            serde_json::to_string(&org).unwrap(),
            serde_json::to_string(&product).unwrap(),
        )
    };
    assert_eq!(views(&app), fresh(&app));
    assert_eq!(app.dora.delivery_rows_stats(), stats(0, 0, 2));
    // A failed deployment of a service of the product four weeks back, then another service's.
    deploy(&app, "api", 4, barometer::model::DeployState::Failure);
    assert_eq!(views(&app), fresh(&app), "after api's");
    assert_eq!(app.dora.delivery_rows_stats(), stats(0, 2, 2));
    deploy(&app, "billing", 0, barometer::model::DeployState::Success);
    assert_eq!(views(&app), fresh(&app), "after billing's");
    assert_eq!(app.dora.delivery_rows_stats(), stats(0, 4, 2));
}

/// Delivery figures taken, brought up to date, computed.
fn stats(taken: u64, updated: u64, computed: u64) -> barometer::query::views::DeliveryRowsStats {
    barometer::query::views::DeliveryRowsStats {
        taken,
        updated,
        computed,
    }
}

/// The bugs attributed against the model are read once while nothing changed, and again after
/// a bug is stored: never stale.
#[test]
fn bug_facts_are_kept_until_an_event_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = seeded_demo_with(dir.path(), "");
    let app = app(&store, &config);
    let (model, first) = app.dora.bug_facts(&app.store, &app.settings).unwrap();
    let (_, again) = app.dora.bug_facts(&app.store, &app.settings).unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &again), "read once");
    let repo = model.deployments[0].repo.clone();
    let mut batch = WriteBatch::new();
    batch.upsert_event(&barometer::model::Bug {
        repo,
        number: 999_999,
        title: "Crash on save".into(),
        labels: vec!["bug".into()],
        created_at: chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
        closed_at: None,
        reopened_at: vec![],
    });
    app.store.commit(batch).unwrap();
    let (model, after) = app.dora.bug_facts(&app.store, &app.settings).unwrap();
    let fresh = barometer::query::bugs::bug_facts(&app.store, &model, &app.settings).unwrap();
    assert_eq!(after.len(), first.len() + 1);
    assert_eq!(
        serde_json::to_string(&*after).unwrap(),
        serde_json::to_string(&fresh).unwrap()
    );
}
