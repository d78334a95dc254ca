//! [`RangeSet`]: a set of half-open `u64` byte ranges, kept merged.
//!
//! The set is stored as a `BTreeMap<start, end>` in which every entry is
//! non-empty and no two entries overlap or touch (adjacent or overlapping
//! inserts are merged). All queries are `O(log n)` in the number of stored
//! ranges, except [`RangeSet::gaps`], [`RangeSet::covered`] and
//! [`RangeSet::iter`], which walk the ranges they report.

use std::collections::BTreeMap;
use std::ops::Range;

/// A set of half-open byte ranges (`start..end`, in bytes), kept merged.
///
/// Invariant: the stored ranges are non-empty, sorted, pairwise disjoint and
/// never adjacent (`a.end < b.start` for consecutive ranges `a`, `b`).
/// Ranges with `start >= end` are treated as empty everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// `start -> end` for every stored range.
    map: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// Creates an empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored range containing `pos`, if any.
    fn containing(&self, pos: u64) -> Option<Range<u64>> {
        self.map
            .range(..=pos)
            .next_back()
            .filter(|(_, &end)| end > pos)
            .map(|(&start, &end)| start..end)
    }

    /// Adds `r` to the set, merging it with overlapping or adjacent ranges.
    /// An empty range is a no-op.
    pub fn insert(&mut self, r: Range<u64>) {
        if r.start >= r.end {
            return;
        }
        let mut start = r.start;
        let mut end = r.end;
        // A predecessor that overlaps or touches `r` absorbs it.
        if let Some((&s, &e)) = self.map.range(..=start).next_back() {
            if e >= start {
                start = s;
                end = end.max(e);
            }
        }
        // Every range starting inside `start..=end` is absorbed too.
        let absorbed: Vec<(u64, u64)> =
            self.map.range(start..=end).map(|(&s, &e)| (s, e)).collect();
        for (s, e) in absorbed {
            self.map.remove(&s);
            end = end.max(e);
        }
        self.map.insert(start, end);
    }

    /// Removes `r` from the set; a stored range straddling a bound of `r` is
    /// trimmed (and split in two if `r` lies strictly inside it).
    /// An empty range is a no-op.
    pub fn remove(&mut self, r: Range<u64>) {
        if r.start >= r.end {
            return;
        }
        // A predecessor that starts before `r` and reaches into it.
        if let Some((&s, &e)) = self.map.range(..r.start).next_back() {
            if e > r.start {
                self.map.insert(s, r.start);
                if e > r.end {
                    self.map.insert(r.end, e);
                }
            }
        }
        // Ranges starting inside `r`.
        let inside: Vec<(u64, u64)> = self
            .map
            .range(r.start..r.end)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in inside {
            self.map.remove(&s);
            if e > r.end {
                self.map.insert(r.end, e);
            }
        }
    }

    /// Whether every byte of `r` is present. An empty range is always
    /// contained.
    pub fn contains(&self, r: Range<u64>) -> bool {
        if r.start >= r.end {
            return true;
        }
        self.containing(r.start).is_some_and(|c| c.end >= r.end)
    }

    /// Whether the byte at `pos` is present.
    pub fn contains_pos(&self, pos: u64) -> bool {
        self.containing(pos).is_some()
    }

    /// The end (exclusive) of the present range containing `pos`, or `None`
    /// if `pos` is not present.
    pub fn contiguous_end(&self, pos: u64) -> Option<u64> {
        self.containing(pos).map(|c| c.end)
    }

    /// The first maximal sub-range of `within` that is not present, or
    /// `None` if all of `within` is present (or `within` is empty).
    pub fn first_gap(&self, within: Range<u64>) -> Option<Range<u64>> {
        let mut cursor = within.start;
        if let Some(end) = self.contiguous_end(cursor) {
            cursor = end;
        }
        if cursor >= within.end {
            return None;
        }
        let gap_end = self
            .next_present_start(cursor)
            .map_or(within.end, |s| s.min(within.end));
        Some(cursor..gap_end)
    }

    /// All maximal sub-ranges of `within` that are not present, ascending.
    pub fn gaps(&self, within: Range<u64>) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        let mut cursor = within.start;
        while let Some(gap) = self.first_gap(cursor..within.end) {
            cursor = gap.end;
            out.push(gap);
        }
        out
    }

    /// The smallest present byte offset `>= pos`, or `None` if nothing at or
    /// after `pos` is present.
    pub fn next_present_start(&self, pos: u64) -> Option<u64> {
        if self.contains_pos(pos) {
            return Some(pos);
        }
        self.map.range(pos..).next().map(|(&s, _)| s)
    }

    /// Total number of bytes present.
    pub fn covered(&self) -> u64 {
        self.map.iter().map(|(&s, &e)| e - s).sum()
    }

    /// Number of stored (merged) ranges.
    pub fn range_count(&self) -> usize {
        self.map.len()
    }

    /// Whether no byte is present.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The end (exclusive) of the last stored range; `0` for an empty set.
    pub(crate) fn max_end(&self) -> u64 {
        self.map.last_key_value().map_or(0, |(_, &e)| e)
    }

    /// The stored ranges, ascending, disjoint and non-adjacent.
    pub fn iter(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.map.iter().map(|(&s, &e)| s..e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UNIVERSE: u64 = 512;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Range<u64>),
        Remove(Range<u64>),
    }

    fn range() -> impl Strategy<Value = Range<u64>> {
        (0..=UNIVERSE, 0..=64u64).prop_map(|(s, l)| s..(s + l).min(UNIVERSE))
    }

    fn any_range() -> impl Strategy<Value = Range<u64>> {
        // Includes inverted (empty) ranges.
        (0..=UNIVERSE, 0..=UNIVERSE).prop_map(|(a, b)| a..b)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => range().prop_map(Op::Insert),
            1 => range().prop_map(Op::Remove),
        ]
    }

    /// Naive model: one bool per byte of the universe.
    struct Model(Vec<bool>);

    impl Model {
        fn apply(&mut self, op: &Op) {
            let (r, v) = match op {
                Op::Insert(r) => (r, true),
                Op::Remove(r) => (r, false),
            };
            for p in r.clone() {
                self.0[p as usize] = v;
            }
        }
        fn has(&self, p: u64) -> bool {
            p < UNIVERSE && self.0[p as usize]
        }
        fn gaps(&self, within: Range<u64>) -> Vec<Range<u64>> {
            let mut out: Vec<Range<u64>> = Vec::new();
            for p in within {
                if !self.has(p) {
                    match out.last_mut() {
                        Some(last) if last.end == p => last.end = p + 1,
                        _ => out.push(p..p + 1),
                    }
                }
            }
            out
        }
    }

    fn check_structure(set: &RangeSet) {
        let v: Vec<Range<u64>> = set.iter().collect();
        for r in &v {
            assert!(r.start < r.end, "empty stored range {r:?}");
        }
        for w in v.windows(2) {
            assert!(w[0].end < w[1].start, "overlap or adjacency {w:?}");
        }
        assert_eq!(set.range_count(), v.len());
        assert_eq!(set.is_empty(), v.is_empty());
    }

    fn build(ops: &[Op]) -> (RangeSet, Model) {
        let mut set = RangeSet::new();
        let mut model = Model(vec![false; UNIVERSE as usize]);
        for op in ops {
            match op {
                Op::Insert(r) => set.insert(r.clone()),
                Op::Remove(r) => set.remove(r.clone()),
            }
            model.apply(op);
            check_structure(&set);
        }
        (set, model)
    }

    proptest! {
        #[test]
        fn matches_model(ops in prop::collection::vec(op(), 0..40), queries in prop::collection::vec(any_range(), 1..16)) {
            let (set, model) = build(&ops);
            let covered = (0..UNIVERSE).filter(|&p| model.has(p)).count() as u64;
            prop_assert_eq!(set.covered(), covered);
            for p in 0..=UNIVERSE + 1 {
                prop_assert_eq!(set.contains_pos(p), model.has(p));
                let expected_end = model.has(p).then(|| (p..=UNIVERSE).find(|&q| !model.has(q)).unwrap_or(UNIVERSE));
                prop_assert_eq!(set.contiguous_end(p), expected_end);
                let expected_next = (p..UNIVERSE).find(|&q| model.has(q));
                prop_assert_eq!(set.next_present_start(p), expected_next);
            }
            for q in queries {
                let all = (q.start..q.end).all(|p| model.has(p));
                prop_assert_eq!(set.contains(q.clone()), all);
                let gaps = model.gaps(q.clone());
                prop_assert_eq!(set.first_gap(q.clone()), gaps.first().cloned());
                prop_assert_eq!(set.gaps(q), gaps);
            }
        }

        #[test]
        fn inserts_only_grow(ops in prop::collection::vec(op(), 0..30), inserts in prop::collection::vec(range(), 1..20)) {
            let (mut set, _) = build(&ops);
            for r in inserts {
                let before = set.clone();
                set.insert(r.clone());
                check_structure(&set);
                prop_assert!(set.contains(r));
                prop_assert!(set.covered() >= before.covered());
                for old in before.iter() {
                    prop_assert!(set.contains(old));
                }
            }
        }
    }

    #[test]
    fn merges_adjacent_and_splits_on_remove() {
        let mut s = RangeSet::new();
        s.insert(0..10);
        s.insert(10..20);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0..20]);
        s.remove(5..8);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0..5, 8..20]);
        assert_eq!(s.first_gap(0..30), Some(5..8));
        assert_eq!(s.gaps(0..30), vec![5..8, 20..30]);
        assert_eq!(s.next_present_start(6), Some(8));
        assert_eq!(s.max_end(), 20);
        s.insert(3..9);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0..20]);
        s.insert(7..7);
        assert_eq!(s.range_count(), 1);
        assert!(s.contains(4..4));
    }
}
