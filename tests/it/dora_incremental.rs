//! Issue 21: the DORA model updated part by part after a commit is the model rebuilt from every
//! event, through the cases that link repositories (an incident naming another repository's
//! service, a service deploying from two repositories, a monorepo PR shipped by two services, a
//! rollback and a redeploy of the same SHA), and on the demo organisation.

use barometer::analysis::dora::{self, ServicePaths, ServiceSpec};
use barometer::model::{Change, Commit, DeploySource, DeployState, Deployment, Incident};
use barometer::query::views::{dora_model, dora_model_of, DeliveryEvents, DoraCache};
use barometer::query::Settings;
use barometer::sources::demo;
use barometer::store::{Store, WriteBatch};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

/// Hours from Monday 2026-11-02 00:00 UTC.
fn t(hours: f64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap() + Duration::seconds((hours * 3600.0) as i64)
}

fn service(name: &str, repo: &str, paths: &[&str]) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        repo: repo.into(),
        paths: ServicePaths::new(paths.iter().map(|p| (*p).to_owned()).collect()).unwrap(),
    }
}

fn settings() -> Settings {
    let config = barometer::config::Config::load(&barometer::config::Sources {
        env: Some(Default::default()),
        ..Default::default()
    })
    .unwrap();
    let mut s = Settings::new(&config).unwrap();
    s.services = vec![
        service("app", "o/app", &[]),
        service("api", "o/mono", &["api/**"]),
        service("web", "o/mono", &["web/**"]),
        // Deploys from its own repository and from o/extra.
        service("shared", "o/shared", &[]),
        service("solo", "o/solo", &[]),
    ];
    s
}

/// Events of one page, written in one commit.
#[derive(Default)]
struct Page(WriteBatch);

impl Page {
    fn commit(&mut self, repo: &str, sha: &str, parent: Option<&str>, at: f64) -> &mut Self {
        self.0.upsert_event(&Commit {
            repo: repo.into(),
            sha: sha.into(),
            parents: parent.into_iter().map(str::to_owned).collect(),
            authored_at: t(at),
            committed_at: t(at),
            pulls: None,
            files: None,
        });
        self
    }

    /// A squash-merged PR whose merge commit is `sha`.
    fn pr(&mut self, repo: &str, number: u64, files: &[&str], sha: &str, at: f64) -> &mut Self {
        self.0.upsert_event(&Change {
            repo: repo.into(),
            number,
            title: format!("Change {number}"),
            head_ref: format!("branch-{number}"),
            base_ref: "main".into(),
            labels: vec![],
            files: files.iter().map(|f| (*f).to_owned()).collect(),
            created_at: t(at - 2.0),
            merged_at: t(at),
            merge_commit_sha: sha.into(),
            commits: vec![format!("{sha}-p")],
            first_commit_at: t(at - 5.0),
            body: String::new(),
        });
        self
    }

    #[allow(clippy::too_many_arguments)]
    fn deploy(
        &mut self,
        repo: &str,
        service: &str,
        id: u64,
        sha: &str,
        at: f64,
        state: DeployState,
    ) -> &mut Self {
        self.0.upsert_event(&Deployment {
            repo: repo.into(),
            service: service.into(),
            environment: "production".into(),
            id,
            source: DeploySource::DeploymentsApi,
            sha: sha.into(),
            git_ref: "main".into(),
            created_at: t(at - 0.1),
            state,
            finished_at: Some(t(at)),
        });
        self
    }

    fn incident(
        &mut self,
        repo: &str,
        number: u64,
        body: &str,
        labels: &[&str],
        at: f64,
    ) -> &mut Self {
        self.0.upsert_event(&Incident {
            repo: repo.into(),
            number,
            title: "Elevated errors".into(),
            body: body.into(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            created_at: t(at),
            closed_at: Some(t(at + 1.0)),
        });
        self
    }

    fn write(&mut self, store: &Store) {
        store.commit(std::mem::take(&mut self.0)).unwrap();
    }
}

/// A linear history of `n` squash-merged PRs in `repo` from hour `from`, every 2 h, each
/// deployed by `service` an hour after it merged (ids from `first_id`).
fn history(page: &mut Page, repo: &str, service: &str, prs: std::ops::Range<u64>, first_id: u64) {
    for n in prs.clone() {
        let at = n as f64 * 2.0;
        let parent = (n > prs.start || n > 1).then(|| format!("{repo}-{}", n - 1));
        page.commit(repo, &format!("{repo}-{n}"), parent.as_deref(), at)
            .pr(repo, n, &[], &format!("{repo}-{n}"), at)
            .deploy(
                repo,
                service,
                first_id + n,
                &format!("{repo}-{n}"),
                at + 1.0,
                DeployState::Success,
            );
    }
}

/// Checks the cache's model against one rebuilt from every event, and how many models it
/// built (from every event, incrementally) so far.
fn check(cache: &DoraCache, store: &Store, settings: &Settings, builds: (u64, u64), what: &str) {
    let cached = cache.get(store, settings).unwrap();
    let full = dora_model(store, settings).unwrap();
    assert_eq!(*cached, full, "{what}");
    let b = cache.builds();
    assert_eq!((b.full, b.incremental), builds, "{what}");
    one_service_alone_is_the_whole(store, settings, &full, what);
}

/// Each service's figures from its part alone (`dora_model_of`: the events of the repositories
/// linked to it) are those of the whole model: its deployments with every fact, its incidents,
/// and its weekly figures; the part holds only the services linked to it.
fn one_service_alone_is_the_whole(
    store: &Store,
    settings: &Settings,
    full: &dora::DoraModel,
    what: &str,
) {
    let week = t(0.0).timestamp_millis();
    let weeks: Vec<i64> = (0..3).map(|i| week + i * 7 * 86_400_000).collect();
    for s in &full.services {
        let name = s.name.as_str();
        let part = dora_model_of(store, settings, name)
            .unwrap()
            .unwrap_or_else(|| panic!("{what}: no part for {name}"));
        assert_eq!(
            part.deployments_of(Some(name)),
            full.deployments_of(Some(name)),
            "{what}: {name}"
        );
        let incidents = |m: &dora::DoraModel| -> Vec<dora::IncidentFacts> {
            m.incidents
                .iter()
                .filter(|i| i.service.as_deref() == Some(name))
                .cloned()
                .collect()
        };
        assert_eq!(incidents(&part), incidents(full), "{what}: {name}");
        assert_eq!(
            dora::weekly(&part, Some(name), &weeks, &settings.bands),
            dora::weekly(full, Some(name), &weeks, &settings.bands),
            "{what}: {name}"
        );
        assert!(
            part.services.len() < full.services.len(),
            "{what}: {name}'s part holds every service"
        );
    }
    assert!(dora_model_of(store, settings, "nobody").unwrap().is_none());
}

#[test]
fn an_incremental_update_is_the_full_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let settings = settings();
    let mut page = Page::default();
    history(&mut page, "o/app", "app", 1..6, 100);
    history(&mut page, "o/solo", "solo", 1..6, 300);
    history(&mut page, "o/shared", "shared", 1..4, 500);
    page.commit("o/extra", "o/extra-1", None, 1.0).deploy(
        "o/extra",
        "shared",
        600,
        "o/extra-1",
        2.5,
        DeployState::Success,
    );
    // An incident of o/ops about app, naming its deployment 103.
    page.incident(
        "o/ops",
        1,
        "after deployment 103",
        &["incident", "service:app"],
        8.5,
    );
    // The monorepo: PR 1 touches both services, each deploys it.
    page.commit("o/mono", "m1", None, 1.0)
        .pr("o/mono", 1, &["api/a.rs", "web/b.ts"], "m1", 1.0)
        .deploy("o/mono", "api", 701, "m1", 2.0, DeployState::Success)
        .deploy("o/mono", "web", 702, "m1", 3.0, DeployState::Success);
    page.write(&store);
    let cache = DoraCache::default();
    check(&cache, &store, &settings, (1, 0), "first");

    // A page of PRs and deployments in one repository.
    history(&mut page, "o/solo", "solo", 6..12, 300);
    page.write(&store);
    check(&cache, &store, &settings, (1, 1), "solo page");

    // Rollback of app to its PR 5, then a redeploy of PR 6's SHA (not a rollback, ships again),
    // and an incident of o/ops about app within the window of the rollback.
    page.commit("o/app", "o/app-6", Some("o/app-5"), 12.0)
        .pr("o/app", 6, &[], "o/app-6", 12.0)
        .deploy("o/app", "app", 106, "o/app-6", 13.0, DeployState::Success)
        .deploy("o/app", "app", 107, "o/app-5", 14.0, DeployState::Success)
        .deploy("o/app", "app", 108, "o/app-6", 16.0, DeployState::Success);
    page.write(&store);
    check(&cache, &store, &settings, (1, 2), "rollback");
    page.incident(
        "o/ops",
        2,
        "errors since o/app-6",
        &["incident", "service:app"],
        13.5,
    );
    page.write(&store);
    check(&cache, &store, &settings, (1, 3), "ops incident");
    let model = cache.get(&store, &settings).unwrap();
    let rolled_back = model
        .deployments_of(Some("app"))
        .iter()
        .find(|d| d.id == 106)
        .unwrap();
    assert!(rolled_back.failed(), "{rolled_back:?}");
    assert!(model
        .incidents
        .iter()
        .any(|i| i.repo == "o/ops" && i.deployments == [106]));

    // The monorepo: a PR of both services, shipped by each, then an incident naming it for web.
    page.commit("o/mono", "m2", Some("m1"), 20.0)
        .pr("o/mono", 2, &["api/x.rs", "web/y.ts"], "m2", 20.0)
        .deploy("o/mono", "api", 703, "m2", 21.0, DeployState::Success)
        .deploy("o/mono", "web", 704, "m2", 22.0, DeployState::Success)
        .incident(
            "o/mono",
            3,
            "broken by #2",
            &["incident", "service:web"],
            23.0,
        );
    page.write(&store);
    check(&cache, &store, &settings, (1, 4), "monorepo");

    // Another deployment of shared from o/extra; two repositories in one commit.
    page.commit("o/extra", "o/extra-2", Some("o/extra-1"), 24.0)
        .deploy(
            "o/extra",
            "shared",
            601,
            "o/extra-2",
            25.0,
            DeployState::Failure,
        );
    history(&mut page, "o/shared", "shared", 4..6, 500);
    page.write(&store);
    check(&cache, &store, &settings, (1, 5), "shared");

    // A new link (o/solo's incident about api) and a new repository: rebuilt whole, still equal.
    page.incident(
        "o/solo",
        4,
        "api errors",
        &["incident", "service:api"],
        30.0,
    );
    page.write(&store);
    check(&cache, &store, &settings, (2, 5), "new link");
    page.incident("o/new", 1, "who knows", &["incident"], 31.0);
    page.write(&store);
    check(&cache, &store, &settings, (3, 5), "new repository");

    // Only points: nothing to do.
    let mut points = WriteBatch::new();
    points.put_point(
        &barometer::model::SeriesKey::new("x", [("a", "b")]).unwrap(),
        1_000,
        1.0,
    );
    store.commit(points).unwrap();
    check(&cache, &store, &settings, (3, 5), "points only");

    // Services not configured are listed in the order of their first deployment's natural key:
    // y (…/5) before x (…/9); x's deployment 10 (…/10 sorts first) turns it round, which a
    // part's update cannot do (rebuilt whole); x's deployment 11 changes nothing of the kind.
    page.commit("o/multi", "u1", None, 40.0)
        .deploy("o/multi", "x", 9, "u1", 41.0, DeployState::Success)
        .deploy("o/multi", "y", 5, "u1", 41.5, DeployState::Success);
    page.write(&store);
    check(&cache, &store, &settings, (4, 5), "discovered services");
    let names = |cache: &DoraCache| -> Vec<String> {
        let m = cache.get(&store, &settings).unwrap();
        m.services[5..].iter().map(|s| s.name.clone()).collect()
    };
    assert_eq!(names(&cache), ["y", "x"]);
    page.commit("o/multi", "u2", Some("u1"), 42.0).deploy(
        "o/multi",
        "x",
        10,
        "u2",
        43.0,
        DeployState::Success,
    );
    page.write(&store);
    check(&cache, &store, &settings, (5, 5), "discovered order");
    assert_eq!(names(&cache), ["x", "y"]);
    page.commit("o/multi", "u3", Some("u2"), 44.0).deploy(
        "o/multi",
        "x",
        11,
        "u3",
        45.0,
        DeployState::Success,
    );
    page.write(&store);
    check(&cache, &store, &settings, (5, 6), "discovered, same order");
}

/// A restarted process starts from the model the store kept, brought up to date from the groups
/// of events changed since; never from one kept with other settings, or one that does not
/// decode.
#[test]
fn a_restart_starts_from_the_kept_model() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings();
    let open = || Store::open(dir.path()).unwrap();
    let builds = |cache: &DoraCache| {
        let b = cache.builds();
        (b.full, b.incremental, b.kept)
    };
    let same = |cache: &DoraCache, store: &Store, settings: &Settings, what: &str| {
        let cached = cache.get(store, settings).unwrap();
        assert_eq!(*cached, dora_model(store, settings).unwrap(), "{what}");
        // Kept on a thread of its own, as a daemon waits for it before it stops.
        cache.settle();
    };
    {
        let store = open();
        let mut page = Page::default();
        history(&mut page, "o/app", "app", 1..6, 100);
        history(&mut page, "o/solo", "solo", 1..6, 300);
        page.incident(
            "o/ops",
            1,
            "after deployment 103",
            &["incident", "service:app"],
            8.5,
        );
        page.write(&store);
        let cache = DoraCache::default();
        same(&cache, &store, &settings, "first process");
        assert_eq!(builds(&cache), (1, 0, 0));
    }
    // Nothing changed: the kept model as it is.
    {
        let store = open();
        let cache = DoraCache::default();
        same(&cache, &store, &settings, "restart");
        assert_eq!(builds(&cache), (0, 0, 1));
        // A page of one repository while stopped (a CLI sync), then a restart: the kept model
        // and that repository's part only.
        let mut page = Page::default();
        history(&mut page, "o/solo", "solo", 6..9, 300);
        page.write(&store);
    }
    {
        let store = open();
        let cache = DoraCache::default();
        same(&cache, &store, &settings, "restart after a page");
        assert_eq!(builds(&cache), (0, 0, 1));
        // Then as before: updated in place.
        let mut page = Page::default();
        history(&mut page, "o/app", "app", 6..8, 100);
        page.write(&store);
        same(&cache, &store, &settings, "a page after the restart");
        assert_eq!(builds(&cache), (0, 1, 1));
        // A new link between repositories: the kept model cannot be updated, built whole.
        page.incident(
            "o/solo",
            4,
            "app errors",
            &["incident", "service:app"],
            30.0,
        );
        page.write(&store);
    }
    {
        let store = open();
        let cache = DoraCache::default();
        same(&cache, &store, &settings, "restart after a new link");
        assert_eq!(builds(&cache), (1, 0, 0));
    }
    {
        // Kept from the whole build just made.
        let store = open();
        let cache = DoraCache::default();
        same(&cache, &store, &settings, "restart after the whole build");
        assert_eq!(builds(&cache), (0, 0, 1));
        // Other settings: not the kept model.
        let mut other = settings.clone();
        other.services.pop();
        let cache = DoraCache::default();
        same(&cache, &store, &other, "other settings");
        assert_eq!(builds(&cache), (1, 0, 0));
        // Kept again with these settings.
        let cache = DoraCache::default();
        same(&cache, &store, &settings, "these settings again");
        assert_eq!(builds(&cache), (1, 0, 0));
    }
    // A kept model that does not decode: warned, built whole, kept again; one cut inside its
    // head is no error either.
    let kept = dir.path().join("kept").join("dora_state");
    let mut value = std::fs::read(&kept).expect("kept");
    value.truncate(value.len() - 10);
    std::fs::write(&kept, &value).unwrap();
    {
        let store = open();
        let cache = DoraCache::default();
        same(&cache, &store, &settings, "damaged");
        assert_eq!(builds(&cache), (1, 0, 0));
    }
    // A kept file copied beside another store (of another history, further on): never taken,
    // built whole.
    {
        let other = tempfile::tempdir().unwrap();
        let store = Store::open(other.path()).unwrap();
        let mut page = Page::default();
        for n in 1..40 {
            history(&mut page, "o/app", "app", n..n + 1, 100);
            page.write(&store);
        }
        assert!(store.event_generation() > 30);
        std::fs::create_dir_all(other.path().join("kept")).unwrap();
        std::fs::copy(&kept, other.path().join("kept").join("dora_state")).unwrap();
        let cache = DoraCache::default();
        same(&cache, &store, &settings, "another store's");
        assert_eq!(builds(&cache), (1, 0, 0));
    }
    std::fs::write(&kept, [0u8; 5]).unwrap();
    let store = open();
    let cache = DoraCache::default();
    same(&cache, &store, &settings, "cut in its head");
    assert_eq!(builds(&cache), (1, 0, 0));
    let cache = DoraCache::default();
    same(&cache, &store, &settings, "kept again");
    assert_eq!(builds(&cache), (0, 0, 1));
}

#[test]
fn the_demo_analysed_part_by_part_is_the_whole_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let end = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    assert!(demo::seed(&store, 42, end, &token).unwrap().complete);
    let settings = Settings::new(
        &barometer::config::Config::load(&barometer::config::Sources {
            env: Some(Default::default()),
            ..Default::default()
        })
        .unwrap(),
    )
    .unwrap();
    let events = DeliveryEvents::read(&store).unwrap();
    let services = barometer::query::views::services(&settings, &events.deployments);
    let full = dora::analyse(events.input(), &services, &settings.dora);
    assert!(full.deployments.len() > 100 && !full.incidents.is_empty());
    assert_eq!(
        dora::analyse_partitioned(events.input(), &services, &settings.dora),
        full
    );
    let parts = dora::Partition::new(&dora::links(events.input()), &services);
    assert!(parts.parts().len() > 1, "{parts:?}");

    // A page of new events in one repository, then the cache's update.
    let cache = DoraCache::default();
    cache.get(&store, &settings).unwrap();
    let d = full.deployments.last().unwrap();
    let (repo, service, sha) = (d.repo.clone(), d.service.clone(), d.sha.clone());
    let mut page = Page::default();
    let mut parent = sha;
    for i in 0..20u64 {
        let sha = format!("incr{i:036}");
        let at = 24.0 * 20.0 + i as f64;
        page.commit(&repo, &sha, Some(&parent), at)
            .pr(&repo, 90_000 + i, &[], &sha, at)
            .deploy(
                &repo,
                &service,
                90_000 + i,
                &sha,
                at + 0.5,
                DeployState::Success,
            );
        parent = sha;
    }
    page.write(&store);
    check(&cache, &store, &settings, (1, 1), "demo page");
}
