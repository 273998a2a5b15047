//! Bug patterns: per week and per service, team or the organisation, the bugs opened, closed and
//! reopened, the open backlog and its median age at the week's end, and the bugs that escaped a
//! deployment (docs/bugs.md).
//!
//! A bug belongs to the service its `service:<name>` label names, else to its repository's only
//! service; a bug in a repository of several services without such a label counts for the
//! organisation only (it is never split or counted twice). It escaped a deployment when it was
//! opened within the escape window after a successful deployment of its service: the latest such
//! deployment is named.

use std::collections::BTreeMap;

use serde::Serialize;

use super::dora::{quantile, DoraModel};
use super::WEEK_MS;
use crate::model::{Bug, Calendar};

/// How bugs are read.
#[derive(Debug, Clone, Default)]
pub struct BugSettings {
    /// Severity name → the labels that mean it, in order.
    pub severity: Vec<(String, Vec<String>)>,
    /// The escape window after a deployment, ms.
    pub escaped_window_ms: i64,
}

/// The severity of a bug without a severity label.
pub const UNKNOWN_SEVERITY: &str = "unknown";

/// One bug, attributed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BugFacts {
    /// `owner/name`.
    pub repo: String,
    /// Issue number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// The service it belongs to, if one can be told.
    pub service: Option<String>,
    /// Its severity, from its labels.
    pub severity: String,
    /// Opened, ms.
    pub created_ms: i64,
    /// Last closed, ms, if closed now.
    pub closed_ms: Option<i64>,
    /// When it was seen reopened, ms.
    pub reopened_ms: Vec<i64>,
    /// The deployment it escaped (id), if it was opened within the window after one.
    pub escaped_from: Option<u64>,
}

/// Attributes every bug to a service, a severity and the deployment it escaped.
pub fn facts(bugs: &[Bug], model: &DoraModel, settings: &BugSettings) -> Vec<BugFacts> {
    let mut out: Vec<BugFacts> = bugs
        .iter()
        .map(|b| {
            let service = service_of(b, model);
            let created_ms = b.created_at.timestamp_millis();
            let escaped_from = service.as_deref().and_then(|s| {
                model
                    .deployments_of(Some(s))
                    .iter()
                    .filter(|d| d.succeeded())
                    .filter(|d| {
                        d.at_ms <= created_ms && created_ms - d.at_ms <= settings.escaped_window_ms
                    })
                    .max_by_key(|d| d.at_ms)
                    .map(|d| d.id)
            });
            BugFacts {
                repo: b.repo.clone(),
                number: b.number,
                title: b.title.clone(),
                severity: settings
                    .severity
                    .iter()
                    .find(|(_, labels)| labels.iter().any(|l| b.labels.contains(l)))
                    .map_or_else(|| UNKNOWN_SEVERITY.to_owned(), |(s, _)| s.clone()),
                service,
                created_ms,
                closed_ms: b.closed_at.map(|t| t.timestamp_millis()),
                reopened_ms: b.reopened_at.iter().map(|t| t.timestamp_millis()).collect(),
                escaped_from,
            }
        })
        .collect();
    out.sort_by(|a, b| (a.created_ms, &a.repo, a.number).cmp(&(b.created_ms, &b.repo, b.number)));
    out
}

/// The service a bug belongs to: the first service its `service:<name>` labels name, else its
/// repository's only service.
fn service_of(bug: &Bug, model: &DoraModel) -> Option<String> {
    let labelled = bug
        .labels
        .iter()
        .filter_map(|l| l.strip_prefix("service:"))
        .find(|name| model.services.iter().any(|s| s.name == *name));
    if let Some(s) = labelled {
        return Some(s.to_owned());
    }
    let mut of_repo = model.services.iter().filter(|s| s.repo == bug.repo);
    match (of_repo.next(), of_repo.next()) {
        (Some(only), None) => Some(only.name.clone()),
        _ => None,
    }
}

/// A bug that escaped a deployment, as a week lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Escaped {
    /// `owner/name#number`.
    pub bug: String,
    /// Its service.
    pub service: String,
    /// The deployment it escaped.
    pub deployment: u64,
}

/// One week of bugs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BugWeek {
    /// Monday 00:00 in the analysis time zone, ms.
    pub week_ms: i64,
    /// Bugs opened in the week.
    pub opened: u64,
    /// Of them, by severity.
    pub opened_by_severity: BTreeMap<String, u64>,
    /// Bugs whose last close falls in the week.
    pub closed: u64,
    /// Reopens seen in the week.
    pub reopened: u64,
    /// Bugs open at the week's end (opened by then, not closed by then).
    pub open_at_end: u64,
    /// Median age of those, seconds.
    pub open_age_p50_s: Option<f64>,
    /// Bugs opened in the week that escaped a deployment.
    pub escaped: u64,
    /// Which, and from which deployment.
    pub escaped_bugs: Vec<Escaped>,
}

/// Weekly bug figures of the bugs `keep` selects, for the given weeks (Mondays, ascending).
pub fn weekly(
    facts: &[BugFacts],
    keep: impl Fn(&BugFacts) -> bool,
    weeks: &[i64],
    calendar: Calendar,
) -> Vec<BugWeek> {
    let bugs: Vec<&BugFacts> = facts.iter().filter(|b| keep(b)).collect();
    weeks
        .iter()
        .map(|&w| {
            let end = w + WEEK_MS;
            let within = |t: i64| calendar.week_start(t) == w;
            let opened: Vec<&&BugFacts> = bugs.iter().filter(|b| within(b.created_ms)).collect();
            let mut by_severity = BTreeMap::new();
            for b in &opened {
                *by_severity.entry(b.severity.clone()).or_insert(0) += 1;
            }
            let escaped_bugs: Vec<Escaped> = opened
                .iter()
                .filter_map(|b| {
                    Some(Escaped {
                        bug: format!("{}#{}", b.repo, b.number),
                        service: b.service.clone()?,
                        deployment: b.escaped_from?,
                    })
                })
                .collect();
            let mut ages: Vec<f64> = bugs
                .iter()
                .filter(|b| b.created_ms < end && b.closed_ms.is_none_or(|c| c >= end))
                .map(|b| (end - b.created_ms) as f64 / 1000.0)
                .collect();
            ages.sort_by(f64::total_cmp);
            BugWeek {
                week_ms: w,
                opened: opened.len() as u64,
                opened_by_severity: by_severity,
                closed: bugs
                    .iter()
                    .filter(|b| b.closed_ms.is_some_and(within))
                    .count() as u64,
                reopened: bugs
                    .iter()
                    .map(|b| b.reopened_ms.iter().filter(|&&t| within(t)).count() as u64)
                    .sum(),
                open_at_end: ages.len() as u64,
                open_age_p50_s: (!ages.is_empty()).then(|| quantile(&ages, 0.5)),
                escaped: escaped_bugs.len() as u64,
                escaped_bugs,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};

    use super::*;
    use crate::analysis::dora::{analyse, DoraInput, DoraSettings, ServicePaths, ServiceSpec};
    use crate::model::{DeploySource, DeployState, Deployment};

    const H: i64 = 3_600_000;

    /// Monday 2026-01-05 00:00 UTC plus `hours`.
    fn t(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
            .single()
            .expect("t0")
            + Duration::hours(hours)
    }

    fn bug(
        repo: &str,
        number: u64,
        labels: &[&str],
        at: i64,
        closed: Option<i64>,
        reopened: &[i64],
    ) -> Bug {
        Bug {
            repo: repo.into(),
            number,
            title: format!("bug {number}"),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            created_at: t(at),
            closed_at: closed.map(t),
            reopened_at: reopened.iter().map(|&h| t(h)).collect(),
        }
    }

    fn deploy(id: u64, at: i64) -> Deployment {
        Deployment {
            repo: "o/a".into(),
            service: "a".into(),
            environment: "production".into(),
            id,
            source: DeploySource::DeploymentsApi,
            sha: format!("s{id}"),
            git_ref: "main".into(),
            created_at: t(at) - Duration::minutes(5),
            state: DeployState::Success,
            finished_at: Some(t(at)),
        }
    }

    /// Week 0 is 0–168 h; the escape window is 7 days.
    ///
    /// | bug | repo, labels            | opened | closed | reopened | service | escaped from |
    /// |-----|-------------------------|--------|--------|----------|---------|--------------|
    /// | #1  | o/a, sev1               | 12 h   | 30 h   | —        | a       | deploy 1 (10 h) |
    /// | #2  | o/a                     | 120 h  | open   | —        | a       | deploy 2 (100 h) |
    /// | #3  | o/mono, service:m2      | 50 h   | 200 h  | —        | m2      | — (m2 never deployed) |
    /// | #4  | o/mono (two services)   | 60 h   | open   | —        | none: the organisation only | — |
    /// | #5  | o/a                     | −200 h | open   | 150 h    | a       | — (before week 0) |
    ///
    /// The organisation in week 0: opened #1–#4 = 4 (sev1 1, unknown 3); closed #1 = 1; reopened
    /// #5 = 1; open at 168 h: #2, #3, #4, #5 = 4, aged 48, 118, 108 and 368 h, median
    /// (108 + 118) / 2 = 113 h; escaped #1 and #2 = 2. Service a: opened 2, closed 1, reopened 1,
    /// open #2 and #5 (48 h, 368 h: median 208 h), escaped 2. Services m1 and m2 (a team): #3
    /// alone.
    #[test]
    fn a_week_of_bugs_recounted_by_hand() {
        let spec = |name: &str, repo: &str| ServiceSpec {
            name: name.into(),
            repo: repo.into(),
            paths: ServicePaths::new(Vec::new()).expect("no globs"),
        };
        let services = [spec("a", "o/a"), spec("m1", "o/mono"), spec("m2", "o/mono")];
        let deployments = [deploy(1, 10), deploy(2, 100)];
        let model = analyse(
            DoraInput {
                deployments: &deployments,
                changes: &[],
                commits: &[],
                incidents: &[],
            },
            &services,
            &DoraSettings::default(),
        );
        let bugs = [
            bug("o/a", 1, &["bug", "sev1"], 12, Some(30), &[]),
            bug("o/a", 2, &["bug"], 120, None, &[]),
            bug("o/mono", 3, &["bug", "service:m2"], 50, Some(200), &[]),
            bug("o/mono", 4, &["bug"], 60, None, &[]),
            bug("o/a", 5, &["bug"], -200, None, &[150]),
        ];
        let settings = BugSettings {
            severity: vec![("sev1".into(), vec!["sev1".into(), "P1".into()])],
            escaped_window_ms: 168 * H,
        };
        let f = facts(&bugs, &model, &settings);
        let week = t(0).timestamp_millis();
        let cal = Calendar::default();

        let org = &weekly(&f, |_| true, &[week], cal)[0];
        assert_eq!(org.opened, 4);
        assert_eq!(org.opened_by_severity.get("sev1"), Some(&1));
        assert_eq!(org.opened_by_severity.get(UNKNOWN_SEVERITY), Some(&3));
        assert_eq!(org.closed, 1);
        assert_eq!(org.reopened, 1);
        assert_eq!(org.open_at_end, 4);
        assert_eq!(org.open_age_p50_s, Some(113.0 * 3600.0));
        assert_eq!(org.escaped, 2);
        assert_eq!(org.escaped_bugs[0].deployment, 1);
        assert_eq!(org.escaped_bugs[1].deployment, 2);

        let a = &weekly(&f, |b| b.service.as_deref() == Some("a"), &[week], cal)[0];
        assert_eq!(
            (a.opened, a.closed, a.reopened, a.open_at_end, a.escaped),
            (2, 1, 1, 2, 2)
        );
        assert_eq!(a.open_age_p50_s, Some(208.0 * 3600.0));

        let mono = ["m1".to_owned(), "m2".to_owned()];
        let team = &weekly(
            &f,
            |b| b.service.as_ref().is_some_and(|s| mono.contains(s)),
            &[week, week + WEEK_MS],
            cal,
        );
        assert_eq!(
            (team[0].opened, team[0].open_at_end, team[0].escaped),
            (1, 1, 0)
        );
        // Week 1: #3 closes at 200 h.
        assert_eq!(
            (team[1].opened, team[1].closed, team[1].open_at_end),
            (0, 1, 0)
        );
    }
}
