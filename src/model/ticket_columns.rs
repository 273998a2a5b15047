//! A chunk of support tickets held column by column, with every string field (customer,
//! priority, type, tags, components) interned in one name list per chunk: what the tickets
//! import stages and the store keeps (its byte form is the store's business,
//! `src/store/tickets.rs`). A million tickets as owned [`Ticket`]s take ~450 MB and an
//! allocation per string; as columns they take a few bytes a ticket and none.

use rustc_hash::FxHashMap;

use super::business::Ticket;

/// Tickets, column by column. Row `i` of every column is ticket `i`; names are addressed by
/// index into [`TicketColumns::names`].
#[derive(Debug, Clone, Default)]
pub struct TicketColumns {
    /// Every ticket id, one after the other.
    pub(crate) ids: String,
    /// Where each id ends in `ids`.
    pub(crate) id_ends: Vec<u32>,
    /// Creation times, ms since the epoch (UTC).
    pub(crate) created_ms: Vec<i64>,
    /// Solved times.
    pub(crate) solved_ms: Vec<Option<i64>>,
    /// Minutes to the first reply.
    pub(crate) first_reply_minutes: Vec<Option<f64>>,
    /// The distinct strings of the chunk.
    pub(crate) names: Vec<String>,
    /// Customer, priority and type of each ticket, as 1 + an index into `names` (0 = none).
    pub(crate) customer: Vec<u32>,
    pub(crate) priority: Vec<u32>,
    pub(crate) kind: Vec<u32>,
    /// Where each ticket's tags end in `tags` (indexes into `names`).
    pub(crate) tag_ends: Vec<u32>,
    pub(crate) tags: Vec<u32>,
    /// Where each ticket's components end in `components` (indexes into `names`).
    pub(crate) component_ends: Vec<u32>,
    pub(crate) components: Vec<u32>,
    /// `names` by the FxHash of their text, while the chunk is being filled (FxHash: the
    /// strings come from our own files, and hashing is the interning's whole cost): a new name
    /// is copied once, into `names`. A name whose hash another one has is kept in `collided`.
    pub(crate) lookup: FxHashMap<u64, u32>,
    pub(crate) collided: FxHashMap<String, u32>,
}

/// The fields of one ticket, borrowed: to add to a [`TicketColumns`] (`tags` and `components`
/// any iterators of strings, so a parser adds them without collecting), or read from one
/// ([`TicketRef`]).
#[derive(Debug, Clone)]
pub struct NewTicket<'a, T, C> {
    /// The ticket's id in its tool.
    pub id: &'a str,
    /// When it was opened, ms.
    pub created_ms: i64,
    /// When it was solved, ms.
    pub solved_ms: Option<i64>,
    /// Minutes to the first reply.
    pub first_reply_minutes: Option<f64>,
    /// The customer.
    pub customer: Option<&'a str>,
    /// Priority.
    pub priority: Option<&'a str>,
    /// Ticket type.
    pub kind: Option<&'a str>,
    /// Tags.
    pub tags: T,
    /// Components.
    pub components: C,
}

/// Interned strings of one ticket (its tags or its components), borrowed from a chunk.
#[derive(Debug, Clone, Copy)]
pub struct NameList<'a> {
    names: &'a [String],
    codes: &'a [u32],
}

impl<'a> NameList<'a> {
    const EMPTY: NameList<'static> = NameList {
        names: &[],
        codes: &[],
    };

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The strings, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let names = self.names;
        self.codes
            .iter()
            .filter_map(move |c| names.get(*c as usize).map(String::as_str))
    }
}

/// One ticket of a chunk, borrowed.
pub type TicketRef<'a> = NewTicket<'a, NameList<'a>, NameList<'a>>;

impl<'a> TicketRef<'a> {
    /// What the ticket is about, as [`Ticket::topics`] says.
    pub fn topics(&self) -> impl Iterator<Item = &'a str> + 'a {
        let (list, single) = if !self.components.is_empty() {
            (self.components, None)
        } else if !self.tags.is_empty() {
            (self.tags, None)
        } else {
            (NameList::EMPTY, Some(self.kind.unwrap_or("untagged")))
        };
        list.iter().chain(single)
    }

    /// An owned copy.
    pub fn to_ticket(&self) -> Ticket {
        Ticket {
            id: self.id.to_owned(),
            created_ms: self.created_ms,
            solved_ms: self.solved_ms,
            first_reply_minutes: self.first_reply_minutes,
            customer: self.customer.map(str::to_owned),
            priority: self.priority.map(str::to_owned),
            tags: self.tags.iter().map(str::to_owned).collect(),
            kind: self.kind.map(str::to_owned),
            components: self.components.iter().map(str::to_owned).collect(),
        }
    }
}

/// A ticket id that is a plainly written number (`4711`, not `04711` or `+4711`), as its
/// value: writing the value gives the id back, so such ids can be kept (and compared) as
/// numbers.
pub fn plain_number(id: &str) -> Option<i64> {
    let plain = !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && (id == "0" || !id.starts_with('0'));
    plain.then(|| id.parse().ok()).flatten()
}

fn offset(n: usize) -> u32 {
    // A chunk holds at most tens of thousands of tickets: its offsets fit in a u32 by far.
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl TicketColumns {
    /// An empty chunk with room for `n` tickets.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            ids: String::with_capacity(n * 8),
            id_ends: Vec::with_capacity(n),
            created_ms: Vec::with_capacity(n),
            solved_ms: Vec::with_capacity(n),
            first_reply_minutes: Vec::with_capacity(n),
            customer: Vec::with_capacity(n),
            priority: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            tag_ends: Vec::with_capacity(n),
            tags: Vec::with_capacity(n * 2),
            component_ends: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// The columns of owned tickets.
    pub fn from_tickets<'t>(tickets: impl IntoIterator<Item = &'t Ticket>) -> Self {
        let mut out = Self::default();
        for t in tickets {
            out.push(NewTicket {
                id: &t.id,
                created_ms: t.created_ms,
                solved_ms: t.solved_ms,
                first_reply_minutes: t.first_reply_minutes,
                customer: t.customer.as_deref(),
                priority: t.priority.as_deref(),
                kind: t.kind.as_deref(),
                tags: t.tags.iter().map(String::as_str),
                components: t.components.iter().map(String::as_str),
            });
        }
        out
    }

    fn intern(&mut self, s: &str) -> u32 {
        use std::collections::hash_map::Entry;
        use std::hash::BuildHasher as _;
        let next = offset(self.names.len());
        match self.lookup.entry(rustc_hash::FxBuildHasher.hash_one(s)) {
            Entry::Occupied(e) => {
                let i = *e.get();
                if self.names.get(i as usize).is_some_and(|n| n == s) {
                    return i;
                }
                if let Some(i) = self.collided.get(s) {
                    return *i;
                }
                self.collided.insert(s.to_owned(), next);
            }
            Entry::Vacant(e) => {
                e.insert(next);
            }
        }
        self.names.push(s.to_owned());
        next
    }

    fn code(&mut self, s: Option<&str>) -> u32 {
        s.map_or(0, |s| self.intern(s) + 1)
    }

    /// Adds a ticket.
    pub fn push<'s, T, C>(&mut self, t: NewTicket<'_, T, C>)
    where
        T: IntoIterator<Item = &'s str>,
        C: IntoIterator<Item = &'s str>,
    {
        self.ids.push_str(t.id);
        self.id_ends.push(offset(self.ids.len()));
        self.created_ms.push(t.created_ms);
        self.solved_ms.push(t.solved_ms);
        self.first_reply_minutes.push(t.first_reply_minutes);
        let c = self.code(t.customer);
        self.customer.push(c);
        let p = self.code(t.priority);
        self.priority.push(p);
        let k = self.code(t.kind);
        self.kind.push(k);
        for tag in t.tags {
            let i = self.intern(tag);
            self.tags.push(i);
        }
        self.tag_ends.push(offset(self.tags.len()));
        for component in t.components {
            let i = self.intern(component);
            self.components.push(i);
        }
        self.component_ends.push(offset(self.components.len()));
    }

    /// The chunk without what filling it needed (the names' index): for a full chunk that
    /// waits to be written.
    pub fn filled(mut self) -> Self {
        self.lookup = FxHashMap::default();
        self.collided = FxHashMap::default();
        self
    }

    /// Number of tickets.
    pub fn len(&self) -> usize {
        self.created_ms.len()
    }

    /// Whether it holds no ticket.
    pub fn is_empty(&self) -> bool {
        self.created_ms.is_empty()
    }

    /// Why the columns do not describe `len()` tickets, if they do not (a damaged store); the
    /// accessors assume they do.
    pub fn check(&self) -> Result<(), String> {
        let n = self.len();
        let lengths = [
            self.id_ends.len(),
            self.solved_ms.len(),
            self.first_reply_minutes.len(),
            self.customer.len(),
            self.priority.len(),
            self.kind.len(),
            self.tag_ends.len(),
            self.component_ends.len(),
        ];
        if lengths.iter().any(|l| *l != n) {
            return Err(format!("columns of unequal lengths ({n} tickets)"));
        }
        let ascending = |ends: &[u32], total: usize| {
            ends.windows(2).all(|w| w[0] <= w[1]) && ends.last().map_or(0, |e| *e as usize) == total
        };
        if !ascending(&self.id_ends, self.ids.len())
            || !self
                .id_ends
                .iter()
                .all(|e| self.ids.is_char_boundary(*e as usize))
        {
            return Err("ticket ids out of bounds".into());
        }
        if !ascending(&self.tag_ends, self.tags.len())
            || !ascending(&self.component_ends, self.components.len())
        {
            return Err("tag or component lists out of bounds".into());
        }
        let names = self.names.len();
        let coded = [&self.customer, &self.priority, &self.kind];
        if coded.iter().any(|c| c.iter().any(|v| *v as usize > names))
            || self
                .tags
                .iter()
                .chain(&self.components)
                .any(|v| *v as usize >= names)
        {
            return Err("a name index past the chunk's names".into());
        }
        Ok(())
    }

    fn name(&self, code: u32) -> Option<&str> {
        code.checked_sub(1)
            .and_then(|i| self.names.get(i as usize))
            .map(String::as_str)
    }

    fn span(ends: &[u32], i: usize) -> std::ops::Range<usize> {
        let start = i.checked_sub(1).map_or(0, |p| ends[p] as usize);
        start..ends[i] as usize
    }

    /// Ticket `i` (`i < len()`).
    pub fn get(&self, i: usize) -> TicketRef<'_> {
        TicketRef {
            id: &self.ids[Self::span(&self.id_ends, i)],
            created_ms: self.created_ms[i],
            solved_ms: self.solved_ms[i],
            first_reply_minutes: self.first_reply_minutes[i],
            customer: self.name(self.customer[i]),
            priority: self.name(self.priority[i]),
            kind: self.name(self.kind[i]),
            tags: NameList {
                names: &self.names,
                codes: &self.tags[Self::span(&self.tag_ends, i)],
            },
            components: NameList {
                names: &self.names,
                codes: &self.components[Self::span(&self.component_ends, i)],
            },
        }
    }

    /// Every ticket, in order.
    pub fn iter(&self) -> impl Iterator<Item = TicketRef<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_whose_hashes_collide_stay_apart() {
        use std::hash::BuildHasher as _;
        let mut cols = TicketColumns::default();
        assert_eq!(cols.intern("a"), 0);
        // As if "b" hashed like "a".
        cols.lookup
            .insert(rustc_hash::FxBuildHasher.hash_one("b"), 0);
        assert_eq!(cols.intern("b"), 1);
        assert_eq!((cols.intern("b"), cols.intern("a")), (1, 0));
        assert_eq!(cols.names, ["a", "b"]);
    }

    #[test]
    fn tickets_round_trip_through_columns() {
        let tickets = vec![
            Ticket {
                id: "4711".into(),
                created_ms: 1_000,
                solved_ms: Some(5_000),
                first_reply_minutes: Some(12.5),
                customer: Some("cus_1".into()),
                priority: Some("high".into()),
                tags: vec!["billing".into(), "sso".into()],
                kind: Some("incident".into()),
                components: vec![],
            },
            Ticket {
                id: "PROJ-12".into(),
                created_ms: 900,
                solved_ms: None,
                first_reply_minutes: None,
                customer: None,
                priority: None,
                tags: vec![],
                kind: None,
                components: vec!["api".into(), "billing".into()],
            },
        ];
        let cols = TicketColumns::from_tickets(&tickets);
        assert_eq!(cols.check(), Ok(()));
        let back: Vec<Ticket> = cols.iter().map(|t| t.to_ticket()).collect();
        assert_eq!(back, tickets);
        let topics: Vec<Vec<&str>> = cols.iter().map(|t| t.topics().collect()).collect();
        assert_eq!(topics, [vec!["billing", "sso"], vec!["api", "billing"]]);
        assert_eq!(cols.names.len(), 6, "billing is stored once");
    }
}
