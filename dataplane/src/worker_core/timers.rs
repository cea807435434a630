//! The worker core's timer queue: the deadline each peer (a slab key) is armed for, and a
//! min-heap of `(deadline, key)` entries so the next deadline of all peers is found in
//! O(log n).
//!
//! Entries are not removed when a peer is re-armed or goes away. To keep the heap bounded
//! however often peers are re-armed (a check, a packet or an RTCP message may move a deadline
//! each time), an entry is pushed only when the new deadline is earlier than the peer's
//! earliest entry already queued; a later deadline waits for that entry, which re-queues it
//! when it comes up. Entries that no longer match anything are dropped when they reach the
//! top, and the heap is rebuilt from the armed deadlines once it holds more than
//! `2 × armed + 64` entries (amortised O(1) per push). So it holds at most about twice as many
//! entries as there are armed peers.
//!
//! Owns the deadlines and the heap; what a peer does when its timer fires is the core's.

#![forbid(unsafe_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Entries the heap may hold beyond twice the armed peers before it is rebuilt.
const SLACK: usize = 64;

/// One key's deadlines.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// The deadline the peer is armed for.
    armed: Option<Instant>,
    /// Its earliest entry in the heap (`None`: none that counts).
    queued: Option<Instant>,
}

/// Deadlines of peers, earliest first.
#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    /// By slab key.
    slots: Vec<Slot>,
    /// Keys armed (with `armed` set).
    armed: usize,
}

impl Timers {
    /// Arms peer `key` for `at` (`None`: disarms it, e.g. when it goes away).
    pub fn set(&mut self, key: usize, at: Option<Instant>) {
        if key >= self.slots.len() {
            if at.is_none() {
                return;
            }
            self.slots.resize(key + 1, Slot::default());
        }
        let slot = &mut self.slots[key];
        if slot.armed == at {
            return;
        }
        match (slot.armed, at) {
            (None, Some(_)) => self.armed += 1,
            (Some(_), None) => self.armed -= 1,
            _ => {}
        }
        slot.armed = at;
        let Some(t) = at else {
            return;
        };
        if slot.queued.is_some_and(|q| q <= t) {
            // The earlier entry re-queues this deadline when it comes up.
            return;
        }
        slot.queued = Some(t);
        self.heap.push(Reverse((t, key)));
        if self.heap.len() > 2 * self.armed + SLACK {
            self.rebuild();
        }
    }

    /// The earliest deadline and its peer. Entries on the way that no longer count are dropped,
    /// and one that stood for a later deadline re-queues it.
    pub fn peek(&mut self) -> Option<(Instant, usize)> {
        while let Some(&Reverse((t, key))) = self.heap.peek() {
            let slot = &mut self.slots[key];
            if slot.armed == Some(t) {
                return Some((t, key));
            }
            self.heap.pop();
            if slot.queued == Some(t) {
                slot.queued = slot.armed;
                if let Some(later) = slot.armed {
                    self.heap.push(Reverse((later, key)));
                }
            }
        }
        None
    }

    /// Removes the top entry (after [`Self::peek`] returned it) and disarms its peer: it is
    /// due now.
    pub fn pop(&mut self) {
        if let Some(Reverse((_, key))) = self.heap.pop() {
            let slot = &mut self.slots[key];
            if slot.armed.take().is_some() {
                self.armed -= 1;
            }
            slot.queued = None;
        }
    }

    /// Entries in the heap (live and stale).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Rebuilds the heap from the armed deadlines: one entry per armed peer.
    fn rebuild(&mut self) {
        let mut entries = std::mem::take(&mut self.heap).into_vec();
        entries.clear();
        for (key, slot) in self.slots.iter_mut().enumerate() {
            slot.queued = slot.armed;
            if let Some(t) = slot.armed {
                entries.push(Reverse((t, key)));
            }
        }
        self.heap = BinaryHeap::from(entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// Pops every deadline due by `now`, in order, as the core does.
    fn fire(timers: &mut Timers, now: Instant) -> Vec<(Instant, usize)> {
        let mut fired = Vec::new();
        while let Some((t, key)) = timers.peek() {
            if t > now {
                break;
            }
            timers.pop();
            fired.push((t, key));
        }
        fired
    }

    #[test]
    fn the_earliest_armed_deadline_wins_and_stale_or_disarmed_entries_never_fire() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.set(1, Some(at(t0, 10)));
        timers.set(2, Some(at(t0, 5)));
        timers.set(1, Some(at(t0, 20))); // later: the 10 ms entry re-queues it
        timers.set(3, Some(at(t0, 1)));
        timers.set(3, None); // gone
        assert_eq!(timers.peek(), Some((at(t0, 5), 2)));
        assert_eq!(
            fire(&mut timers, at(t0, 100)),
            [(at(t0, 5), 2), (at(t0, 20), 1)]
        );
        assert_eq!(timers.peek(), None);
        assert_eq!(timers.len(), 0);
    }

    #[test]
    fn an_earlier_deadline_fires_first_and_the_old_later_one_does_not() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.set(7, Some(at(t0, 30_000)));
        timers.set(7, Some(at(t0, 50)));
        assert_eq!(fire(&mut timers, at(t0, 60)), [(at(t0, 50), 7)]);
        timers.set(7, Some(at(t0, 40_000)));
        assert_eq!(fire(&mut timers, at(t0, 35_000)), []);
        assert_eq!(fire(&mut timers, at(t0, 40_000)), [(at(t0, 40_000), 7)]);
        assert_eq!(timers.peek(), None);
    }

    #[test]
    fn a_key_reused_by_a_new_peer_fires_for_its_own_deadline_only() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.set(0, Some(at(t0, 10)));
        timers.set(0, None); // the peer went away; its entry stays queued
        timers.set(0, Some(at(t0, 25))); // a new peer on the same slab key
        assert_eq!(fire(&mut timers, at(t0, 20)), []);
        assert_eq!(fire(&mut timers, at(t0, 25)), [(at(t0, 25), 0)]);
    }

    /// The core re-arms a peer on every check, packet or report; a million re-arms — half
    /// ever later (consent refreshed by each check), half ever earlier — must not grow the
    /// heap (when every change pushed an entry, it held a million).
    #[test]
    fn a_million_re_arms_keep_the_heap_bounded_and_the_deadline_right() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.set(1, Some(at(t0, 10_000_000)));
        let mut largest = 0;
        let mut arm = |timers: &mut Timers, t| {
            timers.set(0, Some(t));
            largest = largest.max(timers.len());
        };
        for i in 0..500_000 {
            arm(&mut timers, at(t0, 30_000 + i));
        }
        assert_eq!(timers.len(), 2, "later deadlines wait for the first entry");
        assert_eq!(
            timers.peek(),
            Some((at(t0, 529_999), 0)),
            "which re-queues the last"
        );
        for i in 0..500_000 {
            arm(&mut timers, at(t0, 500_000 - i));
        }
        assert!(largest <= 2 * 2 + SLACK + 1, "the heap grew to {largest}");
        let last = at(t0, 1);
        assert_eq!(timers.peek(), Some((last, 0)));
        assert_eq!(
            fire(&mut timers, at(t0, 10_000_000)),
            [(last, 0), (at(t0, 10_000_000), 1)]
        );
        assert_eq!(timers.len(), 0);
    }
}
