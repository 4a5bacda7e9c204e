//! What a resize counts for: the increase over the size the same read showed before
//! ([`crate::capacity`]). One function, [`resolve`], decides it for every path that reads more
//! than one record (the detector's reads, its re-check, `scan`, the stream's exact events):
//! [`crate::burst::Tracker`] calls it when the read closes.
//!
//! The calls that set a group's or fleet's size are taken in event-time order (creates before
//! resizes at the same millisecond, then in the order read), whoever made them: a create sets the
//! size; a resize's size after it is its desired size (else the size before), raised to the
//! minimum and lowered to the maximum it sets ([`SetSize`]); it counts `after - before` when the
//! size before is known (0 for a decrease), and [`Resolved::Unknown`] when it is not; the size
//! after is known from then on when the call says it (a desired size), or the size before was. So the
//! order the records were read in decides nothing, a group shrunk and grown again counts every
//! growth, and the increases inside a window sum to at least the growth of that window's groups
//! beyond what they held before it. A call that does not vouch for its size
//! ([`SetSize::vouches`]: its count fields not as CloudTrail writes them, or a service-linked
//! role's own call) never gives a later call its size before: the group's size is unknown after
//! it (a resize that does not vouch still counts its own increase over a size known before it).

use std::collections::HashMap;

use crate::capacity::{Change, GroupId, SetSize};

/// What one call that set a size counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// A create: its own count stands (instances asked for).
    Create,
    /// A resize whose size before is known: this many instances more (0 for a decrease or no change).
    Increase(u64),
    /// A resize whose size before the read does not show: 0 towards the thresholds, carried as
    /// a resize of unknown prior size.
    Unknown,
}

/// The sizes known so far, per group or fleet.
#[derive(Debug, Default, Clone)]
pub struct Sizes {
    known: HashMap<GroupId, u64>,
}

impl Sizes {
    /// No size known.
    pub fn new() -> Self {
        Self::default()
    }

    /// The size known for `group`, if any (a group the record does not name is never known).
    pub fn get(&self, group: &GroupId) -> Option<u64> {
        if group.name.is_empty() { None } else { self.known.get(group).copied() }
    }

    fn set(&mut self, group: &GroupId, size: Option<u64>) {
        match size {
            Some(size) if !group.name.is_empty() => {
                self.known.insert(group.clone(), size);
            }
            _ => {
                self.known.remove(group);
            }
        }
    }
}

/// What each of `calls` (`(t_ms, size set)`, in the order read) counts for, in the same order,
/// given the sizes known before them (updated with theirs).
pub fn resolve(sizes: &mut Sizes, calls: &[(i64, &SetSize)]) -> Vec<Resolved> {
    let mut order: Vec<usize> = (0..calls.len()).collect();
    order.sort_by_key(|&i| (calls[i].0, calls[i].1.change == Change::Resize, i));
    let mut out = vec![Resolved::Create; calls.len()];
    for i in order {
        let s = calls[i].1;
        let before = sizes.get(&s.group);
        let (resolved, after) = match s.change {
            Change::Create => (Resolved::Create, Some(s.size)),
            Change::Resize => {
                let after = s.desired.or(before).map(|a| {
                    let a = s.min.map_or(a, |m| a.max(m));
                    s.max.map_or(a, |m| a.min(m))
                });
                match (before, after) {
                    (Some(b), Some(a)) => (Resolved::Increase(a.saturating_sub(b)), Some(a)),
                    (Some(b), None) => (Resolved::Increase(0), Some(b)),
                    (None, a) => (Resolved::Unknown, a),
                }
            }
        };
        out[i] = resolved;
        // a call that does not vouch for its size: the group's size is unknown from then on
        let after = after.filter(|_| s.vouches);
        if after.is_some() || !s.vouches {
            sizes.set(&s.group, after);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::Sized;

    fn set(name: &str, size: u64, change: Change) -> SetSize {
        let group = GroupId { account: "1".into(), region: "r".into(), kind: Sized::AutoScalingGroup, name: name.into() };
        SetSize { group, size, change, desired: Some(size), min: None, max: None, vouches: true }
    }

    #[test]
    fn a_minimum_or_a_maximum_moves_the_size_only_past_it() {
        let c = set("g", 100, Change::Create);
        let min = SetSize { desired: None, min: Some(60), ..set("g", 60, Change::Resize) };
        let max = SetSize { desired: None, max: Some(10), ..set("g", 10, Change::Resize) };
        let grow = set("g", 100, Change::Resize);
        // 100, a minimum of 60 (stays 100), a maximum of 10 (shrinks to 10), back to 100: +90
        let out = resolve(&mut Sizes::new(), &[(1, &c), (2, &min), (3, &max), (4, &grow)]);
        assert_eq!(out, vec![Resolved::Create, Resolved::Increase(0), Resolved::Increase(0), Resolved::Increase(90)]);
        // a minimum alone on a group of unknown size: unknown, and its size stays unknown
        let out = resolve(&mut Sizes::new(), &[(1, &min), (2, &grow)]);
        assert_eq!(out, vec![Resolved::Unknown, Resolved::Unknown]);
    }

    #[test]
    fn a_resize_counts_its_increase_over_any_earlier_size_whatever_the_read_order() {
        let (c, r1, r2, r3) =
            (set("g", 1, Change::Create), set("g", 1000, Change::Resize), set("g", 0, Change::Resize), set("g", 1000, Change::Resize));
        // read backwards: the event times decide
        let calls = [(40, &r3), (30, &r2), (20, &r1), (10, &c)];
        let out = resolve(&mut Sizes::new(), &calls);
        assert_eq!(out, vec![Resolved::Increase(1000), Resolved::Increase(0), Resolved::Increase(999), Resolved::Create]);
        // a resize before any size of its group: unknown; another group's size never counts
        let other = set("G", 5, Change::Create);
        let out = resolve(&mut Sizes::new(), &[(10, &other), (20, &r1)]);
        assert_eq!(out, vec![Resolved::Create, Resolved::Unknown]);
        // at the same millisecond the create comes first
        let out = resolve(&mut Sizes::new(), &[(10, &r1), (10, &c)]);
        assert_eq!(out, vec![Resolved::Increase(999), Resolved::Create]);
    }

    #[test]
    fn a_call_that_does_not_vouch_for_its_size_leaves_the_group_unknown() {
        let forged = SetSize { vouches: false, ..set("g", 1000, Change::Create) };
        let real = set("g", 1000, Change::Resize);
        // its own count stands; the resize after it is of unknown prior size, not +0
        let out = resolve(&mut Sizes::new(), &[(1, &forged), (2, &real)]);
        assert_eq!(out, vec![Resolved::Create, Resolved::Unknown]);
        // nor does it hide a size known before it: it makes the size unknown
        let c = set("g", 1, Change::Create);
        let out = resolve(&mut Sizes::new(), &[(1, &c), (2, &forged), (3, &real)]);
        assert_eq!(out, vec![Resolved::Create, Resolved::Create, Resolved::Unknown]);
        // a resize that does not vouch counts its own increase; the next is of unknown prior size
        let grow = SetSize { vouches: false, ..set("g", 10, Change::Resize) };
        let out = resolve(&mut Sizes::new(), &[(1, &c), (2, &grow), (3, &real)]);
        assert_eq!(out, vec![Resolved::Create, Resolved::Increase(9), Resolved::Unknown]);
    }
}
