//! Failure signals (statuses, incidents, reverts, rollbacks), recovery, and unplanned work.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::LazyLock;

use regex::Regex;

use super::changes::is_revert;
use super::graph::Graph;
use super::{
    DeployFacts, DoraInput, DoraSettings, FailureSignal, IncidentFacts, Recovery, RecoveryEnd,
    ServiceSpec,
};
use crate::model::{Change, DeployState, Incident};

static DEPLOYMENT_REF: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)\bdeployment\s+#?(\d+)\b").ok());
static SHA_REF: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\b[0-9a-f]{7,40}\b").ok());
/// `#N` or `owner/repo#N`.
static PR_REF: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?:([\w.-]+/[\w.-]+))?#(\d+)\b").ok());
static REVERT_BRANCH: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^revert-(\d+)-").ok());
static REVERTS_BODY: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"Reverts ([\w.-]+/[\w.-]+)#(\d+)").ok());

fn captures<'t>(re: &LazyLock<Option<Regex>>, text: &'t str) -> Vec<regex::Captures<'t>> {
    re.as_ref()
        .map(|r| r.captures_iter(text).collect())
        .unwrap_or_default()
}

/// Stored PRs by (repo, title), built the first time a revert names its PR only by title.
type Titles<'a> = Option<HashMap<(&'a str, &'a str), Vec<&'a Change>>>;

/// The PR a revert undoes: from `revert-N-` branches, `Reverts owner/repo#N`, or the title
/// `Revert "<title>"` of an earlier PR of the same repository.
fn reverted_pr<'a>(c: &Change, titles: &mut Titles<'a>, graph: &Graph<'a>) -> Option<u64> {
    if let Some(n) = captures(&REVERT_BRANCH, &c.head_ref)
        .first()
        .and_then(|m| m.get(1)?.as_str().parse().ok())
    {
        return Some(n);
    }
    for m in captures(&REVERTS_BODY, &c.body) {
        if m.get(1).map(|r| r.as_str()) == Some(c.repo.as_str()) {
            if let Some(n) = m.get(2).and_then(|n| n.as_str().parse().ok()) {
                return Some(n);
            }
        }
    }
    let title = c.title.strip_prefix("Revert \"")?.strip_suffix('"')?;
    let titles = titles.get_or_insert_with(|| {
        let mut map: HashMap<(&str, &str), Vec<&Change>> = HashMap::default();
        for p in graph.prs() {
            map.entry((p.repo.as_str(), p.title.as_str()))
                .or_default()
                .push(p);
        }
        map
    });
    titles
        .get(&(c.repo.as_str(), title))?
        .iter()
        .filter(|p| p.merged_at <= c.merged_at)
        // The number breaks ties: the list's order is a hash map's.
        .max_by_key(|p| (p.merged_at, p.number))
        .map(|p| p.number)
}

/// The successful deployments that shipped each pull request: (repo, PR) → the earliest one, in
/// time, of each service that shipped it. A PR of a monorepo can be shipped by several services,
/// and after a rollback by the same service again; a revert or an incident that names it is
/// about the first time it went out for the service concerned.
fn shipped_by(deployments: &[DeployFacts]) -> HashMap<(&str, u64), Vec<usize>> {
    let mut out: HashMap<(&str, u64), Vec<usize>> = HashMap::default();
    out.reserve(deployments.iter().map(|d| d.changes.len()).sum());
    // Each service's deployments are contiguous and time-sorted: its first hit is its earliest,
    // and an index already listed belongs to the current service exactly when it is at or after
    // the start of the service's run (no need to look at that deployment again).
    let mut run_start = 0;
    for (i, d) in deployments.iter().enumerate() {
        if i > 0 && deployments[i - 1].service != d.service {
            run_start = i;
        }
        if !d.succeeded() {
            continue;
        }
        for c in &d.changes {
            if let Some(n) = c.pr {
                let list = out.entry((d.repo.as_str(), n)).or_default();
                if !list.iter().any(|&j| j >= run_start) {
                    list.push(i);
                }
            }
        }
    }
    out
}

/// Adds every failure signal and attributes the incidents; returns what happened to each incident.
///
/// The signals are found first, over the deployments as they are (so indexes can borrow them),
/// and added afterwards, in a fixed order: status, rollback, revert, incident.
pub(super) fn attribute<'a>(
    deployments: &mut [DeployFacts],
    input: DoraInput<'a>,
    graph: &Graph<'a>,
    services: &[ServiceSpec],
    settings: &DoraSettings,
) -> Vec<IncidentFacts> {
    let mut signals: Vec<(usize, FailureSignal)> = Vec::new();
    let mut incident_numbers: HashMap<&str, HashSet<u64>> = HashMap::default();
    let mut out = Vec::with_capacity(input.incidents.len());
    {
        let deployments: &[DeployFacts] = deployments;
        // 1. Final status failure / error.
        for (i, d) in deployments.iter().enumerate() {
            if matches!(d.state, DeployState::Failure | DeployState::Error) {
                signals.push((i, FailureSignal::Status { state: d.state }));
            }
        }
        let shipped = shipped_by(deployments);

        // 2. Rollbacks: the deployment rolled back failed.
        let by_id: HashMap<(&str, u64), usize> = deployments
            .iter()
            .enumerate()
            .map(|(i, d)| ((d.repo.as_str(), d.id), i))
            .collect();
        for d in deployments {
            if let Some(&i) = d.rollback_of.and_then(|r| by_id.get(&(d.repo.as_str(), r))) {
                signals.push((i, FailureSignal::RolledBack { by: d.id }));
            }
        }

        // 3. Reverts merged after the deployment that shipped the reverted change.
        let mut titles: Titles<'a> = None;
        let mut seen: HashSet<(usize, u64)> = HashSet::default();
        for c in input.changes.iter().filter(|c| is_revert(c)) {
            let Some(reverted) = reverted_pr(c, &mut titles, graph) else {
                continue;
            };
            // Every service that shipped the reverted PR before the revert merged: the revert
            // undoes it in each.
            for &i in shipped
                .get(&(c.repo.as_str(), reverted))
                .map_or(&[][..], Vec::as_slice)
            {
                if deployments[i].at_ms <= c.merged_at.timestamp_millis()
                    && seen.insert((i, c.number))
                {
                    signals.push((
                        i,
                        FailureSignal::Revert {
                            by: c.number,
                            reverted,
                        },
                    ));
                }
            }
        }

        // 4. Incidents.
        // A total order (the model's, see `parts::incident_order`): incidents of different
        // repositories opened in the same millisecond come out the same whatever the order
        // they were read in.
        let mut incidents: Vec<&Incident> = input.incidents.iter().collect();
        incidents.sort_by(|a, b| {
            let key =
                |i: &'a Incident| (i.created_at.timestamp_millis(), i.number, i.repo.as_str());
            key(a).cmp(&key(b))
        });
        let index = DeployIndex::new(deployments);
        for inc in incidents {
            let candidates = candidate_services(inc, services);
            let (targets, how) =
                incident_targets(inc, &candidates, deployments, &index, &shipped, settings);
            incident_numbers
                .entry(inc.repo.as_str())
                .or_default()
                .insert(inc.number);
            for &i in &targets {
                signals.push((
                    i,
                    FailureSignal::Incident {
                        number: inc.number,
                        how: how.clone(),
                    },
                ));
            }
            out.push(IncidentFacts {
                repo: inc.repo.clone(),
                number: inc.number,
                service: match candidates.as_slice() {
                    [one] => Some(one.clone()),
                    _ => targets.first().map(|&i| deployments[i].service.clone()),
                },
                opened_ms: inc.created_at.timestamp_millis(),
                closed_ms: inc.closed_at.map(|t| t.timestamp_millis()),
                deployments: targets.iter().map(|&i| deployments[i].id).collect(),
                how: if targets.is_empty() {
                    "unattributed: no reference and no deployment in the window before it".into()
                } else {
                    how
                },
            });
        }
    }
    for (i, signal) in signals {
        deployments[i].failures.push(signal);
    }

    // 5. Unplanned work: incident fixes, then whole deployments.
    let fixes = incident_fixes(input.changes, &incident_numbers);
    for d in deployments.iter_mut().filter(|_| !fixes.is_empty()) {
        for c in &mut d.changes {
            if c.unplanned.is_some() {
                continue;
            }
            if let Some(why) = c.pr.and_then(|n| fixes.get(&(d.repo.as_str(), n))) {
                c.unplanned = Some(why.clone());
            }
        }
    }
    for d in deployments.iter_mut() {
        d.unplanned = if let Some(r) = d.rollback_of {
            Some(format!("rollback of deployment {r}"))
        } else if !d.changes.is_empty() && d.changes.iter().all(|c| c.unplanned.is_some()) {
            let mut kinds: Vec<&str> = d
                .changes
                .iter()
                .filter_map(|c| c.unplanned.as_deref())
                .map(|k| k.split(' ').next().unwrap_or(k))
                .collect();
            kinds.sort_unstable();
            kinds.dedup();
            Some(format!("only {}", kinds.join(", ")))
        } else {
            None
        };
    }
    out
}

/// The pull requests that are incident fixes, and why: labelled `incident`, or naming (`#N`,
/// `owner/name#N`) an incident of their own repository.
///
/// One pass over the pull requests, in the order they were read, instead of a look-up in the
/// PR index for every shipped change: the index is large and each look-up missed the cache
/// (the most expensive line of the attribution, BENCHMARKS.md, issue 21); the fixes are few.
fn incident_fixes<'a>(
    changes: &'a [Change],
    incident_numbers: &HashMap<&str, HashSet<u64>>,
) -> HashMap<(&'a str, u64), String> {
    let mut out = HashMap::default();
    for pr in changes {
        if pr.labels.iter().any(|l| l.eq_ignore_ascii_case("incident")) {
            out.insert((pr.repo.as_str(), pr.number), "incident fix".to_owned());
            continue;
        }
        let Some(nums) = incident_numbers.get(pr.repo.as_str()) else {
            continue;
        };
        if !pr.title.contains('#') && !pr.body.contains('#') {
            continue;
        }
        let text = format!("{}\n{}", pr.title, pr.body);
        for m in captures(&PR_REF, &text) {
            let same_repo = m.get(1).is_none_or(|r| r.as_str() == pr.repo);
            let n: Option<u64> = m.get(2).and_then(|n| n.as_str().parse().ok());
            if let (true, Some(n)) = (same_repo, n) {
                if nums.contains(&n) {
                    out.insert(
                        (pr.repo.as_str(), pr.number),
                        format!("incident fix (#{n})"),
                    );
                    break;
                }
            }
        }
    }
    out
}

/// The services an incident may belong to: those its `service:<name>` labels name, else the
/// services of its repository.
fn candidate_services(inc: &Incident, services: &[ServiceSpec]) -> Vec<String> {
    let labelled: Vec<String> = inc
        .labels
        .iter()
        .filter_map(|l| l.strip_prefix("service:"))
        .filter(|name| services.iter().any(|s| s.name == *name))
        .map(str::to_owned)
        .collect();
    if !labelled.is_empty() {
        return labelled;
    }
    services
        .iter()
        .filter(|s| s.repo == inc.repo)
        .map(|s| s.name.clone())
        .collect()
}

/// Deployments indexed for incident attribution: by service (a contiguous, time-sorted range),
/// by id and by SHA, so that attributing an incident does not scan every deployment.
struct DeployIndex<'a> {
    deployments: &'a [DeployFacts],
    /// Every deployment's time, in the same order: a binary search over it stays in cache,
    /// where one over the deployments themselves misses on every probe.
    at_ms: Vec<i64>,
    by_service: HashMap<&'a str, std::ops::Range<usize>>,
    /// Built the first time an incident names a deployment id.
    by_id: std::cell::OnceCell<HashMap<u64, Vec<usize>>>,
    /// Built the first time an incident names a SHA.
    by_sha: std::cell::OnceCell<std::collections::BTreeMap<&'a str, Vec<usize>>>,
}

impl<'a> DeployIndex<'a> {
    fn new(deployments: &'a [DeployFacts]) -> Self {
        let mut by_service: HashMap<&str, std::ops::Range<usize>> = HashMap::default();
        for (i, d) in deployments.iter().enumerate() {
            by_service
                .entry(d.service.as_str())
                .and_modify(|r| r.end = i + 1)
                .or_insert(i..i + 1);
        }
        Self {
            deployments,
            at_ms: deployments.iter().map(|d| d.at_ms).collect(),
            by_service,
            by_id: std::cell::OnceCell::new(),
            by_sha: std::cell::OnceCell::new(),
        }
    }

    fn with_id(&self, id: u64) -> &[usize] {
        self.by_id
            .get_or_init(|| {
                let mut m: HashMap<u64, Vec<usize>> = HashMap::default();
                for (i, d) in self.deployments.iter().enumerate() {
                    m.entry(d.id).or_default().push(i);
                }
                m
            })
            .get(&id)
            .map_or(&[], Vec::as_slice)
    }

    /// Deployments whose SHA starts with `prefix`.
    fn with_sha_prefix<'s>(&'s self, prefix: &'s str) -> impl Iterator<Item = usize> + 's {
        self.by_sha
            .get_or_init(|| {
                let mut m: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
                for (i, d) in self.deployments.iter().enumerate() {
                    m.entry(d.sha.as_str()).or_default().push(i);
                }
                m
            })
            .range(prefix..)
            .take_while(move |(sha, _)| sha.starts_with(prefix))
            .flat_map(|(_, v)| v.iter().copied())
    }
}

/// The deployments an incident marks: those it names (a deployment id, a deployed SHA or a 7+
/// character prefix, or a PR a deployment shipped), otherwise only the latest deployment of its
/// service within the window before it.
fn incident_targets(
    inc: &Incident,
    candidates: &[String],
    deployments: &[DeployFacts],
    index: &DeployIndex<'_>,
    shipped: &HashMap<(&str, u64), Vec<usize>>,
    settings: &DoraSettings,
) -> (Vec<usize>, String) {
    let opened = inc.created_at.timestamp_millis();
    let text = format!("{}\n{}", inc.title, inc.body);
    let in_scope = |d: &DeployFacts| candidates.contains(&d.service) && d.at_ms <= opened;
    let mut targets: Vec<usize> = Vec::new();
    let mut how: Vec<String> = Vec::new();
    let mut add = |i: usize, why: String, targets: &mut Vec<usize>| {
        if !targets.contains(&i) {
            targets.push(i);
            how.push(why);
        }
    };
    for m in captures(&DEPLOYMENT_REF, &text) {
        let Some(id) = m.get(1).and_then(|n| n.as_str().parse::<u64>().ok()) else {
            continue;
        };
        let hit = index.with_id(id).iter().copied();
        if let Some(i) = hit.filter(|&i| in_scope(&deployments[i])).max() {
            add(i, format!("names deployment {id}"), &mut targets);
        }
    }
    for m in captures(&SHA_REF, &text) {
        let Some(prefix) = m.get(0).map(|p| p.as_str()) else {
            continue;
        };
        // The latest deployment of that SHA before the incident (a SHA can be redeployed).
        if let Some(i) = index
            .with_sha_prefix(prefix)
            .filter(|&i| in_scope(&deployments[i]))
            .max_by_key(|&i| deployments[i].at_ms)
        {
            add(i, format!("names commit {prefix}"), &mut targets);
        }
    }
    for m in captures(&PR_REF, &text) {
        if m.get(1).is_some_and(|r| r.as_str() != inc.repo) {
            continue;
        }
        let Some(n) = m.get(2).and_then(|n| n.as_str().parse::<u64>().ok()) else {
            continue;
        };
        // The earliest deployment, in time, of a service the incident concerns that shipped it.
        if let Some(i) = shipped
            .get(&(inc.repo.as_str(), n))
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| in_scope(&deployments[i]))
            .min_by_key(|&i| (deployments[i].at_ms, i))
        {
            add(i, format!("names pull request #{n}"), &mut targets);
        }
    }
    if !targets.is_empty() {
        return (targets, how.join("; "));
    }
    // The latest deployment of a candidate service at or before the incident, if inside the
    // window. Each service's deployments are a time-sorted range: binary search.
    let window = settings.incident_window_ms;
    let latest = candidates
        .iter()
        .filter_map(|s| index.by_service.get(s.as_str()))
        .filter_map(|r| {
            let n = index.at_ms[r.clone()].partition_point(|&at| at <= opened);
            (n > 0).then(|| r.start + n - 1)
        })
        .filter(|&i| deployments[i].at_ms >= opened - window)
        .max_by_key(|&i| deployments[i].at_ms);
    match latest {
        Some(i) => (
            vec![i],
            format!(
                "latest deployment of {} within {} h before it",
                deployments[i].service,
                window / 3_600_000
            ),
        ),
        None => (Vec::new(), String::new()),
    }
}

/// Recovery of every failed deployment: the next healthy deployment of the same service, or (with
/// [`RecoveryEnd::DeploymentOrIncident`]) the moment its incidents were all resolved, whichever
/// comes first.
pub(super) fn recovery(
    deployments: &mut [DeployFacts],
    incidents: &[IncidentFacts],
    end: RecoveryEnd,
) {
    let closed: HashMap<(&str, u64), Option<i64>> = incidents
        .iter()
        .map(|i| ((i.repo.as_str(), i.number), i.closed_ms))
        .collect();
    let mut results = Vec::new();
    for (i, d) in deployments.iter().enumerate() {
        if !d.failed() {
            continue;
        }
        let next_healthy = deployments[i + 1..]
            .iter()
            .take_while(|n| n.service == d.service)
            .find(|n| n.succeeded() && !n.failed() && n.at_ms > d.at_ms)
            .map(|n| (n.at_ms, format!("deployment {}", n.id)));
        let incident_numbers: Vec<u64> = d
            .failures
            .iter()
            .filter_map(|f| match f {
                FailureSignal::Incident { number, .. } => Some(*number),
                _ => None,
            })
            .collect();
        let resolved = if incident_numbers.is_empty() || end == RecoveryEnd::Deployment {
            None
        } else {
            let times: Option<Vec<i64>> = incident_numbers
                .iter()
                .map(|n| closed.get(&(d.repo.as_str(), *n)).copied().flatten())
                .collect();
            times.and_then(|t| t.into_iter().max()).map(|t| {
                let names: Vec<String> = incident_numbers.iter().map(|n| format!("#{n}")).collect();
                (
                    t.max(d.at_ms),
                    format!("incident {} closed", names.join(", ")),
                )
            })
        };
        let end = match (next_healthy, resolved) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        results.push((
            i,
            end.map(|(end_ms, by)| Recovery {
                end_ms,
                duration_ms: end_ms - d.at_ms,
                by,
            }),
        ));
    }
    for (i, r) in results {
        deployments[i].recovery = r;
    }
}
