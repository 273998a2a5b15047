//! What changed in the delivery model from one revision to another (issue 21): which services'
//! facts, and from which week on, so that weekly figures computed for an earlier revision are
//! brought up to date by computing only those scopes' weeks again.
//!
//! A week's figures (and its rolling 4- and 13-week windows) are computed from the facts of the
//! deployments and incidents whose week falls in the window alone (`analysis::dora::figures`),
//! and a part's re-analysis changes only the facts of its own services and repositories. So
//! after a re-analysis, comparing the part's facts before and after, week by week, tells every
//! figure that may have moved: those of the part's services, the organisation, and any pool
//! holding one of those services, in the weeks from the first one whose facts differ.

use std::collections::{BTreeMap, BTreeSet};

use crate::analysis::dora::{DoraModel, Part, Scope, LONGEST_WINDOW_WEEKS};
use crate::analysis::WEEK_MS;

/// What changed between two revisions of the model; the default is nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Changed {
    /// The services whose deployments or incidents changed.
    services: BTreeSet<String>,
    /// The first and the last week (their Mondays, ms) whose facts changed; `None`: none
    /// changed.
    weeks: Option<(i64, i64)>,
}

impl Changed {
    /// Both changes.
    pub(super) fn union(mut self, other: &Changed) -> Changed {
        self.services.extend(other.services.iter().cloned());
        self.weeks = match (self.weeks, other.weeks) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
        self
    }

    /// The first and the last week whose figures may differ, if any: from the first week whose
    /// facts changed to the last week whose longest window holds one.
    pub(super) fn weeks_touched(&self) -> Option<(i64, i64)> {
        self.weeks
            .map(|(first, last)| (first, last + (LONGEST_WINDOW_WEEKS - 1) * WEEK_MS))
    }

    /// Whether `scope`'s figures may differ (in [`Changed::weeks_touched`]).
    pub(super) fn touches(&self, scope: &Scope) -> bool {
        if self.weeks.is_none() {
            return false;
        }
        match scope {
            Scope::Org => true,
            Scope::Service(s) => self.services.contains(s),
            Scope::Team { services, .. } => services.iter().any(|s| self.services.contains(s)),
        }
    }
}

/// What re-analysing `part` changed: `old` is the model before, `new` the part analysed
/// again (a model of the part's services alone).
pub(super) fn of_part(old: &DoraModel, new: &DoraModel, part: &Part) -> Changed {
    let cal = old.calendar;
    let mut changed = Changed::default();
    for spec in &part.services {
        let name = spec.name.as_str();
        let weeks = differing_weeks(
            old.deployments_of(Some(name)).iter(),
            new.deployments_of(Some(name)).iter(),
            |d| cal.week_start(d.at_ms),
        );
        if weeks.is_some() {
            changed.services.insert(name.to_owned());
            changed = changed.union(&Changed {
                services: BTreeSet::new(),
                weeks,
            });
        }
    }
    // The part's incidents: those of its repositories (labelled, if at all, with a service of
    // the part, which the update checks).
    let ours = |i: &&crate::analysis::dora::IncidentFacts| part.repos.contains(&i.repo);
    let weeks = differing_weeks(
        old.incidents.iter().filter(ours),
        new.incidents.iter().filter(ours),
        |i| cal.week_start(i.opened_ms),
    );
    if weeks.is_some() {
        for i in old
            .incidents
            .iter()
            .filter(ours)
            .chain(new.incidents.iter())
        {
            if let Some(s) = &i.service {
                changed.services.insert(s.clone());
            }
        }
        changed = changed.union(&Changed {
            services: BTreeSet::new(),
            weeks,
        });
    }
    changed
}

/// The first and the last week whose facts differ between `old` and `new` (each fact's week
/// by `week`), compared as lists in their order within the week.
fn differing_weeks<'a, T: PartialEq + 'a>(
    old: impl Iterator<Item = &'a T>,
    new: impl Iterator<Item = &'a T>,
    week: impl Fn(&T) -> i64,
) -> Option<(i64, i64)> {
    let by_week = |facts: &mut dyn Iterator<Item = &'a T>| {
        let mut m: BTreeMap<i64, Vec<&'a T>> = BTreeMap::new();
        for f in facts {
            m.entry(week(f)).or_default().push(f);
        }
        m
    };
    let (mut old, mut new) = (old, new);
    let (old, new) = (by_week(&mut old), by_week(&mut new));
    let weeks: BTreeSet<i64> = old.keys().chain(new.keys()).copied().collect();
    let mut differing = weeks.into_iter().filter(|w| old.get(w) != new.get(w));
    let first = differing.next()?;
    Some((first, differing.next_back().unwrap_or(first)))
}

/// Most revisions remembered: an older one is answered "unknown" (figures computed whole).
const REMEMBERED: usize = 256;

/// The revisions a model went through in this process, and what changed at each: from the
/// revision it was built or restored at (`base`).
#[derive(Debug, Clone)]
pub(super) struct History {
    base: u64,
    /// The revision of the model file the store keeps, when it is one of these.
    kept: Option<u64>,
    /// Each later revision, and what changed to reach it.
    steps: Vec<(u64, Changed)>,
}

impl History {
    /// A model built or restored at `revision` (`kept`: restored from the file kept at it).
    pub(super) fn new(revision: u64, kept: bool) -> Self {
        Self {
            base: revision,
            kept: kept.then_some(revision),
            steps: Vec::new(),
        }
    }

    /// The model reached `revision` by `changed`.
    pub(super) fn step(&mut self, revision: u64, changed: Changed) {
        self.steps.push((revision, changed));
        if self.steps.len() > REMEMBERED {
            let (oldest, _) = self.steps.remove(0);
            self.base = oldest;
            if self.kept.is_some_and(|k| k < oldest) {
                self.kept = None;
            }
        }
    }

    /// The model file the store keeps is now that of `revision`.
    pub(super) fn kept_at(&mut self, revision: u64) {
        self.kept = self.passed(revision).then_some(revision);
    }

    /// The revision it started from.
    #[cfg(test)]
    fn base(&self) -> u64 {
        self.base
    }

    /// Whether the model was at `revision` in this process.
    fn passed(&self, revision: u64) -> bool {
        revision == self.base || self.steps.iter().any(|(r, _)| *r == revision)
    }

    /// What changed from `revision` on, to the latest one; `None` when the model was not at
    /// `revision` in this process (what changed since is then unknown).
    pub(super) fn since(&self, revision: u64) -> Option<Changed> {
        self.passed(revision).then(|| {
            self.steps
                .iter()
                .filter(|(r, _)| *r > revision)
                .fold(Changed::default(), |all, (_, c)| all.union(c))
        })
    }

    /// The revision of the kept model file and what changed from it to `revision`, when the
    /// model passed both in that order: what figures kept at `revision` need besides the model
    /// file to be brought up to date by the next process.
    pub(super) fn since_kept_file(&self, revision: u64) -> Option<(u64, Changed)> {
        let kept = self.kept?;
        (kept <= revision && self.passed(revision)).then(|| {
            let changed = self
                .steps
                .iter()
                .filter(|(r, _)| kept < *r && *r <= revision)
                .fold(Changed::default(), |all, (_, c)| all.union(c));
            (kept, changed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(services: &[&str], week: i64) -> Changed {
        Changed {
            services: services.iter().map(|s| s.to_string()).collect(),
            weeks: Some((week, week)),
        }
    }

    #[test]
    fn a_history_answers_only_for_revisions_it_passed() {
        let mut h = History::new(10, true);
        h.step(12, changed(&["a"], 300));
        h.step(15, Changed::default());
        h.step(20, changed(&["b"], 100));
        assert_eq!(h.since(20), Some(Changed::default()));
        assert_eq!(h.since(12), Some(changed(&["b"], 100)));
        let both = Changed {
            services: ["a".to_string(), "b".to_string()].into(),
            weeks: Some((100, 300)),
        };
        assert_eq!(h.since(10), Some(both));
        assert_eq!(h.since(11), None, "never at 11");
        assert_eq!(h.since_kept_file(15), Some((10, changed(&["a"], 300))));
        h.kept_at(15);
        assert_eq!(h.since_kept_file(20), Some((15, changed(&["b"], 100))));
        assert_eq!(h.since_kept_file(12), None, "kept after 12");
        h.kept_at(13);
        assert_eq!(
            h.since_kept_file(20),
            None,
            "a file of a revision never passed"
        );
    }

    #[test]
    fn a_change_touches_the_weeks_whose_longest_window_holds_it() {
        let w = WEEK_MS;
        let c = Changed {
            services: ["a".to_string()].into(),
            weeks: Some((10 * w, 11 * w)),
        };
        // A change in weeks 10 and 11 reaches the 13-week windows ending in weeks 10 to 23.
        assert_eq!(c.weeks_touched(), Some((10 * w, 23 * w)));
        assert!(c.touches(&Scope::Org));
        assert!(c.touches(&Scope::Service("a".into())));
        assert!(!c.touches(&Scope::Service("b".into())));
        let pool = |s: &[&str]| Scope::Team {
            name: "t".into(),
            services: s.iter().map(|s| s.to_string()).collect(),
        };
        assert!(c.touches(&pool(&["b", "a"])));
        assert!(!c.touches(&pool(&["b"])));
        assert!(!Changed::default().touches(&Scope::Org), "nothing changed");
    }

    #[test]
    fn the_oldest_revisions_are_forgotten() {
        let mut h = History::new(0, true);
        for r in 1..=(REMEMBERED as u64 + 5) {
            h.step(r, changed(&["a"], r as i64));
        }
        assert_eq!(h.since(0), None);
        assert_eq!(h.since_kept_file(10), None);
        assert_eq!(h.base(), 5);
        assert!(h.since(5).is_some());
    }
}
