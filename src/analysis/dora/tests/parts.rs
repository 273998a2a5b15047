//! The analysis split by repository (issue 21): which repositories are linked, and that every
//! part analysed apart gives the whole analysis (`World::analyse` checks the latter on every
//! scenario of these tests).

use super::*;
use crate::analysis::dora::parts;

/// Five repositories, hours from Monday 00:00:
/// - `o/app` deploys `app`; `o/lib` deploys `app` too (deployment 20): one part;
/// - `o/ops` files incident #1 labelled `service:app`, naming deployment 20: same part;
/// - `o/web` deploys `web` (its deployment 10 shares an id with app's), and its incident #2
///   names deployment 20 without a label: it is web's, deployment 20 is not web's, so it falls
///   to web's latest deployment in the window; `o/web` is a part of its own;
/// - `o/docs` has only commits: a part of its own.
#[test]
fn linked_repositories_share_a_part_and_parts_give_the_whole() {
    let mut w = World::default();
    w.commit("o/app", "a1", &[], 0.0);
    w.deploy("o/app", "app", 10, "a1", 1.0, DeployState::Success);
    w.commit("o/lib", "l1", &[], 2.0);
    w.deploy("o/lib", "app", 20, "l1", 3.0, DeployState::Success);
    w.commit("o/web", "w1", &[], 0.0);
    w.deploy("o/web", "web", 10, "w1", 2.5, DeployState::Success);
    w.incident(
        "o/ops",
        1,
        "since deployment 20",
        &["incident", "service:app"],
        4.0,
        Some(5.0),
    );
    w.incident(
        "o/web",
        2,
        "since deployment 20",
        &["incident"],
        4.0,
        Some(6.0),
    );
    w.commit("o/docs", "d1", &[], 0.0);
    let services = [service("app", "o/app", &[]), service("web", "o/web", &[])];
    let m = w.analyse(&services, &DoraSettings::default());

    let input = DoraInput {
        deployments: &w.deployments,
        changes: &w.changes,
        commits: &w.commits,
        incidents: &w.incidents,
    };
    let partition = Partition::new(&links(input), &services);
    let parts: Vec<Vec<&str>> = partition
        .parts()
        .iter()
        .map(|p| p.repos.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        parts,
        [
            vec!["o/app", "o/lib", "o/ops"],
            vec!["o/docs"],
            vec!["o/web"]
        ]
    );
    assert_eq!(partition.parts()[0].services, services[..1]);
    let ops = m.incidents.iter().find(|i| i.repo == "o/ops").expect("#1");
    assert_eq!(ops.deployments, [20]);
    let web = m.incidents.iter().find(|i| i.repo == "o/web").expect("#2");
    assert_eq!(web.deployments, [10]);
    assert_eq!(m.deployments_of(Some("web"))[0].failures.len(), 1);
    assert_eq!(dep(&m, 20).failures.len(), 1);
}

/// Repository `o/a` deploys `a1` and `a2`, `o/b` deploys `b`; both have incidents.
fn world(pages: u64) -> World {
    let mut w = World::default();
    for (repo, services) in [("o/a", &["a1", "a2"][..]), ("o/b", &["b"][..])] {
        w.commit(repo, &format!("{repo}-0"), &[], 0.0);
        let mut id = 0;
        for i in 1..=pages * 4 {
            let (sha, at) = (format!("{repo}-{i}"), 10.0 * i as f64);
            w.commit(repo, &sha, &[&format!("{repo}-{}", i - 1)], at - 2.0);
            for s in services {
                id += 1;
                let state = if i % 3 == 0 {
                    DeployState::Failure
                } else {
                    DeployState::Success
                };
                w.deploy(repo, s, id, &sha, at, state);
            }
            if i % 2 == 0 {
                w.incident(repo, 100 + i, "", &["incident"], at + 1.0, Some(at + 3.0));
            }
        }
    }
    w
}

/// `before`'s events with those of `repo` taken from `after`.
fn written_to(before: &World, after: &World, repo: &str) -> World {
    fn pick<T: Clone>(before: &[T], after: &[T], repo: &str, of: fn(&T) -> &str) -> Vec<T> {
        let before = before.iter().filter(|e| of(e) != repo);
        before
            .chain(after.iter().filter(|e| of(e) == repo))
            .cloned()
            .collect()
    }
    World {
        deployments: pick(&before.deployments, &after.deployments, repo, |e| &e.repo),
        changes: pick(&before.changes, &after.changes, repo, |e| &e.repo),
        commits: pick(&before.commits, &after.commits, repo, |e| &e.repo),
        incidents: pick(&before.incidents, &after.incidents, repo, |e| &e.repo),
    }
}

fn input(w: &World) -> DoraInput<'_> {
    DoraInput {
        deployments: &w.deployments,
        changes: &w.changes,
        commits: &w.commits,
        incidents: &w.incidents,
    }
}

/// A part spliced in place, whether its services are side by side in the configuration or
/// another part's service lies between them, gives the model analysed from every event
/// (deployment ranges included).
#[test]
fn splicing_a_part_gives_the_whole_analysis() {
    let settings = DoraSettings::default();
    let (before, after) = (world(1), world(2));
    for order in [["a1", "a2", "b"], ["a1", "b", "a2"], ["b", "a1", "a2"]] {
        let services: Vec<ServiceSpec> = order
            .iter()
            .map(|s| service(s, if *s == "b" { "o/b" } else { "o/a" }, &[]))
            .collect();
        for repo in ["o/a", "o/b"] {
            let mut model = before.analyse(&services, &settings);
            let now = written_to(&before, &after, repo);
            let partition = Partition::new(&links(input(&now)), &services);
            let part = &partition.parts()[partition.part_of(repo).expect("a part")];
            let events = World {
                deployments: parts::of_part(&now.deployments, part, |e| &e.repo),
                changes: parts::of_part(&now.changes, part, |e| &e.repo),
                commits: parts::of_part(&now.commits, part, |e| &e.repo),
                incidents: parts::of_part(&now.incidents, part, |e| &e.repo),
            };
            model.splice(part, analyse(input(&events), &part.services, &settings));
            let whole = now.analyse(&services, &settings);
            assert_ne!(
                whole,
                before.analyse(&services, &settings),
                "{repo} changed"
            );
            assert_eq!(model, whole, "{order:?}, {repo} written to");
        }
    }
}
