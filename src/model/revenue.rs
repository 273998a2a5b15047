//! Revenue vocabulary: months, and the table of MRR per customer per month that the CSV parser
//! fills, the store's readers rebuild and the analysis reads.

use serde::Serialize;

pub use super::month::Month;

pub use super::month::MonthIdx;

/// `YYYY-MM` → month index.
pub fn parse_month(s: &str) -> Option<MonthIdx> {
    s.parse::<Month>().ok().map(Month::index)
}

/// Month index → `YYYY-MM`.
pub fn month_label(m: MonthIdx) -> String {
    Month::from_index(m).to_string()
}

/// One customer's row in one month of a [`Snapshots`] table: 24 bytes (a million rows are
/// held while importing and deriving, and half again as many bytes cost page faults).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    mrr: f64,
    customer: u32,
    plan: Code,
    segment: Code,
    /// The line of the file, saturated at `u32::MAX` (a file of four billion lines would not
    /// fit in memory to be read).
    line: u32,
}

impl Entry {
    fn line(&self) -> u64 {
        u64::from(self.line)
    }
}

/// An optional interned code in four bytes (`u32::MAX`, which interning never reaches, is none).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Code(u32);

impl Code {
    fn of(code: Option<u32>) -> Self {
        Self(code.unwrap_or(u32::MAX))
    }

    fn get(self) -> Option<u32> {
        (self.0 != u32::MAX).then_some(self.0)
    }
}

/// The months of a [`Snapshots`] table, by month index from the first: files span a few years
/// (1970–2100 at most), and rows listed customer by customer change month at every row, where
/// a map's look-up per row cost more than the insert itself.
#[derive(Debug, Clone, Default)]
struct Months {
    first: MonthIdx,
    slots: Vec<Option<MonthData>>,
    present: usize,
}

impl Months {
    fn slot(&self, month: MonthIdx) -> Option<usize> {
        usize::try_from(i64::from(month) - i64::from(self.first)).ok()
    }

    /// The month's data, made present if it was not.
    fn entry(&mut self, month: MonthIdx) -> &mut MonthData {
        if self.slots.is_empty() {
            self.first = month;
        } else if month < self.first {
            let n = (i64::from(self.first) - i64::from(month)) as usize;
            self.slots
                .splice(0..0, std::iter::repeat_with(|| None).take(n));
            self.first = month;
        }
        let i = self.slot(month).unwrap_or(0);
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        let slot = &mut self.slots[i];
        if slot.is_none() {
            self.present += 1;
        }
        slot.get_or_insert_with(MonthData::default)
    }

    fn get(&self, month: MonthIdx) -> Option<&MonthData> {
        self.slots.get(self.slot(month)?)?.as_ref()
    }

    fn iter(&self) -> impl Iterator<Item = (MonthIdx, &MonthData)> + '_ {
        self.slots
            .iter()
            .zip(self.first..)
            .filter_map(|(d, m)| Some((m, d.as_ref()?)))
    }

    fn into_months(self) -> impl Iterator<Item = (MonthIdx, MonthData)> {
        self.slots
            .into_iter()
            .zip(self.first..)
            .filter_map(|(d, m)| Some((m, d?)))
    }

    fn keys(&self) -> impl Iterator<Item = MonthIdx> + '_ {
        self.iter().map(|(m, _)| m)
    }

    fn values(&self) -> impl Iterator<Item = &MonthData> + '_ {
        self.iter().map(|(_, d)| d)
    }

    fn is_empty(&self) -> bool {
        self.present == 0
    }
}

#[derive(Debug, Clone, Default)]
struct MonthData {
    entries: Vec<Entry>,
    /// Position in `entries` by customer index (`u32::MAX` = absent): duplicate checks and
    /// look-ups without hashing.
    pos: Vec<u32>,
}

impl MonthData {
    /// Adds `entry`, or refuses it with the line of its customer's entry.
    fn insert(&mut self, entry: Entry) -> Result<(), u64> {
        let c = entry.customer as usize;
        if self.pos.len() <= c {
            self.pos.resize(c + 1, u32::MAX);
        }
        if let Some(e) = self.entries.get(self.pos[c] as usize) {
            return Err(e.line());
        }
        self.pos[c] = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.entries.push(entry);
        Ok(())
    }
}

/// A second row for a (customer, month) of a [`Snapshots`] table, refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duplicate {
    /// Its line.
    pub line: u64,
    /// The customer's code in the table.
    pub customer: u32,
    /// The month.
    pub month: MonthIdx,
    /// The line of the row kept.
    pub first: u64,
}

/// The codes of the last row [`Snapshots::insert_near`] took: files list a customer's months
/// one after the other, or each month's customers in the same order, so the next row's codes
/// are these or the ones after them far more often than not.
#[derive(Debug, Clone, Copy, Default)]
pub struct Near {
    customer: Option<u32>,
    plan: Option<u32>,
    segment: Option<u32>,
}

/// Interned strings: each distinct value once, addressed by index. (FxHash: the keys are ids
/// from our own files, not attacker-chosen, and SipHash was the largest cost of an import.)
#[derive(Debug, Clone, Default)]
struct Names {
    names: Vec<String>,
    index: rustc_hash::FxHashMap<String, u32>,
}

impl Names {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(i) = self.index.get(s) {
            return *i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }

    /// [`Names::intern`], trying first `prev` itself, then the name after it.
    fn intern_near(&mut self, s: &str, prev: Option<u32>) -> u32 {
        if let Some(p) = prev.filter(|p| self.names.get(*p as usize).is_some_and(|n| n == s)) {
            return p;
        }
        self.intern_after(s, prev)
    }

    /// [`Names::intern`], trying first the name after `prev` (the code of the name before this
    /// one in the same list): stored months list their customers in the same order every month,
    /// so a comparison of two short strings replaces a hash and a look-up for most of them.
    fn intern_after(&mut self, s: &str, prev: Option<u32>) -> u32 {
        if let Some(next) = prev.and_then(|p| p.checked_add(1)) {
            if self.names.get(next as usize).is_some_and(|n| n == s) {
                return next;
            }
        }
        self.intern(s)
    }
}

/// MRR per customer per month, as a compact table: customer ids, plans and segments are interned
/// once, and each month holds its rows. A customer missing from a month paid nothing in it.
#[derive(Debug, Clone, Default)]
pub struct Snapshots {
    customers: Names,
    plans: Names,
    segments: Names,
    months: Months,
    rows: usize,
    /// The first month each customer paid, by customer index, where a billing tool stated it.
    first_months: Vec<Option<MonthIdx>>,
}

/// One row of a [`Snapshots`] table, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowRef<'a> {
    /// Customer id.
    pub customer_id: &'a str,
    /// MRR.
    pub mrr: f64,
    /// Plan.
    pub plan: Option<&'a str>,
    /// Segment.
    pub segment: Option<&'a str>,
    /// Line of the file it came from (0 when not from a file).
    pub line: u64,
}

impl Snapshots {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Interns a plan name for [`Snapshots::insert_coded`].
    pub fn plan_code(&mut self, plan: &str) -> u32 {
        self.plans.intern(plan)
    }

    /// Interns a segment name for [`Snapshots::insert_coded`].
    pub fn segment_code(&mut self, segment: &str) -> u32 {
        self.segments.intern(segment)
    }

    /// Like [`Snapshots::insert`] with plan and segment already interned (a month's rows share
    /// a handful of them).
    pub fn insert_coded(
        &mut self,
        month: MonthIdx,
        customer_id: &str,
        mrr: f64,
        plan: Option<u32>,
        segment: Option<u32>,
        line: u64,
    ) -> Result<(), u64> {
        let customer = self.customers.intern(customer_id);
        self.insert_customer(month, customer, mrr, plan, segment, line)
    }

    /// The code of a customer id, interned: `prev` is the code of the customer before it in the
    /// same list, if any (a hint; the result is the same without it).
    pub fn customer_code_after(&mut self, customer_id: &str, prev: Option<u32>) -> u32 {
        self.customers.intern_after(customer_id, prev)
    }

    /// Like [`Snapshots::insert_coded`] with the customer interned too
    /// ([`Snapshots::customer_code_after`]).
    pub fn insert_customer(
        &mut self,
        month: MonthIdx,
        customer: u32,
        mrr: f64,
        plan: Option<u32>,
        segment: Option<u32>,
        line: u64,
    ) -> Result<(), u64> {
        self.months.entry(month).insert(Entry {
            mrr,
            customer,
            plan: Code::of(plan),
            segment: Code::of(segment),
            line: u32::try_from(line).unwrap_or(u32::MAX),
        })?;
        self.rows += 1;
        Ok(())
    }

    /// [`Snapshots::insert`], trying the codes of the row before (`near`, updated) before
    /// hashing; the result is the same without the hints.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_near(
        &mut self,
        near: &mut Near,
        month: MonthIdx,
        customer_id: &str,
        mrr: f64,
        plan: Option<&str>,
        segment: Option<&str>,
        line: u64,
    ) -> Result<(), Duplicate> {
        let customer = self.customers.intern_near(customer_id, near.customer);
        let plan = plan.map(|p| self.plans.intern_near(p, near.plan));
        let segment = segment.map(|s| self.segments.intern_near(s, near.segment));
        near.customer = Some(customer);
        near.plan = plan.or(near.plan);
        near.segment = segment.or(near.segment);
        self.insert_customer(month, customer, mrr, plan, segment, line)
            .map_err(|first| Duplicate {
                line,
                customer,
                month,
                first,
            })
    }

    /// Adds the rows of `later`, a table of the rows that follow this one's in the same file,
    /// as if they had been inserted here one by one: customers, plans and segments keep the
    /// codes one table would give, each month its rows in file order. Returns the rows refused
    /// as a (customer, month) already here, and `repeated` (the rows `later` itself refused),
    /// each with the line of the row kept, in no particular order.
    pub fn append(&mut self, later: Snapshots, repeated: &[Duplicate]) -> Vec<Duplicate> {
        let recode = |names: &mut Names, from: &Names| -> Vec<u32> {
            from.names.iter().map(|n| names.intern(n)).collect()
        };
        let customers = recode(&mut self.customers, &later.customers);
        let plans = recode(&mut self.plans, &later.plans);
        let segments = recode(&mut self.segments, &later.segments);
        for (c, m) in later.first_months.iter().enumerate() {
            if let (Some(m), Some(&c)) = (m, customers.get(c)) {
                let c = c as usize;
                if self.first_months.len() <= c {
                    self.first_months.resize(c + 1, None);
                }
                self.first_months[c] = Some(*m);
            }
        }
        let code =
            |codes: &[u32], c: Code| Code::of(c.get().and_then(|c| codes.get(c as usize).copied()));
        let mut refused = Vec::new();
        for (month, data) in later.months.into_months() {
            let here = self.months.entry(month);
            for e in data.entries {
                let Some(&customer) = customers.get(e.customer as usize) else {
                    continue;
                };
                let entry = Entry {
                    customer,
                    plan: code(&plans, e.plan),
                    segment: code(&segments, e.segment),
                    ..e
                };
                match here.insert(entry) {
                    Ok(()) => self.rows += 1,
                    Err(first) => refused.push(Duplicate {
                        line: e.line(),
                        customer,
                        month,
                        first,
                    }),
                }
            }
        }
        for r in repeated {
            let Some(&customer) = customers.get(r.customer as usize) else {
                continue;
            };
            let first = self
                .months
                .get(r.month)
                .and_then(|d| d.entries.get(*d.pos.get(customer as usize)? as usize))
                .map_or(r.first, Entry::line);
            refused.push(Duplicate {
                customer,
                first,
                ..*r
            });
        }
        refused
    }

    /// Adds a customer's MRR for a month. A second row for the same (customer, month) is refused
    /// with the line of the first.
    pub fn insert(
        &mut self,
        month: MonthIdx,
        customer_id: &str,
        mrr: f64,
        plan: Option<&str>,
        segment: Option<&str>,
        line: u64,
    ) -> Result<(), u64> {
        let plan = plan.map(|p| self.plans.intern(p));
        let segment = segment.map(|s| self.segments.intern(s));
        self.insert_coded(month, customer_id, mrr, plan, segment, line)
    }

    /// Makes `month` present even if nobody paid in it.
    pub fn touch(&mut self, month: MonthIdx) {
        self.months.entry(month);
    }

    /// Records the first month `customer_id` paid, as its billing tool states it (the
    /// attributes' `first_month`), so that a customer whose first row comes later than that is
    /// seen coming back, not as new. Customers without rows are left out.
    pub fn set_first_month(&mut self, customer_id: &str, month: MonthIdx) {
        let Some(&c) = self.customers.index.get(customer_id) else {
            return;
        };
        let c = c as usize;
        if self.first_months.len() <= c {
            self.first_months.resize(c + 1, None);
        }
        self.first_months[c] = Some(month);
    }

    /// The stated first paying month of each customer, by customer index.
    pub fn first_months(&self) -> Vec<Option<MonthIdx>> {
        let mut v = self.first_months.clone();
        v.resize(self.customers.names.len(), None);
        v
    }

    /// Every customer id, by customer index (the order [`Snapshots::latest_labels`] uses).
    pub fn customer_names(&self) -> &[String] {
        &self.customers.names
    }

    /// Customers seen in any month.
    pub fn customer_count(&self) -> usize {
        self.customers.names.len()
    }

    /// The interned code of a segment, if any row has it.
    pub fn segment_index(&self, segment: &str) -> Option<u32> {
        self.segments.index.get(segment).copied()
    }

    /// Every segment name, in order of first appearance.
    pub fn segment_names(&self) -> &[String] {
        &self.segments.names
    }

    /// Rows in the table.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Whether the table has no month.
    pub fn is_empty(&self) -> bool {
        self.months.is_empty()
    }

    /// The months with data, in order.
    pub fn months(&self) -> impl Iterator<Item = MonthIdx> + '_ {
        self.months.keys()
    }

    /// The rows of a month, in insertion order.
    pub fn month_rows(&self, month: MonthIdx) -> impl Iterator<Item = RowRef<'_>> + '_ {
        fn name(names: &Names, i: Code) -> Option<&str> {
            i.get().map(|i| names.names[i as usize].as_str())
        }
        self.months
            .get(month)
            .into_iter()
            .flat_map(|d| d.entries.iter())
            .map(move |e| RowRef {
                customer_id: &self.customers.names[e.customer as usize],
                mrr: e.mrr,
                plan: name(&self.plans, e.plan),
                segment: name(&self.segments, e.segment),
                line: e.line(),
            })
    }

    /// The rows of a month in insertion order, by code: customer (an index into
    /// [`Snapshots::customer_names`]), MRR, plan and segment (indexes into
    /// [`Snapshots::plan_names`] and [`Snapshots::segment_names`]).
    pub fn month_codes(
        &self,
        month: MonthIdx,
    ) -> impl Iterator<Item = (u32, f64, Option<u32>, Option<u32>)> + '_ {
        self.months
            .get(month)
            .into_iter()
            .flat_map(|d| d.entries.iter())
            .map(|e| (e.customer, e.mrr, e.plan.get(), e.segment.get()))
    }

    /// Rows in a month.
    pub fn month_len(&self, month: MonthIdx) -> usize {
        self.months.get(month).map_or(0, |d| d.entries.len())
    }

    /// Every plan name, in order of first appearance.
    pub fn plan_names(&self) -> &[String] {
        &self.plans.names
    }

    /// Dense MRR of a month by customer index, for the analysis (0 for customers absent that month).
    pub fn dense(&self, month: MonthIdx) -> Option<Vec<f64>> {
        let d = self.months.get(month)?;
        let mut v = vec![0.0; self.customers.names.len()];
        for e in &d.entries {
            v[e.customer as usize] = e.mrr.max(0.0);
        }
        Some(v)
    }

    /// Each customer's latest segment.
    pub fn latest_segments(&self) -> Vec<Option<u32>> {
        let mut v = vec![None; self.customers.names.len()];
        for d in self.months.values() {
            for e in &d.entries {
                if let Some(s) = e.segment.get() {
                    v[e.customer as usize] = Some(s);
                }
            }
        }
        v
    }

    /// Each customer's latest segment and plan, by name (a product's revenue is its customers').
    pub fn latest_labels(&self) -> Vec<(Option<&str>, Option<&str>)> {
        let mut v: Vec<(Option<u32>, Option<u32>)> = vec![(None, None); self.customers.names.len()];
        for d in self.months.values() {
            for e in &d.entries {
                let slot = &mut v[e.customer as usize];
                if let Some(s) = e.segment.get() {
                    slot.0 = Some(s);
                }
                if let Some(p) = e.plan.get() {
                    slot.1 = Some(p);
                }
            }
        }
        fn name(names: &Names, i: Option<u32>) -> Option<&str> {
            i.map(|i| names.names[i as usize].as_str())
        }
        v.into_iter()
            .map(|(s, p)| (name(&self.segments, s), name(&self.plans, p)))
            .collect()
    }
}

/// How NRR and GRR are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionWindow {
    /// Trailing-12-month cohort.
    #[serde(rename = "12m")]
    Cohort12m,
    /// Month-over-month movements.
    Monthly,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_after_a_hint_gives_the_codes_interning_alone_gives() {
        // Month lists as stores hold them: the same order, with churn, newcomers in the middle
        // and at the end, a repeated name, and one list in another order.
        let months: [&[&str]; 5] = [
            &["a", "b", "c", "d"],
            &["a", "c", "d", "e"],
            &["a", "b", "x", "c", "d", "e"],
            &["e", "d", "c", "b", "a"],
            &["a", "a", "y", "b"],
        ];
        let (mut plain, mut hinted) = (Names::default(), Names::default());
        for list in months {
            let mut prev = None;
            for name in list {
                let want = plain.intern(name);
                let got = hinted.intern_after(name, prev);
                assert_eq!(got, want, "{name} in {list:?}");
                prev = Some(got);
            }
        }
        assert_eq!(plain.names, hinted.names);
        // A hint past the end, or at u32::MAX, is only a miss.
        assert_eq!(hinted.intern_after("a", Some(u32::MAX)), 0);
        assert_eq!(hinted.intern_after("zz", Some(100)), 7);
    }
}
