//! The analysis split by repository (issue 21): which repositories are linked, and that every
//! part analysed apart gives the whole analysis (`World::analyse` checks the latter on every
//! scenario of these tests).

use super::*;

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
