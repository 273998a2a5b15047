//! Teams: a team's figures pool its services' samples (issue #16).

use super::*;

/// A team of two services in two repositories, one week (hours from Monday 00:00); each earlier
/// deployment (-50 h) is the previous week's:
///
/// | service | deployment | at | ships (direct pushes) | lead time |
/// |---------|------------|----|-----------------------|-----------|
/// | a       | 2          | 1  | a1 (0 h)              | 1 h       |
/// | a       | 3          | 12 | a2 (10 h)             | 2 h       |
/// | a       | 4          | 23 | a3 (20 h)             | 3 h       |
/// | b       | 12         | 40 | b1 (30 h)             | 10 h      |
/// | b       | 13 failed  | 42 | —                     | —         |
///
/// Service a's median is 2 h, b's 10 h: a median of medians would say 6 h. The team's median
/// pools {1, 2, 3, 10} h: (2 + 3) / 2 = 2.5 h. Deployments: 3 + 1 = 4 successful, 5 attempted,
/// 1 failed, so the change failure rate is 1 / 5 = 0.2.
#[test]
fn a_team_pools_its_services_samples_rather_than_averaging_their_medians() {
    let mut w = World::default();
    for (repo, svc, first) in [("o/a", "a", 1), ("o/b", "b", 11)] {
        let root = format!("{svc}0");
        w.commit(repo, &root, &[], -100.0);
        w.deploy(repo, svc, first, &root, -50.0, DeployState::Success);
    }
    w.commit("o/a", "a1", &["a0"], 0.0);
    w.deploy("o/a", "a", 2, "a1", 1.0, DeployState::Success);
    w.commit("o/a", "a2", &["a1"], 10.0);
    w.deploy("o/a", "a", 3, "a2", 12.0, DeployState::Success);
    w.commit("o/a", "a3", &["a2"], 20.0);
    w.deploy("o/a", "a", 4, "a3", 23.0, DeployState::Success);
    w.commit("o/b", "b1", &["b0"], 30.0);
    w.deploy("o/b", "b", 12, "b1", 40.0, DeployState::Success);
    w.commit("o/b", "b2", &["b1"], 41.0);
    w.deploy("o/b", "b", 13, "b2", 42.0, DeployState::Failure);
    let services = [service("a", "o/a", &[]), service("b", "o/b", &[])];
    let m = w.analyse(&services, &DoraSettings::default());
    let week = t(0.0).timestamp_millis();
    let bands = bands::table(2023).expect("the 2023 table");
    let p50 = |weeks: &[DoraWeek]| weeks[0].week.lead_time.map(|q| q.p50 / H);
    assert_eq!(p50(&weekly(&m, Some("a"), &[week], &bands)), Some(2.0));
    assert_eq!(p50(&weekly(&m, Some("b"), &[week], &bands)), Some(10.0));
    let team = weekly_team(&m, "ab", &["a".into(), "b".into()], &[week], &bands);
    assert_eq!(team[0].team.as_deref(), Some("ab"));
    assert_eq!(team[0].service, None);
    assert_eq!(p50(&team), Some(2.5));
    assert_eq!(team[0].week.deployments, 4);
    assert_eq!(team[0].week.attempted, 5);
    assert_eq!(team[0].week.change_failure_rate.map(|r| r.value), Some(0.2));
    // A team of one service is that service.
    let only_b = weekly_team(&m, "b-team", &["b".into()], &[week], &bands);
    assert_eq!(p50(&only_b), Some(10.0));
}
