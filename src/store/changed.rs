//! Which groups of events each commit changed, so that a cache of what events say can re-read
//! only those (the DORA model re-analyses only the repositories a sync wrote to).
//!
//! Kept in memory only: the caches it serves are in memory too, and start from a full read.

use std::collections::{BTreeMap, BTreeSet};

/// An event kind and a key group (see `encoding::key_group`): the repository of a pull request,
/// commit or incident, the repository and source of a deployment.
pub type EventGroup = (String, String);

/// Groups remembered at most; past it the oldest half is forgotten, and a question about a
/// generation before them is answered "unknown" (the caller then reads everything). Groups are
/// repositories and imports, not events: a few thousand at most in practice.
const MAX_GROUPS: usize = 100_000;

/// The event generation and, per group, the generation of the last commit that changed it.
#[derive(Debug, Default)]
pub(super) struct ChangedGroups {
    generation: u64,
    last_changed: BTreeMap<EventGroup, u64>,
    /// Changes at or before this generation may have been forgotten.
    forgotten_up_to: u64,
}

impl ChangedGroups {
    /// The commits so far that changed an event.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Records a commit that changed the events of `groups` (none: nothing to record); returns
    /// the new generation.
    pub(super) fn record(&mut self, groups: BTreeSet<EventGroup>) -> u64 {
        if groups.is_empty() {
            return self.generation;
        }
        self.generation += 1;
        for g in groups {
            self.last_changed.insert(g, self.generation);
        }
        if self.last_changed.len() > MAX_GROUPS {
            let mut gens: Vec<u64> = self.last_changed.values().copied().collect();
            gens.sort_unstable();
            let cut = gens[gens.len() / 2];
            self.last_changed.retain(|_, g| *g > cut);
            self.forgotten_up_to = self.forgotten_up_to.max(cut);
        }
        self.generation
    }

    /// The groups changed by the commits after `generation`, with the current generation;
    /// `None` when that is not known (changes since then were forgotten, or the generation is
    /// not one this store gave).
    pub(super) fn since(&self, generation: u64) -> (u64, Option<BTreeSet<EventGroup>>) {
        if generation < self.forgotten_up_to || generation > self.generation {
            return (self.generation, None);
        }
        let groups = self
            .last_changed
            .iter()
            .filter(|(_, g)| **g > generation)
            .map(|(k, _)| k.clone())
            .collect();
        (self.generation, Some(groups))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(list: &[(&str, &str)]) -> BTreeSet<EventGroup> {
        list.iter()
            .map(|(k, g)| ((*k).to_owned(), (*g).to_owned()))
            .collect()
    }

    #[test]
    fn answers_the_groups_changed_after_a_generation() {
        let mut c = ChangedGroups::default();
        assert_eq!(c.since(0), (0, Some(BTreeSet::new())));
        assert_eq!(c.record(groups(&[("change", "o/a"), ("commit", "o/a")])), 1);
        assert_eq!(c.record(BTreeSet::new()), 1, "a commit without events");
        assert_eq!(c.record(groups(&[("deployment", "o/b/workflow_run")])), 2);
        assert_eq!(c.record(groups(&[("change", "o/a")])), 3);

        assert_eq!(
            c.since(0),
            (
                3,
                Some(groups(&[
                    ("change", "o/a"),
                    ("commit", "o/a"),
                    ("deployment", "o/b/workflow_run")
                ]))
            )
        );
        assert_eq!(
            c.since(1).1,
            Some(groups(&[
                ("change", "o/a"),
                ("deployment", "o/b/workflow_run")
            ]))
        );
        assert_eq!(c.since(2).1, Some(groups(&[("change", "o/a")])));
        assert_eq!(c.since(3).1, Some(BTreeSet::new()));
        assert_eq!(c.since(4).1, None, "a generation from the future");
    }

    #[test]
    fn forgetting_old_groups_makes_older_questions_unknown() {
        let mut c = ChangedGroups::default();
        for i in 0..=MAX_GROUPS {
            c.record(groups(&[("commit", &format!("o/r{i}"))]));
        }
        assert!(c.last_changed.len() <= MAX_GROUPS / 2 + 1);
        assert_eq!(c.since(1).1, None);
        let recent = c.generation() - 1;
        assert_eq!(
            c.since(recent).1,
            Some(groups(&[("commit", &format!("o/r{MAX_GROUPS}"))]))
        );
    }
}
