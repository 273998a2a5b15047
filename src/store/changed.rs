//! Which groups of events each commit changed, so that a cache of what events say can re-read
//! only those (the DORA model re-analyses only the repositories a sync wrote to).
//!
//! Kept on disk too (schema 5), in each commit's own atomic batch: the event generation, and per
//! group the generation of the last commit that changed it. A restarted daemon can so bring
//! what it computed before the restart (the DORA model kept in the store) up to date from the
//! groups changed since, instead of reading every event again. Groups are repositories and
//! imports, a few thousand entries at most.

use std::collections::{BTreeMap, BTreeSet};

use super::encoding::TAG_META;
use super::StoreError;

/// The meta key of the event generation.
const META_EVENT_GENERATION: &[u8] = b"event_generation";
/// The meta prefix of the groups' last changes: then the kind, NUL, the group.
const META_CHANGED: &[u8] = b"changed\0";

fn generation_key() -> Vec<u8> {
    let mut key = vec![TAG_META];
    key.extend_from_slice(META_EVENT_GENERATION);
    key
}

fn group_prefix() -> Vec<u8> {
    let mut key = vec![TAG_META];
    key.extend_from_slice(META_CHANGED);
    key
}

fn group_key(kind: &str, group: &str) -> Vec<u8> {
    let mut key = group_prefix();
    key.extend_from_slice(kind.as_bytes());
    key.push(0);
    key.extend_from_slice(group.as_bytes());
    key
}

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
    /// What the store keeps. An entry that does not decode is warned about and makes every
    /// question about an earlier generation unknown (its caller then reads everything), rather
    /// than leaving the store unopenable.
    pub(super) fn load(db: &sled::Db) -> Result<Self, StoreError> {
        let mut out = Self::default();
        let mut damaged = false;
        if let Some(v) = db.get(generation_key())? {
            match <[u8; 8]>::try_from(v.as_ref()) {
                Ok(b) => out.generation = u64::from_be_bytes(b),
                Err(_) => damaged = true,
            }
        }
        let prefix = group_prefix();
        for kv in db.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let group = std::str::from_utf8(&k[prefix.len()..])
                .ok()
                .and_then(|rest| rest.split_once('\0'));
            match (group, <[u8; 8]>::try_from(v.as_ref())) {
                (Some((kind, group)), Ok(g)) => {
                    let g = u64::from_be_bytes(g);
                    out.generation = out.generation.max(g);
                    out.last_changed
                        .insert((kind.to_owned(), group.to_owned()), g);
                }
                _ => damaged = true,
            }
        }
        if damaged {
            tracing::warn!(
                "the store's record of which events changed when is damaged: caches of what \
                 events say are rebuilt from every event once"
            );
            out.forgotten_up_to = out.generation;
        }
        out.forget_if_full();
        Ok(out)
    }

    /// Adds to `batch` what recording `groups` (non-empty) will record in memory: the next
    /// generation, and it as each group's last change.
    pub(super) fn write<'g>(
        &self,
        groups: impl IntoIterator<Item = (&'g str, &'g str)>,
        batch: &mut sled::Batch,
    ) {
        let next = (self.generation + 1).to_be_bytes();
        for (kind, group) in groups {
            batch.insert(group_key(kind, group), &next);
        }
        batch.insert(generation_key(), &next);
    }

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
        self.forget_if_full();
        self.generation
    }

    /// Forgets the oldest half of the groups past [`MAX_GROUPS`] (in memory: the store keeps
    /// them all).
    fn forget_if_full(&mut self) {
        if self.last_changed.len() > MAX_GROUPS {
            let mut gens: Vec<u64> = self.last_changed.values().copied().collect();
            gens.sort_unstable();
            let cut = gens[gens.len() / 2];
            self.last_changed.retain(|_, g| *g > cut);
            self.forgotten_up_to = self.forgotten_up_to.max(cut);
        }
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
