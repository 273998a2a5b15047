//! The byte form of a DORA model kept in the store across restarts (issue 21): its facts, the
//! links between repositories and services and the first deployments, from which the rest of
//! the state is derived again with the settings.
//!
//! Its own layout rather than the model's serde form: that one is the JSON API's (an
//! internally tagged enum, a field left out when empty), which a compact, non-self-describing
//! encoding such as postcard cannot carry back. Strings are borrowed from the payload while
//! decoding, so each is copied once, into the model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::dora::{
    ChangeSet, DeployFacts, FailureSignal, IncidentFacts, Recovery, RepoLinks, ShippedChange,
};
use crate::model::DeployState;

/// Repository → service → natural key of its first deployment there.
pub(super) type FirstDeployments = BTreeMap<String, BTreeMap<String, String>>;

/// What is kept, owned.
#[derive(Debug, Default, PartialEq)]
pub(super) struct KeptState {
    /// The event generation at which the model last changed.
    pub(super) revision: u64,
    pub(super) deployments: Vec<DeployFacts>,
    pub(super) incidents: Vec<IncidentFacts>,
    pub(super) links: BTreeMap<String, RepoLinks>,
    pub(super) first: FirstDeployments,
}

#[derive(Serialize, Deserialize)]
struct Kept<'a> {
    revision: u64,
    /// The deployments in runs of [`RUN`], each encoded on its own: decoding is most of a
    /// restart's wait for the model, and runs decode on every core.
    #[serde(borrow)]
    deployments: Vec<&'a [u8]>,
    #[serde(borrow)]
    incidents: Vec<Incident<'a>>,
    #[serde(borrow)]
    links: Vec<Links<'a>>,
    #[serde(borrow)]
    first: Vec<(&'a str, Vec<(&'a str, &'a str)>)>,
}

#[derive(Serialize, Deserialize)]
struct Deploy<'a> {
    service: &'a str,
    repo: &'a str,
    id: u64,
    sha: &'a str,
    at_ms: i64,
    state: DeployState,
    change_set: ChangeSet,
    #[serde(borrow)]
    changes: Vec<Shipped<'a>>,
    #[serde(borrow)]
    failures: Vec<Failure<'a>>,
    #[serde(borrow)]
    unplanned: Option<&'a str>,
    rollback_of: Option<u64>,
    #[serde(borrow)]
    recovery: Option<Restored<'a>>,
}

#[derive(Serialize, Deserialize)]
struct Shipped<'a> {
    pr: Option<u64>,
    title: &'a str,
    #[serde(borrow)]
    commits: Vec<&'a str>,
    first_commit_ms: i64,
    opened_ms: Option<i64>,
    merged_ms: Option<i64>,
    lead_ms: i64,
    commit_leads_ms: Option<Vec<i64>>,
    #[serde(borrow)]
    unplanned: Option<&'a str>,
}

#[derive(Serialize, Deserialize)]
enum Failure<'a> {
    Status(DeployState),
    Incident(u64, &'a str),
    Revert(u64, u64),
    RolledBack(u64),
}

#[derive(Serialize, Deserialize)]
struct Restored<'a> {
    end_ms: i64,
    duration_ms: i64,
    by: &'a str,
}

#[derive(Serialize, Deserialize)]
struct Incident<'a> {
    repo: &'a str,
    number: u64,
    #[serde(borrow)]
    service: Option<&'a str>,
    opened_ms: i64,
    closed_ms: Option<i64>,
    deployments: Vec<u64>,
    how: &'a str,
}

#[derive(Serialize, Deserialize)]
struct Links<'a> {
    repo: &'a str,
    #[serde(borrow)]
    deployed: Vec<&'a str>,
    #[serde(borrow)]
    labelled: Vec<&'a str>,
}

/// Deployments per separately encoded run.
const RUN: usize = 8_192;

/// The bytes of a state's parts.
pub(super) fn encode(
    revision: u64,
    deployments: &[DeployFacts],
    incidents: &[IncidentFacts],
    links: &BTreeMap<String, RepoLinks>,
    first: &FirstDeployments,
) -> Result<Vec<u8>, postcard::Error> {
    let runs = deployments
        .chunks(RUN)
        .map(|run| postcard::to_allocvec(&run.iter().map(deploy).collect::<Vec<_>>()))
        .collect::<Result<Vec<_>, _>>()?;
    let kept = Kept {
        revision,
        deployments: runs.iter().map(Vec::as_slice).collect(),
        incidents: incidents
            .iter()
            .map(|i| Incident {
                repo: &i.repo,
                number: i.number,
                service: i.service.as_deref(),
                opened_ms: i.opened_ms,
                closed_ms: i.closed_ms,
                deployments: i.deployments.clone(),
                how: &i.how,
            })
            .collect(),
        links: links
            .iter()
            .map(|(repo, l)| Links {
                repo,
                deployed: l.deployed.iter().map(String::as_str).collect(),
                labelled: l.labelled.iter().map(String::as_str).collect(),
            })
            .collect(),
        first: first
            .iter()
            .map(|(repo, m)| {
                (
                    repo.as_str(),
                    m.iter().map(|(s, k)| (s.as_str(), k.as_str())).collect(),
                )
            })
            .collect(),
    };
    postcard::to_allocvec(&kept)
}

fn deploy(d: &DeployFacts) -> Deploy<'_> {
    Deploy {
        service: &d.service,
        repo: &d.repo,
        id: d.id,
        sha: &d.sha,
        at_ms: d.at_ms,
        state: d.state,
        change_set: d.change_set,
        changes: d
            .changes
            .iter()
            .map(|c| Shipped {
                pr: c.pr,
                title: &c.title,
                commits: c.commits.iter().map(String::as_str).collect(),
                first_commit_ms: c.first_commit_ms,
                opened_ms: c.opened_ms,
                merged_ms: c.merged_ms,
                lead_ms: c.lead_ms,
                commit_leads_ms: c.commit_leads_ms.clone(),
                unplanned: c.unplanned.as_deref(),
            })
            .collect(),
        failures: d
            .failures
            .iter()
            .map(|f| match f {
                FailureSignal::Status { state } => Failure::Status(*state),
                FailureSignal::Incident { number, how } => Failure::Incident(*number, how),
                FailureSignal::Revert { by, reverted } => Failure::Revert(*by, *reverted),
                FailureSignal::RolledBack { by } => Failure::RolledBack(*by),
            })
            .collect(),
        unplanned: d.unplanned.as_deref(),
        rollback_of: d.rollback_of,
        recovery: d.recovery.as_ref().map(|r| Restored {
            end_ms: r.end_ms,
            duration_ms: r.duration_ms,
            by: &r.by,
        }),
    }
}

/// A deployment back in the model's form.
fn owned_deploy(d: Deploy<'_>) -> DeployFacts {
    let owned = |s: &str| s.to_owned();
    DeployFacts {
        service: owned(d.service),
        repo: owned(d.repo),
        id: d.id,
        sha: owned(d.sha),
        at_ms: d.at_ms,
        state: d.state,
        change_set: d.change_set,
        changes: d
            .changes
            .into_iter()
            .map(|c| ShippedChange {
                pr: c.pr,
                title: owned(c.title),
                commits: c.commits.into_iter().map(owned).collect(),
                first_commit_ms: c.first_commit_ms,
                opened_ms: c.opened_ms,
                merged_ms: c.merged_ms,
                lead_ms: c.lead_ms,
                commit_leads_ms: c.commit_leads_ms,
                unplanned: c.unplanned.map(owned),
            })
            .collect(),
        failures: d
            .failures
            .into_iter()
            .map(|f| match f {
                Failure::Status(state) => FailureSignal::Status { state },
                Failure::Incident(number, how) => FailureSignal::Incident {
                    number,
                    how: owned(how),
                },
                Failure::Revert(by, reverted) => FailureSignal::Revert { by, reverted },
                Failure::RolledBack(by) => FailureSignal::RolledBack { by },
            })
            .collect(),
        unplanned: d.unplanned.map(owned),
        rollback_of: d.rollback_of,
        recovery: d.recovery.map(|r| Recovery {
            end_ms: r.end_ms,
            duration_ms: r.duration_ms,
            by: owned(r.by),
        }),
    }
}

/// The parts back from their bytes; an error when they do not decode whole.
pub(super) fn decode(bytes: &[u8]) -> Result<KeptState, postcard::Error> {
    let (kept, rest): (Kept<'_>, &[u8]) = postcard::take_from_bytes(bytes)?;
    if !rest.is_empty() {
        return Err(postcard::Error::DeserializeBadEncoding);
    }
    let runs = crate::analysis::parallel_map(&kept.deployments, |run| {
        let (run, rest): (Vec<Deploy<'_>>, &[u8]) = postcard::take_from_bytes(run)?;
        if !rest.is_empty() {
            return Err(postcard::Error::DeserializeBadEncoding);
        }
        Ok(run.into_iter().map(owned_deploy).collect::<Vec<_>>())
    });
    // Sized from what decoded, never from a count read out of the file.
    let runs = runs.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut deployments = Vec::with_capacity(runs.iter().map(Vec::len).sum());
    for run in runs {
        deployments.extend(run);
    }
    let owned = |s: &str| s.to_owned();
    Ok(KeptState {
        revision: kept.revision,
        deployments,
        incidents: kept
            .incidents
            .into_iter()
            .map(|i| IncidentFacts {
                repo: owned(i.repo),
                number: i.number,
                service: i.service.map(owned),
                opened_ms: i.opened_ms,
                closed_ms: i.closed_ms,
                deployments: i.deployments,
                how: owned(i.how),
            })
            .collect(),
        links: kept
            .links
            .into_iter()
            .map(|l| {
                (
                    owned(l.repo),
                    RepoLinks {
                        deployed: l.deployed.into_iter().map(owned).collect(),
                        labelled: l.labelled.into_iter().map(owned).collect(),
                    },
                )
            })
            .collect(),
        first: kept
            .first
            .into_iter()
            .map(|(repo, m)| {
                (
                    owned(repo),
                    m.into_iter().map(|(s, k)| (owned(s), owned(k))).collect(),
                )
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field and every kind of failure signal comes back as it was.
    #[test]
    fn a_state_comes_back_whole() {
        let change = |pr: Option<u64>, leads: Option<Vec<i64>>| ShippedChange {
            pr,
            title: "Fix é".into(),
            commits: vec!["a1".into(), "b2".into()],
            first_commit_ms: -5,
            opened_ms: pr.map(|_| 1),
            merged_ms: None,
            lead_ms: 7,
            commit_leads_ms: leads,
            unplanned: pr.map(|_| "revert".into()),
        };
        let deployment = DeployFacts {
            service: "api".into(),
            repo: "o/r".into(),
            id: 9,
            sha: "abc".into(),
            at_ms: 1_700_000_000_000,
            state: DeployState::Failure,
            change_set: ChangeSet::Lookback,
            changes: vec![change(Some(3), Some(vec![1, 2])), change(None, None)],
            failures: vec![
                FailureSignal::Status {
                    state: DeployState::Error,
                },
                FailureSignal::Incident {
                    number: 4,
                    how: "named".into(),
                },
                FailureSignal::Revert { by: 5, reverted: 3 },
                FailureSignal::RolledBack { by: 10 },
            ],
            unplanned: Some("hotfix".into()),
            rollback_of: Some(8),
            recovery: Some(Recovery {
                end_ms: 2,
                duration_ms: 1,
                by: "deployment 10".into(),
            }),
        };
        let state = KeptState {
            revision: 3,
            deployments: vec![
                deployment.clone(),
                DeployFacts {
                    failures: vec![],
                    recovery: None,
                    unplanned: None,
                    rollback_of: None,
                    ..deployment
                },
            ],
            incidents: vec![IncidentFacts {
                repo: "o/ops".into(),
                number: 4,
                service: Some("api".into()),
                opened_ms: 3,
                closed_ms: None,
                deployments: vec![9],
                how: "latest deployment within 24 h".into(),
            }],
            links: [(
                "o/r".to_owned(),
                RepoLinks {
                    deployed: ["api".to_owned()].into(),
                    labelled: ["web".to_owned()].into(),
                },
            )]
            .into(),
            first: [(
                "o/r".to_owned(),
                [("api".to_owned(), "o/r/deployments_api/9".to_owned())].into(),
            )]
            .into(),
        };
        let bytes = encode(
            state.revision,
            &state.deployments,
            &state.incidents,
            &state.links,
            &state.first,
        )
        .expect("encode");
        assert_eq!(decode(&bytes).expect("decode"), state);
        // Several runs of deployments come back in order.
        let mut many = state.deployments.clone();
        for i in 0..2 * RUN as u64 {
            many.push(DeployFacts {
                id: i,
                ..state.deployments[1].clone()
            });
        }
        let big = KeptState {
            deployments: many,
            ..KeptState::default()
        };
        let bytes_big = encode(0, &big.deployments, &[], &big.links, &big.first).expect("encode");
        assert_eq!(decode(&bytes_big).expect("decode"), big);
        // Cut short, or with bytes left over: refused.
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }
}
